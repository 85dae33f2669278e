# shellcheck shell=bash
# Helpers shared by the QEMU end-to-end scripts in tests/e2e/. Sourced, never
# run. Everything slow (initramfs images, disk images, vmcores) goes to
# $CRASHCAPTURE_CACHE, never into the repository.

# shellcheck disable=SC2034 # used by the scripts that source this file
E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$E2E_DIR/../.." && pwd)
CACHE=${CRASHCAPTURE_CACHE:-/var/tmp/crashcapture-cache}
DEFAULT_SAVER=$REPO_DIR/build/cli/crashcapture-save
# The test tool that loads the capture kernel through our kexec_file_load
# (e2e.kexec=ours); built with the tests (tests/e2e/CMakeLists.txt).
DEFAULT_LOADER=$REPO_DIR/build/tests/e2e/crashcapture-kexec-load

# Debian's python sees python3-drgn and python3-libkdumpfile; a pyenv or
# virtualenv python3 earlier in PATH does not.
PYTHON=${PYTHON:-/usr/bin/python3}

e2e_log() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; }
e2e_die() {
    e2e_log "error: $*"
    exit 1
}

# e2e_need CMD... : fail early, naming the Debian package, instead of halfway
# through a cycle.
# e2e_usage SCRIPT: print the script's header comment (from line 2 up to
# "set -euo") as its --help, and exit 0.
e2e_usage() {
    sed -n '2,/^set -euo/p' "$1" | sed '$d; s/^# \{0,1\}//'
    exit 0
}

