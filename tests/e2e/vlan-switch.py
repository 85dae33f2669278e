#!/usr/bin/python3
"""A switch port in 802.1Q trunk mode for one VLAN, between a QEMU guest and
the host, for the ssh-vlan guest test (issue 15 §3).

QEMU's user networking drops tagged frames, and this host's kernel has no
8021q module, so the host cannot terminate the VLAN itself. This program
does, in user space: the guest's NIC is a QEMU socket netdev
(-netdev socket,udp=LISTEN,localaddr=QEMU: one Ethernet frame a UDP
datagram, no header; QEMU's net/socket.c, net_socket_send_dgram), and the
host side is a TAP interface of its own with the server's address.

A frame from the guest tagged with the VLAN's id (TPID 0x8100, IEEE 802.1Q
§9.6) is untagged and written to the TAP; every other frame from the guest
(untagged, or another id) is dropped and counted. A frame from the TAP is
tagged and sent to the guest. So the guest reaches the server only through
a VLAN interface of its own, as on a real trunk port.

On SIGTERM or SIGINT it writes its counts to --stats (key=value lines) and
removes the TAP.
"""

import argparse
import fcntl
import os
import selectors
import signal
import socket
import struct
import subprocess
import sys

# <linux/if_tun.h>: TUNSETIFF = _IOW('T', 202, int); IFF_TAP, IFF_NO_PI.
TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
TPID_8021Q = 0x8100  # IEEE 802.1Q tag protocol identifier
ETHER_ADDRESSES = 12  # destination and source MAC, before the EtherType
MAX_FRAME = 65536


def host_port(text):
    host, _, port = text.rpartition(":")
    return host, int(port)


def open_tap(name):
    tap = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(tap, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI))
    return tap


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tap", required=True, help="the host's TAP interface to make (≤ 15 characters)")
    parser.add_argument("--address", required=True, help="the host's address on the VLAN, CIDR")
    parser.add_argument("--vid", type=int, required=True, help="the VLAN id, 1-4094")
    parser.add_argument("--listen", required=True, help="HOST:PORT this program receives the guest's frames on")
    parser.add_argument("--qemu", required=True, help="HOST:PORT of QEMU's socket netdev (its localaddr=)")
    parser.add_argument("--stats", required=True, help="where the counts go when it stops")
    parser.add_argument("--ready", help="a file written once the TAP is up")
    args = parser.parse_args()
    if not 1 <= args.vid <= 4094:  # 0 and 4095 are reserved (802.1Q Table 9-2)
        parser.error("--vid must be 1-4094")

    tap = open_tap(args.tap)
    for command in (["ip", "address", "add", args.address, "dev", args.tap],
                    ["ip", "link", "set", "dev", args.tap, "up"]):
        subprocess.run(command, check=True)
    guest = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    guest.bind(host_port(args.listen))
    guest.setblocking(False)
    qemu = host_port(args.qemu)
    tag = struct.pack("!HH", TPID_8021Q, args.vid)  # PCP 0, DEI 0

    counts = {"tagged_from_guest": 0, "dropped_untagged": 0, "dropped_other_vid": 0,
              "to_guest": 0, "bytes_from_guest": 0}
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(1))
    if args.ready:
        with open(args.ready, "w") as ready:
            ready.write("up\n")

    selector = selectors.DefaultSelector()
    selector.register(guest, selectors.EVENT_READ, "guest")
    selector.register(tap, selectors.EVENT_READ, "tap")
    while not stopping:
        for key, _ in selector.select(timeout=1):
            if key.data == "guest":
                try:
                    frame = guest.recv(MAX_FRAME)
                except BlockingIOError:
                    continue
                ether_type = frame[ETHER_ADDRESSES:ETHER_ADDRESSES + 2]
                if len(frame) < ETHER_ADDRESSES + 4 or struct.unpack("!H", ether_type)[0] != TPID_8021Q:
                    counts["dropped_untagged"] += 1
                    continue
                tci = struct.unpack("!H", frame[ETHER_ADDRESSES + 2:ETHER_ADDRESSES + 4])[0]
                if tci & 0x0FFF != args.vid:  # the low 12 bits are the VID
                    counts["dropped_other_vid"] += 1
                    continue
                counts["tagged_from_guest"] += 1
                counts["bytes_from_guest"] += len(frame)
                os.write(tap, frame[:ETHER_ADDRESSES] + frame[ETHER_ADDRESSES + 4:])
            else:
                try:
                    frame = os.read(tap, MAX_FRAME)
                except BlockingIOError:
                    continue
                counts["to_guest"] += 1
                guest.sendto(frame[:ETHER_ADDRESSES] + tag + frame[ETHER_ADDRESSES:], qemu)
    with open(args.stats, "w") as stats:
        for name, value in counts.items():
            stats.write(f"{name}={value}\n")
    os.close(tap)  # a TAP without IFF_PERSIST goes with its last descriptor
    return 0


if __name__ == "__main__":
    sys.exit(main())
