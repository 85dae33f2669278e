#!/bin/bash
# Is every machine armed? crashcaptured's Prometheus metrics, end to end
# (issue 16 §3): the real crashcaptured on a private dbus-daemon with a fake
# root, kexec and initrd builder (fake-system.sh), writing its textfile
# ([Metrics] Textfile=, the default path under the fake root), and Debian's
# real prometheus-node-exporter on a loopback port with only its textfile
# collector, reading that directory. Over HTTP (/metrics):
#  - armed: crashcapture_armed 1, state loaded, the reservation and the
#    daemon's own estimate, the dumps by result as crashcapturectl lists them;
#  - Unload: armed 0, state idle; RemoveDump: the count follows;
#  - node_exporter reads the file with no scrape error; the file is 0644;
#  - Textfile=none: the file is no longer written; a missing directory (no
#    node_exporter installed) is no error for the daemon.
# Needs root (a bus for two users, as test-daemon.sh) and
# prometheus-node-exporter; exit 77 (skipped) otherwise. Exit status = number
# of failures (tests/checks.sh).
#   BUILD=build-dir tests/integration/test-metrics.sh
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=${BUILD:-$HERE/../../build}
DAEMON=$BUILD/daemon/crashcaptured
CTL=$BUILD/cli/crashcapturectl
BUILDER=$HERE/fixtures/fake-initrd-builder
EXPORTER=${EXPORTER:-/usr/bin/prometheus-node-exporter}
# shellcheck source=../checks.sh
. "$HERE/../checks.sh"
[ "$(id -u)" = 0 ] || skip_script "test-metrics.sh needs root (a private system bus)"
[ -x "$DAEMON" ] || skip_script "no $DAEMON (build first)"
[ -x "$EXPORTER" ] || skip_script "no $EXPORTER (scripts/install-deps.sh: prometheus-node-exporter)"

