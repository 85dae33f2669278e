// Sizes and time spans as crashcapture.conf(5) writes them, after systemd's
// parse_size() and parse_sec() (systemd.time(7)).
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "result.hpp"

namespace crashcapture {

// A size in bytes ("4G", base 1024) or a share of the filesystem ("10%").
struct SizeLimit {
    bool is_percent = false;
    uint64_t bytes = 0;    // when !is_percent
    uint32_t percent = 0;  // 0..100, when is_percent

    // Bytes for a filesystem of filesystem_bytes (rounded down).
    uint64_t resolve(uint64_t filesystem_bytes) const;
    bool operator==(const SizeLimit&) const = default;
};

// A number with an optional fraction and an optional suffix K, M, G, T, P or
// E (base 1024, either case, optionally followed by "B" or "iB"), or a bare
// "B": "512", "1.5G", "300MiB". Overflow is an error.
Result<uint64_t> parse_size_bytes(std::string_view text);
// A size, or an integer percentage from 0% to 100%.
Result<SizeLimit> parse_size_limit(std::string_view text);
// The largest suffix that divides exactly: 4294967296 -> "4G", 1536 -> "1536".
std::string format_size(uint64_t bytes);
std::string to_string(const SizeLimit& limit);

// ---------------------------------------------------------------------------
// A time span the way systemd.time(7) writes it: "90s", "30min", "1h 30min",
// "2.5h", a bare number is seconds. Units: us usec µs, ms msec, s sec second
// seconds, m min minute minutes, h hr hour hours, d day days, w week weeks,
// M month months (30.44 d), y year years (365.25 d). "infinity" is
// kInfiniteTimeSpan.
inline constexpr uint64_t kInfiniteTimeSpan = std::numeric_limits<uint64_t>::max();
Result<uint64_t> parse_timespan_usec(std::string_view text);
// "30min", "1h 30min", "1min 500ms", "infinity"; parse_timespan_usec() reads
// it back exactly.
std::string format_timespan(uint64_t usec);

}  // namespace crashcapture