e2e_need() {
    local cmd missing=()
    for cmd in "$@"; do
        command -v "$cmd" > /dev/null 2>&1 || missing+=("$cmd")
    done
    [ ${#missing[@]} = 0 ] ||
        e2e_die "missing ${missing[*]} (scripts/install-deps.sh installs qemu-system-x86 qemu-utils kexec-tools busybox-static makedumpfile cpio e2fsprogs)"
}

# e2e_kver NAME -> full kernel release. Accepts a full release
# (6.1.0-56-amd64) or a short series (6.1, 6.12) and picks the newest
# installed kernel of that series that has both /boot/vmlinuz and modules.
e2e_kver() {
    local want=$1 k best=
    if [ -e "/boot/vmlinuz-$want" ] && [ -d "/lib/modules/$want" ]; then
        echo "$want"
        return 0
    fi
    for k in /boot/vmlinuz-"$want".*; do
        k=${k#/boot/vmlinuz-}
        [ -d "/lib/modules/$k" ] || continue
        best=$(printf '%s\n%s\n' "$best" "$k" | sed '/^$/d' | sort -V | tail -1)
    done
    [ -n "$best" ] || e2e_die "no installed kernel matches '$want' (have: $(printf '%s ' /boot/vmlinuz-*))"
    echo "$best"
}

# e2e_kernels -> the two series Debian 12 ships, as full releases, one a line.
e2e_kernels() {
    e2e_kver 6.1
    e2e_kver 6.12
}

# Microseconds since the epoch without forking: $EPOCHREALTIME is
# "seconds.micros" (bash >= 5.0).
e2e_us() {
    local t=${EPOCHREALTIME/./}
    echo $((10#$t))
}
# e2e_secs MICROSECONDS -> "S.mmm"
e2e_secs() { printf '%d.%03d' $(($1 / 1000000)) $(($1 / 1000 % 1000)); }

# e2e_timestamp T0_US: copy stdin to stdout, each line prefixed with
# "[   S.mmm] " seconds since T0_US. Pure bash (no fork per line), so it never
# falls behind the serial console; carriage returns from the guest's tty are
# dropped.
e2e_timestamp() {
    local t0=$1 line t dt
    while IFS= read -r line || [ -n "$line" ]; do
        t=${EPOCHREALTIME/./}
        dt=$((10#$t - t0))
        printf '[%5d.%03d] %s\n' $((dt / 1000000)) $((dt / 1000 % 1000)) "${line//$'\r'/}"
    done
}

# e2e_stamp LOG PATTERN [N] -> host seconds of the N-th (default first)
# line of a timestamped serial log matching the extended regex PATTERN,
# empty (and still success, for callers under set -e) if none.
e2e_stamp() {
    { grep -E -- "$2" "$1" 2> /dev/null || true; } | sed -n "${3:-1}p" |
        sed -E 's/^\[ *([0-9]+\.[0-9]+)\].*/\1/'
}

# e2e_elapsed FROM TO -> TO - FROM in seconds (3 decimals), empty if either
# is empty.
e2e_elapsed() {
    [ -n "$1" ] && [ -n "$2" ] || return 0
    awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f\n", b - a }'
}

# e2e_copy_modules KVER ROOT MODULE...: the kernel modules and what they
# depend on (modprobe -S KVER --show-depends, resolved on the host) copied
# into ROOT at their /lib/modules paths, decompressed (6.12 ships .ko.xz:
# busybox insmod would otherwise need its own xz support or the kernel's
# CONFIG_MODULE_DECOMPRESS; plain .ko works with every kernel). Prints the
# copied paths in the order insmod must load them, each once. "builtin X"
# lines (virtio_pci is built into 6.12) need nothing.
e2e_copy_modules() {
    local kver=$1 root=$2 module ko dest
    shift 2
    for module; do
        modprobe -S "$kver" --show-depends "$module" || e2e_die "modprobe -S $kver cannot resolve $module"
    done | awk '$1 == "insmod" && !seen[$2]++ { print $2 }' | while read -r ko; do
        dest=${ko%.xz}
        dest=${dest%.zst}
        mkdir -p "$root$(dirname "$dest")"
        case $ko in
            *.xz) xz -dc "$ko" > "$root$dest" ;;
            *.zst) zstd -q -dc "$ko" > "$root$dest" ;;
            *) cp "$ko" "$root$dest" ;;
        esac
        echo "$dest"
    done
}

# e2e_disk_create IMAGE MIB: a sparse raw disk with an empty ext4 file
# system. mkfs.ext4 -F because the target is a regular file.
e2e_disk_create() {
    rm -f "$1"
    truncate -s "${2}M" "$1"
    mkfs.ext4 -q -F -L crashdump "$1"
}

# e2e_disk_extract IMAGE DIR_IN_IMAGE DEST: copy a directory out of an ext4
# image with debugfs, without mounting it (no loop device, no root-only
# mount, no risk of leaving a mount behind when a test dies). rdump puts the
# directory itself under DEST, so DEST/$(basename DIR_IN_IMAGE) appears.
e2e_disk_extract() {
    local image=$1 dir=$2 dest=$3
    mkdir -p "$dest"
    # debugfs exits 0 even when the path is missing; the caller checks files.
    debugfs -R "rdump $dir $dest" "$image" > /dev/null 2>&1
}

# e2e_initramfs KVER [SAVER [LOADER [MODULE]]] -> directory holding vmlinuz,
# capture.img and first.img for KVER (built or reused by build-initramfs.sh).
# The cache key includes whether our saver is inside, so SAVE=cp corpus runs
# and saver runs do not rebuild each other's images. LOADER (default: the
# built crashcapture-kexec-load, if any) goes into the first kernel's part
# only, and so does MODULE (crashtest.ko, for e2e.crash= types), in images of
# their own.
# e2e_initrd_file IMAGE PATH: one file of a dracut image on stdout, from
# inside its squash-root.img when dracut's squash module packed it (the
# builder's default; lsinitrd -f reads only the cpio around it), else from
# the cpio.
e2e_initrd_file() {
    local image=$1 path=${2#/} squashfs status=0
    squashfs=$(mktemp)
    if cpio --extract --quiet --to-stdout squash-root.img < "$image" > "$squashfs" 2> /dev/null &&
        [ -s "$squashfs" ]; then
        unsquashfs -cat "$squashfs" "$path" 2> /dev/null || status=$?
    else
        lsinitrd -f "$path" "$image" 2> /dev/null || status=$?
    fi
    rm -f "$squashfs"
    return "$status"
}

e2e_initramfs() {
    local kver=$1 saver=${2:-} loader=${3:-$DEFAULT_LOADER} module=${4:-} dir
    if [ -n "$saver" ] && [ -x "$saver" ]; then
        dir=$CACHE/initramfs/$kver-saver
    else
        dir=$CACHE/initramfs/$kver-nosaver
        saver=/nonexistent
    fi
    [ -x "$loader" ] || loader=/nonexistent
    [ -z "$module" ] || dir=$dir-crashtest
    "$E2E_DIR/build-initramfs.sh" "$kver" "$dir" "$saver" "$loader" "$module" >&2 || return 1
    echo "$dir"
}

# The crash types of guest-init.sh's e2e.crash= (sysrq is the default), and
# those that need the crashtest module in the guest.
E2E_CRASH_TYPES="sysrq bug null warn timer hrtimer softlockup hungtask stack oom nmi"
E2E_MODULE_CRASH_TYPES="bug null warn timer hrtimer softlockup hungtask stack"

# e2e_crash_expect TYPE -> the lines (one a line) the crashed kernel's log
# must hold after a crash of TYPE, in the kernel's own words (6.1 and 6.12).
e2e_crash_expect() {
    case $1 in
        # drivers/tty/sysrq.c: sysrq_crash_op's action_msg, pr_fmt "sysrq: ".
        sysrq) echo "sysrq: Trigger a crash" ;;
        # An oops never prints a panic line: oops_end() calls crash_kexec()
        # itself when kexec_should_crash() (in interrupt, or panic_on_oops),
        # before its panic("Fatal exception") (arch/x86/kernel/dumpstack.c).
        # lib/bug.c, report_bug(): "kernel BUG at %s:%u!".
        bug) echo "kernel BUG at" ;;
        # arch/x86/mm/fault.c, show_fault_oops().
        null) echo "BUG: kernel NULL pointer dereference, address: 0000000000000000" ;;
        # kernel/panic.c: __warn() "WARNING: CPU: %d PID: %d at %pS",
        # check_panic_on_warn() "%s: panic_on_warn set ...".
        warn) printf '%s\n' "WARNING: CPU: " "panic_on_warn set" ;;
        # The same oops, in softirq (kernel/time/timer.c, call_timer_fn())
        # or hard interrupt context (kernel/time/hrtimer.c,
        # __hrtimer_run_queues()): the call trace proves the context.
        timer) printf '%s\n' "BUG: kernel NULL pointer dereference" "call_timer_fn" ;;
        hrtimer) printf '%s\n' "BUG: kernel NULL pointer dereference" "__hrtimer_run_queues" ;;
        # kernel/watchdog.c, watchdog_timer_fn().
        softlockup) printf '%s\n' "BUG: soft lockup - CPU#0 stuck for" "Kernel panic - not syncing: softlockup: hung tasks" ;;
        # kernel/hung_task.c, check_hung_task().
        hungtask) printf '%s\n' "blocked for more than 2 seconds" "Kernel panic - not syncing: hung_task: blocked tasks" ;;
        # arch/x86/kernel/traps.c, handle_stack_overflow().
        stack) echo "stack guard page was hit at" ;;
        # mm/oom_kill.c: out_of_memory() -> dump_header() "invoked
        # oom-killer", check_panic_on_oom().
        oom) printf '%s\n' "invoked oom-killer" "Kernel panic - not syncing: Out of memory: system-wide panic_on_oom is enabled" ;;
        # arch/x86/kernel/nmi.c, unknown_nmi_error().
        nmi) printf '%s\n' "NMI received for unknown reason" "Kernel panic - not syncing: NMI: Not continuing" ;;
        *) return 1 ;;
    esac
}

