#!/usr/bin/python3
"""The client side of test-dbus-abuse.sh: calls org.crashcapture1 on the bus
at $DBUS_SESSION_BUS_ADDRESS the way a hostile local user could. Run by the
test, as root or as nobody; never by hand. Each check prints one line
"ok<TAB>what" or "bad<TAB>what", which the test turns into PASS/FAIL.
  dbus-abuse.py flood SECONDS GOOD_ID   calls as fast as one client can (JSON out)
  dbus-abuse.py bad-ids ROLE GOOD_ID           every bad id, each method
  dbus-abuse.py malformed                      wrong signatures, 1 MiB strings
  dbus-abuse.py nul                            a string with a NUL, sent raw
python3-dbus (libdbus) for bad-ids and malformed; flood and nul write the
message bytes themselves (RawBus): the flood keeps 64 calls in flight where
libdbus's blocking calls wait for each reply, and libdbus will not marshal
a NUL inside a string.
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

NO_SUCH_DUMP = "org.crashcapture1.Error.NoSuchDump"
FAILED = "org.crashcapture1.Error.Failed"
INVALID_ARGS = "org.freedesktop.DBus.Error.InvalidArgs"
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


# Of those, the ones that are well-formed names (NoSuchDump); every other
# one must fail the id check.
NAMES_OF_NO_DUMP = ("evil-link (symlink to a dir outside)", "notes (a directory that is no dump)",
                    "no-such-dump")


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


# Calls in flight at once in the flood: the bus refuses a client's call
# (LimitsExceeded) once 128 of them await replies (dbus-daemon's
# max_replies_per_connection, which Debian's system bus keeps).
PIPELINE = 64


def flood(seconds, good):
    bus = RawBus()
    bad = [value for _, value in bad_ids(good)]

    def props(member, *values):
        return (NAME.encode(), PATH.encode(), PROPS.encode(), member,
                b"s" * len(values), marshal_strings(*values))
    # (call, what must come back): "ok" a reply, "denied" AccessDenied,
    # "refused" an error the daemon sends; None: GetDump of a bad id, each
    # in turn.
    mix = [
        (manager_call(b"ListDumps"), "ok"),
        (manager_call(b"GetDump", b"s", marshal_strings(good)), "ok"),
        (None, "refused"),
        (props(b"Get", IFACE, "State"), "ok"),
        (props(b"GetAll", IFACE), "ok"),
        (manager_call(b"GetDumpLog", b"s", marshal_strings(good)), "denied"),
        (manager_call(b"RemoveDump", b"s", marshal_strings(good)), "denied"),
        (manager_call(b"Reload"), "denied"),
        (manager_call(b"Unload"), "denied"),
        (None, "refused"),
    ]
    in_flight = {}  # serial: (member, id or "", want)
    counts = {}
    unexpected = []
    calls = bad_count = i = 0
    start = time.monotonic()
    deadline = start + seconds
    while True:
        batch, meta = [], []
        while time.monotonic() < deadline and len(in_flight) + len(batch) < PIPELINE:
            call_, want = mix[i % len(mix)]
            arg = ""
            if call_ is None:
                arg = bad[(i // len(mix)) % len(bad)]
                call_ = manager_call(b"GetDump", b"s", marshal_strings(arg))
            batch.append(call_)
            meta.append((call_[3].decode(), arg, want))
            i += 1
        if batch:
            in_flight.update(zip(bus.send(batch), meta))
        if not in_flight:
            break
        answer = bus.read()
        if answer is None:
            unexpected.append("the bus closed the connection")
            bad_count += len(in_flight)
            break
        kind, err, serial = answer
        member, arg, want = in_flight.pop(serial, ("?", "", "ok"))
        calls += 1
        key = f"{member} {err or 'reply'}"
        counts[key] = counts.get(key, 0) + 1
        good_outcome = (kind == 2 if want == "ok" else
                        err == ACCESS_DENIED if want == "denied" else
                        kind == 3 and err not in NO_ANSWER and err != "org.freedesktop.DBus.Error.LimitsExceeded")
        if not good_outcome:
            bad_count += 1
            if len(unexpected) < 10:
                unexpected.append(f"{member}({short(arg, 40)}): {err or 'a reply'}")
    elapsed = time.monotonic() - start
    json.dump({"calls": calls, "seconds": round(elapsed, 2), "per_second": round(calls / elapsed),
               "pipeline": PIPELINE, "counts": counts, "unexpected": unexpected,
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
            elif role == "nobody" and method != "GetDump":
                report(err == ACCESS_DENIED, f"{role}: {method}({label}) refused: {err}: {short(msg)}")
            elif label in NAMES_OF_NO_DUMP:
                report(err == NO_SUCH_DUMP, f"{role}: {method}({label}) refused: {err}: {short(msg)}")
            else:
                # Refused by the id check (check_dump_id), before any file
                # is opened: not by a failure found on the way.
                report(err in (FAILED, INVALID_ARGS) and "dump id" in msg,
                       f"{role}: {method}({label}) refused by the id check: {err}: {short(msg)}")


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
# For what libdbus will not send (a NUL inside a string), and for the flood:
# libdbus's blocking calls wait for each reply, while this one keeps
# PIPELINE calls in flight, as a hostile client would.
def pad(buf, n):
    return buf + b"\0" * (-len(buf) % n)


def marshal_strings(*values):
    body = b""
    for value in values:
        value = value if isinstance(value, bytes) else value.encode()
        body = pad(body, 4) + struct.pack("<I", len(value)) + value + b"\0"
    return body


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


def header_fields(fields):
    """{code: value} of a message's header fields (types o, s, g, u)."""
    out = {}
    pos = 0
    while pos < len(fields):
        pos += -pos % 8  # the fields start at offset 16: aligned alike
        code, siglen = fields[pos], fields[pos + 1]
        sig = fields[pos + 2:pos + 2 + siglen]
        pos += 3 + siglen
        if sig in (b"s", b"o"):
            pos += -pos % 4
            (n,) = struct.unpack_from("<I", fields, pos)
            out[code] = fields[pos + 4:pos + 4 + n].decode()
            pos += 4 + n + 1
        elif sig == b"g":
            n = fields[pos]
            out[code] = fields[pos + 1:pos + 1 + n].decode()
            pos += 1 + n + 1
        elif sig == b"u":
            pos += -pos % 4
            (out[code],) = struct.unpack_from("<I", fields, pos)
            pos += 4
        else:
            raise ValueError(f"header field {code} of type {sig}")
    return out


