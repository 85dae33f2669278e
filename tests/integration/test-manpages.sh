#!/bin/bash
# The man pages against the programs they document, from a build directory
# (BUILD, default ./build; the pages are rendered from man/*.scd with scdoc,
# or taken from BUILD/man without it):
#   * every page renders with man -l without a groff or man warning;
#   * crashcapture-save, crashcapture-build-initrd and crashcapturectl: every long option of --help (and
#     of each command's --help) is in the man page's OPTIONS, and every long
#     option there is in --help; crashcapturectl's commands are its COMMANDS;
#     the defaults --help shows are the pages' "Default:"; the exit codes of
#     the --help footer are the EXIT STATUS entries, both ways;
#   * crashcaptured: it has no --help (it takes no options), so its page must
#     list none; if it ever gets one, it is compared like the others;
#   * crashcapture.conf(5) and the packaged packaging/crashcapture.conf list
#     every key of Config::describe() (lib/config/config.cpp) in its section with its
#     default, and no other key (a probe built with the tests prints them).
# Exit status = number of failures (tests/checks.sh).
#   tests/integration/test-manpages.sh
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
BUILD=$(cd "${BUILD:-$TOP/build}" && pwd)
MANDIR=$BUILD/man
SAVE=$BUILD/cli/crashcapture-save
CTL=$BUILD/cli/crashcapturectl
BUILDER=$BUILD/cli/crashcapture-build-initrd
DAEMON=$BUILD/daemon/crashcaptured
CONFFILE=$TOP/packaging/crashcapture.conf
# shellcheck source=../checks.sh
. "$HERE/../checks.sh"

work=$(mktemp -d "${TMPDIR:-/tmp}/crashcapture-manpages.XXXXXX")
trap 'rm -rf "$work"' EXIT

pages=(crashcaptured.8 crashcapturectl.1 crashcapture-save.8 crashcapture.conf.5 crashcapture-build-initrd.8)
# Rendered here from the sources (man/NAME.scd) when scdoc is installed, so
# that a page edited since the last build is the one checked (a stale page
# in BUILD once hid an scdoc error that failed the package build); else
# BUILD's.
if command -v scdoc > /dev/null; then
    MANDIR=$work/man
    mkdir -p "$MANDIR"
    for page in "${pages[@]}"; do
        scdoc < "$TOP/man/$page.scd" > "$MANDIR/$page" 2> "$work/scdoc.err" ||
            { fail "$page: scdoc: $(cat "$work/scdoc.err")"; rm -f "$MANDIR/$page"; }
    done
fi
for page in "${pages[@]}"; do
    [ -s "$MANDIR/$page" ] || { fail "$MANDIR/$page missing (build the 'man' target; scdoc installed?)"; continue; }
    warnings=$(MANWIDTH=80 man --warnings -l "$MANDIR/$page" 2>&1 > /dev/null)
    [ -z "$warnings" ] && pass "$page renders without warnings" || fail "$page: man --warnings: $warnings"
    # Flat text for the checks: very wide lines, no hyphenation, no overstrike.
    MANWIDTH=1000 MANROFFOPT='-rHY=0' man -l "$MANDIR/$page" 2> /dev/null | col -bx > "$work/$page.txt"
done
for program in "$SAVE" "$CTL" "$DAEMON" "$BUILDER"; do
    [ -x "$program" ] || fail "$program not built"
done
[ "$failures" = 0 ] || checks_exit

# ---- --help output ----
"$SAVE" --help > "$work/save.help" 2>&1 || fail "crashcapture-save --help exits $?"
"$CTL" --help > "$work/ctl.help" 2>&1 || fail "crashcapturectl --help exits $?"
"$BUILDER" --help > "$work/builder.help" 2>&1 || fail "crashcapture-build-initrd --help exits $?"
# Each command's options (every command accepts --help).
awk '/^Subcommands:/ {on = 1; next} on && /^  [a-z]/ {print $1} on && /^$/ {on = 0}' "$work/ctl.help" \
    > "$work/ctl.commands"
: > "$work/ctl.sub.help"
while read -r command; do
    echo "## $command" >> "$work/ctl.sub.help"
    "$CTL" "$command" --help >> "$work/ctl.sub.help" 2>&1 || fail "crashcapturectl $command --help exits $?"
done < "$work/ctl.commands"

# The daemon reads no arguments: --help would start it. Run it where it can
# do no harm (a fake root, a fake kexec, a session bus that does not exist):
# it fails at once connecting to the bus, or prints a help if it has one.
mkdir -p "$work/root"
env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin CRASHCAPTURE_ROOT="$work/root" CRASHCAPTURE_KEXEC=fake \
    CRASHCAPTURE_BUS=session DBUS_SESSION_BUS_ADDRESS="unix:path=$work/no-bus" \
    CRASHCAPTURE_INITRD_BUILDER=/bin/false timeout 10 "$DAEMON" --help > "$work/daemon.help" 2>&1

