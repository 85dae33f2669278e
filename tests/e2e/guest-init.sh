#!/bin/sh
# /init of the QEMU test guest (busybox sh), for both roles of one initramfs:
#   no /proc/vmcore -> the first kernel: load the capture kernel (kexec -p or
#                      our crashcapture-kexec-load), fill memory, write a
#                      marker to the kernel log, crash (sysrq-c);
#   /proc/vmcore    -> the capture kernel: save the crashed kernel's memory to
#                      the ext4 disk /dev/vda, then power off.
#
# Knobs on the kernel command line (run-cycle.sh sets them):
#   e2e.kexec=s|c|ours     kexec -p -s (kexec_file_load, default), kexec -p -c
#                          (kexec_load), or ours: crashcapture-kexec-load, the
#                          library's kexec_file_load on the command line it
#                          derives from this kernel's, like crashcaptured
#   e2e.save=ours|cp|mdf   crashcapture-save (default when it is in the image),
#                          cp: /proc/vmcore copied raw (the corpus; default
#                          otherwise), mdf: makedumpfile -l -d 31 (comparison)
#   e2e.saveargs=A,B,...   extra arguments for crashcapture-save, comma-separated
#   e2e.action=crash|idle|poweroff   what the first kernel does once loaded;
#                          idle waits forever (for QEMU dump-guest-memory)
#   e2e.busy=MiB           memory to fill before crashing or idling (default 0)
#   e2e.crash=TYPE         how the first kernel crashes (default sysrq: sysrq-c);
#                          the other types are crash_by_type()'s below
#   e2e.capcpus=N          the capture kernel's nr_cpus= (default 1); with
#                          e2e.kexec=ours crashcapture-kexec-load --cpus N
#
# Every stage prints "E2E: STAGE ..." on the console: the host timestamps the
# serial log, and its timings come from these lines.
PATH=/bin:/sbin:/usr/bin:/usr/sbin
export PATH
# Without /proc, /init cannot tell the capture kernel (/proc/vmcore) from the
# first one. It is missing when the kernel ran out of room unpacking the
# initramfs ("Initramfs unpacking failed: write error"): the archive is
# sorted, so /init and busybox come out before /proc and /sys, and a capture
# kernel would go on as if it were the first kernel.
if ! mount -t proc proc /proc; then
    echo "E2E: FAIL mount /proc: the initramfs is incomplete (see 'Initramfs unpacking failed' above)"
    poweroff -f
fi
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2> /dev/null

stage() { echo "E2E: $* (uptime $(cut -d' ' -f1 /proc/uptime))"; }
die() {
    stage "FAIL $*"
    sleep 1
    poweroff -f
}
# arg NAME DEFAULT: the value of NAME= on the kernel command line
arg() {
    read -r cmdline < /proc/cmdline
    for word in $cmdline; do
        case $word in "$1="*)
            echo "${word#*=}"
            return
            ;;
        esac
    done
    echo "$2"
}
# load MODULE: modprobe, unless the kernel has it built in (virtio_pci in 6.12)
load() {
    [ -d "/sys/module/$1" ] && return 0
    modprobe "$1" || die "modprobe $1"
}

KVER=$(uname -r)
KEXEC_MODE=$(arg e2e.kexec s)
SAVE_DEFAULT="cp"
[ -x /usr/bin/crashcapture-save ] && SAVE_DEFAULT=ours
SAVE=$(arg e2e.save $SAVE_DEFAULT)
SAVE_ARGS=$(arg e2e.saveargs "")
ACTION=$(arg e2e.action crash)
BUSY=$(arg e2e.busy 0)
CRASH_TYPE=$(arg e2e.crash sysrq)
CAPTURE_CPUS=$(arg e2e.capcpus 1)

