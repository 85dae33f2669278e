#!/usr/bin/python3
"""Run one QMP command against a running QEMU and print its answer.

  qmp.py SOCKET COMMAND [ARGUMENTS_JSON]

The QEMU Machine Protocol (docs/interop/qmp-spec.rst in QEMU): the server
greets first, a client must send "qmp_capabilities" before any other command,
and replies ({"return": ...} or {"error": ...}) are interleaved with
asynchronous {"event": ...} messages, which are skipped here. The command's
reply is printed as one JSON line; exit status 1 if QEMU answered with an error.
dump-guest-memory without "detach" replies only when the dump is written,
so this also waits for it.
"""
import json
import socket
import sys


def messages(sock):
    """Yield the JSON messages QEMU sends, one per line."""
    pending = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            raise SystemExit("qmp.py: QEMU closed the connection")
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            if line.strip():
                yield json.loads(line)


def call(sock, incoming, command, arguments=None):
    request = {"execute": command}
    if arguments:
        request["arguments"] = arguments
    sock.sendall(json.dumps(request).encode() + b"\n")
    for message in incoming:
        if "return" in message or "error" in message:
            return message


def main():
    if len(sys.argv) not in (3, 4):
        raise SystemExit(__doc__.strip().splitlines()[2].strip())
    path, command = sys.argv[1], sys.argv[2]
    arguments = json.loads(sys.argv[3]) if len(sys.argv) == 4 else None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    incoming = messages(sock)
    greeting = next(incoming)
    if "QMP" not in greeting:
        raise SystemExit(f"qmp.py: not a QMP greeting: {greeting}")
    negotiated = call(sock, incoming, "qmp_capabilities")
    if "error" in negotiated:
        raise SystemExit(f"qmp.py: qmp_capabilities: {negotiated}")
    reply = call(sock, incoming, command, arguments)
    print(json.dumps(reply))
    return 1 if "error" in reply else 0


if __name__ == "__main__":
    sys.exit(main())
