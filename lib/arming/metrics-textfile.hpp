// The daemon's state for Prometheus: the text exposition format that
// node_exporter's textfile collector reads from *.prom files
// (https://prometheus.io/docs/instrumenting/exposition_formats/), so a
// fleet asks "is every machine armed?" of the Prometheus it already runs.
// Names follow Prometheus' conventions: a crashcapture_ prefix, the unit
// as a suffix (_bytes, _timestamp_seconds), 0/1 gauges for yes/no, and one
// series per value for enumerations (crashcapture_state{state=...}).
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "result.hpp"

namespace crashcapture {

struct MetricsSnapshot {
    std::string state;            // the Manager's State
    bool armed = false;           // /sys/kernel/kexec_crash_loaded is 1
    bool initrd_current = false;  // State is loaded: what is armed is what the inputs make
    uint64_t reserved_bytes = 0;
    uint64_t needed_bytes = 0;  // EstimateReservation's needed_bytes; 0: unknown
    bool reservation_fits = false;
    uint64_t loaded_timestamp_seconds = 0;
    std::map<std::string, uint64_t> dumps_by_result;  // complete, incomplete, failed, lost
    int64_t last_crash_timestamp_seconds = 0;         // 0: no crash known
    // Dumps per panic signature (hash -> title, count), when the dump list
    // carries one ("signature_hash", "signature").
    struct Signature {
        std::string title;
        uint64_t dumps = 0;
    };
    std::map<std::string, Signature> signatures;
    std::string version;
};

// The states every crashcapture_state series is written for, so a state
// that is not the current one reads 0 rather than vanishing.
inline const std::vector<std::string> kMetricsStates = {"unavailable", "idle",   "building",
                                                        "loading",     "loaded", "failed"};
inline const std::vector<std::string> kMetricsResults = {"complete", "incomplete", "failed",
                                                         "lost"};

// Fills the dump counts, the last crash time and the signatures from
// ListDumps' JSON array (id, result, crash_time; a lost capture's
// lost.last_seen stands for its crash time).
void count_dumps(const nlohmann::json& dumps, MetricsSnapshot& snapshot);

// The exposition text: # HELP and # TYPE lines, then the samples.
std::string render_metrics(const MetricsSnapshot& snapshot);

// A label value escaped as the format asks: backslash, double quote and
// newline.
std::string escape_label_value(const std::string& value);

// Writes the text to path atomically (a .tmp the collector ignores, then
// rename), mode 0644: node_exporter runs as its own user. ENOENT when the
// directory does not exist (no node_exporter: nothing to do).
Status write_metrics_textfile(const std::string& path, const std::string& text);

}  // namespace crashcapture
