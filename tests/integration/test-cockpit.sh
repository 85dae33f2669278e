#!/bin/bash
# The Cockpit page (cockpit/) in a real Cockpit and a real browser: the real
# crashcaptured on a private dbus-daemon with the project's bus policy, a fake
# root, kexec and initrd builder (fake-system.sh, as test-daemon.sh); Debian's
# cockpit-ws with a local session (cockpit-bridge, whose system bus is the
# private one: DBUS_SYSTEM_BUS_ADDRESS) on a loopback port, serving the
# page from a copy of cockpit/ (XDG_DATA_DIRS); Debian's headless Chromium
# driven through the DevTools protocol (cockpit-browser.py). A second
# cockpit-ws runs as nobody: the unprivileged session. Screenshots of each
# step in build/test-logs/cockpit/ (or $SHOTS). Needs root (a bus for two
# users, setpriv); exit 77 (skipped) without it or without cockpit-ws,
# chromium or python3-websocket. Exit status = number of failures.
#   BUILD=build-dir tests/integration/test-cockpit.sh
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
BUILD=${BUILD:-$TOP/build}
DAEMON=$BUILD/daemon/crashcaptured
CTL=$BUILD/cli/crashcapturectl
BUILDER=$HERE/fixtures/fake-initrd-builder
WS=/usr/lib/cockpit/cockpit-ws
SHOTS=${SHOTS:-$TOP/build/test-logs/cockpit}
# shellcheck source=../checks.sh
. "$HERE/../checks.sh"
[ "$(id -u)" = 0 ] || skip_script "test-cockpit.sh needs root (setpriv, a bus for two users)"
[ -x "$WS" ] && command -v cockpit-bridge > /dev/null || skip_script "no cockpit-ws/cockpit-bridge (apt install cockpit-ws cockpit-bridge cockpit-system)"
[ -e /usr/share/cockpit/systemd/overview.css.gz ] || [ -e /usr/share/cockpit/systemd/overview.css ] ||
    skip_script "no cockpit-system (the page's PatternFly stylesheet)"
command -v chromium > /dev/null || skip_script "no chromium"
/usr/bin/python3 -c 'import websocket' 2> /dev/null || skip_script "no python3-websocket"
[ -x "$DAEMON" ] || skip_script "no $DAEMON (build first)"

