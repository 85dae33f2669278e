#!/bin/bash
# Target=ssh against a real OpenSSH server on loopback, and the builder's
# plan for Target=nfs (the NFS mount itself needs a kernel NFS client: the
# nfs guest, test-systemd-guest.sh --scenario nfs).
#   test-remote-targets.sh VMCORE
# A private sshd (its own configuration, host key and port on 127.0.0.1)
# and a throwaway user whose authorized_keys holds only the admin's key.
# Checks (each prints PASS/FAIL, or SKIP where it cannot run here; exit
# status = number of failures, tests/checks.sh):
#  1. crashcapturectl propagate makes the capture's key (0600), installs it
#     on the server once (run twice: still once), creates the target
#     directory and pins the server's host key; a non-ssh target is refused;
#  2. the capture's ssh command line (the builder's CRASHCAPTURE_SSH_OPTIONS)
#     logs in with that key alone, no prompt; a changed host key is refused;
#  3. crashcapture-save's flattened stream of VMCORE through that ssh into
#     the server, replayed by `makedumpfile -R`, is byte-identical to the
#     kdump file crashcapture-save writes directly, and status.json names
#     the remote dump;
#  4. the server going away mid-stream: crashcapture-save ends with a record
#     that says the pipe broke, not killed by SIGPIPE;
#  5. the builder (--dry-run) gives the capture kernel the interface of the
#     route to the server, for ssh and for nfs (with the NFSv4 client); a
#     server on this machine (lo) is refused.
# Root only (a user, sshd); skips with its reason otherwise (exit 77).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
vmcore=${1:?usage: test-remote-targets.sh VMCORE}
BUILD=${BUILD:-$HERE/../../build}
SAVE=$BUILD/cli/crashcapture-save
CTL=$BUILD/cli/crashcapturectl
BUILDER=$BUILD/cli/crashcapture-build-initrd
# shellcheck source=../checks.sh
. "$HERE/../checks.sh"
[ "$(id -u)" = 0 ] || skip_script "test-remote-targets.sh needs root (a user and an sshd)"
for tool in /usr/sbin/sshd ssh ssh-keygen makedumpfile; do
    command -v "$tool" > /dev/null || { echo "FAIL: $tool is not installed (scripts/install-deps.sh)"; exit 1; }
done

# shellcheck source=../e2e/lib.sh
. "$HERE/../e2e/lib.sh"
work=$(mktemp -d /var/tmp/crashcapture-ssh.XXXXXX)
chmod 0755 "$work" # the user reaches its home in it
user=ccssh$$
port=$((20000 + $$ % 20000))
cleanup() {
    e2e_stop_sshd "$work" "$user"
    [ "$failures" = 0 ] || { echo "sshd's log:"; tail -20 "$work/sshd.log"; }
    rm -rf "$work"
}
trap cleanup EXIT
home=$work/home
e2e_start_sshd "$work" "$user" "$port" || { echo "FAIL: cannot start a private sshd"; exit 1; }

# ---- 1. propagate ----
root=$work/root
mkdir -p "$root/etc/crashcapture"
printf '[Dump]\nTarget=ssh://%s@127.0.0.1:%s%s/dumps\n' "$user" "$port" "$home" \
    > "$root/etc/crashcapture/crashcapture.conf"
key=$root/etc/crashcapture/ssh/id_ed25519
known=$root/etc/crashcapture/ssh/known_hosts
ctl() { CRASHCAPTURE_ROOT=$root "$CTL" "$@" < /dev/null; }
if ctl propagate --identity "$work/admin_key" > "$work/propagate.out" 2>&1; then
    pass "propagate: $(grep -m1 "can log in" "$work/propagate.out")"
else
    fail "propagate failed: $(cat "$work/propagate.out")"
fi
[ "$(stat -c %a "$key" 2> /dev/null)" = 600 ] && pass "the capture's key is 0600" ||
    fail "the capture's key: $(ls -l "$key" 2>&1)"
installed=$(grep -cxF "$(cat "$key.pub" 2> /dev/null)" "$home/.ssh/authorized_keys")
ctl propagate --identity "$work/admin_key" --json > "$work/propagate.json" 2>&1
again=$(grep -cxF "$(cat "$key.pub" 2> /dev/null)" "$home/.ssh/authorized_keys")
[ "$installed" = 1 ] && [ "$again" = 1 ] &&
    pass "the key is in the server's authorized_keys once, after two runs" ||
    fail "the key is in authorized_keys $installed then $again times"
