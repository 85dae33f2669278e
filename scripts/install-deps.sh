#!/bin/bash
# Install every Debian 12 package crashcaptured needs to build, test and run
# its QEMU crash cycles. Idempotent; safe with no standard input (CI).
#   scripts/install-deps.sh          build + test dependencies, the arm64 cross build's too
# Run as root. Waits for other holders of the dpkg lock instead of failing.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

build_packages=(
    cmake g++ make pkg-config clang-format
    shellcheck        # scripts/test.sh lints every shell script (the capture initrd's too)
    libelf-dev        # ELF vmcore reading and ELF dump writing
    libzstd-dev       # zstd page compression (kdump flag 0x20)
    zlib1g-dev        # zlib page compression for readers without zstd
    liblzo2-dev       # lzo page compression (kdump flag 0x2, as makedumpfile -l): the fastest on one CPU
    nlohmann-json3-dev # status.json dump records
    libgtest-dev libgmock-dev # unit tests
    libcli11-dev      # command-line parsing
    libfmt-dev        # formatting (g++ 12 has no <format>)
    libexpected-dev   # tl::expected behind Result<T>
    libsystemd-dev    # the daemon: sd-event loop, sd_notify, the journal
    libsdbus-c++-dev libsdbus-c++-bin # the D-Bus API (sdbus-c++-xml2cpp generates it)
    libxxhash-dev     # content hashes of the capture initrd's inputs
    scdoc             # the man pages (man/*.scd)
)
# The arm64 cross build (scripts/build-arm64.sh, issue 14: build and package
# for arm64 here) with Debian multiarch: the cross compiler, the :arm64 -dev
# packages of every library the build links, and qemu-user to run the arm64
# unit tests. Header-only and arch:all dependencies (nlohmann-json3-dev,
# libcli11-dev, libexpected-dev) serve both architectures from build_packages.
# The :arm64 libraries are Multi-Arch: same: apt upgrades their amd64 twins
# to the same version when they differ (co-installable, nothing removed).
arm64_packages=(
    crossbuild-essential-arm64          # aarch64-linux-gnu-g++ and the arm64 libc/libstdc++ to link against
    qemu-user                           # qemu-aarch64: ctest runs the arm64 unit tests with it (no binfmt_misc needed)
    libelf-dev:arm64 libzstd-dev:arm64 zlib1g-dev:arm64 liblzo2-dev:arm64 # the saver's dump floor (lib/dump)
    libfmt-dev:arm64                    # lib/base
    libxxhash-dev:arm64                 # lib/arming (the unit tests link it)
    libgtest-dev:arm64 libgmock-dev:arm64 # the arm64 unit tests
    libsystemd-dev:arm64 libsdbus-c++-dev:arm64 # the daemon (CRASHCAPTURE_SAVER_ONLY builds without them)
    pkgconf:arm64                       # aarch64-linux-gnu-pkg-config: the arm64 .deb (build-deb.sh, CRASHCAPTURE_DEB_ARCH=arm64)
)
test_packages=(
    qemu-system-x86 qemu-utils          # real kernel crashes under TCG
    gcc-12 make                         # tests/e2e/crashtest: the crash-type module, built with Debian kernels' compiler against their linux-headers (fetched by build-module.sh with apt-get download, unpacked in the cache, not installed)
    qemu-system-arm                     # qemu-system-aarch64: real arm64 kernel crashes under TCG (tests/e2e/arm64, issue 14)
    qemu-user                           # qemu-aarch64: the arm64 makedumpfile on the host, as a reference for arm64 dumps (the amd64 one reads x86 dumps only)
    linux-image-amd64 linux-image-6.12-amd64 # the two kernels Debian 12 ships
    kexec-tools busybox-static cpio e2fsprogs # capture initramfs and its disk
    makedumpfile                        # reference writer we compare against
    python3-drgn python3-libkdumpfile   # readers that must open our dumps
    crash                               # the reader kernel engineers use
    dbus-daemon dbus-bin                # a private bus for the daemon's tests (busctl comes with systemd)
    util-linux                          # setpriv: a non-root D-Bus caller in tests
    python3-dbus                        # test-dbus-abuse.sh: the flood client (libdbus from Python, about 1,000 calls/s where busctl in a loop makes tens)
    zstd file binutils bc               # bc: arithmetic in bench/ and the e2e timings
    man-db groff-base bsdextrautils     # man -l --warnings and col: the man page test
    debhelper dpkg-dev lintian          # the Debian package (scripts/build-deb.sh) and its check
    debootstrap                         # a clean bookworm chroot to install the package into
    lvm2                                # the lvm guest: pvcreate/vgcreate/lvcreate write its disk's LVM metadata (no device-mapper needed)
    fdisk                               # the lvm guests: sfdisk writes the installer-like partition table (/boot, the PV)
    dracut-core                         # lsinitrd: what the systemd guest's capture initrd holds
    dracut-squash                       # squashfs-tools: the initrd listing's unit test packs and lists a real squashfs image; the package depends on it
    rpm                                 # rpmbuild for packaging/rpm (scripts/build-rpm.sh)
    clang libclang-rt-14-dev            # tests/fuzz: libFuzzer (libclang_rt.fuzzer) and the sanitizers for clang 14
    systemd                             # systemd-analyze verify, systemd-tmpfiles on the chroot
    openssh-client openssh-server       # Target=ssh: a private sshd on loopback for the tests
    nfs-ganesha nfs-ganesha-vfs         # Target=nfs: a userspace NFSv4 server for the nfs guest
    tgt                                 # the target-iscsi guest: tgtd, a userspace iSCSI target on loopback
    cockpit-ws cockpit-bridge cockpit-system # the Cockpit page's test: a real cockpit-ws and bridge (cockpit-system: the page's PatternFly stylesheet)
    chromium python3-websocket          # the Cockpit page's test: headless Chromium driven over the DevTools protocol
    prometheus-node-exporter            # test-metrics.sh: the real node_exporter serves the daemon's textfile metrics over HTTP
    systemd-journal-remote              # the capture guest: systemd-journal-remote on loopback collects the guest's crash report (journal-upload)
    xfsprogs btrfs-progs                # the target-xfs and target-btrfs guests: their target disks (mkfs, btrfs subvolume create)
    ovmf dosfstools mtools              # the uefi guests: OVMF (Secure Boot with Microsoft's keys, and without), an EFI system partition made with mkfs.vfat and filled with mcopy (no mount)
)

if [ "$(id -u)" != 0 ]; then
    echo "install-deps.sh: must run as root (it calls apt-get)" >&2
    exit 1
fi
# arm64 packages need arm64 in dpkg's architectures and its package lists:
# added once (the apt-get update below then fetches them, since every :arm64
# package is missing on a first run).
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    dpkg --add-architecture arm64
fi
missing=()
for p in "${build_packages[@]}" "${arm64_packages[@]}" "${test_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
# kexec-tools' postinst asks whether to load kexec at boot; answer no.
echo "kexec-tools kexec-tools/load_kexec boolean false" | debconf-set-selections
echo "kdump-tools kdump-tools/use_kdump boolean false" | debconf-set-selections
apt-get update -o DPkg::Lock::Timeout=600
apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=600 "${missing[@]}"
# tgt's own service would hold port 3260 on every address; the target-iscsi
# guest starts a tgtd of its own on 127.0.0.1:3260. Only when installed here:
# a tgt already set up stays as its administrator left it.
if [[ " ${missing[*]} " == *" tgt "* ]] && [ -d /run/systemd/system ]; then
    systemctl disable --now tgt.service
fi
