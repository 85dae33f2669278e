#!/bin/bash
# The Debian package for real: build it (scripts/build-deb.sh), run lintian
# on it (errors fail), install it with apt into a clean Debian 12 chroot
# (debootstrap --variant=minbase, plus systemd and man-db) and check that every file is
# where the unit, the D-Bus policy and tmpfiles.d expect it, that the
# service is enabled, that systemd-analyze verify accepts the unit, that
# man crashcapture.conf renders there, and that a purge cleans up.
#   tests/integration/test-package.sh [PACKAGE.deb]   (root; default: build one)
# The chroot is made once and cached as a tarball in
# $CRASHCAPTURE_CACHE/chroot (default /var/tmp/crashcapture-cache), with the
# .debs apt fetched into it, so later runs only unpack it. Needs the Debian
# mirror (CRASHCAPTURE_DEBIAN_MIRROR, default http://deb.debian.org/debian).
# Exit status = number of failures (tests/checks.sh); 77 (skipped) if not root.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
CACHE=${CRASHCAPTURE_CACHE:-/var/tmp/crashcapture-cache}
MIRROR=${CRASHCAPTURE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
# shellcheck source=../checks.sh
. "$HERE/../checks.sh"
[ "$(id -u)" = 0 ] || skip_script "test-package.sh needs root (debootstrap, chroot)"

step() { printf '\n--- %s (%ds)\n' "$*" "$SECONDS"; }

work=$(mktemp -d /var/tmp/crashcaptured-package.XXXXXX)
root=$work/chroot
cleanup() {
    mountpoint -q "$root/proc" && umount "$root/proc"
    rm -rf "$work"
}
trap cleanup EXIT
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive "$@"; }

