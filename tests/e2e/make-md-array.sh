#!/bin/bash
# make-md-array.sh KVER ROOTFS OUT UUID MEMBER_IMAGE... : an MD RAID1 array
# (metadata 1.2) over the first partition of each disk image, made by the
# real mdadm of the guest image ROOTFS in a throwaway QEMU guest (this
# host's kernel may have no MD driver, and its own arrays must not be
# touched). KVER is the kernel it boots (/boot/vmlinuz-KVER, its modules
# from /lib/modules/KVER). The array's UUID is UUID (mdadm's 8:8:8:8 form
# or a plain one), its name "crashcapture-e2e:0", as the Debian installer
# names arrays after the host.
#
# Writes OUT/md-array.txt: data_offset_sectors=N (where the array's data
# starts in each member, from mdadm --examine) and array_kib=N (its size,
# from mdadm --detail), and OUT/md-array-serial.log. The caller writes the
# filesystem into each member at the data offset: RAID1 members hold the
# same data there, and the array is made --assume-clean, so nothing resyncs.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# -ge 6 ] || e2e_die "usage: make-md-array.sh KVER ROOTFS OUT UUID MEMBER_IMAGE MEMBER_IMAGE..."
KVER=$1 ROOTFS=$2 OUT=$3 UUID=$4
shift 4
e2e_need busybox cpio qemu-system-x86_64 modprobe xz
BUSYBOX=$(command -v busybox)
file -L "$BUSYBOX" 2> /dev/null | grep -q 'statically linked' || e2e_die "$BUSYBOX is not static: install busybox-static"
[ -x "$ROOTFS/sbin/mdadm" ] || e2e_die "$ROOTFS has no /sbin/mdadm"

stage=$(mktemp -d /var/tmp/crashcapture-md.XXXXXX)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,dev,proc,sys,run/mdadm,etc/mdadm}
cp "$BUSYBOX" "$stage/bin/busybox"
# mdadm and the libraries it needs, as the guest image has them.
cp "$ROOTFS/sbin/mdadm" "$stage/bin/mdadm"
for library in $(chroot "$ROOTFS" ldd /sbin/mdadm | grep -oE '/[^ ]+'); do
    mkdir -p "$stage$(dirname "$library")"
    cp -L "$ROOTFS$library" "$stage$library"
done
# The modules, in the order insmod must load them.
e2e_copy_modules "$KVER" "$stage" virtio_pci virtio_blk raid1 > "$stage/modules.txt"
# The members: the first partition of each virtio disk, in order.
letters=(a b c d e f g h)
[ $# -le ${#letters[@]} ] || e2e_die "at most ${#letters[@]} members"
members=()
for n in $(seq 0 $(($# - 1))); do
    members+=("/dev/vd${letters[n]}1")
done
cat > "$stage/init" << EOF
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for module in \$(cat /modules.txt); do insmod "\$module"; done
for _ in \$(seq 1 50); do [ -b ${members[-1]} ] && break; sleep 0.2; done
echo "MD: creating over ${members[*]}"
if mdadm --create /dev/md0 --run --assume-clean --metadata=1.2 --level=1 \\
    --raid-devices=${#members[@]} --uuid=$UUID --homehost=crashcapture-e2e --name=0 ${members[*]} 2>&1; then
    mdadm --examine ${members[0]} | sed -n 's/^ *Data Offset : \([0-9]*\) sectors.*/MD: data_offset_sectors=\1/p'
    mdadm --detail /dev/md0 | sed -n 's/^ *Array Size : \([0-9]*\) .*/MD: array_kib=\1/p'
    mdadm --detail /dev/md0 | sed 's/^/MD-DETAIL: /'
    mdadm --stop /dev/md0
    sync
    echo "MD: done"
fi
poweroff -f
EOF
chmod 0755 "$stage/init"
(cd "$stage" && find . | cpio -o -H newc --quiet) > "$stage.cpio"
drives=()
for image; do
    drives+=(-drive "file=$image,format=raw,if=virtio,cache=unsafe")
done
timeout 300 qemu-system-x86_64 -accel tcg -m 512 -smp 1 -cpu qemu64 -kernel "/boot/vmlinuz-$KVER" \
    -initrd "$stage.cpio" -append "console=ttyS0 panic=-1 quiet" "${drives[@]}" \
    -display none -monitor none -serial stdio -no-reboot < /dev/null > "$OUT/md-array-serial.log" 2>&1 || true
rm -f "$stage.cpio"
grep -q '^MD: done' "$OUT/md-array-serial.log" ||
    e2e_die "mdadm did not make the array: $(grep -E '^MD|mdadm' "$OUT/md-array-serial.log" | tail -5)"
sed -n 's/^MD: \([a-z_]*=[0-9]*\).*/\1/p' "$OUT/md-array-serial.log" | tr -d '\r' > "$OUT/md-array.txt"
grep -q '^data_offset_sectors=[0-9]' "$OUT/md-array.txt" && grep -q '^array_kib=[0-9]' "$OUT/md-array.txt" ||
    e2e_die "mdadm did not say the array's data offset and size: $(cat "$OUT/md-array.txt")"
