// The capture kernel's command line, derived from the running kernel's
// (/proc/cmdline) the way kdump-utils' prepare_cmdline() (kdump-lib.sh) and
// Debian's kdump-config do it:
//   1. the running line, split into words (quotes kept: foo="a b" is one word),
//      without the words after "--" (arguments for the running system's init)
//      and without the parameters in kCaptureRemovedParameters;
//   2. minus the words of KernelCommandLineRemove=;
//   3. plus kCaptureAddedParameters (those of the architecture; nr_cpus= with
//      the CPUs chosen), the crashed boot's id and, if
//      known, disable_cpu_apicid= — each left out when KernelCommandLineRemove=
//      names it or KernelCommandLineAppend= sets it;
//   4. plus KernelCommandLineAppend=, last, so it wins.
// The reasons for every parameter are in capture-cmdline.cpp.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config.hpp"
#include "kernel-command-line.hpp"
#include "result.hpp"

namespace crashcapture {

// The capture kernel's architecture: kdump-utils adds different words for
// each (gen-kdump-sysconfig.sh). The daemon's is the one it was built for.
enum class CaptureArchitecture { any, x86_64, arm64 };
constexpr CaptureArchitecture running_architecture() {
#if defined(__aarch64__)
    return CaptureArchitecture::arm64;
#else
    return CaptureArchitecture::x86_64;
#endif
}

struct CaptureParameter {
    std::string_view word;    // as removed (a name) or added (the whole word)
    std::string_view reason;  // with its source
    // Only for a capture kernel of this architecture (any: all of them).
    CaptureArchitecture architecture = CaptureArchitecture::any;
};
// Built-in removals, matched by name (any value).
extern const std::vector<CaptureParameter> kCaptureRemovedParameters;
// Built-in additions, each for every architecture or for one.
extern const std::vector<CaptureParameter> kCaptureAddedParameters;

// The parameter that tells the capture which boot crashed; crashcapture-save
// records it (--boot-id). A name with a dot is not a kernel parameter and is
// not passed to init: it only shows up in /proc/cmdline.
inline constexpr std::string_view kBootIdParameter = "crashcapture.boot_id";

// The longest line kexec_file_load() accepts for an x86_64 bzImage: the
// header's cmdline_size (2047, COMMAND_LINE_SIZE - 1) minus the
// " elfcorehdr=0x…" the kernel appends (MAX_ELFCOREHDR_STR_LEN, 30, in
// arch/x86/kernel/kexec-bzimage64.c) minus the terminating NUL.
inline constexpr size_t kMaxCaptureCommandLineBytes = 2047 - 30 - 1;

struct CaptureCommandLineOptions {
    std::vector<std::string> remove;  // KernelCommandLineRemove= patterns
    std::vector<std::string> append;  // KernelCommandLineAppend= words
    // /proc/sys/kernel/random/boot_id of the running boot; empty = leave out.
    std::string boot_id;
    // The boot CPU's initial APIC id (parse_boot_cpu_apicid()); adds
    // disable_cpu_apicid= like kdump-utils' prepare_cmdline().
    std::optional<unsigned> boot_cpu_apicid;
    CaptureArchitecture architecture = running_architecture();
    // The capture kernel's nr_cpus= (choose_capture_cpus()); at least 1.
    unsigned capture_cpus = 1;
};

// True if parameter applies to a capture kernel of architecture.
constexpr bool applies_to(const CaptureParameter& parameter, CaptureArchitecture architecture) {
    return parameter.architecture == CaptureArchitecture::any ||
           parameter.architecture == architecture;
}

// The capture kernel's line, or an error when it is longer than
// kMaxCaptureCommandLineBytes, when a remove/append word is unusable, or when
// boot_id is not a UUID.
Result<std::string> build_capture_command_line(std::string_view running_command_line,
                                               const CaptureCommandLineOptions& options);

// The same with KernelCommandLineRemove=/Append= from the config.
Result<std::string> derive_capture_command_line(
    std::string_view running_command_line, const Config& config, std::string_view boot_id,
    std::optional<unsigned> boot_cpu_apicid = std::nullopt, unsigned capture_cpus = 1);

// "initial apicid" of processor 0 in /proc/cpuinfo (x86), as kdump-utils'
// get_bootcpu_apicid() finds it; nothing on other architectures.
std::optional<unsigned> parse_boot_cpu_apicid(std::string_view cpuinfo);

}  // namespace crashcapture