# The configuration's keys and defaults, as the parser has them.
# (tests/integration/probes/config-describe.cpp, built with the tests)
if [ ! -x "$BUILD/tests/config-describe-probe" ]; then
    fail "no $BUILD/tests/config-describe-probe: build with -DBUILD_TESTING=ON"
elif ! "$BUILD/tests/config-describe-probe" > "$work/describe.txt"; then
    fail "the Config::describe() probe failed"
fi
cp "$CONFFILE" "$work/crashcapture.conf"

# Its PASS lines are counted from its output; its failures are its exit status.
python3 - "$work" <<'PY' | tee "$work/checks.out" || failures=$((failures + $?))
import re, sys
work = sys.argv[1]
failures = 0

def result(ok, message):
    global failures
    print(("PASS: " if ok else "FAIL: ") + message)
    if not ok:
        failures += 1

def read(name):
    with open(f"{work}/{name}", encoding="utf-8", errors="replace") as f:
        return f.read()

def sections(text):
    """Top-level sections of a rendered page: {NAME: [lines]}."""
    out, current = {}, None
    for line in text.splitlines():
        if line and not line[0].isspace() and line.upper() == line and not line.endswith(")"):
            current = line.strip()
            out[current] = []
        elif current:
            out[current].append(line)
    return out

def entries(lines):
    """Tagged paragraphs: [(tag line, body text)] from 7-space tags."""
    out = []
    for line in lines:
        if re.match(r"^ {7}\S", line):
            out.append([line.strip(), ""])
        elif out and line.strip():
            out[-1][1] += " " + line.strip()
    return [(t, " ".join(b.split())) for t, b in out]

LONG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")

def help_options(text):
    """{--long: default or None} from CLI11 option lines."""
    options = {}
    for line in text.splitlines():
        m = re.match(r"^ {2}((?:-\w,)?--[a-z][\w-]*.*)$", line)
        if not m:
            continue
        column = re.split(r"\s{2,}", m.group(1).strip())[0]
        name = LONG.search(column).group(0)
        default = re.search(r"=(\S+)$", column)
        options[name] = default.group(1) if default else None
    return options

def exit_codes(help_text):
    m = re.search(r"Exit status: (.*?)(?:\.|$)", " ".join(help_text.split()))
    return set(re.findall(r"(?:^|, )(\d+) ", m.group(1))) if m else set()

def man_exit_codes(page):
    return {t for t, _ in entries(page.get("EXIT STATUS", [])) if t.isdigit()}

def option_entries(page):
    """{--long: body} from the tags of OPTIONS (and of COMMANDS: "test [--yes]")."""
    out = {}
    for tag, body in entries(page.get("COMMANDS", [])) + entries(page.get("OPTIONS", [])):
        for name in LONG.findall(tag):
            out[name] = body
    return out

def compare(program, help_opts, page, defaults=True):
    documented = option_entries(page)
    missing = sorted(set(help_opts) - set(documented))
    extra = sorted(set(documented) - set(help_opts))
    result(not missing, f"{program}: every --help option is in the man page" +
           (f" (missing: {' '.join(missing)})" if missing else ""))
    result(not extra, f"{program}: every man page option is in --help" +
           (f" (not in --help: {' '.join(extra)})" if extra else ""))
    if not defaults:
        return
    for name, default in sorted(help_opts.items()):
        if default is None or name not in documented:
            continue
        ok = re.search(r"Default: " + re.escape(default) + r"(?=[\s.,;]|$)", documented[name])
        result(bool(ok), f"{program} {name}: the man page says Default: {default}")

# ---- crashcapture-save ----
save_help = read("save.help")
save_page = sections(read("crashcapture-save.8.txt"))
compare("crashcapture-save", help_options(save_help), save_page)
codes, man_codes = exit_codes(save_help), man_exit_codes(save_page)
result(bool(codes) and codes == man_codes,
       f"crashcapture-save: exit codes of --help {sorted(codes)} = EXIT STATUS {sorted(man_codes)}")

# ---- crashcapture-build-initrd ----
builder_help = read("builder.help")
builder_page = sections(read("crashcapture-build-initrd.8.txt"))
compare("crashcapture-build-initrd", help_options(builder_help), builder_page)
codes, man_codes = exit_codes(builder_help), man_exit_codes(builder_page)
result(bool(codes) and codes == man_codes,
       f"crashcapture-build-initrd: exit codes of --help {sorted(codes)} = EXIT STATUS {sorted(man_codes)}")

# ---- crashcapturectl ----
ctl_help = read("ctl.help")
ctl_page = sections(read("crashcapturectl.1.txt"))
sub_help = {}
for block in read("ctl.sub.help").split("## ")[1:]:
    name, _, text = block.partition("\n")
    sub_help[name] = help_options(text)
