#!/bin/bash
# shellcheck disable=SC2154 # moddir, initdir, systemdsystemunitdir: dracut sets them (dracut.modules(7))
# dracut module "crashcapture": the capture side of crashcaptured
# (dracut.modules(7) for the check/depends/installkernel/install protocol).
# crashcapture-build-initrd adds it with -m, and sets CRASHCAPTURE_STAGING to
# a directory holding what it derived from crashcapture.conf: capture.env and
# the two units' drop-ins (lib/initrd-plan.hpp).

# called by dracut
check() {
    # 255: only when asked for. This module turns an initrd into a capture
    # initrd that never mounts the root filesystem as /; it must never end up
    # in the host's boot initrd.
    return 255
}

# called by dracut
depends() {
    echo systemd systemd-journald
    return 0
}

# called by dracut
installkernel() {
    # ext4 checksums its metadata with crc32c; the "crc32c" alias resolves to
    # crc32c-intel, which needs SSE4.2 (not on every CPU, e.g. QEMU's
    # qemu64), and modprobe in an initrd sees no softdeps: install the
    # generic one too.
    hostonly='' instmods crc32c_generic
}

# called by dracut
install() {
    # dracut carries on when install() fails; an initrd that cannot capture
    # must not be built, so stop dracut itself.
    if [[ ! -f ${CRASHCAPTURE_STAGING:-}/capture.env ]]; then
        dfatal "crashcapture: CRASHCAPTURE_STAGING has no capture.env; build capture initrds with crashcapture-build-initrd"
        exit 1
    fi
    if ! inst_binary /usr/sbin/crashcapture-save; then
        dfatal "crashcapture: cannot install /usr/sbin/crashcapture-save"
        exit 1
    fi
    inst_script "$moddir/crashcapture-capture" /usr/lib/crashcapture/crashcapture-capture
    inst_multiple sync date sed journalctl udevadm cat basename mkdir chmod mv mount umount
    inst_multiple -o blkid
    inst_simple "$CRASHCAPTURE_STAGING/capture.env" /etc/crashcapture/capture.env
    # The capture sets up the network (crashcapture-build-initrd wrote
    # CRASHCAPTURE_NET_*: a target on another machine, or a disk reached
    # through iSCSI): ip to set up the interface. The NIC's kernel modules
    # come with --drivers, iscsistart with --install.
    if grep -q "^CRASHCAPTURE_NET_INTERFACE='.\+'" "$CRASHCAPTURE_STAGING/capture.env"; then
        if ! inst_multiple ip; then
            dfatal "crashcapture: the capture's network needs ip (iproute2)"
            exit 1
        fi
    fi
    # A target on another machine (Target=ssh:// or nfs:): getent and this
    # system's resolver configuration so the server's name resolves.
    if grep -qx "CRASHCAPTURE_TARGET_KIND='\(ssh\|nfs\)'" "$CRASHCAPTURE_STAGING/capture.env"; then
        if ! inst_multiple ip getent; then
            dfatal "crashcapture: a target on another machine needs ip (iproute2) and getent"
            exit 1
        fi
        inst_multiple -o /etc/hosts /etc/resolv.conf /etc/nsswitch.conf
    fi
    # ssh with the capture's own key and the pinned host key (crashcapturectl
    # propagate).
    if grep -qx "CRASHCAPTURE_TARGET_KIND='ssh'" "$CRASHCAPTURE_STAGING/capture.env"; then
        if ! inst_multiple ssh; then
            dfatal "crashcapture: an ssh target needs ssh (openssh-client)"
            exit 1
        fi
        inst_simple /etc/crashcapture/ssh/id_ed25519
        inst_simple /etc/crashcapture/ssh/known_hosts
    fi
    inst_simple "$moddir/crashcapture.target" "$systemdsystemunitdir/crashcapture.target"
    inst_simple "$moddir/crashcapture-capture.service" "$systemdsystemunitdir/crashcapture-capture.service"
    inst_simple "$moddir/crashcapture-fallback.service" "$systemdsystemunitdir/crashcapture-fallback.service"
    inst_simple "$CRASHCAPTURE_STAGING/capture-actions.conf" \
        /etc/systemd/system/crashcapture-capture.service.d/50-actions.conf
    inst_simple "$CRASHCAPTURE_STAGING/fallback-actions.conf" \
        /etc/systemd/system/crashcapture-fallback.service.d/50-actions.conf
    # Short stop timeouts: a capture hung on its target reboots in about a
    # minute after its time limit, not eight (crashcapture-manager.conf).
    inst_simple "$moddir/crashcapture-manager.conf" /etc/systemd/system.conf.d/50-crashcapture.conf
    # Boot into crashcapture.target. In an initrd (/etc/initrd-release)
    # systemd starts initrd.target, elsewhere default.target (bootup(7));
    # both are aliased to ours, and a unit in /etc wins over one of the same
    # name in /usr/lib (systemd.unit(5), "Unit File Load Path").
    mkdir -p "$initdir/etc/systemd/system"
    for alias in initrd.target default.target; do
        ln -sf "$systemdsystemunitdir/crashcapture.target" "$initdir/etc/systemd/system/$alias"
    done
    # udev's hardware database (13 MB in Debian 12) gives devices friendly
    # names and properties the capture never looks at; every megabyte of the
    # unpacked initrd comes out of the crashkernel= reservation.
    rm -f "$initdir/usr/lib/udev/hwdb.bin" "$initdir/lib/udev/hwdb.bin" "$initdir/etc/udev/hwdb.bin"
}
