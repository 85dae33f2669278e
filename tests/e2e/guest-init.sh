#!/bin/sh
# /init of the QEMU test guest (busybox sh), for both roles of one initramfs:
#   no /proc/vmcore -> the first kernel: load the capture kernel with kexec -p,
#                      fill memory, write a marker to the kernel log, crash
#                      (sysrq-c);
#   /proc/vmcore    -> the capture kernel: save the crashed kernel's memory to
#                      the ext4 disk /dev/vda, then power off.
#
# Knobs on the kernel command line (run-cycle.sh sets them):
#   e2e.kexec=s|c          kexec_file_load (-s, default) or kexec_load (-c)
#   e2e.save=ours|cp|mdf   crashcapture-save (default when it is in the image),
#                          cp: /proc/vmcore copied raw (the corpus; default
#                          otherwise), mdf: makedumpfile -l -d 31 (comparison)
#   e2e.saveargs=A,B,...   extra arguments for crashcapture-save, comma-separated
#   e2e.action=crash|idle|poweroff   what the first kernel does once loaded;
#                          idle waits forever (for QEMU dump-guest-memory)
#   e2e.busy=MiB           memory to fill before crashing or idling (default 0)
#
# Every stage prints "E2E: STAGE ..." on the console: the host timestamps the
# serial log, and its timings come from these lines.
PATH=/bin:/sbin:/usr/bin:/usr/sbin
export PATH
mount -t proc proc /proc
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
    # The capture kernel's command line, as Debian's kdump-tools and Fedora's
    # kdump build it: one CPU, devices reset, no USB.
    append="console=ttyS0 reset_devices nr_cpus=1 irqpoll nousb panic=1 e2e.save=$SAVE"
    [ -n "$SAVE_ARGS" ] && append="$append e2e.saveargs=$SAVE_ARGS"
    # Load before filling memory: the capture kernel goes into the reserved
    # region either way, but kexec itself needs a few MB of ordinary memory.
    stage "KEXEC_LOAD_START mode=-$KEXEC_MODE reserved=$(cat /sys/kernel/kexec_crash_size)"
    kexec -p "-$KEXEC_MODE" /boot/vmlinuz --initrd=/boot/capture.img --append="$append" ||
        die "kexec -p -$KEXEC_MODE"
    [ "$(cat /sys/kernel/kexec_crash_loaded)" = 1 ] || die "kexec_crash_loaded is not 1"
    stage KEXEC_LOAD_DONE
    # The payload is in the reserved memory now; free the copies.
    rm -f /boot/vmlinuz /boot/capture.img
    [ "$BUSY" -gt 0 ] && fill_memory "$BUSY"
    mark
    stage CRASH_TRIGGER
    echo 1 > /proc/sys/kernel/sysrq
    echo c > /proc/sysrq-trigger
    die "still running after sysrq-c"
fi

# ================= capture kernel =================
stage "INIT_CAPTURE kernel=$KVER save=$SAVE vmcore=$(stat -c %s /proc/vmcore) $(grep MemTotal /proc/meminfo | tr -s ' ')"
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

rc=0
case $SAVE in
    ours)
        [ -x /usr/bin/crashcapture-save ] || die "crashcapture-save is not in this image"
        stage "SAVE_START crashcapture-save $SAVE_ARGS"
        # shellcheck disable=SC2046 # the extra arguments are split on purpose
        crashcapture-save --input /proc/vmcore --output /mnt/dump --progress always \
            $(echo "$SAVE_ARGS" | tr ',' ' ') || rc=$?
        ;;
    cp)
        mkdir -p /mnt/dump
        vmcore-dmesg /proc/vmcore > /mnt/dump/vmcore-dmesg.txt 2>&1
        stage "SAVE_START cp"
        cp /proc/vmcore /mnt/dump/vmcore || rc=$?
        ;;
    mdf)
        mkdir -p /mnt/dump
        vmcore-dmesg /proc/vmcore > /mnt/dump/vmcore-dmesg.txt 2>&1
        stage "SAVE_START makedumpfile -l -d 31"
        makedumpfile -l -d 31 /proc/vmcore /mnt/dump/vmcore > /mnt/dump/makedumpfile.log 2>&1 || rc=$?
        tail -5 /mnt/dump/makedumpfile.log
        ;;
    *) die "unknown e2e.save=$SAVE" ;;
esac
sync
stage "SAVE_DONE rc=$rc bytes=$(stat -c %s /mnt/dump/vmcore 2> /dev/null || echo 0)"
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