all_options = dict(help_options(ctl_help))
for options in sub_help.values():
    all_options.update(options)
compare("crashcapturectl", all_options, ctl_page)
commands = set(read("ctl.commands").split())
man_commands = {tag.split()[0] for tag, _ in entries(ctl_page.get("COMMANDS", []))}
result(commands == man_commands and commands,
       f"crashcapturectl: commands of --help = COMMANDS of the man page"
       f" (--help only: {sorted(commands - man_commands)}, man only: {sorted(man_commands - commands)})")
man_command_tags = {tag.split()[0]: tag for tag, _ in entries(ctl_page.get("COMMANDS", []))}
for command, options in sorted(sub_help.items()):
    own = set(options) - set(help_options(ctl_help)) - {"--help", "--json"}
    tag = man_command_tags.get(command, "")
    missing = sorted(o for o in own if o not in tag)
    result(not missing, f"crashcapturectl {command}: its own options appear in its COMMANDS entry" +
           (f" (missing: {' '.join(missing)})" if missing else ""))
codes, man_codes = exit_codes(ctl_help), man_exit_codes(ctl_page)
result(bool(codes) and codes == man_codes,
       f"crashcapturectl: exit codes of --help {sorted(codes)} = EXIT STATUS {sorted(man_codes)}")

# ---- crashcaptured ----
daemon_help = read("daemon.help")
daemon_page = sections(read("crashcaptured.8.txt"))
if "Usage" in daemon_help or "usage" in daemon_help:
    compare("crashcaptured", help_options(daemon_help), daemon_page)
else:
    listed = sorted(set(LONG.findall("\n".join(daemon_page.get("OPTIONS", [])))))
    result(not listed, "crashcaptured has no --help (it reads no arguments); its man page lists no "
           "options" + (f" (but it lists {' '.join(listed)})" if listed else ""))
    result("OPTIONS" in daemon_page and "no options" in " ".join(daemon_page["OPTIONS"]),
           "crashcaptured(8) says it takes no options")

# ---- crashcapture.conf: Config::describe(), the man page, the packaged file ----
def key_values(text, commented):
    """{(section, key): value} from describe() output or the packaged file."""
    out, section = {}, None
    for line in text.splitlines():
        line = line.strip()
        m = re.match(r"^\[(\w+)\]$", line)
        if m:
            section = m.group(1)
            continue
        m = re.match(r"^(#?)([A-Z]\w*)=(.*)$", line)
        if m and (commented or not m.group(1)):
            out[(section, m.group(2))] = m.group(3)
    return out

try:
    describe = key_values(read("describe.txt"), commented=False)
except OSError:
    describe = {}
result(len(describe) > 0, f"Config::describe() lists {len(describe)} keys")
conf_page = sections(read("crashcapture.conf.5.txt"))
documented = {}
for title, lines in conf_page.items():
    m = re.match(r"^\[(\w+)\] SECTION$", title)
    if not m:
        continue
    for tag, body in entries(lines):
        k = re.match(r"^([A-Z]\w*)=", tag)
        if k:
            documented[(m.group(1).capitalize(), k.group(1))] = body
for (section, key), default in sorted(describe.items()):
    body = documented.get((section, key))
    if body is None:
        result(False, f"crashcapture.conf(5): [{section}] {key}= is documented")
        continue
    if default:
        ok = re.search(r"Default: " + re.escape(default) + r"(?=[\s.,;]|$)", body)
        expected = f"Default: {default}"
    else:
        ok = re.search(r"Default: (unset|empty)\b", body)
        expected = "Default: unset or empty"
    result(bool(ok), f"crashcapture.conf(5): [{section}] {key}= says {expected}")
extra = sorted(f"[{s}] {k}=" for s, k in set(documented) - set(describe))
result(not extra, "crashcapture.conf(5) documents no key the parser lacks" +
       (f" ({' '.join(extra)})" if extra else ""))
packaged = key_values(read("crashcapture.conf"), commented=True)
diff = sorted(f"[{s}] {k}={packaged.get((s, k))!r} vs default {describe.get((s, k))!r}"
              for s, k in set(packaged) | set(describe) if packaged.get((s, k)) != describe.get((s, k)))
result(bool(describe) and not diff,
       "packaging/crashcapture.conf lists every key with its default" + (f": {'; '.join(diff)}" if diff else ""))
active = key_values("\n".join(l for l in read("crashcapture.conf").splitlines() if not l.lstrip().startswith("#")),
                    commented=False)
result(not active, "packaging/crashcapture.conf sets nothing (every key commented out)")
sys.exit(min(failures, 100))
PY

passes=$((passes + $(grep -c '^PASS: ' "$work/checks.out")))
echo
checks_exit