work=$(mktemp -d /var/tmp/crashcapture-cockpit.XXXXXX)
chmod 755 "$work"
root=$work/root
daemon_pid='' bus_pid='' ws_pid='' ws_nobody_pid='' browser_pid=''
cleanup() {
    set +e
    if [ -n "$browser_pid" ]; then
        { echo quit >&"${BROWSER[1]}"; } 2> /dev/null
        wait "$browser_pid" 2> /dev/null
    fi
    for pid in "$ws_pid" "$ws_nobody_pid" "$daemon_pid" "$bus_pid"; do
        [ -n "$pid" ] && kill "$pid" 2> /dev/null
    done
    wait 2> /dev/null
    [ -n "${KEEP_WORK:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
rm -rf "$SHOTS"
mkdir -p "$SHOTS"

# ---- the daemon: the fake system of fake-system.sh, two dumps ----
# shellcheck source=fake-system.sh
. "$HERE/fake-system.sh"
make_fake_root
make_dump 2026-11-20-1000-aaaa complete 1795000000
make_dump 2026-11-21-1000-bbbb incomplete 1795100000
# A real oops: its row shows the crash signature (README, "Crash signatures").
cp "$HERE/../unit/dump/fixtures/panic-signature/null-deref-6.1-amd64.txt" \
    "$root/var/crash/2026-11-21-1000-bbbb/vmcore-dmesg.txt"
# A lost capture: an earlier armed boot that ended without an orderly
# shutdown and left no dump (the armed-boot ledger), with pstore's panic.
boot_lost=11111111-2222-4333-8444-555555555555
mkdir -p "$root/var/lib/crashcapture/boots" "$root/sys/fs/pstore"
cat > "$root/var/lib/crashcapture/boots/$boot_lost.json" <<JSON
{"schema_version": 1, "boot_id": "$boot_lost", "kernel_release": "6.1.0-earlier-amd64", "armed_at": $(($(date +%s) - 10000)),
 "last_seen": $(($(date +%s) - 9400)), "armed": true, "orderly_shutdown": false, "shutdown_at": 0,
 "outcome": "pending", "resolved_at": 0, "dump_id": "", "pstore": []}
JSON
printf 'Panic#1 Part1\n<0>[   42.000000] Kernel panic - not syncing: test lost crash\n' > "$root/sys/fs/pstore/dmesg-ramoops-0"
start_private_bus
start_daemon
wait_state loaded 15 || { fail "crashcaptured did not reach loaded: $(tail -3 "$work/daemon.log")"; checks_exit; }

# ---- Cockpit: the page from a copy of cockpit/, two sessions ----
mkdir -p "$work/share/cockpit"
cp -r "$TOP/cockpit" "$work/share/cockpit/crashcapture"
chmod -R a+rX "$work/share"
free_port() { /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() { # wait_port PORT: until cockpit-ws answers
    for _ in $(seq 100); do
        /usr/bin/python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$1/cockpit/static/login.html')" 2> /dev/null && return 0
        sleep 0.1
    done
    return 1
}
start_ws() { # start_ws PORT LOG [setpriv ...]: cockpit-ws with a local session (the bridge as that user)
    local port=$1 log=$2
    shift 2
    "$@" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$work/home-$port" XDG_RUNTIME_DIR="$work/run-$port" \
        XDG_DATA_DIRS="$work/share:/usr/share" DBUS_SYSTEM_BUS_ADDRESS="$DBUS_SESSION_BUS_ADDRESS" \
        LANG=C.UTF-8 "$WS" --no-tls --address 127.0.0.1 --port "$port" --local-session=cockpit-bridge > "$log" 2>&1 &
}
port=$(free_port)
mkdir -p "$work/home-$port" "$work/run-$port" && chmod 700 "$work/run-$port"
start_ws "$port" "$work/ws.log"
ws_pid=$!
port_nobody=$(free_port)
mkdir -p "$work/home-$port_nobody" "$work/run-$port_nobody"
chown 65534:65534 "$work/home-$port_nobody" "$work/run-$port_nobody" && chmod 700 "$work/run-$port_nobody"
start_ws "$port_nobody" "$work/ws-nobody.log" setpriv --reuid=65534 --regid=65534 --clear-groups
ws_nobody_pid=$!
wait_port "$port" || { fail "cockpit-ws did not answer on port $port: $(tail -3 "$work/ws.log")"; checks_exit; }

# ---- the browser ----
coproc BROWSER { exec /usr/bin/python3 "$HERE/cockpit-browser.py" "$work/chromium" 1280 900 2>> "$work/browser.log"; }
browser_pid=$BROWSER_PID
answer=
browser() { # browser COMMAND [ARGUMENT...]: one command; its answer in $answer; false unless "ok"
    local IFS=$'\t'
    printf '%s\n' "$(printf '%s' "$*" | tr '\n' ' ')" >&"${BROWSER[1]}"
    answer=
    IFS= read -r -t 90 answer <&"${BROWSER[0]}" || answer="no answer (browser.log: $(tail -2 "$work/browser.log" | tr '\n' ' '))"
    [ "${answer%% *}" = ok ]
}
shot() { # shot NAME: a screenshot of the page as it is now
    browser shot "$SHOTS/$1.png" || fail "screenshot $1: $answer"
}
page=http://127.0.0.1:$port/cockpit/@localhost/crashcapture/index.html
dom() { printf 'document.querySelector(%s)' "$1"; }
rows='Array.from(document.querySelectorAll("#dumps tbody tr")).map(r => r.dataset.id + " " + r.querySelector("[data-result]").dataset.result).sort().join(",")'

started=$SECONDS
# (1) the page in Cockpit's shell: its menu entry
browser open "http://127.0.0.1:$port/crashcapture" || fail "open the shell: $answer"
if browser wait 30 'Array.from(document.querySelectorAll("nav a, #host-apps a")).some(a => a.textContent.trim() == "Kernel crash capture") &&
    (f => f && f.contentDocument && f.contentDocument.querySelector("#dumps tbody tr"))(document.querySelector("iframe[name$=\"crashcapture\"], iframe[name*=\"crashcapture\"]"))'; then
    pass "Cockpit's shell lists \"Kernel crash capture\" in its menu and shows the page"
else
    fail "the shell: no menu entry or page: $answer"
fi
shot 01-shell

# (2) the page against what the daemon reports
browser open "$page" || fail "open $page: $answer"
browser wait 20 "$(dom '"#state[data-state=loaded]"') && $(dom '"#dumps tbody tr"') && $(dom '"#crashkernel"')" ||
    fail "the page did not show the state, dumps and reservation: $answer"
shot 02-page
want_rows=$("$CTL" list --json | /usr/bin/python3 -c 'import json, sys; print(",".join(sorted(d["id"] + " " + d["result"] for d in json.load(sys.stdin))))')
browser eval "$rows"
[ "$answer" = "ok \"$want_rows\"" ] && pass "the dump table has what crashcapturectl list has: $want_rows" ||
    fail "dump table $answer, crashcapturectl list: $want_rows"
browser eval "(r => r && [r.querySelector(\"[data-result]\").textContent, r.cells[1].textContent, r.cells[3].textContent, r.cells[5].textContent].join(\" | \"))($(dom "\"tr[data-id=\\\"lost-$boot_lost\\\"]\""))"
[ "$answer" = 'ok "lost | 6.1.0-earlier-amd64 | Kernel panic - not syncing: test lost crash | not captured"' ] &&
    pass "the lost capture: result lost, its kernel, pstore's panic line, not captured" || fail "the lost capture's row: $answer"
browser eval "(r => r && r.cells[3].textContent)($(dom "\"tr[data-id='2026-11-21-1000-bbbb']\""))"
[ "$answer" = 'ok "BUG: kernel NULL pointer dereference in crashtest_write_null"' ] &&
    pass "a dump with an oops: its row shows the crash signature" || fail "the oops dump's row: $answer"
