# shellcheck shell=bash
# The caller sets work, root, HERE, DAEMON and BUILDER; bus_pid and daemon_pid
# are set here for the caller (its cleanup).
# shellcheck disable=SC2034,SC2154
# The fake system the daemon's integration tests run crashcaptured in:
# sourced by test-daemon.sh, test-cockpit.sh and test-dbus-abuse.sh, never run. Needs $work (a
# directory the caller removes), $root (the fake root under it), $HERE (the
# tests/integration directory) and $DAEMON, $BUILDER set.
#   make_fake_root              a running 6.1 kernel with a 256M reservation
#   make_dump ID RESULT CRASH_TIME [BOOT_ID]   a dump in /var/crash
#   start_private_bus           dbus-daemon with the project's bus policy on
#                               $work/bus; sets bus_pid, exports the address
#   start_daemon [VAR=VALUE...] the real crashcaptured on it; sets daemon_pid.
#                               SetReservation runs $CTL (when set) with
#                               $work/fakebin first in PATH: update-grub
#                               there appends to $work/update-grub.log, and
#                               fails when $work/update-grub.fail exists
#                               (TestCapture writes $root/proc/sysrq-trigger)
#   prop NAME                   a Manager property's value, as root
#   wait_state STATE [SECONDS]  until State is STATE (default 10 s); 1 if not
#   as_nobody COMMAND...        COMMAND as uid/gid 65534 on the private bus
#   rss_kib                     the daemon's VmRSS in KiB
kver=6.1.0-test-amd64

make_fake_root() {
    mkdir -p "$root"/proc/sys/kernel/random "$root"/sys/kernel "$root"/boot \
        "$root/usr/lib/modules/$kver/kernel" "$root/lib/modules" "$root"/etc/crashcapture/crashcapture.conf.d \
        "$root"/var/lib/crashcapture "$root"/var/crash "$root"/run/crashcapture
    echo "$kver" > "$root/proc/sys/kernel/osrelease"
    echo "BOOT_IMAGE=/boot/vmlinuz-$kver root=UUID=1b2c ro quiet crashkernel=256M" > "$root/proc/cmdline"
    echo "0f5c0d3e-6a1b-4e7c-9d2f-8a6b4c3e1d70" > "$root/proc/sys/kernel/random/boot_id"
    printf 'MemTotal:        4025612 kB\n' > "$root/proc/meminfo"
    printf '00100000-bffdffff : System RAM\n  2b000000-3affffff : Crash kernel\n' > "$root/proc/iomem"
    echo 268435456 > "$root/sys/kernel/kexec_crash_size"
    echo 0 > "$root/sys/kernel/kexec_crash_loaded"
    : > "$root/proc/sysrq-trigger"
    head -c 8000000 /dev/urandom > "$root/boot/vmlinuz-$kver"
    # A bzImage setup header (Documentation/arch/x86/boot.rst): boot flag 0xAA55
    # at 0x1FE, "HdrS" at 0x202, protocol 2.15 at 0x206, init_size at 0x260 =
    # Debian 6.1's 63.6 MiB, so the fit check sees a real kernel's load size.
    /usr/bin/python3 - "$root/boot/vmlinuz-$kver" <<'PY'
import struct, sys
with open(sys.argv[1], "r+b") as f:
    for offset, data in ((0x1fe, struct.pack("<H", 0xaa55)), (0x202, b"HdrS"),
                         (0x206, struct.pack("<H", 0x020f)), (0x260, struct.pack("<I", 0x3f98000))):
        f.seek(offset); f.write(data)
PY
    echo "module" > "$root/usr/lib/modules/$kver/kernel/virtio_blk.ko"
    # depmod's output, written after the modules as depmod does: a module
    # newer than it makes the daemon wait for depmod before a rebuild.
    echo "kernel/virtio_blk.ko:" > "$root/usr/lib/modules/$kver/modules.dep"
    printf '[Dump]\nDumpLevel=31\n' > "$root/etc/crashcapture/crashcapture.conf"
    echo "UUID=1b2c / ext4 defaults 0 1" > "$root/etc/fstab"
    echo "nameserver 192.0.2.1" > "$root/etc/resolv.conf"
}

make_dump() { # make_dump ID RESULT CRASH_TIME [BOOT_ID]
    local dir=$root/var/crash/$1
    mkdir -p "$dir"
    printf '[    1.000000] Kernel panic - not syncing: test %s\n' "$1" > "$dir/vmcore-dmesg.txt"
    head -c 65536 /dev/urandom > "$dir/vmcore"
    cat > "$dir/status.json" <<JSON
{"schema_version": 1, "result": "$2", "error": "", "kernel_release": "$kver", "boot_id": "${4:-}",
 "crash_time": $3, "panic_line": "Kernel panic - not syncing: test $1",
 "format": "kdump", "dump_file": "vmcore", "dmesg_file": "vmcore-dmesg.txt",
 "pages": {"total": 10, "dumpable": 5, "zero": 1, "written": 4}, "bytes_out": 65536}
JSON
}

start_private_bus() {
    cat > "$work/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$work/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
  </policy>
  <policy user="root">
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Monitoring"/>
  </policy>
  <include>$HERE/../../dbus/org.crashcapture1.conf</include>
</busconfig>
CONF
    dbus-daemon --config-file="$work/bus.conf" --nofork --nopidfile 2> "$work/bus.log" &
    bus_pid=$!
    for _ in $(seq 50); do [ -S "$work/bus" ] && break; sleep 0.1; done
    chmod 666 "$work/bus"
    export DBUS_SESSION_BUS_ADDRESS=unix:path=$work/bus CRASHCAPTURE_BUS=session
}

start_daemon() { # start_daemon [VAR=VALUE...]
    mkdir -p "$work/fakebin"
    if [ ! -x "$work/fakebin/update-grub" ]; then
        printf '#!/bin/sh\n[ -e "%s" ] && { echo "update-grub: /boot/grub/grub.cfg.new: No space left on device" >&2; exit 1; }\necho update-grub ran >> "%s"\n' \
            "$work/update-grub.fail" "$work/update-grub.log" > "$work/fakebin/update-grub"
        chmod +x "$work/fakebin/update-grub"
    fi
    env "$@" PATH="$work/fakebin:$PATH" CRASHCAPTURE_SETUP_COMMAND="${CTL:-}" CRASHCAPTURE_ROOT="$root" CRASHCAPTURE_KEXEC=fake CRASHCAPTURE_INITRD_BUILDER="$BUILDER" \
        CRASHCAPTURE_KEXEC_REJECT=vmlinuz-broken \
        FAKE_BUILDER_LOG="$work/builds.log" "$DAEMON" >> "$work/daemon.log" 2>&1 &
    daemon_pid=$!
}

prop() { busctl --user get-property org.crashcapture1 /org/crashcapture1 org.crashcapture1.Manager "$1" | cut -d' ' -f2- | tr -d '"'; }
wait_state() { # wait_state STATE [SECONDS]
    for _ in $(seq $((${2:-10} * 10))); do
        [ "$(prop State 2> /dev/null)" = "$1" ] && return 0
        sleep 0.1
    done
    return 1
}
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups env DBUS_SESSION_BUS_ADDRESS="$DBUS_SESSION_BUS_ADDRESS" CRASHCAPTURE_BUS=session "$@"; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$daemon_pid/status"; }