python3 - "$work/propagate.json" << 'PY' && pass "propagate --json: made_key false the second time, the host key pinned" || fail "propagate --json: $(cat "$work/propagate.json")"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["made_key"] is False and "ED25519" in j["server_host_key"], j
PY
[ -d "$home/dumps" ] && pass "the target directory exists on the server" || fail "no $home/dumps"
grep -q "127.0.0.1\]:$port" "$known" && pass "the server's host key is pinned in $(basename "$known")" ||
    fail "known_hosts: $(cat "$known" 2>&1)"
mkdir -p "$work/plain/etc/crashcapture"
printf '[Dump]\nTarget=/var/crash\n' > "$work/plain/etc/crashcapture/crashcapture.conf"
if CRASHCAPTURE_ROOT=$work/plain "$CTL" propagate > "$work/plain.out" 2>&1; then
    fail "propagate with Target=/var/crash succeeded"
else
    grep -q "not an ssh target" "$work/plain.out" && pass "propagate refuses a directory target: $(cat "$work/plain.out")" ||
        fail "propagate with a directory target: $(cat "$work/plain.out")"
fi

# ---- 2. the capture's ssh ----
# The options the builder writes into capture.env, with this test's root.
capture_ssh() {
    ssh -i "$key" -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=yes \
        -o "UserKnownHostsFile=$known" -o ConnectTimeout=30 -o ServerAliveInterval=15 \
        -o ServerAliveCountMax=4 -p "$port" "$user@127.0.0.1" "$@"
}
SSH_AUTH_SOCK='' capture_ssh true < /dev/null 2> "$work/login.err" &&
    pass "the capture's key logs in alone (BatchMode, IdentitiesOnly)" ||
    fail "the capture's key: $(cat "$work/login.err")"
cp "$known" "$work/known.good"
ssh-keygen -q -t ed25519 -N '' -f "$work/other_host_key"
echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$work/other_host_key.pub")" > "$known"
if capture_ssh true < /dev/null 2> "$work/spoof.err"; then
    fail "a server with another host key was accepted"
else
    grep -q "HOST IDENTIFICATION HAS CHANGED\|Host key verification failed" "$work/spoof.err" &&
        pass "a server with another host key is refused" || fail "spoofed host: $(cat "$work/spoof.err")"
fi
cp "$work/known.good" "$known"

# ---- 3. the stream through ssh ----
remote=$home/dumps/2026-12-02-120000
capture_ssh "umask 077 && mkdir -p '$remote'" < /dev/null
url="ssh://$user@127.0.0.1:$port$home/dumps/2026-12-02-120000/vmcore.flat"
"$SAVE" --input "$vmcore" --output "$work/record" --format flattened --dump-to - --remote-dump "$url" --progress never \
    2> "$work/save.err" | capture_ssh "cat > '$remote/vmcore.flat.incomplete'"
ssh_status=$?
python3 - "$work/record/status.json" "$url" << 'PY' && pass "status.json: complete, remote_dump $url" || fail "status.json: $(cat "$work/record/status.json")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["result"] == "complete" and r["remote_dump"] == sys.argv[2] and r["format"] == "flattened", r
PY
"$SAVE" --input "$vmcore" --output "$work/direct" --progress never 2> /dev/null
makedumpfile -R "$work/replayed" < "$remote/vmcore.flat.incomplete" > "$work/replay.log" 2>&1
if [ "$ssh_status" = 0 ] && cmp -s "$work/replayed" "$work/direct/vmcore"; then
    pass "the stream sent over ssh, replayed by makedumpfile -R, equals the direct kdump file ($(stat -c %s "$work/direct/vmcore") bytes)"
else
    fail "ssh $ssh_status; replayed and direct differ: $(cmp "$work/replayed" "$work/direct/vmcore" 2>&1; tail -3 "$work/replay.log")"
fi

# ---- 4. the server goes away mid-stream ----
"$SAVE" --input "$vmcore" --output "$work/cut" --format flattened --dump-to - --remote-dump "$url" --progress never \
    2> "$work/cut.err" | capture_ssh "head -c 300000 > /dev/null"
