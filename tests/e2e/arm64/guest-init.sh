#!/bin/sh
# /init of the arm64 guest (busybox sh), both roles, like ../guest-init.sh:
#   no /proc/vmcore: the first kernel. Load the same kernel as capture kernel
#       (kexec -p), write a marker to the kernel log, crash with sysrq-c.
#   /proc/vmcore: the capture kernel. Save it into /dump on the ext4 disk
#       /dev/vda, power off.
# Knobs, from the kernel command line:
#   e2e.save=cp|mdf|cp+mdf|ours   cp (default): cp /proc/vmcore; mdf:
#       makedumpfile -l -d 31 (1.7.2 cannot read 6.12's VA_BITS=52 kernels);
#       cp+mdf: both, plus makedumpfile --dump-dmesg (vmcores for the cache);
#       ours: crashcapture-save, as ../guest-init.sh runs it
#   e2e.kexecopt=-i   extra kexec options (-i: --no-checks, below)
#   e2e.kexec=ours    load with crashcapture-kexec-load, the library's loader
#       as crashcaptured uses it: kexec_file_load, ENOSYS, then kexec-tools
#       with its own _text correction (KexecToolsLoader); the command line
#       derived as the daemon derives it
#   e2e.debug=1       kexec -d, and the kallsyms lines kexec uses, on the console
# Every stage prints "E2E: STAGE ..." for the host's timings.
#
# Why kexec -c (kexec_load): Debian's arm64 kernels have no kexec_file_load
# (# CONFIG_KEXEC_FILE is not set in 6.1 and 6.12; kexec -s fails with
# "syscall kexec_file_load not available"). Reference qemu-kdump-arm64
# RESULTS.md, pitfall 1.
PATH=/bin:/sbin:/usr/bin:/usr/sbin
# build-initramfs.sh puts every library there; no ld.so.cache in the image.
LD_LIBRARY_PATH=/lib/aarch64-linux-gnu
export PATH LD_LIBRARY_PATH
if ! mount -t proc proc /proc; then
    echo "E2E: FAIL mount /proc: the initramfs is incomplete (see 'Initramfs unpacking failed' above)"
    poweroff -f
fi
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2> /dev/null
mkdir -p /tmp /mnt

stage() { echo "E2E: $* (uptime $(cut -d' ' -f1 /proc/uptime))"; }
# measured and memavailable: ../guest-measure.sh, beside /init in the image.
# shellcheck source=tests/e2e/guest-measure.sh
. /guest-measure.sh
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
KVER=$(uname -r)
SAVE_DEFAULT="cp"
[ -x /usr/bin/crashcapture-save ] && SAVE_DEFAULT=ours
SAVE=$(arg e2e.save $SAVE_DEFAULT)
DEBUG=$(arg e2e.debug 0)

# The marker into the kernel log, then sysrq-c.
crash_now() {
    rm -f /boot/vmlinuz /boot/capture.img
    mark="E2E_MARK_$(cat /proc/sys/kernel/random/uuid)"
    echo "$mark" > /dev/kmsg
    stage "MARK $mark"
    stage CRASH_TRIGGER
    echo 1 > /proc/sys/kernel/sysrq
    echo c > /proc/sysrq-trigger
    die "still running after sysrq-c"
}

