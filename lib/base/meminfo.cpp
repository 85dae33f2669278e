#include "meminfo.hpp"

#include <limits>

#include "file-util.hpp"
#include "text.hpp"

namespace crashcapture {

Result<uint64_t> parse_meminfo_bytes(std::string_view text, std::string_view field) {
    while (!text.empty()) {
        const size_t newline = text.find('\n');
        const std::string_view line = text.substr(0, newline);
        text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
        if (!line.starts_with(field) || line.size() <= field.size() || line[field.size()] != ':') {
            continue;
        }
        auto value = trim(line.substr(field.size() + 1));
        if (!value.ends_with(" kB")) {
            return make_error(EINVAL, "/proc/meminfo: {} '{}' is not in kB", field, value);
        }
        const auto kib = parse_integer<uint64_t>(trim(value.substr(0, value.size() - 3)));
        if (!kib || *kib > std::numeric_limits<uint64_t>::max() / 1024) {
            return make_error(EINVAL, "/proc/meminfo: {} '{}' is not a size", field, value);
        }
        return *kib * 1024;
    }
    return make_error(EINVAL, "/proc/meminfo has no {}", field);
}

MemAvailableWatch::MemAvailableWatch(std::string meminfo_path, std::chrono::milliseconds interval,
                                     Clock clock)
    : path_(std::move(meminfo_path)),
      interval_(interval),
      clock_(clock ? std::move(clock) : [] { return std::chrono::steady_clock::now(); }) {}

void MemAvailableWatch::sample() {
    if (last_read_ && clock_() - *last_read_ < interval_) {
        return;
    }
    sample_now();
}

void MemAvailableWatch::sample_now() {
    last_read_ = clock_();
    const auto text = read_kernel_file(path_);
    if (!text) {
        return;
    }
    const auto available = parse_meminfo_bytes(*text, "MemAvailable");
    if (available && (!lowest_bytes_ || *available < *lowest_bytes_)) {
        lowest_bytes_ = *available;
    }
}

}  // namespace crashcapture