# e2e_json FILE EXPR: evaluate a python expression over the JSON document
# `d` in FILE and print it (jq is not a dependency of the project).
e2e_json() {
    "$PYTHON" - "$1" "$2" << 'EOF'
import json
import sys
with open(sys.argv[1]) as f:
    d = json.load(f)
print(eval(sys.argv[2], {"d": d}))
EOF
}

# e2e_start_sshd DIR USER PORT [ADDRESS...]: a private OpenSSH server for
# Target=ssh tests, on 127.0.0.1:PORT or the addresses given (a QEMU guest
# with user networking reaches 127.0.0.1 as 10.0.2.2:PORT, ::1 as its
# ipv6-host), with its configuration, host key and log (sshd.log) in DIR,
# and a throwaway USER whose home is DIR/home and whose authorized_keys holds
# only DIR/admin_key.pub, the "server admin's" key made here. DIR and the
# directories above it must be searchable by USER (sshd's StrictModes wants
# the home not writable by others). Sets E2E_SSHD_PID; e2e_stop_sshd DIR USER
# undoes it all.
e2e_start_sshd() {
    local dir=$1 user=$2 port=$3 address
    shift 3
    [ $# -gt 0 ] || set -- 127.0.0.1
    useradd --home-dir "$dir/home" --create-home --shell /bin/sh "$user" || return 1
    usermod -p '*' "$user" # no password, but not locked: sshd refuses locked accounts
    ssh-keygen -q -t ed25519 -N '' -f "$dir/host_key" < /dev/null
    ssh-keygen -q -t ed25519 -N '' -f "$dir/admin_key" -C admin < /dev/null
    install -d -m 0700 -o "$user" "$dir/home/.ssh"
    install -m 0600 -o "$user" "$dir/admin_key.pub" "$dir/home/.ssh/authorized_keys"
    for address; do echo "ListenAddress $address"; done > "$dir/sshd_config"
    cat >> "$dir/sshd_config" << EOF
Port $port
HostKey $dir/host_key
PidFile $dir/sshd.pid
AuthenticationMethods publickey
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes yes
AllowUsers $user
EOF
    mkdir -p /run/sshd # its privilege separation directory
    /usr/sbin/sshd -D -e -f "$dir/sshd_config" 2> "$dir/sshd.log" &
    E2E_SSHD_PID=$!
    e2e_wait_for_port "$port" 50 && return 0
    e2e_log "sshd did not listen on 127.0.0.1:$port: $(cat "$dir/sshd.log")"
    return 1
}

# e2e_wait_for_port PORT TRIES: until something accepts connections on
# 127.0.0.1:PORT, TRIES times 0.1 s at most.
e2e_wait_for_port() {
    local _
    for _ in $(seq "$2"); do
        (echo > "/dev/tcp/${3:-127.0.0.1}/$1") 2> /dev/null && return 0
        sleep 0.1
    done
    return 1
}

# Safe to call twice and under set -e (from an EXIT trap, after a scenario
# stopped the server on purpose).
e2e_stop_sshd() {
    if [ -n "${E2E_SSHD_PID:-}" ]; then
        kill "$E2E_SSHD_PID" 2> /dev/null || true
    fi
    E2E_SSHD_PID=
    userdel "$2" 2> /dev/null || true
}

# e2e_start_nfs_server DIR [ADDRESS]: an NFSv4 server of the test's own
# (NFS-Ganesha, userspace: the kernel's nfsd is not available everywhere), on
# ADDRESS port 2049: 127.0.0.1 by default (10.0.2.2:2049 from a QEMU guest
# with user networking), or ::1 (the IPv6-only guest's fd00::2),
# exporting DIR/export as /dumps, read-write, root not squashed, as an
# NFS server for crash dumps is set up. Its configuration, log
# (ganesha.log) and state are in DIR. Sets E2E_NFS_PID; e2e_stop_nfs_server
# stops it.
e2e_start_nfs_server() {
    local dir=$1 bind=${2:-127.0.0.1}
    mkdir -p "$dir/export" "$dir/recovery"
    cat > "$dir/ganesha.conf" << EOF
NFS_CORE_PARAM {
    Bind_addr = $bind;
    NFS_Port = 2049;
    Protocols = 4;
    Enable_NLM = false;
    Enable_RQUOTA = false;
}
NFSV4 {
    Graceless = true;
    RecoveryBackend = fs;
    RecoveryRoot = $dir/recovery;
}
EXPORT {
    Export_Id = 1;
    Path = $dir/export;
    Pseudo = /dumps;
    Access_Type = RW;
    Squash = No_Root_Squash;
    SecType = sys;
    Protocols = 4;
    Transports = TCP;
    FSAL { Name = VFS; }
}
EOF
    ganesha.nfsd -F -f "$dir/ganesha.conf" -L "$dir/ganesha.log" -p "$dir/ganesha.pid" &
    E2E_NFS_PID=$!
    e2e_wait_for_port 2049 100 "$bind" && return 0
    e2e_log "NFS-Ganesha did not listen on $bind port 2049: $(tail -5 "$dir/ganesha.log")"
    return 1
}

e2e_stop_nfs_server() {
    if [ -n "${E2E_NFS_PID:-}" ]; then
        kill "$E2E_NFS_PID" 2> /dev/null || true
    fi
    E2E_NFS_PID=
}

# The iSCSI target e2e_start_iscsi_target offers, and its CHAP account (an
# initiator's secret: 12 to 16 characters, as many initiators want it).
# shellcheck disable=SC2034 # used by the scripts that source this file
E2E_ISCSI_TARGET=iqn.2026-12.test.crashcapture:dumps E2E_ISCSI_USER=crashcapture E2E_ISCSI_PASSWORD=e2e-chap-secret

# e2e_start_iscsi_target DIR: an iSCSI target of the test's own (tgt's
# tgtd, userspace: no kernel target driver needed) on 127.0.0.1:3260
# (10.0.2.2:3260 from a QEMU guest with user networking): E2E_ISCSI_TARGET,
# its LUN 1 a sparse 512 MiB file DIR/lun.img, open to every initiator
# address, logged in to with CHAP (the incoming account E2E_ISCSI_USER,
# E2E_ISCSI_PASSWORD). Its management socket (TGT_IPC_SOCKET, control port
# 1) and log (tgtd.log) are in DIR, so a system tgtd's are never touched;
# the portal is not shared: fails when 127.0.0.1:3260 is taken. Sets
# E2E_ISCSI_PID; e2e_stop_iscsi_target stops it.
e2e_tgtadm() { TGT_IPC_SOCKET=$E2E_ISCSI_DIR/tgtd.socket tgtadm -C 1 "$@"; }
e2e_start_iscsi_target() {
    if e2e_wait_for_port 3260 1; then
        e2e_log "127.0.0.1:3260 is taken (a system tgtd? systemctl stop tgt): the guest's portal must be the test's"
        return 1
    fi
    E2E_ISCSI_DIR=$1
    mkdir -p "$E2E_ISCSI_DIR"
    truncate -s 512M "$E2E_ISCSI_DIR/lun.img"
    TGT_IPC_SOCKET=$E2E_ISCSI_DIR/tgtd.socket tgtd -f -C 1 --iscsi portal=127.0.0.1:3260 \
        > "$E2E_ISCSI_DIR/tgtd.log" 2>&1 &
    E2E_ISCSI_PID=$!
    if ! e2e_wait_for_port 3260 50; then
        e2e_log "tgtd did not listen on 127.0.0.1:3260: $(tail -5 "$E2E_ISCSI_DIR/tgtd.log")"
        return 1
    fi
    {
        e2e_tgtadm --lld iscsi --mode target --op new --tid 1 --targetname "$E2E_ISCSI_TARGET" &&
            e2e_tgtadm --lld iscsi --mode logicalunit --op new --tid 1 --lun 1 --backing-store "$E2E_ISCSI_DIR/lun.img" &&
            e2e_tgtadm --lld iscsi --mode target --op bind --tid 1 --initiator-address ALL &&
            e2e_tgtadm --lld iscsi --mode account --op new --user "$E2E_ISCSI_USER" --password "$E2E_ISCSI_PASSWORD" &&
            e2e_tgtadm --lld iscsi --mode account --op bind --tid 1 --user "$E2E_ISCSI_USER"
    } >> "$E2E_ISCSI_DIR/tgtd.log" 2>&1 && return 0
    e2e_log "tgtadm could not set up $E2E_ISCSI_TARGET: $(tail -5 "$E2E_ISCSI_DIR/tgtd.log")"
    return 1
}

# tgtd ignores SIGTERM: it leaves when told to (the system deleted), which it
# takes only once it is offline with no target left. Safe to call twice and
# under set -e.
e2e_stop_iscsi_target() {
    local _
    if [ -n "${E2E_ISCSI_PID:-}" ]; then
        {
            e2e_tgtadm --mode sys --op update --name State -v offline
            e2e_tgtadm --lld iscsi --mode target --op delete --force --tid 1
            e2e_tgtadm --mode sys --op delete
        } >> "$E2E_ISCSI_DIR/tgtd.log" 2>&1 || true
        # Gone, or a zombie until waited for.
        for _ in $(seq 50); do
            case $(ps -o stat= -p "$E2E_ISCSI_PID" 2> /dev/null) in '' | Z*) break ;; esac
            sleep 0.1
        done
        kill -KILL "$E2E_ISCSI_PID" 2> /dev/null || true
        wait "$E2E_ISCSI_PID" 2> /dev/null || true
    fi
    E2E_ISCSI_PID=
}