class RawBus:
    def __init__(self):
        address = os.environ["DBUS_SESSION_BUS_ADDRESS"]
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(address.split("path=", 1)[1].split(",")[0])
        self.reader = self.sock.makefile("rb")
        self.serial = 0
        self.sock.sendall(b"\0AUTH EXTERNAL " + str(os.getuid()).encode().hex().encode() + b"\r\n")
        if not self.reader.readline().startswith(b"OK "):
            raise RuntimeError("the bus refused the authentication")
        self.sock.sendall(b"BEGIN\r\n")
        self.send([(b"org.freedesktop.DBus", b"/org/freedesktop/DBus", b"org.freedesktop.DBus",
                    b"Hello", None, b"")])
        if (self.read() or (None,))[0] != 2:
            raise RuntimeError("no reply to Hello")

    def send(self, calls):
        """calls: (destination, path, interface, member, signature, body);
        returns their serials."""
        data = []
        serials = []
        for call_ in calls:
            self.serial += 1
            serials.append(self.serial)
            data.append(marshal_call(self.serial, *call_))
        self.sock.sendall(b"".join(data))
        return serials

    def read(self):
        """(type, error name or None, reply serial) of the next message that
        is not a signal (the bus's NameAcquired); None at EOF."""
        while True:
            fixed = self.reader.read(16)
            if len(fixed) < 16:
                return None
            body_len, _, fields_len = struct.unpack("<III", fixed[4:16])
            rest = self.reader.read(fields_len + (-fields_len % 8) + body_len)
            if len(rest) < fields_len + (-fields_len % 8) + body_len:
                return None
            if fixed[1] != 4:
                fields = header_fields(rest[:fields_len])
                return fixed[1], fields.get(4), fields.get(5)


def manager_call(member, sig=None, body=b""):
    return (NAME.encode(), PATH.encode(), IFACE.encode(), member, sig, body)


def check_nul():
    bus = RawBus()
    # A well-formed call first: the hand-made bytes are right.
    bus.send([manager_call(b"GetDump", b"s", marshal_strings("no-such-dump"))])
    answer = bus.read()
    if not answer or answer[1] != "org.crashcapture1.Error.NoSuchDump":
        report(False, f"raw client: GetDump(no-such-dump) gave {answer}, not NoSuchDump")
        return
    report(True, "raw client: GetDump(\"no-such-dump\") from hand-made bytes: NoSuchDump")
    bus.send([manager_call(b"GetDump", b"s", marshal_strings(b"2026-11-20-1000-aaaa\0/../../etc"))])
    try:
        answer = bus.read()
    except ConnectionResetError:
        answer = None
    except socket.timeout:
        answer = ("timeout",)
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
