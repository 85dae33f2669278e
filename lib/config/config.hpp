// crashcapture.conf(5): /etc/crashcapture/crashcapture.conf, then every
// /etc/crashcapture/crashcapture.conf.d/*.conf in byte order of their names,
// each assignment overriding the one before (systemd.syntax(7), the drop-in
// scheme of coredump.conf(5)). Only /etc: the daemon's defaults live in the
// code, so there is no /usr/lib copy to override, and nothing writes /run.
//
// Syntax, as systemd's config_parse() reads it:
//   [Section]          Dump, Capture or Retention (case-sensitive)
//   Key=value          whitespace around key and value is dropped
//   # or ; comment     whole lines only: a '#' after a value is part of it
//   trailing '\'       continues the line on the next one
//   Key=               resets Key to its default (and empties a list)
// An unknown section or key, a bad value, a line without '=' or a key
// outside any section is an error naming the file, line and key; every error
// in every file is collected, so an admin fixes them all in one go.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dump-options.hpp"
#include "page-compressor.hpp"
#include "result.hpp"
#include "system-paths.hpp"
#include "target.hpp"
#include "units.hpp"

namespace crashcapture {

// ---------------------------------------------------------------------------
// Group=: a numeric group id, or a name as useradd(8) accepts it (letters,
// digits, '_', '.', '-', not starting with '-', at most 32 bytes, an optional
// trailing '$'). Only its spelling is checked: the capture initrd and the
// host resolve it.
std::optional<std::string> check_group_name(std::string_view text);

// ---------------------------------------------------------------------------
enum class FailureAction { reboot, poweroff, shell, dump_to_rootfs };
std::string_view to_string(FailureAction action);
std::optional<FailureAction> parse_failure_action(std::string_view text);

enum class FinalAction { reboot, poweroff, halt };
std::string_view to_string(FinalAction action);
std::optional<FinalAction> parse_final_action(std::string_view text);

// ---------------------------------------------------------------------------
// [Retention]: how the daemon trims old dumps after a reboot. Nothing is set
// by default: like kdump-tools and kdump-utils, dumps are kept until an admin
// says otherwise.
struct RetentionSettings {
    std::optional<SizeLimit> max_use;    // MaxUse=: all dumps together at most this
    std::optional<SizeLimit> keep_free;  // KeepFree=: leave this much free on the filesystem
    uint64_t keep_dumps = 0;             // KeepDumps=: at most this many dumps; 0 = no limit

    bool operator==(const RetentionSettings&) const = default;
};

inline constexpr uint64_t kDefaultCaptureTimeoutUsec = 30ULL * 60 * 1000 * 1000;  // 30min
// CPUs=N accepts 1 to this: Debian 12's amd64 kernels are built with
// CONFIG_MAXSMP, so CONFIG_NR_CPUS=8192 (/boot/config-*), and the kernel caps nr_cpus= at
// nr_cpu_ids anyway (kernel/smp.c nrcpus()).
inline constexpr unsigned kMaxConfiguredCaptureCpus = 8192;
inline constexpr std::string_view kDefaultTargetDirectory = "/var/crash";
// [Metrics] Textfile=: node_exporter's textfile collector directory on
// Debian (prometheus-node-exporter's --collector.textfile.directory). The
// daemon writes there only when the directory exists.
inline constexpr std::string_view kDefaultMetricsTextfile =
    "/var/lib/prometheus/node-exporter/crashcapture.prom";

struct Config {
    // [Dump]
    Target target{TargetKind::directory, std::string(kDefaultTargetDirectory), {}, {}, 0};
    // Format=; unset = effective_format(): the kdump-compressed file, or the
    // flattened stream for targets that cannot seek (raw, ssh).
    std::optional<DumpFormat> format;
    int dump_level = kDefaultDumpLevel;
    Compression compression = Compression::zstd;
    // CompressionLevel=; unset = default_compression_level(compression).
    std::optional<int> compression_level;
    // Group=: a group name or numeric id that may read the dumps (directory
    // 0750, dump and kernel log 0640, owned by root and this group); empty:
    // root only (0700, 0600). status.json is 0644 either way.
    std::string group;

    // [Capture]
    std::vector<std::string> cmdline_append;  // KernelCommandLineAppend=, word by word
    std::vector<std::string> cmdline_remove;  // KernelCommandLineRemove=, word by word
    std::string kernel_override;              // Kernel=; empty = the running kernel's image
    std::string initrd_override;              // Initrd=; empty = build one
    FailureAction failure_action = FailureAction::reboot;
    FinalAction final_action = FinalAction::reboot;
    uint64_t timeout_usec = kDefaultCaptureTimeoutUsec;  // TimeoutSec=; kInfiniteTimeSpan = none
    // CPUs=: the capture kernel's nr_cpus=; unset = auto, as many as the
    // reservation pays for (choose_capture_cpus(), lib/arming/capture-cpus.hpp).
    std::optional<unsigned> capture_cpus;

    // [Retention]
    RetentionSettings retention;

    // [Metrics]
    // Textfile=: the Prometheus text file the daemon keeps current; empty:
    // none.
    std::string metrics_textfile = std::string(kDefaultMetricsTextfile);

    DumpFormat effective_format() const;
    int effective_compression_level() const;
    // One line for D-Bus and logs: "/var/crash", "ssh://dump@backup/crash".
    std::string target_description() const;
    // The effective configuration in crashcapture.conf syntax, every key
    // listed; reading it back gives an equal Config.
    std::string describe() const;

    bool operator==(const Config&) const = default;
};

// Every key, by section, with its effective value (Format and
// CompressionLevel resolved, unset limits as null, TimeoutSec in µs and as
// text), for crashcapturectl and D-Bus.
nlohmann::json to_json(const Config& config);

// ---------------------------------------------------------------------------
struct ConfigDiagnostic {
    std::string file;
    unsigned line = 0;  // 1-based; 0 when the problem is the file itself
    std::string message;

    // "/etc/crashcapture/crashcapture.conf:12: DumpLevel=40: not a dump level (0-31)"
    std::string to_string() const;
    bool operator==(const ConfigDiagnostic&) const = default;
};

struct ConfigSource {
    std::string name;  // a path, for messages
    std::string text;
};

struct LoadedConfig {
    Config config;                         // what the valid lines said
    std::vector<std::string> files;        // files read, in order
    std::vector<ConfigDiagnostic> errors;  // empty when the config is good
};

// Applies sources in order over the defaults, then checks what only the
// whole can tell (CompressionLevel against Compression, Format against
// Target). Pure: what load_config_files() uses after reading.
LoadedConfig parse_config(const std::vector<ConfigSource>& sources);

// The main file (missing = defaults) and the drop-ins ("*.conf" regular
// files, or symlinks to them, in crashcapture.conf.d, sorted by name;
// a missing directory has none). A file that cannot be read is an error.
LoadedConfig load_config_files(const SystemPaths& paths);

// load_config_files(), as one Result: the config, or an error whose message
// lists every problem, one per line.
Result<Config> load_config(const SystemPaths& paths);

}  // namespace crashcapture