work=$(mktemp -d /var/tmp/crashcaptured-metrics.XXXXXX)
chmod 755 "$work"
root=$work/root
daemon_pid='' bus_pid='' exporter_pid=''
cleanup() {
    for pid in "$exporter_pid" "$daemon_pid" "$bus_pid"; do
        [ -n "$pid" ] && kill "$pid" 2> /dev/null
    done
    wait 2> /dev/null
    [ -n "${KEEP_WORK:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

# shellcheck source=fake-system.sh
. "$HERE/fake-system.sh"
make_fake_root
make_dump 2026-11-20-1000-aaaa complete 1795000000
make_dump 2026-11-21-1000-bbbb incomplete 1795100000
make_dump 2026-11-22-1000-cccc failed 1795200000
# Two crashes of one bug on two "machines" (another timestamp, address, PID):
# one signature series counting 2.
make_dump 2026-11-23-1000-dddd complete 1795150000
fixture=$HERE/../unit/dump/fixtures/panic-signature/null-deref-6.1-amd64.txt
cp "$fixture" "$root/var/crash/2026-11-21-1000-bbbb/vmcore-dmesg.txt"
sed -E 's/\[ *[0-9]+\.[0-9]+\]/[ 4242.000001]/; s/ffff[0-9a-f]{12}/ffff888012345678/g; s/PID: [0-9]+/PID: 31337/' \
    "$fixture" > "$root/var/crash/2026-11-23-1000-dddd/vmcore-dmesg.txt"
textdir=$root/var/lib/prometheus/node-exporter
mkdir -p "$textdir"
prom=$textdir/crashcapture.prom
start_private_bus
start_daemon
wait_state loaded 15 || { fail "crashcaptured did not reach loaded: $(tail -3 "$work/daemon.log")"; checks_exit; }

# ---- node_exporter: only the textfile collector, on a free loopback port ----
port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$EXPORTER" --web.listen-address="127.0.0.1:$port" --collector.disable-defaults --collector.textfile \
    --collector.textfile.directory="$textdir" > "$work/exporter.log" 2>&1 &
exporter_pid=$!
scrape() { # the /metrics body, in $work/metrics
    /usr/bin/python3 -c "import urllib.request, sys; sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:$port/metrics', timeout=5).read().decode())" \
        > "$work/metrics" 2> "$work/scrape.err"
}
for _ in $(seq 100); do scrape && break; sleep 0.1; done
value() { # value 'SERIES': its sample in the last scrape ("" if absent)
    awk -v series="$1" '$1 == series { print $2 }' "$work/metrics"
}
wait_value() { # wait_value SERIES VALUE: scrape until SERIES reads VALUE (5 s)
    for _ in $(seq 50); do
        scrape && [ "$(value "$1")" = "$2" ] && return 0
        sleep 0.1
    done
    return 1
}

# ---- armed ----
if wait_value crashcapture_armed 1; then
    pass "node_exporter serves crashcapture_armed 1 while the capture kernel is loaded"
else
    fail "crashcapture_armed over HTTP: '$(value crashcapture_armed)'; $(cat "$work/scrape.err" "$work/exporter.log" | tail -3)"
fi
[ "$(value 'crashcapture_state{state="loaded"}')" = 1 ] && [ "$(value 'crashcapture_state{state="failed"}')" = 0 ] &&
    [ "$(value crashcapture_initrd_current)" = 1 ] &&
    pass "crashcapture_state{state=\"loaded\"} 1, the other states 0, crashcapture_initrd_current 1" ||
    fail "state series: $(grep '^crashcapture_state\|^crashcapture_initrd' "$work/metrics" | tr '\n' ' ')"
reserved=$(cat "$root/sys/kernel/kexec_crash_size")
needed=$(busctl --user call org.crashcapture1 /org/crashcapture1 org.crashcapture1.Manager EstimateReservation |
    /usr/bin/python3 -c 'import json, sys; line = sys.stdin.read(); print(json.loads(json.loads(line.split(" ", 2)[2]))["needed_bytes"])')
# node_exporter prints large values in Go's float form (2.68435456e+08).
as_int() { /usr/bin/python3 -c "import sys; print(int(float(sys.argv[1])))" "${1:-nan}" 2> /dev/null; }
[ "$(as_int "$(value crashcapture_reserved_bytes)")" = "$reserved" ] &&
    [ "$(as_int "$(value crashcapture_needed_bytes)")" = "$needed" ] &&
    [ "$(value crashcapture_reservation_fits)" = 1 ] &&
    pass "reserved ($reserved) and needed ($needed, the daemon's EstimateReservation) bytes, fits 1" ||
    fail "reservation series: reserved $(value crashcapture_reserved_bytes) want $reserved, needed $(value crashcapture_needed_bytes) want $needed, fits $(value crashcapture_reservation_fits)"
want=$("$CTL" list --json | /usr/bin/python3 -c 'import json, sys, collections; c = collections.Counter(d["result"] for d in json.load(sys.stdin)); print(" ".join("%s=%d" % (r, c[r]) for r in ("complete", "incomplete", "failed", "lost")))')
got=$(for r in complete incomplete failed lost; do printf '%s=%s ' "$r" "$(value "crashcapture_dumps{result=\"$r\"}")"; done)
[ "${got% }" = "$want" ] && pass "crashcapture_dumps by result as crashcapturectl list has them: $want" ||
    fail "dumps by result: $got, crashcapturectl list: $want"
[ "$(as_int "$(value crashcapture_last_crash_timestamp_seconds)")" = 1795200000 ] &&
    pass "crashcapture_last_crash_timestamp_seconds is the newest dump's crash time" ||
    fail "last crash: $(value crashcapture_last_crash_timestamp_seconds)"
[ "$(value 'crashcapture_info{version="0.1.0"}')" = 1 ] || grep -q '^crashcapture_info{version=' "$work/metrics" &&
    pass "crashcapture_info carries the version: $(grep '^crashcapture_info' "$work/metrics")" || fail "no crashcapture_info"
signature_line=$(grep '^crashcapture_signature_dumps{.*NULL pointer dereference' "$work/metrics")
[ "${signature_line##* }" = 2 ] &&
    pass "two crashes of one bug, one crashcapture_signature_dumps series counting 2: ${signature_line:0:150}" ||
    fail "signature series: $(grep '^crashcapture_signature_dumps' "$work/metrics" | tr '\n' ' ')"
[ "$(value node_textfile_scrape_error)" = 0 ] && pass "node_exporter reads the file without a scrape error" ||
    fail "node_textfile_scrape_error $(value node_textfile_scrape_error): $(tail -3 "$work/exporter.log")"
[ "$(stat -c %a "$prom")" = 644 ] && [ ! -e "$prom.tmp" ] && pass "the file is 0644 (node_exporter is not root), no temporary left" ||
    fail "file mode $(stat -c %a "$prom"), tmp: $(ls "$textdir")"

# ---- not armed, and a dump removed: the figures follow ----
"$CTL" unload > /dev/null || fail "unload"
wait_value crashcapture_armed 0 && [ "$(value 'crashcapture_state{state="idle"}')" = 1 ] &&
    [ "$(value 'crashcapture_state{state="loaded"}')" = 0 ] && [ "$(value crashcapture_initrd_current)" = 0 ] &&
    pass "after Unload: crashcapture_armed 0, state idle, initrd_current 0" ||
    fail "after Unload: armed $(value crashcapture_armed), $(grep '^crashcapture_state' "$work/metrics" | tr '\n' ' ')"
"$CTL" remove 2026-11-20-1000-aaaa > /dev/null || fail "remove"
wait_value 'crashcapture_dumps{result="complete"}' 1 &&
    pass "after RemoveDump: crashcapture_dumps{result=\"complete\"} 2 -> 1" ||
    fail "after RemoveDump: $(grep '^crashcapture_dumps' "$work/metrics" | tr '\n' ' ')"
"$CTL" reload > /dev/null && wait_state loaded 15 && wait_value crashcapture_armed 1 &&
    pass "Reload: armed again, crashcapture_armed 1" || fail "reload: armed $(value crashcapture_armed)"

# ---- Textfile=none; and no directory at all ----
printf '[Metrics]\nTextfile=none\n' > "$root/etc/crashcapture/crashcapture.conf.d/50-metrics.conf"
"$CTL" reload > /dev/null && wait_state loaded 15
rm -f "$prom"
"$CTL" unload > /dev/null && sleep 0.5
[ ! -e "$prom" ] && pass "Textfile=none: the daemon writes no metrics file" || fail "Textfile=none: $prom written"
rm -f "$root/etc/crashcapture/crashcapture.conf.d/50-metrics.conf"
rm -rf "$textdir"
"$CTL" reload > /dev/null && wait_state loaded 15 &&
    kill -0 "$daemon_pid" && ! grep -q '^<[0-6]>Not writing the Prometheus metrics file' "$work/daemon.log" &&
    pass "no node_exporter directory: the daemon goes on, and says nothing above debug level" ||
    fail "no directory: state $(prop State); $(grep 'Prometheus' "$work/daemon.log" | tail -2)"
mkdir -p "$root/etc/crashcapture/crashcapture.conf.d"
printf '[Metrics]\nTextfile=%s/nowhere/crashcapture.prom\n' "/var/lib" > "$root/etc/crashcapture/crashcapture.conf.d/50-metrics.conf"
"$CTL" reload > /dev/null && wait_state loaded 15
for _ in $(seq 30); do grep -q '^<4>Not writing the Prometheus metrics file' "$work/daemon.log" && break; sleep 0.1; done
"$CTL" unload > /dev/null && "$CTL" reload > /dev/null && wait_state loaded 15
[ "$(grep -c '^<4>Not writing the Prometheus metrics file: .*nowhere' "$work/daemon.log")" = 1 ] &&
    pass "an admin's Textfile= in a missing directory: one warning naming it, not one per change" ||
    fail "an admin's missing directory is not reported: $(tail -3 "$work/daemon.log")"
checks_exit
