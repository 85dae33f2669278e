#!/bin/bash
# Copy the source tree into DEST: what git tracks plus untracked files it
# does not ignore (so uncommitted changes are included, build directories
# are not). Outside a git checkout, everything but .git and build*/.
# Used by build-deb.sh and build-rpm.sh.
#   scripts/copy-source-tree.sh DEST
set -euo pipefail
dest=${1:?usage: copy-source-tree.sh DEST}
cd "$(dirname "$0")/.."
mkdir -p "$dest"
if git rev-parse --is-inside-work-tree > /dev/null 2>&1; then
    # Files deleted in the work tree but still in the index are skipped.
    git ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
        tar --null --no-recursion -T - -cf - | tar -xf - -C "$dest"
else
    tar --exclude=./.git --exclude=./build --exclude='./build-*' -cf - . | tar -xf - -C "$dest"
fi