if [ ! -e /proc/vmcore ]; then
    # ================= first kernel =================
    stage "INIT_FIRST kernel=$KVER arch=$(uname -m) $(grep MemTotal /proc/meminfo | tr -s ' ')"
    [ "$(cat /sys/kernel/kexec_crash_size)" != 0 ] || die "no crashkernel= reservation"
    # kexec-tools 2.0.25 (the kexec_load path) takes the kernel image's
    # PT_LOAD and PAGE_OFFSET from _text in /proc/kallsyms. Debian's 6.1
    # arm64 kernel has # CONFIG_KALLSYMS_ALL is not set, so _text is not
    # listed; kexec then writes an elfcorehdr with vaddr 0xffffffffffffffff
    # and a wrapped p_memsz, and the capture kernel oopses in
    # copy_oldmem_page reading /proc/vmcore (reference RESULTS.md, pitfall 2).
    # So while kexec loads, a copy of the lines it reads, plus
    # _text = _stext - (pa(_stext) mod 2 MiB), is bind-mounted over
    # /proc/kallsyms: arm64 loads the image at a 2 MiB aligned physical
    # address (MIN_KIMG_ALIGN, arch/arm64/include/asm/boot.h), and _stext
    # follows the head text within those 2 MiB (0x10000 on, reference
    # RESULTS.md). 6.12 lists _text (KALLSYMS_ALL=y) and needs nothing.
    # One pass over /proc/kallsyms only: each costs 1.5-6 s under TCG.
    if [ "$(arg e2e.kexec "")" = ours ]; then
        stage "KEXEC_LOAD_START loader=ours"
        mkdir -p /run/crashcapture
        crashcapture-kexec-load --kernel /boot/vmlinuz --initrd /boot/capture.img \
            --append console=ttyAMA0 --append "e2e.save=$SAVE" > /tmp/kexec.out 2>&1 ||
            die "crashcapture-kexec-load: $(tr '\n' ' ' < /tmp/kexec.out)"
        sed 's/^/  /' /tmp/kexec.out
        [ "$(cat /sys/kernel/kexec_crash_loaded)" = 1 ] || die "kexec_crash_loaded is not 1"
        stage "KEXEC_LOAD_DONE boot_id=$(cat /proc/sys/kernel/random/boot_id)"
        crash_now
    fi
    grep -E ' (_text|_stext|__init_begin|_etext|_end)$' /proc/kallsyms > /tmp/ks
    if ! grep -q ' _text$' /tmp/ks; then
        stext=$(grep ' _stext$' /tmp/ks | cut -d' ' -f1)
        kcode=$(grep 'Kernel code' /proc/iomem | tr -d ' ' | cut -d- -f1)
        off=$((0x$kcode & 0x1fffff))
        # busybox sh arithmetic is signed 64-bit: subtract on the low half.
        hi=$(echo "$stext" | cut -c1-8)
        lo=$(echo "$stext" | cut -c9-16)
        text=$(printf '%s%08x' "$hi" $((0x$lo - off)))
        { echo "$text T _text"; cat /tmp/ks; } > /tmp/kallsyms
        mount --bind /tmp/kallsyms /proc/kallsyms || die "bind-mount the _text kallsyms"
        stage "FIXTEXT _text=$text _stext=$stext pa_stext=0x$kcode"
    fi
    [ "$DEBUG" = 1 ] && cat /tmp/ks
    # The capture kernel's line: one CPU, devices reset, the crashed
    # kernel's interrupts polled, USB left alone (as kdump-tools does), and
    # panic=1 with QEMU's -no-reboot ending the run on any failure.
    append="console=ttyAMA0 reset_devices nr_cpus=1 irqpoll nousb panic=1 e2e.save=$SAVE"
    debug=
    [ "$DEBUG" = 1 ] && debug=-d
    stage "KEXEC_LOAD_START opt=$(arg e2e.kexecopt none)"
    # -i (--no-checks): purgatory skips its SHA-256 of the segments, which
    # takes 19.5 s under TCG between "Bye!" and the capture kernel, ~1 s
    # without (reference RESULTS.md, pitfall 3). A test setting only.
    # shellcheck disable=SC2046 # the options are split on purpose
    kexec $debug $(arg e2e.kexecopt "") -p -c /boot/vmlinuz --initrd=/boot/capture.img \
        --append="$append" 2> /tmp/kexec.err || die "kexec -p -c: $(tr '\n' ' ' < /tmp/kexec.err)"
    [ -n "$debug" ] && sed 's/^/KEXECDBG: /' /tmp/kexec.err
    grep -q ' /proc/kallsyms ' /proc/mounts && umount /proc/kallsyms
    [ "$(cat /sys/kernel/kexec_crash_loaded)" = 1 ] || die "kexec_crash_loaded is not 1"
    stage "KEXEC_LOAD_DONE boot_id=$(cat /proc/sys/kernel/random/boot_id)"
    crash_now
fi

# ================= capture kernel =================
stage "INIT_CAPTURE kernel=$KVER save=$SAVE vmcore=$(stat -c %s /proc/vmcore) $(grep MemTotal /proc/meminfo | tr -s ' ')"
# ext4 checksums its metadata with crc32c, a soft dependency busybox
# modprobe does not follow, so it is loaded by name. virtio_pci is built into
# 6.12 (modules.builtin): nothing to load then.
for module in virtio_pci virtio_blk crc32c_generic ext4; do
    [ -d "/sys/module/$module" ] && continue
    grep -q "/$module.ko" "/lib/modules/$KVER/modules.builtin" && continue
    modprobe "$module" || die "modprobe $module"
done
i=0
while [ ! -b /dev/vda ] && [ $i -lt 200 ]; do
    sleep 0.1
    i=$((i + 1))
done
[ -b /dev/vda ] || die "no /dev/vda"
mount -t ext4 -o noinit_itable /dev/vda /mnt || die "mount /dev/vda"
mkdir -p /mnt/dump
stage DISK_READY

rc=0
case $SAVE in
    ours)
        [ -x /usr/bin/crashcapture-save ] || die "crashcapture-save is not in this image"
        stage "SAVE_START crashcapture-save memavailable_kib=$(memavailable)"
        measured crashcapture-save --input /proc/vmcore --output /mnt/dump --progress always || rc=$?
        ;;
    cp | mdf | cp+mdf)
        vmcore-dmesg /proc/vmcore > /mnt/dump/vmcore-dmesg.txt 2>&1
        stage "SAVE_START $SAVE memavailable_kib=$(memavailable)"
        case $SAVE in cp*) measured cp /proc/vmcore /mnt/dump/vmcore || rc=$? ;; esac
        case $SAVE in *mdf)
            out=vmcore.mdf-l-d31
            [ "$SAVE" = mdf ] && out=vmcore
            measured makedumpfile -l -d 31 /proc/vmcore "/mnt/dump/$out" > /mnt/dump/makedumpfile.log 2>&1 || rc=$?
            tail -3 /mnt/dump/makedumpfile.log
            ;;
        esac
        if [ "$SAVE" = cp+mdf ]; then
            makedumpfile --dump-dmesg /proc/vmcore /mnt/dump/vmcore.mdf-dmesg \
                > /mnt/dump/makedumpfile-dmesg.log 2>&1 || rc=$?
        fi
        ;;
    *) die "unknown e2e.save=$SAVE" ;;
esac
sync
stage "SAVE_DONE rc=$rc bytes=$(stat -c %s /mnt/dump/vmcore 2> /dev/null || echo 0) $(tail -1 /tmp/rusage 2> /dev/null)"
dmesg > /mnt/dump/capture-kernel.log
sync
umount /mnt || die "umount /mnt"
if [ $rc = 0 ]; then
    stage CAPTURE_DONE
else
    stage "CAPTURE_FAILED rc=$rc"
fi
poweroff -f