save_status=${PIPESTATUS[0]}
python3 - "$work/cut/status.json" << 'PY' && pass "cut off mid-stream: crashcapture-save exit $save_status, the record says why ($(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["error"])' "$work/cut/status.json"))" || fail "cut off mid-stream: exit $save_status, $(cat "$work/cut/status.json" 2>&1)"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["result"] != "complete" and "pipe" in r["error"].lower(), r
PY
[ -s "$work/cut/vmcore-dmesg.txt" ] && pass "cut off mid-stream: the kernel log is there" ||
    fail "cut off mid-stream: no vmcore-dmesg.txt"

# ---- 5. the builder's network plan ----
gateway=$(ip -j route show default 2> /dev/null | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r[0].get("gateway","") if r else "")' 2> /dev/null)
for d in proc sys dev; do ln -s "/$d" "$root/$d"; done
mkdir -p "$root/var/lib/crashcapture"
if [ -n "$gateway" ]; then
    sed -i "s|^Target=.*|Target=ssh://$user@$gateway:$port/srv/dumps|" "$root/etc/crashcapture/crashcapture.conf"
    device=$(ip -j route get "$gateway" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["dev"])')
    if CRASHCAPTURE_ROOT=$root "$BUILDER" --kernel-version "$(uname -r)" --output "$work/initrd" --dry-run > "$work/plan.txt" 2>&1 &&
        grep -qx "CRASHCAPTURE_NET_MAC='$(cat "/sys/class/net/$device/address")'" "$work/plan.txt" &&
        grep -qx "CRASHCAPTURE_NET_INTERFACE='$device'" "$work/plan.txt"; then
        pass "build-initrd --dry-run: the capture goes out through $device ($(grep NET_ADDRESS "$work/plan.txt"))"
    else
        fail "build-initrd --dry-run towards $gateway: $(cat "$work/plan.txt")"
    fi
    cp "$root/etc/crashcapture/crashcapture.conf" "$work/ssh.conf"
    printf '[Dump]\nTarget=nfs:%s:/exports/crash\n' "$gateway" > "$root/etc/crashcapture/crashcapture.conf"
    if CRASHCAPTURE_ROOT=$root "$BUILDER" --kernel-version "$(uname -r)" --output "$work/initrd" --dry-run > "$work/nfs-plan.txt" 2>&1 &&
        grep -qx "CRASHCAPTURE_NFS_SOURCE='$gateway:/exports/crash'" "$work/nfs-plan.txt" &&
        grep -qx "CRASHCAPTURE_TARGET_FSTYPE='nfs4'" "$work/nfs-plan.txt" &&
        grep -qx "CRASHCAPTURE_NET_INTERFACE='$device'" "$work/nfs-plan.txt" &&
        grep -q "'--drivers' 'nfsv4 " "$work/nfs-plan.txt"; then
        pass "build-initrd --dry-run for nfs: the export, the NFSv4 client, the same interface"
    else
        fail "build-initrd --dry-run for nfs: $(cat "$work/nfs-plan.txt")"
    fi
    cp "$work/ssh.conf" "$root/etc/crashcapture/crashcapture.conf"
else
    skip "this machine has no default route: the builder's network plan with the real ip is checked in the guest (test-systemd-guest.sh --scenario ssh); with a fake network by the unit tests (InstallerLayout.*)"
fi
sed -i "s|^Target=.*|Target=ssh://$user@127.0.0.1:$port/srv/dumps|" "$root/etc/crashcapture/crashcapture.conf"
if CRASHCAPTURE_ROOT=$root "$BUILDER" --kernel-version "$(uname -r)" --output "$work/initrd" --dry-run > "$work/lo.txt" 2>&1; then
    fail "build-initrd accepted a server on this machine"
else
    grep -q "this machine" "$work/lo.txt" && pass "build-initrd refuses a server on this machine: $(cat "$work/lo.txt")" ||
        fail "build-initrd with a server on lo: $(cat "$work/lo.txt")"
fi
rm "$key"
if CRASHCAPTURE_ROOT=$root "$BUILDER" --kernel-version "$(uname -r)" --output "$work/initrd" --dry-run > "$work/nokey.txt" 2>&1; then
    fail "build-initrd accepted an ssh target without the capture's key"
else
    grep -q "crashcapturectl propagate" "$work/nokey.txt" && pass "build-initrd without the key says to run propagate" ||
        fail "build-initrd without the key: $(cat "$work/nokey.txt")"
fi
checks_exit
