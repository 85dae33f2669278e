#!/bin/bash
# The capture initrd's iSCSI login (crashcapture-capture: log_in_to_iscsi,
# iscsi_session_exists) against a fake iscsistart and a sysfs tree of the
# test's own: every session is tried even when one fails (a multipath
# target's other portal, another disk), each failure is said, a session
# already there to the same target through the same portal is kept, one
# through another portal is not taken for it, CHAP credentials reach
# iscsistart, and a network that cannot come up is said. The real login
# runs in the target-iscsi guests (tests/e2e/test-systemd-guest.sh).
#   test-capture-iscsi-login.sh
# The variables below are read and set by the functions under test, which
# the checker cannot see (they are defined by eval):
# shellcheck disable=SC2034,SC2154
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../checks.sh
. "$here/../checks.sh"
capture=$here/../../dracut/modules.d/99crashcapture/crashcapture-capture

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin"
# iscsistart: records its arguments, one call a line; refuses the portal
# 192.0.2.10 as open-iscsi does when nothing answers.
cat > "$work/bin/iscsistart" << 'EOF'
#!/bin/sh
echo "$*" >> "$ISCSISTART_CALLS"
case " $* " in
    *" -a 192.0.2.10 "*)
        echo "iscsistart: initiator reported error (8 - connection timed out)" >&2
        echo "Logging into iqn.test:disk 192.0.2.10:3260,1"
        exit 8
        ;;
esac
echo "Logging into $4 $8:${10},$6"
EOF
chmod 0755 "$work/bin/iscsistart"
export ISCSISTART_CALLS=$work/calls
PATH=$work/bin:$PATH

# The functions under test, as the capture initrd has them.
for function in say iscsi_session_exists log_in_to_iscsi; do
    definition=$(sed -n "/^$function() {/,/^}/p" "$capture")
    [ -n "$definition" ] || { fail "no $function() in $capture"; checks_exit; }
    eval "$definition"
done
modprobe() { :; }
network_state=up
bring_up_network() {
    [ "$network_state" = up ] && return 0
    network_failure="cannot find the NIC 52:54:00:12:34:56"
    return 1
}
# a_session SID TARGET ADDRESS PORT: a logged-in session in the fake sysfs.
a_session() {
    mkdir -p "$sysfs_root/class/iscsi_session/session$1" "$sysfs_root/class/iscsi_connection/connection$1:0"
    echo "$2" > "$sysfs_root/class/iscsi_session/session$1/targetname"
    echo "$3" > "$sysfs_root/class/iscsi_connection/connection$1:0/persistent_address"
    echo "$4" > "$sysfs_root/class/iscsi_connection/connection$1:0/persistent_port"
}
# run_login: a fresh capture kernel (no network yet, no calls) and the
# login; its output in $output, its status in $status.
run_login() {
    iscsi_network='' status=0
    : > "$ISCSISTART_CALLS"
    output=$(log_in_to_iscsi 2>&1; echo "status=$?; failure=$iscsi_failure")
    status=$(sed -n 's/^status=\([0-9]*\);.*/\1/p' <<< "$output")
}
initiator=iqn.2026-12.test:guest
two_portals="iqn.test:disk 192.0.2.10 3260 1 $initiator
iqn.test:disk 192.0.2.11 3260 1 $initiator"

# 1. A multipath target whose first portal does not answer.
sysfs_root=$work/sys1
mkdir -p "$sysfs_root"
CRASHCAPTURE_ISCSI_SESSIONS=$two_portals
run_login
if [ "$(wc -l < "$ISCSISTART_CALLS")" = 2 ] && grep -q -- '-a 192.0.2.11 -p 3260' "$ISCSISTART_CALLS" &&
    grep -q 'logged in to iSCSI target iqn.test:disk at 192.0.2.11:3260$' <<< "$output"; then
    pass "the first portal failing, the second was still logged in to"
else
    fail "the second portal was not tried after the first failed: calls: $(tr '\n' '|' < "$ISCSISTART_CALLS") output: $output"
