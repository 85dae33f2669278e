#!/usr/bin/python3
"""The client side of test-dbus-abuse.sh: calls org.crashcapture1 on the bus
at $DBUS_SESSION_BUS_ADDRESS the way a hostile local user could. Run by the
test, as root or as nobody; never by hand. Each check prints one line
"ok<TAB>what" or "bad<TAB>what", which the test turns into PASS/FAIL.
  dbus-abuse.py flood SECONDS GOOD_ID   calls as fast as one client can (JSON out)
  dbus-abuse.py bad-ids ROLE GOOD_ID           every bad id, each method
  dbus-abuse.py malformed                      wrong signatures, 1 MiB strings
  dbus-abuse.py nul                            a string with a NUL, sent raw
python3-dbus (libdbus) for all but nul, which writes the message bytes
itself: libdbus will not marshal a NUL inside a string.
"""
import json
import os
import socket
import struct
import sys
import time

NAME = "org.crashcapture1"
PATH = "/org/crashcapture1"
IFACE = "org.crashcapture1.Manager"
PROPS = "org.freedesktop.DBus.Properties"
ACCESS_DENIED = "org.freedesktop.DBus.Error.AccessDenied"
# Error names that mean the daemon did not answer: it died, hung or left the bus.
NO_ANSWER = ("org.freedesktop.DBus.Error.NoReply", "org.freedesktop.DBus.Error.ServiceUnknown",
             "org.freedesktop.DBus.Error.NameHasNoOwner", "org.freedesktop.DBus.Error.Disconnected",
             "org.freedesktop.DBus.Error.Timeout", "org.freedesktop.DBus.Error.TimedOut")

# Ids that name nothing in the dump directory, or something outside it.
BAD_IDS = [
    ("../../etc", "../../etc"),
    ("..", ".."),
    (".", "."),
    ("/etc/passwd", "/etc/passwd"),
    ("a/b", "a/b"),
    ("../sentinel", "../sentinel"),
    ("GOOD/../../../etc", None),  # the good id, then out
    ("GOOD+newline", None),       # the good id with a newline after it
    ("newline inside", "2026-11-20\n1000-aaaa"),
    ("control char 0x01", "2026\x01x"),
    ("DEL 0x7f", "2026\x7fx"),
    ("64 KiB id", "x" * 65536),
    ("256-byte id", "y" * 256),
    ("empty id", ""),
    ("lost-../../etc", "lost-../../etc"),
    ("lost- + 32 hex + /..", "lost-" + "1" * 32 + "/.."),
    ("evil-link (symlink to a dir outside)", "evil-link"),
    ("notes (a directory that is no dump)", "notes"),
    ("no-such-dump", "no-such-dump"),
]


def bad_ids(good):
    out = []
    for label, value in BAD_IDS:
        if label == "GOOD/../../../etc":
            value = good + "/../../../etc"
        elif label == "GOOD+newline":
            value = good + "\n"
        out.append((label, value))
    return out


def connect():
    import dbus  # python3-dbus
    return dbus, dbus.bus.BusConnection(os.environ["DBUS_SESSION_BUS_ADDRESS"])


def call(dbus, conn, method, signature="", args=(), iface=IFACE, timeout=10.0):
    """(error name or None, message or result)"""
    try:
        return None, conn.call_blocking(NAME, PATH, iface, method, signature, args, timeout=timeout)
    except dbus.exceptions.DBusException as e:
        return e.get_dbus_name() or "DBusException", e.get_dbus_message() or str(e)


def report(good, what):
    print(("ok" if good else "bad") + "\t" + what, flush=True)


def short(text, n=110):
    text = str(text).replace("\n", "\\n")
    return text if len(text) <= n else text[:n] + f"... ({len(text)} chars)"