# fill_memory MIB: make the crashed kernel's memory look like a used
# machine's, so that filtering and compression are measured on something
# other than zero and free pages (reference PITFALLS.md):
#   1/2 page cache: files in a tmpfs (shmem pages on the LRU, which
#       makedumpfile's dump level 2 counts as cache);
#   3/8 anonymous memory: `dd bs=64M count=1` holds its whole block in one
#       malloc'd buffer, and blocks forever writing it into a pipe whose
#       reader (sleep) never reads, so the memory stays allocated until the
#       crash without a loop in the shell;
#   1/8 slab: directories in the tmpfs, each a dentry plus an inode
#       (~1 KiB, so 1024 per MiB);
# The data is the image's own programs and modules (compressible like real
# code and data) with 1/8 random bytes (incompressible, like media or
# encrypted data), repeated.
fill_memory() {
    busy=$1
    cache=$((busy / 2))
    anon=$((busy * 3 / 8))
    slab=$((busy - cache - anon))
    stage "BUSY_START MiB=$busy cache=$cache anon=$anon slab=$slab"
    mkdir -p /busy
    mount -t tmpfs -o size=$((cache + 64))m busy /busy || die "mount tmpfs /busy"
    find /bin/busybox /usr /lib -type f -size +8k -exec cat {} + 2> /dev/null > /busy/seed
    seed=$(stat -c %s /busy/seed)
    head -c $((seed / 7 / 4096 * 4096 + 4096)) /dev/urandom >> /busy/seed
    # Whole copies of the seed until the cache share is reached; the tmpfs
    # has 64 MiB to spare for the last copy. Counted in KiB: with the seed's
    # size rounded down to MiB, a 4 GiB guest's 120-odd copies overran it.
    seed_kib=$(($(stat -c %s /busy/seed) / 1024))
    written=0
    i=0
    while [ "$written" -lt $((cache * 1024)) ]; do
        cat /busy/seed > /busy/cache.$i || die "writing the page cache share"
        written=$((written + seed_kib))
        i=$((i + 1))
    done
    rm -f /busy/seed
    left=$anon
    while [ "$left" -gt 0 ]; do
        chunk=64
        [ "$left" -lt 64 ] && chunk=$left
        # shellcheck disable=SC2216 # sleep must not read: that is the point
        cat /busy/cache.* 2> /dev/null | dd bs=${chunk}M count=1 iflag=fullblock 2> /dev/null |
            sleep 2147483647 &
        left=$((left - chunk))
    done
    mkdir /busy/slab
    (cd /busy/slab && seq 1 $((slab * 1024)) | xargs mkdir)
    # dd fills its buffer in the background: wait until the kernel counts
    # the anonymous memory as in use before crashing.
    i=0
    while [ $i -lt 600 ]; do
        got=$(awk '/^AnonPages:/ { print int($2 / 1024) }' /proc/meminfo)
        [ "$got" -ge $((anon * 9 / 10)) ] && break
        sleep 0.1
        i=$((i + 1))
    done
    stage "BUSY_DONE $(awk '/^(MemFree|Cached|AnonPages|Slab):/ { printf "%s%dMiB ", $1, $2 / 1024 }' /proc/meminfo)"
}

# set_sysctl NAME VALUE: NAME as under /proc/sys (kernel/panic_on_oops)
set_sysctl() {
    echo "$2" > "/proc/sys/$1" || die "sysctl $1=$2"
}

# crash_by_type TYPE: crash this kernel some other way than sysrq-c, with the
# sysctls that turn the failure into a panic (Debian's defaults leave every
# one of them off, and the kernel would carry on). The module types are
# tests/e2e/crashtest/crashtest.c's, in /lib/crashtest.ko of the first
# kernel's image; the write to its trigger runs in a child shell, so the task
# that crashes is not init.
crash_by_type() {
    case $1 in
        bug | null | warn | timer | hrtimer | softlockup | hungtask | stack)
            insmod /lib/crashtest.ko || die "insmod crashtest.ko"
            mount -t debugfs debugfs /sys/kernel/debug 2> /dev/null
            [ -e /sys/kernel/debug/crashtest/trigger ] || die "no /sys/kernel/debug/crashtest/trigger"
            ;;
        oom | nmi) ;;
        *) die "unknown e2e.crash=$1" ;;
    esac
    case $1 in
        # An oops kills the task and the kernel goes on unless panic_on_oops
        # (arch/x86/kernel/dumpstack.c, oops_end()); in interrupt context it
        # panics regardless ("Fatal exception in interrupt").
        bug | null | timer | hrtimer | stack) set_sysctl kernel/panic_on_oops 1 ;;
        # kernel/panic.c, __warn(): check_panic_on_warn("kernel").
        warn) set_sysctl kernel/panic_on_warn 1 ;;
        # kernel/watchdog.c: a soft lockup is reported after
        # 2 * watchdog_thresh seconds (get_softlockup_thresh()), and
        # watchdog_timer_fn() panics with softlockup_panic.
        softlockup)
            set_sysctl kernel/softlockup_panic 1
            set_sysctl kernel/watchdog_thresh 1
            ;;
        # kernel/hung_task.c: khungtaskd wakes every hung_task_timeout_secs
        # (hung_task_check_interval_secs is 0) and check_hung_task() panics
        # with hung_task_panic on a task blocked that long.
        hungtask)
            set_sysctl kernel/hung_task_panic 1
            set_sysctl kernel/hung_task_timeout_secs 2
            ;;
        # mm/oom_kill.c, check_panic_on_oom(): "Out of memory: system-wide
        # panic_on_oom is enabled" instead of killing a task. overcommit 1
        # lets one allocation larger than the memory left succeed, so the
        # OOM comes from faulting it in, not from a refused malloc.
        oom)
            set_sysctl vm/panic_on_oom 1
            set_sysctl vm/overcommit_memory 1
            ;;
        # arch/x86/kernel/nmi.c, unknown_nmi_error(): an NMI no handler
        # claims (QEMU's inject-nmi, as a BMC's "diagnostic interrupt")
        # panics with unknown_nmi_panic, "NMI: Not continuing".
        nmi) set_sysctl kernel/unknown_nmi_panic 1 ;;
    esac
    stage "CRASH_TRIGGER type=$1"
    case $1 in
        # dd's one buffer of 1.5 GiB (more than the guest's memory),
        # filled page by page from /dev/zero.
        oom) dd if=/dev/zero of=/dev/null bs=1536M count=1 2> /dev/null & ;;
        # The host sends the NMI over QMP once it sees CRASH_TRIGGER.
        nmi) ;;
        *) (echo "$1" > /sys/kernel/debug/crashtest/trigger) & ;;
    esac
    sleep 120
    die "still running 120 s after the $1 crash"
}

