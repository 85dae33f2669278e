#include "panic-signature.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <optional>
#include <vector>

#include "text.hpp"

namespace crashcapture {
namespace {

// ---------------------------------------------------------------------------
// Lines

bool is_hex_digit(char c) {
    return is_ascii_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// One message line without what differs between two runs of the same crash:
// pstore's "<4>" syslog level (fs/pstore/platform.c), printk's "[   12.345678]"
// timestamp and, with CONFIG_PRINTK_CALLER, its "[    T123]" caller id
// (kernel/printk/printk.c, info_print_prefix). Leading blanks are dropped too:
// stack frames are printed indented.
std::string_view message_of(std::string_view line) {
    if (line.starts_with('<')) {
        if (const size_t close = line.find('>'); close != std::string_view::npos && close <= 4) {
            line.remove_prefix(close + 1);
        }
    }
    for (int prefix = 0; prefix < 2 && line.starts_with('['); ++prefix) {
        const size_t close = line.find(']');
        if (close == std::string_view::npos) {
            break;
        }
        const auto inside = trim(line.substr(1, close - 1));
        const bool timestamp =
            !inside.empty() && std::all_of(inside.begin(), inside.end(),
                                           [](char c) { return is_ascii_digit(c) || c == '.'; });
        const bool caller = inside.size() > 1 && (inside[0] == 'T' || inside[0] == 'C') &&
                            std::all_of(inside.begin() + 1, inside.end(), is_ascii_digit);
        if (!timestamp && !caller) {
            break;
        }
        line.remove_prefix(close + 1);
    }
    return trim(line);
}

std::vector<std::string_view> message_lines(std::string_view log) {
    std::vector<std::string_view> lines;
    size_t pos = 0;
    while (pos < log.size()) {
        size_t end = log.find('\n', pos);
        if (end == std::string_view::npos) {
            end = log.size();
        }
        lines.push_back(message_of(log.substr(pos, end - pos)));
        pos = end + 1;
    }
    return lines;
}

// ---------------------------------------------------------------------------
// Stack frames

// "name+0x1a/0x20 [module]" (printk's %pS, lib/vsprintf.c) -> "name", with
// the compiler's clone suffixes (.cold, .isra.0, .constprop.0, .part.0)
// dropped: they change with the compiler, not with the bug. Nothing when
// text is not a symbolized frame (a user-space "0x47b7a0", "<TASK>").
std::optional<std::string> frame_function(std::string_view text) {
    const size_t plus = text.find("+0x");
    if (plus == 0 || plus == std::string_view::npos) {
        return std::nullopt;
    }
    std::string_view name = text.substr(0, plus);
    if (!std::all_of(name.begin(), name.end(), [](char c) {
            return is_ascii_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                   c == '_' || c == '.' || c == '$';
        })) {
        return std::nullopt;
    }
    if (const size_t dot = name.find('.'); dot != std::string_view::npos && dot > 0) {
        name = name.substr(0, dot);
    }
    return std::string(name);
}

bool starts_with_any(std::string_view name, std::initializer_list<std::string_view> prefixes) {
    return std::any_of(prefixes.begin(), prefixes.end(),
                       [&](std::string_view prefix) { return name.starts_with(prefix); });
}

// Frames that report, print or deliver the crash rather than cause it, as
// syzkaller's linux.go skips them: panic and printk, the WARN/BUG machinery
// (kernel/panic.c, lib/bug.c), the x86 and arm64 trap and fault entry code
// (arch/x86/kernel/traps.c, dumpstack.c, arch/x86/mm/fault.c,
// arch/arm64/kernel/traps.c, entry-common.c, arch/arm64/mm/fault.c), the
// watchdog and NMI handlers that notice a lockup, the spinlock slow paths a
// soft lockup spins in, and the sleeping primitives a hung task waits in
// (kernel/sched/core.c, kernel/locking/), the string and memory copies
// (arch/x86/lib/memcpy_64.S …) whose caller is the one at fault, the
// busy-wait loops of udelay()/mdelay() a spinning caller sits in
// (arch/x86/lib/delay.c: delay_tsc, delay_halt_*, delay_loop, which one by
// CPU), and the
// checkers that report on behalf of their caller (might_sleep, KASAN,
// KFENCE). sysrq_handle_crash is not here: it is what crashes for sysrq-c.
bool is_reporting_frame(std::string_view name) {
    static constexpr std::array<std::string_view, 63> kExact = {"panic",
                                                                "vpanic",
                                                                "nmi_panic",
                                                                "dump_stack",
                                                                "dump_stack_lvl",
                                                                "show_stack",
                                                                "dump_backtrace",
                                                                "show_trace_log_lvl",
                                                                "show_regs",
                                                                "__show_regs",
                                                                "printk",
                                                                "_printk",
                                                                "vprintk",
                                                                "vprintk_emit",
                                                                "vprintk_default",
                                                                "__warn",
                                                                "warn_slowpath_fmt",
                                                                "check_panic_on_warn",
                                                                "report_bug",
                                                                "handle_bug",
                                                                "bug_handler",
                                                                "die",
                                                                "__die",
                                                                "die_addr",
                                                                "die_body",
                                                                "oops_end",
                                                                "no_context",
                                                                "page_fault_oops",
                                                                "kernelmode_fixup_or_oops",
                                                                "bad_area_nosemaphore",
                                                                "__bad_area_nosemaphore",
                                                                "do_user_addr_fault",
                                                                "do_kern_addr_fault",
                                                                "handle_page_fault",
                                                                "do_trap",
                                                                "do_error_trap",
                                                                "do_int3",
                                                                "fixup_exception",
                                                                "die_kernel_fault",
                                                                "__do_kernel_fault",
                                                                "do_page_fault",
                                                                "do_translation_fault",
                                                                "do_mem_abort",
                                                                "do_bad_area",
                                                                "arm64_notify_die",
                                                                "call_break_hook",
                                                                "brk_handler",
                                                                "do_debug_exception",
                                                                "watchdog_timer_fn",
                                                                "watchdog_overflow_callback",
                                                                "watchdog_hardlockup_check",
                                                                "unknown_nmi_error",
                                                                "default_do_nmi",
                                                                "nmi_handle",
                                                                "do_raw_spin_lock",
                                                                "queued_spin_lock_slowpath",
                                                                "native_queued_spin_lock_slowpath",
                                                                "__pv_queued_spin_lock_slowpath",
                                                                "schedule",
                                                                "__schedule",
                                                                "io_schedule",
                                                                "mutex_lock",
                                                                "down"};
    if (std::find(kExact.begin(), kExact.end(), name) != kExact.end()) {
        return true;
    }
    return starts_with_any(name, {"asm_exc_",
                                  "exc_",
                                  "el1_",
                                  "el1h_",
                                  "_raw_spin_lock",
                                  "schedule_",
                                  "io_schedule_",
                                  "__mutex_lock",
                                  "mutex_lock_",
                                  "rwsem_down_",
                                  "down_read",
                                  "down_write",
                                  "wait_for_completion",
                                  "__wait_for_common",
                                  "wait_for_common",
                                  "do_wait_for_common",
                                  "rt_mutex_",
                                  "__rt_mutex",
                                  "__down",
                                  "delay_",
                                  "__delay",
                                  "__const_udelay",
                                  "__udelay",
                                  "__ndelay",
                                  "memcpy",
                                  "__memcpy",
                                  "memset",
                                  "__memset",
                                  "memmove",
                                  "__memmove",
                                  "strlen",
                                  "strcmp",
                                  "strncpy",
                                  "strscpy",
                                  "__might_",
                                  "might_",
                                  "__schedule_bug",
                                  "kasan_",
                                  "__kasan_",
                                  "__asan_",
                                  "kfence_",
                                  "__kfence_"});
}

// Where the crashing code was: the first frame of the report's registers and
// stack that is not reporting machinery. The interrupted pc comes first (x86
// "RIP: 0010:func+0x15/0x40 [mod]", arm64 "pc : func+0x1c/0x40"; from
// __show_regs), then the "Call Trace:" / "Call trace:" frames in order;
// frames x86 marks "? " are guesses of the unwinder and are passed over.
// The report runs until the next report, the panic, or its end marker.
std::string crashing_function(const std::vector<std::string_view>& lines, size_t begin,
                              size_t end) {
    for (size_t i = begin; i < end; ++i) {
        const auto line = lines[i];
        std::string_view pc;
        if (line.starts_with("RIP: ")) {
            pc = line.substr(5);
            if (const size_t colon = pc.find(':'); colon != std::string_view::npos && colon <= 4) {
                pc.remove_prefix(colon + 1);
            }
        } else if (line.starts_with("pc : ")) {
            pc = line.substr(5);
        } else {
            continue;
        }
        if (auto name = frame_function(pc); name && !is_reporting_frame(*name)) {
            return *name;
        }
        break;
    }
    bool in_trace = false;
    for (size_t i = begin; i < end; ++i) {
        const auto line = lines[i];
        if (line.starts_with("Call Trace:") || line.starts_with("Call trace:")) {
            in_trace = true;
            continue;
        }
        if (!in_trace || line.starts_with("? ")) {
            continue;
        }
        if (auto name = frame_function(line); name && !is_reporting_frame(*name)) {
            return *name;
        }
    }
    return "";
}

// ---------------------------------------------------------------------------
// Reports

enum class ReportKind {
    oops,         // a fault, BUG() or die(): the task or the system dies
    warning,      // WARN()
    soft_lockup,  // kernel/watchdog.c
    hard_lockup,  // kernel/watchdog.c, kernel/watchdog_hld.c
    hung_task,    // kernel/hung_task.c
    nmi,          // arch/x86/kernel/nmi.c
    other,        // any other "BUG: " or "WARNING: " line
};

struct Report {
    size_t line = 0;
    ReportKind kind = ReportKind::other;
    std::string title;
    // "Oops: 0002 [#1]" and the like, which follow the line that says what
    // happened; they stand for the report only when no such line precedes.
    bool secondary = false;
    // The report names its function itself (WARNING's "at FILE:LINE FUNC"),
    // or needs none (kernel BUG at FILE:LINE, NMI): no stack lookup.
    bool titled = false;
};

// Replaces what changes between machines in a free-form text: hex numbers
// of 12 digits or more, with or without 0x (addresses: %px and %016lx print
// 16 digits, hashed %p too), a function's "+0x1a/0x20", and CPU numbers. Shorter numbers stay: they
// are exit codes, error numbers, device numbers.
std::string without_machine_details(std::string_view text) {
    auto cpu_number_length = [&](size_t i) -> size_t {
        for (std::string_view cpu : {"CPU#", "CPU ", "cpu ", "CPU"}) {
            if (text.substr(i).starts_with(cpu) && i + cpu.size() < text.size() &&
                is_ascii_digit(text[i + cpu.size()])) {
                size_t end = i + cpu.size();
                while (end < text.size() && is_ascii_digit(text[end])) {
                    ++end;
                }
                return end - i;
            }
        }
        return 0;
    };
    // "+0x1a/0x20" after a function name (%pS, %pB): the offset in it.
    auto offset_length = [&](size_t i) -> size_t {
        if (!text.substr(i).starts_with("+0x")) {
            return 0;
        }
        size_t end = i + 3;
        while (end < text.size() && is_hex_digit(text[end])) {
            ++end;
        }
        if (text.substr(end).starts_with("/0x")) {
            end += 3;
            while (end < text.size() && is_hex_digit(text[end])) {
                ++end;
            }
        }
        return end - i;
    };
    std::string out;
    size_t i = 0;
    while (i < text.size()) {
        if (const size_t offset = offset_length(i); offset > 0) {
            i += offset;
            continue;
        }
        size_t j = i + (text.substr(i).starts_with("0x") ? 2 : 0);
        const size_t digits_begin = j;
        while (j < text.size() && is_hex_digit(text[j])) {
            ++j;
        }
        const bool word_start = i == 0 || !is_hex_digit(text[i - 1]);
        const bool word_end =
            j == text.size() || !std::isalnum(static_cast<unsigned char>(text[j]));
        if (word_start && word_end && j - digits_begin >= 12) {
            out += "ADDR";
            i = j;
        } else if (const size_t cpu = cpu_number_length(i); cpu > 0) {
            out += "CPU";
            i += cpu;
        } else {
            out += text[i++];
        }
    }
    return std::string(trim(out));
}

// The text before the first of the separators that start a report's
// details: "BUG: unable to handle page fault for address: ffff…" ->
// "BUG: unable to handle page fault".
std::string_view cut_details(std::string_view text,
                             std::initializer_list<std::string_view> separators) {
    size_t cut = text.size();
    for (const auto separator : separators) {
        cut = std::min(cut, text.find(separator));
    }
    return trim(text.substr(0, cut));
}

// A die() header (arch/x86/kernel/dumpstack.c __die_header, arch/arm64/
// kernel/traps.c __die): "STR: 0002 [#1] PREEMPT SMP NOPTI",
// "Internal error: Oops: 0000000096000005 [#1] SMP"; its STR, or nothing.
std::optional<std::string_view> die_header_text(std::string_view line) {
    const size_t number = line.find(" [#");
    if (number == std::string_view::npos) {
        return std::nullopt;
    }
    const size_t colon = line.rfind(": ", number);
    if (colon == std::string_view::npos || colon == 0) {
        return std::nullopt;
    }
    const auto code = line.substr(colon + 2, number - colon - 2);
    if ((code.size() != 4 && code.size() != 16) ||
        !std::all_of(code.begin(), code.end(), is_hex_digit)) {
        return std::nullopt;
    }
    return line.substr(0, colon);
}

std::optional<Report> classify(std::string_view line) {
    // Linux 6.11 and later prefix die() headers with "Oops: "
    // ("Oops: general protection fault, …", "Oops: Oops: 0002 [#1]").
    if (line.starts_with("Oops: ") && die_header_text(line.substr(6))) {
        line.remove_prefix(6);
    }
    Report report;
    // arch/x86/mm/fault.c show_fault_oops: "BUG: kernel NULL pointer
    // dereference, address: …", "BUG: unable to handle page fault for
    // address: …"; arch/x86/kernel/traps.c handle_stack_overflow: "BUG: TASK
    // stack guard page was hit at … (stack is ….….)".
    if (line.starts_with("BUG: kernel NULL pointer dereference") ||
        line.starts_with("BUG: unable to handle") ||
        (line.starts_with("BUG: ") &&
         line.find("stack guard page was hit") != std::string_view::npos)) {
        report.kind = ReportKind::oops;
        report.title = cut_details(line, {",", " for address", " at "});
        return report;
    }
    // arch/arm64/mm/fault.c die_kernel_fault: "Unable to handle kernel NULL
    // pointer dereference at virtual address 0000000000000000".
    if (line.starts_with("Unable to handle kernel ")) {
        report.kind = ReportKind::oops;
        report.title = cut_details(line, {" at virtual address", " at "});
        return report;
    }
    // lib/bug.c report_bug: "kernel BUG at mm/slub.c:123!"
    if (line.starts_with("kernel BUG at ")) {
        report.kind = ReportKind::oops;
        report.title = cut_details(line, {"!"});
        report.titled = true;
        return report;
    }
    // kernel/panic.c __warn: "WARNING: CPU: 1 PID: 42 at FILE:LINE FUNC+0x/0x
    // [mod]", or "… at FUNC+0x/0x" when the warning has no file.
    if (line.starts_with("WARNING: CPU: ")) {
        report.kind = ReportKind::warning;
        report.titled = true;
        const size_t at = line.find(" at ");
        const auto place = at == std::string_view::npos ? std::string_view{} : line.substr(at + 4);
        const size_t space = place.rfind(' ', place.find("+0x"));
        auto name =
            frame_function(space == std::string_view::npos ? place : place.substr(space + 1));
        report.title = name && !name->empty() ? "WARNING in " + *name : "WARNING";
        return report;
    }
    // kernel/watchdog.c watchdog_timer_fn: "watchdog: BUG: soft lockup -
    // CPU#0 stuck for 22s! [comm:123]".
    if (line.find("BUG: soft lockup") != std::string_view::npos) {
        report.kind = ReportKind::soft_lockup;
        report.title = "watchdog: BUG: soft lockup";
        return report;
    }
    // 6.1 kernel/watchdog_hld.c: "NMI watchdog: Watchdog detected hard LOCKUP
    // on cpu 1"; 6.12 kernel/watchdog.c: "watchdog: CPU1: Watchdog detected
    // hard LOCKUP on cpu 1".
    if (line.find("Watchdog detected hard LOCKUP") != std::string_view::npos) {
        report.kind = ReportKind::hard_lockup;
        report.title = "watchdog: hard LOCKUP";
        return report;
    }
    // kernel/hung_task.c check_hung_task: "INFO: task comm:123 blocked for
    // more than 120 seconds."
    if (line.starts_with("INFO: task ") &&
        line.find(" blocked for more than ") != std::string_view::npos) {
        report.kind = ReportKind::hung_task;
        report.title = "INFO: task hung";
        return report;
    }
    // arch/x86/kernel/nmi.c: "Uhhuh. NMI received for unknown reason 2d on
    // CPU 0.", "NMI: PCI system error (SERR) for reason 80 on CPU 0.", "NMI:
    // IOCK error (debug interrupt?) for reason 40 on CPU 0."
    if (line.starts_with("Uhhuh. NMI received for unknown reason")) {
        report.kind = ReportKind::nmi;
        report.title = "NMI received for unknown reason";
        report.titled = true;
        return report;
    }
    if (line.starts_with("NMI: ") && line.find(" for reason ") != std::string_view::npos) {
        report.kind = ReportKind::nmi;
        report.title = cut_details(line, {" for reason "});
        report.titled = true;
        return report;
    }
    if (auto text = die_header_text(line)) {
        report.kind = ReportKind::oops;
        report.title = without_machine_details(cut_details(*text, {","}));
        // x86 die_addr: "general protection fault, probably for non-canonical
        // address 0x…: 0000 [#1]" says what happened itself.
        report.secondary = !text->starts_with("general protection fault");
        return report;
    }
    if (line.starts_with("BUG: ") || line.starts_with("WARNING: ")) {
        // Anything else: "BUG: scheduling while atomic: comm/123/0x00000002",
        // "WARNING: possible circular locking dependency detected"; the
        // words before the details, then the function from the stack. A
        // line that names its function ("BUG: KASAN: slab-use-after-free in
        // FUNC+0x1a/0x40", mm/kasan/report.c; "BUG: KFENCE: use-after-free
        // read in FUNC+0x…", mm/kfence/report.c) keeps its words up to it.
        const size_t prefix = line.find(' ') + 1;
        report.kind = ReportKind::other;
        if (const size_t in = line.rfind(" in "); in != std::string_view::npos && in > prefix) {
            if (auto name = frame_function(line.substr(in + 4))) {
                report.title =
                    without_machine_details(std::string(line.substr(0, in))) + " in " + *name;
                report.titled = true;
                return report;
            }
        }
        report.title = without_machine_details(
            std::string(line.substr(0, prefix)) +
            std::string(cut_details(line.substr(prefix),
                                    {", ", ": ", " at ", " in ", " for ", "!", " - ", " ["})));
        return report;
    }
    return std::nullopt;
}

// "Kernel panic - not syncing: MESSAGE" (kernel/panic.c vpanic).
constexpr std::string_view kPanicPrefix = "Kernel panic - not syncing: ";

// The report a panic message says it comes from, when it is one that only
// names its cause: oops_end and arm64 die ("Fatal exception", "Fatal
// exception in interrupt", "Oops - BUG: Fatal exception"), kernel/panic.c
// check_panic_on_warn ("kernel: panic_on_warn set ..."), kernel/watchdog.c
// ("softlockup: hung tasks", "Hard LOCKUP"), kernel/hung_task.c
// ("hung_task: blocked tasks"), arch/x86/kernel/nmi.c ("NMI: Not continuing",
// "NMI IOCK error: Not continuing"), kernel/exit.c after an oops in init
// ("Attempted to kill init! exitcode=0x0000000b").
std::optional<ReportKind> cause_of_panic(std::string_view message) {
    if (message.find("Fatal exception") != std::string_view::npos ||
        message.starts_with("Attempted to kill init!")) {
        return ReportKind::oops;
    }
    if (message.find("panic_on_warn set") != std::string_view::npos) {
        return ReportKind::warning;
    }
    if (message.starts_with("softlockup: hung tasks")) {
        return ReportKind::soft_lockup;
    }
    if (message.starts_with("Hard LOCKUP")) {
        return ReportKind::hard_lockup;
    }
    if (message.starts_with("hung_task: blocked tasks")) {
        return ReportKind::hung_task;
    }
    if (message.find("Not continuing") != std::string_view::npos) {
        return ReportKind::nmi;
    }
    return std::nullopt;
}

bool ends_report(std::string_view line) {
    return line.starts_with(kPanicPrefix) || line.starts_with("---[ end ");
}

}  // namespace

std::string panic_signature_hash(std::string_view title) {
    uint64_t hash = 0xcbf29ce484222325ULL;  // FNV-1a 64 offset basis
    for (const char c : title) {
        hash ^= static_cast<unsigned char>(c);
        hash *= 0x100000001b3ULL;  // FNV 64 prime
    }
    return fmt::format("{:016x}", hash);
}

PanicSignature panic_signature(std::string_view kernel_log) {
    const auto lines = message_lines(kernel_log);
    std::optional<size_t> panic_line;
    std::vector<Report> reports;
    size_t last_primary = 0;
    bool any_primary = false;
    for (size_t i = 0; i < lines.size(); ++i) {
        if (lines[i].starts_with(kPanicPrefix)) {
            panic_line = i;
            break;  // what follows the panic is its own backtrace and the end
        }
        auto report = classify(lines[i]);
        if (!report) {
            continue;
        }
        report->line = i;
        if (report->secondary && any_primary && i - last_primary <= 12) {
            continue;  // the "Oops: 0002 [#1]" of the report above
        }
        if (!report->secondary) {
            last_primary = i;
            any_primary = true;
        }
        reports.push_back(std::move(*report));
    }

    const Report* chosen = nullptr;
    std::string panic_message;
    if (panic_line) {
        panic_message = std::string(trim(lines[*panic_line].substr(kPanicPrefix.size())));
        if (const auto cause = cause_of_panic(panic_message)) {
            for (const auto& report : reports) {
                if (report.kind == *cause) {
                    chosen = &report;
                    break;
                }
            }
        }
    } else {
        // No panic in the log (cut short, or a crash that does not panic):
        // the first oops, else the first report of any kind.
        for (const auto& report : reports) {
            if (report.kind == ReportKind::oops) {
                chosen = &report;
                break;
            }
        }
        if (!chosen && !reports.empty()) {
            chosen = &reports.front();
        }
    }

    PanicSignature signature;
    if (chosen) {
        signature.title = chosen->title;
        if (!chosen->titled) {
            size_t end = chosen->line + 1;
            while (end < lines.size() && end - chosen->line < 400 && !ends_report(lines[end])) {
                if (auto next = classify(lines[end]); next && !next->secondary) {
                    break;
                }
                ++end;
            }
            if (auto function = crashing_function(lines, chosen->line + 1, end);
                !function.empty()) {
                signature.title += " in " + function;
            }
        }
    } else if (panic_line) {
        signature.title = without_machine_details(std::string(kPanicPrefix) + panic_message);
    } else if (std::find(lines.begin(), lines.end(), "sysrq: Trigger a crash") != lines.end()) {
        // drivers/tty/sysrq.c: a log cut short between sysrq-c and its panic.
        signature.title = "sysrq: Trigger a crash";
    }
    if (!signature.title.empty()) {
        signature.hash = panic_signature_hash(signature.title);
    }
    return signature;
}

}  // namespace crashcapture
