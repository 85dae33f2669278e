#include "metrics-textfile.hpp"

#include <fcntl.h>

#include <fmt/format.h>

#include "file-util.hpp"
#include "unique-fd.hpp"

namespace crashcapture {
namespace {

void family(std::string& out, const char* name, const char* type, const char* help) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

int64_t number_or_zero(const nlohmann::json& object, const char* key) {
    const auto it = object.find(key);
    if (it == object.end()) {
        return 0;
    }
    if (it->is_number_integer()) {
        return it->get<int64_t>();
    }
    if (it->is_number_unsigned()) {
        return static_cast<int64_t>(it->get<uint64_t>());
    }
    return 0;
}

std::string text_or_empty(const nlohmann::json& object, const char* key) {
    const auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

void count_dumps(const nlohmann::json& dumps, MetricsSnapshot& snapshot) {
    for (const auto& result : kMetricsResults) {
        snapshot.dumps_by_result[result] = 0;
    }
    if (!dumps.is_array()) {
        return;
    }
    for (const auto& dump : dumps) {
        if (!dump.is_object()) {
            continue;
        }
        const std::string result = text_or_empty(dump, "result");
        ++snapshot.dumps_by_result[result.empty() ? "unknown" : result];
        int64_t when = number_or_zero(dump, "crash_time");
        if (when == 0 && dump.contains("lost") && dump["lost"].is_object()) {
            when = number_or_zero(dump["lost"], "last_seen");
        }
        snapshot.last_crash_timestamp_seconds =
            std::max(snapshot.last_crash_timestamp_seconds, when);
        const std::string hash = text_or_empty(dump, "signature_hash");
        if (!hash.empty()) {
            auto& signature = snapshot.signatures[hash];
            signature.title = text_or_empty(dump, "signature");
            ++signature.dumps;
        }
    }
}

std::string escape_label_value(const std::string& value) {
    std::string out;
    out.reserve(value.size());
    for (const char c : value) {
        switch (c) {
            case '\\':
                out += "\\\\";
                break;
            case '"':
                out += "\\\"";
                break;
            case '\n':
                out += "\\n";
                break;
            default:
                out += c;
        }
    }
    return out;
}

std::string render_metrics(const MetricsSnapshot& s) {
    std::string out;
    family(out, "crashcapture_armed", "gauge",
           "1 when a capture kernel is loaded (kexec_crash_loaded), so a crash would be captured");
    out += fmt::format("crashcapture_armed {}\n", s.armed ? 1 : 0);
    family(out, "crashcapture_state", "gauge",
           "crashcaptured's State: 1 for the current one, 0 for the others");
    for (const auto& state : kMetricsStates) {
        out +=
            fmt::format("crashcapture_state{{state=\"{}\"}} {}\n", state, state == s.state ? 1 : 0);
    }
    if (std::find(kMetricsStates.begin(), kMetricsStates.end(), s.state) == kMetricsStates.end() &&
        !s.state.empty()) {
        out += fmt::format("crashcapture_state{{state=\"{}\"}} 1\n", escape_label_value(s.state));
    }
    family(out, "crashcapture_initrd_current", "gauge",
           "1 when the loaded capture kernel and initrd are the ones the current kernel, "
           "configuration and inputs make (State loaded)");
    out += fmt::format("crashcapture_initrd_current {}\n", s.initrd_current ? 1 : 0);
    family(out, "crashcapture_reserved_bytes", "gauge",
           "Memory reserved for the capture kernel (crashkernel=, kexec_crash_size)");
    out += fmt::format("crashcapture_reserved_bytes {}\n", s.reserved_bytes);
    family(out, "crashcapture_needed_bytes", "gauge",
           "Memory the capture kernel and its unpacked initrd need (EstimateReservation); 0 when "
           "unknown");
    out += fmt::format("crashcapture_needed_bytes {}\n", s.needed_bytes);
    family(out, "crashcapture_reservation_fits", "gauge",
           "1 when the reservation holds what the capture needs");
    out += fmt::format("crashcapture_reservation_fits {}\n", s.reservation_fits ? 1 : 0);
    family(out, "crashcapture_loaded_timestamp_seconds", "gauge",
           "When the capture kernel was last loaded; 0 if never");
    out += fmt::format("crashcapture_loaded_timestamp_seconds {}\n", s.loaded_timestamp_seconds);
    family(out, "crashcapture_dumps", "gauge",
           "Captures on record, by result (lost: an armed boot that ended without a dump)");
    for (const auto& [result, count] : s.dumps_by_result) {
        out += fmt::format("crashcapture_dumps{{result=\"{}\"}} {}\n", escape_label_value(result),
                           count);
    }
    family(out, "crashcapture_lost_captures", "gauge",
           "Crashes or resets of an armed machine that left no dump");
    const auto lost = s.dumps_by_result.find("lost");
    out += fmt::format("crashcapture_lost_captures {}\n",
                       lost == s.dumps_by_result.end() ? 0 : lost->second);
    family(out, "crashcapture_last_crash_timestamp_seconds", "gauge",
           "When the newest crash on record happened; 0 if none");
    out += fmt::format("crashcapture_last_crash_timestamp_seconds {}\n",
                       s.last_crash_timestamp_seconds);
    if (!s.signatures.empty()) {
        family(out, "crashcapture_signature_dumps", "gauge",
               "Captures on record per panic signature (a new hash is a new kind of crash)");
        for (const auto& [hash, signature] : s.signatures) {
            out += fmt::format(
                "crashcapture_signature_dumps{{signature_hash=\"{}\",signature=\"{}\"}} {}\n",
                escape_label_value(hash), escape_label_value(signature.title), signature.dumps);
        }
    }
    family(out, "crashcapture_info", "gauge", "crashcaptured's version, as a label");
    out += fmt::format("crashcapture_info{{version=\"{}\"}} 1\n", escape_label_value(s.version));
    return out;
}

Status write_metrics_textfile(const std::string& path, const std::string& text) {
    const size_t slash = path.rfind('/');
    if (slash == std::string::npos || slash + 1 == path.size()) {
        return make_error(EINVAL, "{}: not a file path", path);
    }
    auto directory = open_directory(slash == 0 ? "/" : path.substr(0, slash));
    if (!directory) {
        return tl::unexpected(directory.error());
    }
    return write_file_atomically(directory->get(), path.substr(slash + 1), text, 0644);
}

}  // namespace crashcapture