# mark: a marker only this boot wrote, in the kernel log. Finding it in the
# saved dump's log proves the dump is of this boot, not of an earlier one.
mark() {
    mark="E2E_MARK_$(cat /proc/sys/kernel/random/uuid)"
    echo "$mark" > /dev/kmsg
    stage "MARK $mark"
}

if [ ! -e /proc/vmcore ]; then
    # ================= first kernel =================
    stage "INIT_FIRST kernel=$KVER action=$ACTION $(grep MemTotal /proc/meminfo | tr -s ' ')"
    # qemu_fw_cfg lets QEMU's -device vmcoreinfo find the VMCOREINFO note,
    # so that dump-guest-memory embeds it; without that device it is idle.
    modprobe qemu_fw_cfg 2> /dev/null
    case $ACTION in
        poweroff)
            stage POWEROFF
            poweroff -f
            ;;
        idle)
            [ "$BUSY" -gt 0 ] && fill_memory "$BUSY"
            mark
            stage "IDLE vmcoreinfo=$(cat /sys/firmware/qemu_fw_cfg/by_name/etc/vmcoreinfo/size 2> /dev/null || echo none)"
            while :; do sleep 3600; done
            ;;
    esac
    [ "$(cat /sys/kernel/kexec_crash_size)" != 0 ] || die "no crashkernel= reservation"
    # Load before filling memory: the capture kernel goes into the reserved
    # region either way, but kexec itself needs a few MB of ordinary memory.
    stage "KEXEC_LOAD_START mode=$KEXEC_MODE reserved=$(cat /sys/kernel/kexec_crash_size)"
    case $KEXEC_MODE in
        ours)
            # What crashcaptured does: this kernel's line minus crashkernel=,
            # panic=, ... plus irqpoll nr_cpus=1 reset_devices panic=10 ...
            # and crashcapture.boot_id= (lib/capture-cmdline.cpp). Of the
            # harness's knobs only the saver's go on (e2e.save is set here
            # even when it was left to its default), and exactly one console.
            set -- --kernel /boot/vmlinuz --initrd /boot/capture.img \
                --remove console --append console=ttyS0 \
                --remove 'e2e.*' --append "e2e.save=$SAVE" --cpus "$CAPTURE_CPUS"
            [ -n "$SAVE_ARGS" ] && set -- "$@" --append "e2e.saveargs=$SAVE_ARGS"
            [ -x /usr/bin/crashcapture-kexec-load ] || die "crashcapture-kexec-load is not in this image"
            crashcapture-kexec-load "$@" || die "crashcapture-kexec-load rc=$?"
            ;;
        s | c)
            # The capture kernel's command line, as Debian's kdump-tools and
            # Fedora's kdump build it: one CPU, devices reset, no USB.
            append="console=ttyS0 reset_devices nr_cpus=$CAPTURE_CPUS irqpoll nousb panic=1 e2e.save=$SAVE"
            [ -n "$SAVE_ARGS" ] && append="$append e2e.saveargs=$SAVE_ARGS"
            kexec -p "-$KEXEC_MODE" /boot/vmlinuz --initrd=/boot/capture.img --append="$append" ||
                die "kexec -p -$KEXEC_MODE"
            ;;
        *) die "unknown e2e.kexec=$KEXEC_MODE" ;;
    esac
    [ "$(cat /sys/kernel/kexec_crash_loaded)" = 1 ] || die "kexec_crash_loaded is not 1"
    stage "KEXEC_LOAD_DONE boot_id=$(cat /proc/sys/kernel/random/boot_id)"
    # The payload is in the reserved memory now; free the copies.
    rm -f /boot/vmlinuz /boot/capture.img /usr/bin/crashcapture-kexec-load
    [ "$BUSY" -gt 0 ] && fill_memory "$BUSY"
    mark
    [ "$CRASH_TYPE" = sysrq ] || crash_by_type "$CRASH_TYPE"
    stage CRASH_TRIGGER
    echo 1 > /proc/sys/kernel/sysrq
    echo c > /proc/sysrq-trigger
    die "still running after sysrq-c"
