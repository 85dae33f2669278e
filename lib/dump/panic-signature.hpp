// A name for each crash: a stable one-line title derived from the crashed
// kernel's log (vmcore-dmesg.txt, or a pstore dmesg record), and a short hash
// of it, so the same bug on two machines, or twice on one, gets the same name.
// Modelled on how syzkaller's report parser (pkg/report/linux.go) titles
// oopses; the rules and the skip list are in the README, "Crash signatures".
//
// crashcapture-save computes it in the capture kernel from the log it saves
// and writes it to status.json (schema 2); after the reboot the daemon
// computes it from vmcore-dmesg.txt for records that lack it (schema 1,
// older savers) and from pstore records for lost captures. It is text
// processing only, so it lives with the code that runs in the capture
// kernel.
#pragma once

#include <string>
#include <string_view>

namespace crashcapture {

struct PanicSignature {
    // "BUG: kernel NULL pointer dereference in FUNC", "WARNING in FUNC",
    // "Kernel panic - not syncing: sysrq triggered crash", …; empty when the
    // log holds no crash report the parser knows.
    std::string title;
    // panic_signature_hash(title); empty when title is.
    std::string hash;

    bool empty() const { return title.empty(); }
    bool operator==(const PanicSignature&) const = default;
};

// The signature of the crash a kernel log ends in. Lines may carry printk's
// "[   12.345678]" timestamps, "[T123]" caller ids and pstore's "<4>" levels.
// Addresses, offsets, PIDs, CPU numbers, comm names and taint letters never
// reach the title.
PanicSignature panic_signature(std::string_view kernel_log);

// 16 lower-case hex digits: FNV-1a 64 of the title's bytes. FNV-1a because
// the hash names a title, it does not protect it: it has to be stable across
// versions, machines and byte orders and short enough to paste, not
// collision-resistant against an adversary; it needs no crypto library
// (nothing in the build links one).
std::string panic_signature_hash(std::string_view title);

}  // namespace crashcapture