browser eval "[$(dom '"#state"').dataset.state, $(dom '"#target"').textContent, $(dom '"[data-field=kernel] code"').textContent].join(\" \")"
want_state="$(prop State) $(prop Target) $(prop CaptureKernel)"
[ "$answer" = "ok \"$want_state\"" ] && pass "state, target and capture kernel as the daemon's properties: $want_state" ||
    fail "state on the page $answer, the daemon's: $want_state"
want_mib=$(busctl --user call org.crashcapture1 /org/crashcapture1 org.crashcapture1.Manager EstimateReservation |
    awk '{ printf "%d", ($2 + 1048575) / 1048576 }')
browser eval "$(dom '"#crashkernel"').textContent"
[ "$answer" = "ok \"crashkernel=${want_mib}M\"" ] && pass "the reservation card offers crashkernel=${want_mib}M, as EstimateReservation" ||
    fail "crashkernel= on the page $answer, EstimateReservation: ${want_mib}M"
browser eval "document.querySelectorAll(\"button:disabled\").length"
[ "$answer" = "ok 0" ] && pass "root's session: no button disabled" || fail "root's session: disabled buttons: $answer"

# (3) the detail view: the record and the kernel log (GetDumpLog)
browser eval "$(dom '"tr[data-id=\"2026-11-20-1000-aaaa\"] [data-action=details]"').click()" || fail "click: $answer"
browser wait 10 "$(dom '"#dump-log"') && $(dom '"#dump-log"').textContent.includes(\"Kernel panic - not syncing: test 2026-11-20-1000-aaaa\") && $(dom '"#dump-record"').textContent.includes(\"bytes_out\")" &&
    pass "details: the record and the crashed kernel's log" || fail "details: $answer"
shot 03-details
browser eval "$(dom '".pf-c-modal-box__footer button"').click()" || fail "click: $answer"

# (4) a new dump appears live: the daemon reports it at its next start
# (DumpCaptured). Killed, not stopped: the next start says so (PreviousRun).
kill -KILL "$daemon_pid"
wait "$daemon_pid" 2> /dev/null || true
daemon_pid=
browser wait 10 "$(dom '"#state-body .pf-c-alert"') && $(dom '"#state-body"').textContent.includes(\"not running\")" &&
    pass "crashcaptured stopped: the page says it is not running" || fail "daemon stopped: $answer"
shot 04-stopped
make_dump 2026-11-22-1000-cccc failed 1795200000
start_daemon FAKE_BUILDER_SLEEP=2 # a build takes 2 s: Rebuild's progress can be seen
browser wait 20 "$(dom '"tr[data-id=\"2026-11-22-1000-cccc\"].crashcapture-new [data-result=failed]"')" &&
    pass "a new dump appears live on DumpCaptured, result failed, marked new" || fail "the new dump: $answer"
grep -q 'Kernel crash captured: 2026-11-22-1000-cccc (failed)' "$work/daemon.log" ||
    fail "the daemon did not report 2026-11-22-1000-cccc: $(grep 'Kernel crash captured' "$work/daemon.log" | tail -2)"
browser wait 20 "$(dom '"#state[data-state=loaded]"')" || fail "after the restart: $answer"
previous=$(prop PreviousRun)
[ -n "$previous" ] && browser wait 10 "$(dom '"#state-notes"') && $(dom '"#state-notes"').textContent.includes($(printf '%s' "$previous" | /usr/bin/python3 -c 'import json, sys; print(json.dumps(sys.stdin.read()))'))" &&
    pass "after a SIGKILL the page shows the daemon's PreviousRun: ${previous:0:80}..." ||
    fail "PreviousRun '$previous' not on the page: $answer"
shot 05-new-dump

# (5) remove a dump: a confirmation first
browser eval "$(dom '"tr[data-id=\"2026-11-20-1000-aaaa\"] [data-action=remove]"').click()" || fail "click: $answer"
browser wait 5 "$(dom '"#confirm-remove"') && $(dom '".pf-c-modal-box__title"').textContent" &&
    [ -d "$root/var/crash/2026-11-20-1000-aaaa" ] &&
    pass "remove asks first ($answer), the dump is still there" || fail "no confirmation: $answer"
shot 06-confirm-remove
browser eval "$(dom '"#confirm-remove"').click()" || fail "click: $answer"
browser wait 10 "!$(dom '"tr[data-id=\"2026-11-20-1000-aaaa\"]"') && !$(dom '"#confirm-remove"')" &&
    [ ! -e "$root/var/crash/2026-11-20-1000-aaaa" ] && ! "$CTL" list --json | grep -q 2026-11-20-1000-aaaa &&
    pass "confirmed: the row is gone and the daemon no longer lists the dump" || fail "remove: $answer"

# (6) Reload: the state changes on the page (a reservation too small: a warning)
echo 67108864 > "$root/sys/kernel/kexec_crash_size"
printf '00100000-bffdffff : System RAM\n  2b000000-2effffff : Crash kernel\n' > "$root/proc/iomem"
browser eval "$(dom '"#reload"').click()" || fail "click: $answer"
browser wait 20 "$(dom '"#state-notes"') && $(dom '"#state-notes"').textContent.includes(\"crashkernel=64M is too small\") && $(dom '"[data-field=fits] .pf-m-red"')" &&
    pass "Reload: the page shows the daemon's ReservationWarning and 'fits: no'" || fail "reload: $answer"
warning=$(prop ReservationWarning)
[ -n "$warning" ] && browser eval "$(dom '"#state-notes"').textContent.includes($(printf '%s' "$warning" | /usr/bin/python3 -c 'import json, sys; print(json.dumps(sys.stdin.read()))'))" &&
    [ "$answer" = "ok true" ] && pass "the warning is the daemon's text" || fail "warning: $answer; daemon: $warning"
shot 07-reload-warning
# (7) Rebuild: its progress (building, with a spinner), then loaded again
builds_before=$(wc -l < "$work/builds.log")
browser eval "$(dom '"#rebuild"').click()" || fail "click: $answer"
browser wait 10 "$(dom '"#state[data-state=building] .pf-c-spinner"')" && shot 08-rebuilding &&
    browser wait 20 "$(dom '"#state[data-state=loaded]"') && !$(dom '"#rebuild"').disabled" &&
    [ "$(wc -l < "$work/builds.log")" = $((builds_before + 1)) ] &&
    pass "Rebuild: the page shows building with a spinner, then loaded; the daemon built once" ||
    fail "rebuild: $answer; builds $builds_before -> $(wc -l < "$work/builds.log")"

# The page in Cockpit's shell with its dumps, at a height that shows them (docs/cockpit-crashcapture.png)
browser size 1440 1240 && browser open "http://127.0.0.1:$port/crashcapture" &&
    browser wait 20 '(f => f && f.contentDocument.querySelector("#dumps tbody tr") && f.contentDocument.querySelector("#state-notes"))(document.querySelector("iframe[name*=\"crashcapture\"]"))' ||
    fail "the shell with the dumps: $answer"
shot 09-shell-dumps
browser size 1280 900 || fail "size: $answer"

# (8) the reservation: the button sets the offered crashkernel= for the next boot (SetReservation)
echo 268435456 > "$root/sys/kernel/kexec_crash_size"
printf '00100000-bffdffff : System RAM\n  2b000000-3affffff : Crash kernel\n' > "$root/proc/iomem"
busctl --user call org.crashcapture1 /org/crashcapture1 org.crashcapture1.Manager Reload && wait_state loaded 20 ||
    fail "Reload with the 256M reservation back: $(prop State) $(prop LastError)"
rm -f "$work/update-grub.log" "$root/etc/default/grub.d/crashcapture.cfg"
want_mib=$(busctl --user call org.crashcapture1 /org/crashcapture1 org.crashcapture1.Manager EstimateReservation |
    awk '{ printf "%d", ($2 + 1048575) / 1048576 }')
browser open "$page" || fail "open $page: $answer"
browser wait 20 "$(dom '"#set-reservation"') && !$(dom '"#set-reservation"').disabled && $(dom '"#state[data-state=loaded]"')" ||
    fail "the set-reservation button: $answer"
browser eval "$(dom '"#set-reservation"').click()" || fail "click: $answer"
browser wait 5 "$(dom '"#confirm-reservation"') && $(dom '".pf-c-modal-box"').textContent" &&
    [[ $answer == *"crashkernel=${want_mib}M"*"next boot"* ]] && [ ! -e "$root/etc/default/grub.d/crashcapture.cfg" ] &&
    pass "Set crashkernel= asks first, naming crashkernel=${want_mib}M and the next boot; nothing written yet" ||
    fail "set reservation: no confirmation: $answer"
shot 10-confirm-reservation
browser eval "$(dom '"#confirm-reservation"').click()" || fail "click: $answer"
browser wait 15 "$(dom '"#reservation-applied"') && $(dom '"#reservation-applied"').textContent" &&
    [[ $answer == *"crashkernel=${want_mib}M is set for the next boot"* ]] &&
    grep -q "crashkernel=${want_mib}M" "$root/etc/default/grub.d/crashcapture.cfg" 2> /dev/null && [ -s "$work/update-grub.log" ] &&
    pass "confirmed: the daemon wrote crashkernel=${want_mib}M in the GRUB drop-in and ran update-grub; the page says reboot" ||
    fail "set reservation: $answer; drop-in: $(cat "$root/etc/default/grub.d/crashcapture.cfg" 2>&1)"
shot 11-reservation-set
touch "$work/update-grub.fail"
browser eval "$(dom '"#set-reservation"').click()" && browser wait 5 "$(dom '"#confirm-reservation"')" &&
    browser eval "$(dom '"#confirm-reservation"').click()" || fail "click: $answer"
browser wait 15 "Array.from(document.querySelectorAll(\"#alerts .pf-c-alert\")).map(a => a.textContent).join(\" \")" &&
    [[ $answer == *"could not be set"*"update-grub failed"* ]] &&
    pass "a failing update-grub shows as an alert with the daemon's message" || fail "failing update-grub: $answer"
rm -f "$work/update-grub.fail"
browser eval "document.querySelectorAll(\"#alerts .pf-c-alert button\").forEach(b => b.click())" || fail "close alerts: $answer"

# (9) Test the capture: behind a confirmation that says it crashes the machine (TestCapture)
: > "$root/proc/sysrq-trigger"
browser eval "$(dom '"#test-capture"').click()" || fail "click: $answer"
browser wait 5 "$(dom '"#confirm-test"') && $(dom '".pf-c-modal-box"').textContent" &&
    [[ $answer == *"Crash this machine now?"*"crashes the kernel of this machine"* ]] &&
    pass "Test the capture asks first, and says it crashes the machine" || fail "test capture: no confirmation: $answer"
shot 12-confirm-test
browser eval "$(dom '"#cancel-test"').click()" || fail "click: $answer"
sleep 1.5
[ ! -s "$root/proc/sysrq-trigger" ] && pass "Cancel: no crash" || fail "Cancel crashed the machine"
browser eval "$(dom '"#test-capture"').click()" && browser wait 5 "$(dom '"#confirm-test"')" &&
    browser eval "$(dom '"#confirm-test"').click()" || fail "click: $answer"
for _ in $(seq 30); do [ -s "$root/proc/sysrq-trigger" ] && break; sleep 0.1; done
browser wait 5 "$(dom '"#test-started"')" && [ "$(cat "$root/proc/sysrq-trigger")" = c ] &&
    pass "confirmed: the daemon wrote c to sysrq-trigger; the page says the machine crashes now" ||
    fail "test capture: $answer; sysrq-trigger '$(cat "$root/proc/sysrq-trigger")'"
: > "$root/proc/sysrq-trigger"

# (10) the unprivileged session (the bridge as nobody): it reads, it may not remove
if wait_port "$port_nobody"; then
    browser open "http://127.0.0.1:$port_nobody/cockpit/@localhost/crashcapture/index.html" || fail "open as nobody: $answer"
    browser wait 20 "$(dom '"#dumps tbody tr"') && $(dom '"[data-action=remove]:disabled"')" &&
        pass "nobody's session: the dumps are listed, Remove is disabled" || fail "nobody's session: $answer"
    browser eval "[$(dom '"[data-action=remove]"').title, $(dom '"#access .pf-c-alert"').textContent, $(dom '"#reload"').disabled, $(dom '"#rebuild"').disabled, $(dom '"#test-capture"').disabled, $(dom '"#set-reservation"').disabled].join(\" | \")"
    case $answer in
        *"RemoveDump needs root (caller uid 65534)"*"needs root"*"| true | true | true | true\"" | *"needs root (caller uid 65534)"*"| true | true | true | true\"")
            pass "nobody's session says why, in the daemon's words: $answer" ;;
        *) fail "nobody's session, the reason: $answer" ;;
    esac
    shot 13-nobody
    # Not only the button: the same call from this session's bridge is refused by the daemon.
    browser eval 'cockpit.dbus("org.crashcapture1", {bus: "system"}).call("/org/crashcapture1", "org.crashcapture1.Manager", "RemoveDump", ["2026-11-21-1000-bbbb"]).then(() => "removed", e => e.name)'
    [ "$answer" = 'ok "org.freedesktop.DBus.Error.AccessDenied"' ] && [ -d "$root/var/crash/2026-11-21-1000-bbbb" ] &&
        pass "nobody's session: RemoveDump called through its bridge anyway is AccessDenied, the dump stays" ||
        fail "nobody's RemoveDump through the bridge: $answer"
    browser eval 'cockpit.dbus("org.crashcapture1", {bus: "system"}).call("/org/crashcapture1", "org.crashcapture1.Manager", "TestCapture", []).then(() => "crashed", e => e.name)'
    sleep 1.5
    [ "$answer" = 'ok "org.freedesktop.DBus.Error.AccessDenied"' ] && [ ! -s "$root/proc/sysrq-trigger" ] &&
        pass "nobody's session: TestCapture through its bridge is AccessDenied, no crash" ||
        fail "nobody's TestCapture through the bridge: $answer, sysrq-trigger '$(cat "$root/proc/sysrq-trigger")'"
    browser eval "$(dom '"[data-action=details]"').click()" || fail "click: $answer"
    browser wait 10 "$(dom '".pf-c-modal-box .pf-c-alert"') && $(dom '".pf-c-modal-box"').textContent.includes(\"needs root\")" &&
        pass "nobody's session: the kernel log is refused with the reason" || fail "nobody's details: $answer"
else
    fail "cockpit-ws as nobody did not answer: $(tail -3 "$work/ws-nobody.log")"
fi
[ -d "$root/var/crash/2026-11-21-1000-bbbb" ] || fail "a dump disappeared in nobody's session"

elapsed=$((SECONDS - started))
[ "$elapsed" -lt 120 ] && pass "the browser steps took ${elapsed} s" || fail "the browser steps took ${elapsed} s (over 2 minutes)"
checks_exit