def flood(seconds, good):
    dbus, conn = connect()
    bad = [value for _, value in bad_ids(good)]
    # (method, signature, args, interface, what must come back): "ok" a
    # reply, "denied" AccessDenied, "refused" any error the daemon sends.
    mix = [
        ("ListDumps", "", (), IFACE, "ok"),
        ("GetDump", "s", (good,), IFACE, "ok"),
        ("GetDump", "s", None, IFACE, "refused"),  # a bad id, each in turn
        ("Get", "ss", (IFACE, "State"), PROPS, "ok"),
        ("GetAll", "s", (IFACE,), PROPS, "ok"),
        ("GetDumpLog", "s", (good,), IFACE, "denied"),
        ("RemoveDump", "s", (good,), IFACE, "denied"),
        ("Reload", "", (), IFACE, "denied"),
        ("Unload", "", (), IFACE, "denied"),
        ("GetDump", "s", None, IFACE, "refused"),
    ]
    counts = {}
    unexpected = []
    calls = 0
    bad_count = 0
    worst = 0.0
    start = time.monotonic()
    deadline = start + seconds
    i = 0
    while time.monotonic() < deadline:
        method, sig, args, iface, want = mix[i % len(mix)]
        if args is None:
            args = (bad[(i // len(mix)) % len(bad)],)
        i += 1
        t0 = time.monotonic()
        err, msg = call(dbus, conn, method, sig, args, iface)
        worst = max(worst, time.monotonic() - t0)
        calls += 1
        key = f"{method} {err or 'reply'}"
        counts[key] = counts.get(key, 0) + 1
        good_outcome = (err is None if want == "ok" else
                        err == ACCESS_DENIED if want == "denied" else
                        err is not None and err not in NO_ANSWER)
        if not good_outcome:
            bad_count += 1
            if len(unexpected) < 10:
                unexpected.append(f"{method}({short(args, 40)}): {err} {short(msg, 80)}")
    elapsed = time.monotonic() - start
    json.dump({"calls": calls, "seconds": round(elapsed, 2), "per_second": round(calls / elapsed),
               "slowest_call_s": round(worst, 3), "counts": counts, "unexpected": unexpected,
               "unexpected_count": bad_count}, sys.stdout, indent=1)


def check_bad_ids(role, good):
    dbus, conn = connect()
    for method in ("GetDump", "GetDumpLog", "RemoveDump"):
        for label, value in bad_ids(good):
            err, msg = call(dbus, conn, method, "s", (value,))
            if err is None:
                report(False, f"{role}: {method}({label}) accepted: {short(msg)}")
            elif err in NO_ANSWER:
                report(False, f"{role}: {method}({label}): no answer: {err} {short(msg)}")
            elif role == "nobody" and method != "GetDump" and err != ACCESS_DENIED:
                report(False, f"{role}: {method}({label}): {err}, not AccessDenied: {short(msg)}")
            else:
                report(True, f"{role}: {method}({label}) refused: {err}: {short(msg)}")


def check_malformed():
    dbus, conn = connect()
    mib = "m" * (1 << 20)
    cases = [
        ("GetDump(int32)", "GetDump", "i", (5,), IFACE),
        ("GetDump(string, string)", "GetDump", "ss", ("a", "b"), IFACE),
        ("GetDump()", "GetDump", "", (), IFACE),
        ("GetDump(array of 10,000 strings)", "GetDump", "as", (["a"] * 10000,), IFACE),
        ("GetDump(a{sv})", "GetDump", "a{sv}", ({"id": dbus.String("x", variant_level=1)},), IFACE),
        ("ListDumps(extra string)", "ListDumps", "s", ("x",), IFACE),
        ("Reload(extra uint64)", "Reload", "t", (1,), IFACE),
        ("GetDump(1 MiB string)", "GetDump", "s", (mib,), IFACE),
        ("RemoveDump(1 MiB string)", "RemoveDump", "s", (mib,), IFACE),
        ("GetDumpLog(1 MiB string)", "GetDumpLog", "s", (mib,), IFACE),
        ("a method that does not exist", "Format", "s", ("/",), IFACE),
        ("an interface that does not exist", "GetDump", "s", ("x",), "org.crashcapture1.Nope"),
        ("Get of a property that does not exist", "Get", "ss", (IFACE, "Secret"), PROPS),
        ("Get with a 1 MiB property name", "Get", "ss", (IFACE, mib), PROPS),
        ("Set of the read-only State", "Set", "ssv", (IFACE, "State", dbus.String("loaded", variant_level=1)), PROPS),
        ("Set of DumpLevel (read-only) to a string", "Set", "ssv", (IFACE, "DumpLevel", dbus.String("x", variant_level=1)), PROPS),
    ]
    for label, method, sig, args, iface in cases:
        err, msg = call(dbus, conn, method, sig, args, iface)
        alive, _ = call(dbus, conn, "ListDumps")
        if err is None:
            report(False, f"{label} accepted: {short(msg)}")
        elif err in NO_ANSWER or alive is not None:
            report(False, f"{label}: {err} {short(msg)}; ListDumps after it: {alive or 'answered'}")
        else:
            report(True, f"{label} refused: {err}: {short(msg)}; ListDumps answers after it")


# ---- a D-Bus client in a few lines: the message bytes written by hand ----
def pad(buf, n):
    return buf + b"\0" * (-len(buf) % n)


def marshal_call(serial, dest, path, iface, member, sig, body):
    fields = b""
    for code, typ, value in ((1, b"o", path), (2, b"s", iface), (3, b"s", member),
                             (6, b"s", dest), (8, b"g", sig)):
        if value is None:
            continue
        fields = pad(fields, 8) + bytes([code, 1]) + typ + b"\0"
        if typ == b"g":
            fields += bytes([len(value)]) + value + b"\0"
        else:
            fields = pad(fields, 4) + struct.pack("<I", len(value)) + value + b"\0"
    header = b"l\1\0\1" + struct.pack("<III", len(body), serial, len(fields)) + fields
    return pad(header, 8) + body


def read_message(sock):
    """(type, error name or None) of the next message that is not a signal
    (the bus's NameAcquired), None at EOF."""
    while True:
        message = read_any_message(sock)
        if message is None or message[0] != 4:
            return message


def read_any_message(sock):
    def exactly(n):
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                return None
            data += chunk
        return data
    fixed = exactly(16)
    if fixed is None:
        return None
    body_len, _, fields_len = struct.unpack("<III", fixed[4:16])
    rest = exactly(fields_len + (-(16 + fields_len) % 8) + body_len)
    if rest is None:
        return None
    name = None
    if fixed[1] == 3:  # an error: header field 4, ERROR_NAME
        at = rest.find(b"\x04\x01s\x00")
        if at >= 0:
            at += 4 + (-(16 + at + 4) % 4)
            (n,) = struct.unpack("<I", rest[at:at + 4])
            name = rest[at + 4:at + 4 + n].decode()
    return fixed[1], name


def check_nul():
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(10)
    sock.connect(os.environ["DBUS_SESSION_BUS_ADDRESS"].split("path=", 1)[1].split(",")[0])
    sock.sendall(b"\0AUTH EXTERNAL " + str(os.getuid()).encode().hex().encode() + b"\r\n")
    if not sock.recv(256).startswith(b"OK "):
        report(False, "raw client: the bus refused the authentication")
        return
    sock.sendall(b"BEGIN\r\n")
    sock.sendall(marshal_call(1, b"org.freedesktop.DBus", b"/org/freedesktop/DBus",
                              b"org.freedesktop.DBus", b"Hello", None, b""))
    if (read_message(sock) or (None,))[0] != 2:
        report(False, "raw client: no reply to Hello")
        return
    # A well-formed call first: the hand-made bytes are right.
    good = b"no-such-dump"
    sock.sendall(marshal_call(2, NAME.encode(), PATH.encode(), IFACE.encode(), b"GetDump", b"s",
                              struct.pack("<I", len(good)) + good + b"\0"))
    answer = read_message(sock)
    if not answer or answer[1] != "org.crashcapture1.Error.NoSuchDump":
        report(False, f"raw client: GetDump(no-such-dump) gave {answer}, not NoSuchDump")
        return
    report(True, "raw client: GetDump(\"no-such-dump\") from hand-made bytes: NoSuchDump")
    nul_id = b"2026-11-20-1000-aaaa\0/../../etc"
    sock.sendall(marshal_call(3, NAME.encode(), PATH.encode(), IFACE.encode(), b"GetDump", b"s",
                              struct.pack("<I", len(nul_id)) + nul_id + b"\0"))
    try:
        answer = read_message(sock)
    except (ConnectionResetError, socket.timeout) as e:
        answer = None if isinstance(e, ConnectionResetError) else ("timeout",)
    if answer is None:
        report(True, "an id with an embedded NUL: the bus refused the message and dropped the "
                     "sender (the daemon never sees it)")
    elif answer[0] == 3 and answer[1] is not None:
        report(True, f"an id with an embedded NUL refused: {answer[1]}")
    else:
        report(False, f"an id with an embedded NUL: {answer}")


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "flood":
        flood(float(sys.argv[2]), sys.argv[3])
    elif command == "bad-ids":
        check_bad_ids(sys.argv[2], sys.argv[3])
    elif command == "malformed":
        check_malformed()
    elif command == "nul":
        check_nul()
    else:
        sys.exit(f"dbus-abuse.py: unknown command {command}")