fi

# ================= capture kernel =================
stage "INIT_CAPTURE kernel=$KVER save=$SAVE vmcore=$(stat -c %s /proc/vmcore) cpus=$(cat /sys/devices/system/cpu/online) $(grep MemTotal /proc/meminfo | tr -s ' ')"
# Set by crashcapture-kexec-load (e2e.kexec=ours), as crashcaptured sets it.
BOOT_ID=$(arg crashcapture.boot_id "")
# ext4 checksums its metadata with crc32c, a soft dependency busybox modprobe
# does not follow; crc32c-intel needs SSE4.2, which QEMU's default qemu64 CPU
# lacks, so the generic one is loaded by name (reference PITFALLS.md).
for module in virtio_pci virtio_blk crc32c_generic ext4; do
    load $module
done
i=0
while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
done
[ -b /dev/vda ] || die "no /dev/vda"
# noinit_itable: the host made the file system with lazy inode tables; do not
# spend the capture kernel's time zeroing them in the background.
mount -t ext4 -o noinit_itable /dev/vda /mnt || die "mount /dev/vda"
stage DISK_READY

# measured and memavailable: guest-measure.sh, beside /init in the image.
# shellcheck source=tests/e2e/guest-measure.sh
. /guest-measure.sh

rc=0
case $SAVE in
    ours)
        [ -x /usr/bin/crashcapture-save ] || die "crashcapture-save is not in this image"
        set -- --input /proc/vmcore --output /mnt/dump --progress always
        [ -n "$BOOT_ID" ] && set -- "$@" --boot-id "$BOOT_ID"
        stage "SAVE_START crashcapture-save $SAVE_ARGS memavailable_kib=$(memavailable)"
        # shellcheck disable=SC2046 # the extra arguments are split on purpose
        measured crashcapture-save "$@" $(echo "$SAVE_ARGS" | tr ',' ' ') || rc=$?
        ;;
    cp)
        mkdir -p /mnt/dump
        vmcore-dmesg /proc/vmcore > /mnt/dump/vmcore-dmesg.txt 2>&1
        stage "SAVE_START cp memavailable_kib=$(memavailable)"
        measured cp /proc/vmcore /mnt/dump/vmcore || rc=$?
        ;;
    mdf)
        mkdir -p /mnt/dump
        vmcore-dmesg /proc/vmcore > /mnt/dump/vmcore-dmesg.txt 2>&1
        stage "SAVE_START makedumpfile -l -d 31 memavailable_kib=$(memavailable)"
        measured makedumpfile -l -d 31 /proc/vmcore /mnt/dump/vmcore > /mnt/dump/makedumpfile.log 2>&1 || rc=$?
        tail -5 /mnt/dump/makedumpfile.log
        ;;
    *) die "unknown e2e.save=$SAVE" ;;
esac
sync
stage "SAVE_DONE rc=$rc bytes=$(stat -c %s /mnt/dump/vmcore 2> /dev/null || echo 0) $(tail -1 /tmp/rusage 2> /dev/null)"
mkdir -p /mnt/dump
dmesg > /mnt/dump/capture-kernel.log
sync
umount /mnt || die "umount /mnt"
if [ $rc = 0 ]; then
    stage CAPTURE_DONE
else
    stage "CAPTURE_FAILED rc=$rc"
fi
poweroff -f
