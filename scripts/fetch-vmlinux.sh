#!/bin/bash
# Print the path of the debug vmlinux of a Debian kernel, fetching it first if
# needed: crash needs the vmlinux that matches the dump. The -dbg package is
# ~1 GB (5-7 GB installed, mostly module debug info), so instead of installing
# it we download the .deb and extract only vmlinux into the cache.
#   fetch-vmlinux.sh KVER      e.g. 6.1.0-56-amd64
set -euo pipefail
kver=${1:?usage: fetch-vmlinux.sh KVER}
cache=${CRASHCAPTURE_CACHE:-/var/tmp/crashcapture-cache}
vmlinux=$cache/vmlinux-$kver
if [ -s "$vmlinux" ]; then
    echo "$vmlinux"
    exit 0
fi
mkdir -p "$cache/debs"
package=linux-image-$kver-dbg
(cd "$cache/debs" && apt-get download "$package" >&2)
deb=$(ls -t "$cache/debs/${package}"_*.deb | head -1)
dpkg-deb --fsys-tarfile "$deb" | tar -x --wildcards -O "./usr/lib/debug/boot/vmlinux-$kver" > "$vmlinux.tmp"
mv "$vmlinux.tmp" "$vmlinux"
rm -f "$deb"
echo "$vmlinux"