fi
[ "$status" = 1 ] &&
    grep -q 'failure=cannot log in to the iSCSI target iqn.test:disk at 192.0.2.10:3260: iscsistart: initiator reported error (8 - connection timed out)$' <<< "$output" &&
    pass "the failed login is said with iscsistart's error line, and the login returns 1" ||
    fail "the failed login's reason or status: status=$status output: $output"

# 2. Both portals failing: both reasons, joined.
CRASHCAPTURE_ISCSI_SESSIONS="iqn.test:disk 192.0.2.10 3260 1 $initiator
iqn.test:other 192.0.2.10 3260 1 $initiator"
run_login
grep -q 'failure=cannot log in to the iSCSI target iqn.test:disk at 192.0.2.10:3260: .*; cannot log in to the iSCSI target iqn.test:other at 192.0.2.10:3260: ' <<< "$output" &&
    pass "two failed logins: both reasons, in order" ||
    fail "two failed logins are not both said: $output"

# 3. A session already there through the second portal (the fallback after
# the first attempt): kept; the first portal is tried again.
sysfs_root=$work/sys3
a_session 1 iqn.test:disk 192.0.2.11 3260
CRASHCAPTURE_ISCSI_SESSIONS=$two_portals
run_login
[ "$(wc -l < "$ISCSISTART_CALLS")" = 1 ] && grep -q -- '-a 192.0.2.10 ' "$ISCSISTART_CALLS" &&
    pass "a session already there through the same portal is kept, the other portal tried" ||
    fail "the session already there: calls: $(tr '\n' '|' < "$ISCSISTART_CALLS")"

# 4. A session to the same target through another portal is not that portal's.
sysfs_root=$work/sys4
a_session 3 iqn.test:disk 192.0.2.10 3260
CRASHCAPTURE_ISCSI_SESSIONS="iqn.test:disk 192.0.2.11 3260 1 $initiator"
run_login
[ "$status" = 0 ] && grep -q -- '-a 192.0.2.11 -p 3260' "$ISCSISTART_CALLS" &&
    pass "a session to the same target through another portal does not stand for this one" ||
    fail "the second portal was skipped for the first's session: calls: $(tr '\n' '|' < "$ISCSISTART_CALLS") output: $output"

# 5. CHAP and mutual CHAP, by the session's number.
sysfs_root=$work/sys5
mkdir -p "$sysfs_root"
CRASHCAPTURE_ISCSI_SESSIONS="iqn.test:disk 192.0.2.11 3260 1 $initiator"
CRASHCAPTURE_ISCSI_USERNAME_1=guest CRASHCAPTURE_ISCSI_PASSWORD_1='s3cret; $(touch pwned)'
CRASHCAPTURE_ISCSI_USERNAME_IN_1=target CRASHCAPTURE_ISCSI_PASSWORD_IN_1=back
run_login
grep -qF -- "-u guest -w s3cret; \$(touch pwned) -U target -W back" "$ISCSISTART_CALLS" && [ ! -e pwned ] &&
    grep -q 'with CHAP$' <<< "$output" &&
    pass "CHAP and mutual CHAP credentials reach iscsistart as they are (not evaluated)" ||
    fail "CHAP credentials: $(cat "$ISCSISTART_CALLS")"
unset CRASHCAPTURE_ISCSI_USERNAME_1 CRASHCAPTURE_ISCSI_PASSWORD_1 CRASHCAPTURE_ISCSI_USERNAME_IN_1 CRASHCAPTURE_ISCSI_PASSWORD_IN_1

# 6. No network: nothing is tried, the reason is said.
network_state=down
run_login
[ "$status" = 1 ] && [ ! -s "$ISCSISTART_CALLS" ] &&
    grep -q 'failure=cannot reach the iSCSI portal 192.0.2.11:3260: cannot find the NIC' <<< "$output" &&
    pass "a network that cannot come up is said, and no login tried" ||
    fail "no network: status=$status output: $output"

checks_exit