# ---- the package ----
if [ $# -ge 1 ]; then
    deb=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
else
    step "building the package (scripts/build-deb.sh)"
    "$TOP/scripts/build-deb.sh" "$work/deb" > "$work/build-deb.log" 2>&1 ||
        { tail -40 "$work/build-deb.log"; fail "scripts/build-deb.sh failed"; checks_exit; }
    deb=$(ls "$work"/deb/crashcaptured_*_amd64.deb)
fi
[ -s "$deb" ] || { fail "no package: $deb"; checks_exit; }
pass "package: $(basename "$deb")"

step "lintian"
lintian --fail-on error --display-info --tag-display-limit 0 "$deb" > "$work/lintian.txt" 2>&1
status=$?
sed 's/^/  /' "$work/lintian.txt"
if [ "$status" = 0 ] && ! grep -q '^E: ' "$work/lintian.txt"; then
    pass "lintian: no errors ($(grep -c '^W: ' "$work/lintian.txt") warnings)"
else
    fail "lintian reports errors (exit $status)"
fi

# The Cockpit page's package, built beside it from the same source.
cockpit_deb=$(ls "$(dirname "$deb")"/cockpit-crashcapture_*_all.deb 2> /dev/null | head -1)
if [ -n "$cockpit_deb" ]; then
    lintian --fail-on error,warning --display-info --tag-display-limit 0 "$cockpit_deb" > "$work/lintian-cockpit.txt" 2>&1
    status=$?
    sed 's/^/  /' "$work/lintian-cockpit.txt"
    [ "$status" = 0 ] && ! grep -q '^[EW]: ' "$work/lintian-cockpit.txt" &&
        pass "lintian $(basename "$cockpit_deb"): no errors, no warnings" || fail "lintian $(basename "$cockpit_deb") (exit $status)"
    files=$(dpkg-deb -c "$cockpit_deb" | awk '{ print $NF }' | grep '^\./usr/share/cockpit/crashcapture/[^/]' | sort | tr '\n' ' ')
    [ "$files" = "./usr/share/cockpit/crashcapture/crashcapture.css ./usr/share/cockpit/crashcapture/crashcapture.js ./usr/share/cockpit/crashcapture/index.html ./usr/share/cockpit/crashcapture/manifest.json " ] &&
        dpkg-deb -f "$cockpit_deb" Depends | grep -q 'cockpit-bridge' &&
        pass "$(basename "$cockpit_deb"): the page in /usr/share/cockpit/crashcapture, depends on cockpit-bridge" ||
        fail "$(basename "$cockpit_deb"): files $files; Depends $(dpkg-deb -f "$cockpit_deb" Depends)"
else
    fail "no cockpit-crashcapture_*_all.deb beside $deb"
fi

# ---- the chroot ----
step "a clean $SUITE chroot"
tarball=$CACHE/chroot/$SUITE-minbase-systemd-man-db.tar
archives=$CACHE/chroot/$SUITE-archives
mkdir -p "$CACHE/chroot" "$archives"
if [ ! -s "$tarball" ]; then
    echo "debootstrap --variant=minbase --include=systemd,man-db $SUITE (once; cached in $tarball)"
    if debootstrap --variant=minbase --include=systemd,man-db "$SUITE" "$work/new" "$MIRROR" \
        > "$work/debootstrap.log" 2>&1; then
        rm -f "$work"/new/var/cache/apt/archives/*.deb
        tar -C "$work/new" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
        rm -rf "$work/new"
    else
        tail -20 "$work/debootstrap.log"
        fail "debootstrap failed"
        checks_exit
    fi
fi
mkdir -p "$root"
tar -C "$root" -xf "$tarball" || { fail "cannot unpack $tarball"; checks_exit; }
mount -t proc proc "$root/proc"
cp /etc/resolv.conf "$root/etc/resolv.conf" 2> /dev/null
# No service starts in a chroot (invoke-rc.d and deb-systemd-invoke ask).
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
echo "deb $MIRROR $SUITE main" > "$root/etc/apt/sources.list"
cp "$archives"/*.deb "$root/var/cache/apt/archives/" 2> /dev/null
cp "$deb" "$root/tmp/"
pass "chroot unpacked"

step "apt-get install ./$(basename "$deb")"
in_root apt-get update -qq > "$work/apt.log" 2>&1
status=$?
# What an administrator's install pulls (issue 17): dracut-core recommends
# mdadm, lvm2, cryptsetup and dmraid, and mdadm a mail server (exim4), none
# of which a capture initrd needs unless the machine already uses them. So
# the README installs with --no-install-recommends: it must bring no MTA,
# no mdadm and no other daemon.
if [ "$status" = 0 ]; then
    simulate() { in_root apt-get install -s "$@" "/tmp/$(basename "$deb")" 2> /dev/null | awk '/^Inst / { print $2 }'; }
    with_recommends=$(simulate)
    without_recommends=$(simulate --no-install-recommends)
    echo "  apt pulls $(echo "$with_recommends" | grep -c .) packages, $(echo "$without_recommends" | grep -c .) with --no-install-recommends"
    echo "  only with Recommends: $(comm -13 <(echo "$without_recommends" | sort) <(echo "$with_recommends" | sort) | tr '\n' ' ')"
    unwanted=$(echo "$without_recommends" | grep -xE 'exim4.*|postfix|.*-mta|mdadm|lvm2|cryptsetup|dmraid|cron|rsyslog' | tr '\n' ' ')
    if [ -n "$without_recommends" ] && [ -z "$unwanted" ]; then
        pass "--no-install-recommends pulls no mail server, mdadm, LVM or other daemon ($(echo "$without_recommends" | grep -c .) packages)"
    else
        fail "--no-install-recommends would pull: ${unwanted:-nothing at all (apt-get -s failed?)}"
    fi
    in_root apt-get install -y --no-install-recommends "/tmp/$(basename "$deb")" >> "$work/apt.log" 2>&1
    status=$?
fi
cp "$root"/var/cache/apt/archives/*.deb "$archives/" 2> /dev/null
rm -f "$archives"/crashcaptured_*.deb
if [ "$status" = 0 ]; then
    pass "installed with its dependencies from $SUITE"
else
    tail -30 "$work/apt.log"
    fail "apt-get install failed"
    checks_exit
fi
grep -q 'crashkernel=' "$work/apt.log" && grep -q 'crashcapturectl setup --apply' "$work/apt.log" &&
    grep -q 'GRUB_CMDLINE_LINUX in' "$work/apt.log" &&
    pass "postinst explains crashkernel= and points at crashcapturectl setup --apply (GRUB_CMDLINE_LINUX)" ||
    fail "postinst said nothing about crashkernel= (no reservation in a chroot)"
sed -n '/^crashcaptured: no memory/,/^See crashcaptured/p' "$work/apt.log" | sed 's/^/  | /'

step "files where the unit, the D-Bus policy and tmpfiles.d expect them"
unit=
for dir in lib/systemd/system usr/lib/systemd/system; do
    [ -f "$root/$dir/crashcaptured.service" ] && unit=$dir/crashcaptured.service
done
[ -n "$unit" ] && pass "unit: /$unit" || { fail "no crashcaptured.service"; checks_exit; }
while read -r key command; do
    path=${command%% *}
    path=${path#[-@+!:]}
    if [ -x "$root$path" ] && [ -f "$root$path" ]; then
        pass "$key: $path is an executable file"
    else
        fail "$key: $path is missing"
    fi
done < <(sed -n 's/^\(Exec[A-Za-z]*\)=\(.*\)$/\1 \2/p' "$root/$unit")
# The capture side: the builder where the daemon calls it
# (daemon/main.cpp), dracut's module where dracut looks for modules
# (dracut.modules(7): /usr/lib/dracut/modules.d), the dracut.conf the builder
# passes, and dracut itself (a dependency).
builder=/usr/libexec/crashcapture/crashcapture-build-initrd
grep -q "\"$builder\"" "$TOP/daemon/main.cpp" && [ -x "$root$builder" ] &&
    pass "the initrd builder: $builder" || fail "no executable $builder, or the daemon calls another"
module=/usr/lib/dracut/modules.d/99crashcapture
if [ -x "$root$module/module-setup.sh" ] && [ -x "$root$module/crashcapture-capture" ] &&
    [ -f "$root$module/crashcapture-capture.service" ] && [ -f "$root$module/crashcapture.target" ]; then
    pass "the dracut module: $module ($(ls "$root$module" | tr '\n' ' '))"
else
    fail "the dracut module is incomplete in $module"
fi
[ -f "$root/usr/lib/crashcapture/dracut.conf" ] && pass "crashcaptured's dracut.conf: /usr/lib/crashcapture/dracut.conf" ||
    fail "no /usr/lib/crashcapture/dracut.conf"
dracut_version=$(in_root dpkg-query -W -f='${Version}' dracut-core 2>&1) && [ -x "$root/usr/bin/dracut" ] &&
    pass "dracut-core $dracut_version came with the package" || fail "dracut is not installed with the package ($dracut_version)"
[ -f "$root/usr/lib/dracut/modules.d/99squash/module-setup.sh" ] && [ -x "$root/usr/bin/mksquashfs" ] &&
    pass "dracut's squash module and mksquashfs came with the package" ||
    fail "no dracut squash module or mksquashfs: the capture initrd would be unpacked whole into the reservation"
for program in /usr/bin/crashcapturectl /usr/sbin/crashcapture-save $builder; do
    version=$(in_root "$program" --version 2>&1) && pass "$program --version: $version" ||
        fail "$program --version: $version"
done
missing=$(in_root ldd /usr/sbin/crashcaptured /usr/bin/crashcapturectl /usr/sbin/crashcapture-save 2>&1 |
    grep 'not found')
[ -z "$missing" ] && pass "every shared library resolves in the chroot" || fail "missing libraries: $missing"

bus_name=$(sed -n 's/^BusName=//p' "$root/$unit")
policy=$root/usr/share/dbus-1/system.d/$bus_name.conf
if [ -n "$bus_name" ] && [ -f "$policy" ]; then
    pass "D-Bus policy for BusName=$bus_name: /usr/share/dbus-1/system.d/$bus_name.conf"
    python3 - "$policy" "$bus_name" <<'PY' && pass "the policy lets root own $bus_name" ||
import sys, xml.etree.ElementTree as ET
tree = ET.parse(sys.argv[1])
owners = [p.get("user") for p in tree.iter("policy") for a in p.iter("allow") if a.get("own") == sys.argv[2]]
sys.exit(0 if owners == ["root"] else 1)
PY
        fail "the policy does not give $bus_name to root alone"
else
    fail "no D-Bus policy for BusName=$bus_name in /usr/share/dbus-1/system.d"
fi
[ -f "$root/usr/share/dbus-1/interfaces/org.crashcapture1.Manager.xml" ] &&
    pass "D-Bus introspection data installed" || fail "no org.crashcapture1.Manager.xml"

tmpfiles=$root/usr/lib/tmpfiles.d/crashcaptured.conf
if [ -f "$tmpfiles" ]; then
    pass "tmpfiles.d: /usr/lib/tmpfiles.d/crashcaptured.conf"
    # What boot (systemd-tmpfiles-setup.service) does, on the chroot.
    if systemd-tmpfiles --root="$root" --create crashcaptured.conf 2> "$work/tmpfiles.err"; then
        pass "systemd-tmpfiles --create accepts it"
    else
        fail "systemd-tmpfiles --create: $(cat "$work/tmpfiles.err")"
    fi
    # Every ReadWritePaths= must exist when the service starts, or the
    # namespace setup fails: made by tmpfiles.d, or by State/RuntimeDirectory=;
    # or marked "-", which systemd skips when missing (systemd.exec(5)).
    state=$(sed -n 's/^StateDirectory=//p' "$root/$unit")
    runtime=$(sed -n 's/^RuntimeDirectory=//p' "$root/$unit")
    for path in $(sed -n 's/^ReadWritePaths=//p' "$root/$unit"); do
        if [ "${path#-}" != "$path" ]; then
            pass "ReadWritePaths=$path: optional (\"-\"), skipped while missing"
            continue
        fi
        if [ "$path" = "/var/lib/$state" ] || [ "$path" = "/run/$runtime" ]; then
            pass "ReadWritePaths=$path: made by systemd (State/RuntimeDirectory=)"
        elif [ -d "$root$path" ] && [ "$(stat -c %a "$root$path")" = 700 ]; then
            pass "ReadWritePaths=$path: made by tmpfiles.d, mode 0700"
        else
            fail "ReadWritePaths=$path: nothing makes it (mode $(stat -c %a "$root$path" 2>&1))"
        fi
    done
else
    fail "no /usr/lib/tmpfiles.d/crashcaptured.conf"
fi

conffiles=$(in_root dpkg-query -W -f='${Conffiles}' crashcaptured)
echo "$conffiles" | grep -q '^ /etc/crashcapture/crashcapture.conf ' &&
    pass "/etc/crashcapture/crashcapture.conf is a conffile" || fail "conffiles: $conffiles"
grep -q '^#KeepDumps=0$' "$root/etc/crashcapture/crashcapture.conf" &&
    pass "the conffile lists the keys commented out" || fail "the conffile is not the commented default"
[ -L "$root/etc/systemd/system/multi-user.target.wants/crashcaptured.service" ] &&
    pass "the service is enabled (multi-user.target.wants)" || fail "the service is not enabled"

step "systemd-analyze verify"
# Inside the chroot: its systemd has the targets the unit is ordered with,
# and its man finds the pages of Documentation=.
if [ -x "$root/usr/bin/systemd-analyze" ]; then
    if in_root systemd-analyze verify "/$unit" > "$work/verify.txt" 2>&1 && ! grep -q . "$work/verify.txt"; then
        pass "systemd-analyze verify accepts /$unit"
    else
        sed 's/^/  /' "$work/verify.txt"
        fail "systemd-analyze verify /$unit"
    fi
else
    skip "no systemd-analyze in the chroot: systemd-analyze verify not run"
fi

step "man pages in the chroot"
for page in man1/crashcapturectl.1 man5/crashcapture.conf.5 man8/crashcaptured.8 man8/crashcapture-save.8 \
    man8/crashcapture-build-initrd.8; do
    [ -f "$root/usr/share/man/$page.gz" ] && pass "/usr/share/man/$page.gz" || fail "no /usr/share/man/$page.gz"
done
warnings=$(in_root env MANWIDTH=80 man --warnings crashcapture.conf 2>&1 > "$work/man.txt")
if [ -z "$warnings" ] && grep -q 'KeepDumps=' "$work/man.txt"; then
    pass "man crashcapture.conf renders in the chroot ($(wc -l < "$work/man.txt") lines)"
else
    fail "man crashcapture.conf in the chroot: ${warnings:-no KeepDumps= in the output}"
fi

step "apt-get purge"
mkdir -p "$root/var/lib/crashcapture" && touch "$root/var/lib/crashcapture/initrd-test.img"
if in_root apt-get purge -y crashcaptured > "$work/purge.log" 2>&1; then
    left=$(cd "$root" && ls -d etc/crashcapture var/lib/crashcapture \
        lib/systemd/system/crashcaptured.service etc/systemd/system/multi-user.target.wants/crashcaptured.service \
        2> /dev/null)
    [ -z "$left" ] && pass "purge removes the package, its configuration and state" || fail "purge left: $left"
    [ -d "$root/var/crash" ] && pass "purge keeps /var/crash (the administrator's dumps)" ||
        fail "purge removed /var/crash"
else
    tail -20 "$work/purge.log"
    fail "apt-get purge failed"
fi

echo "package: ${SECONDS}s"
checks_exit
