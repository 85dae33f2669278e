#include "units.hpp"

#include <fmt/format.h>

#include <limits>
#include <optional>

#include "text.hpp"

namespace crashcapture {
namespace {

// A decimal number with an optional fraction: "12", "1.5". The fraction is
// kept as digits so callers can scale it exactly.
struct Decimal {
    uint64_t whole = 0;
    uint64_t fraction = 0;       // the digits after '.', as an integer
    uint64_t fraction_unit = 1;  // 10^(number of those digits)
};

// Consumes a number at the start of text.
std::optional<Decimal> take_decimal(std::string_view& text) {
    size_t i = 0;
    while (i < text.size() && is_ascii_digit(text[i])) {
        ++i;
    }
    if (i == 0) {
        return std::nullopt;
    }
    Decimal number;
    const auto whole = parse_integer<uint64_t>(text.substr(0, i));
    if (!whole) {
        return std::nullopt;  // too large
    }
    number.whole = *whole;
    if (i < text.size() && text[i] == '.') {
        ++i;
        const size_t start = i;
        while (i < text.size() && is_ascii_digit(text[i])) {
            // Digits past 18 cannot change a result in µs or bytes we keep.
            if (i - start < 18) {
                number.fraction = number.fraction * 10 + static_cast<uint64_t>(text[i] - '0');
                number.fraction_unit *= 10;
            }
            ++i;
        }
        if (i == start) {
            return std::nullopt;  // "1." is not a number
        }
    }
    text.remove_prefix(i);
    return number;
}

// number * factor, rounded down; nothing on overflow.
std::optional<uint64_t> scale(const Decimal& number, uint64_t factor) {
    const unsigned __int128 whole = static_cast<unsigned __int128>(number.whole) * factor;
    const unsigned __int128 fraction =
        static_cast<unsigned __int128>(number.fraction) * factor / number.fraction_unit;
    const unsigned __int128 total = whole + fraction;
    if (total > std::numeric_limits<uint64_t>::max()) {
        return std::nullopt;
    }
    return static_cast<uint64_t>(total);
}

}  // namespace

// ---------------------------------------------------------------------------
// Sizes.

uint64_t SizeLimit::resolve(uint64_t filesystem_bytes) const {
    if (!is_percent) {
        return bytes;
    }
    return static_cast<uint64_t>(static_cast<unsigned __int128>(filesystem_bytes) * percent / 100);
}

Result<uint64_t> parse_size_bytes(std::string_view text) {
    text = trim(text);
    const std::string original(text);
    auto number = take_decimal(text);
    if (!number) {
        return make_error(EINVAL, "'{}' is not a size", original);
    }
    text = trim(text);
    uint64_t factor = 1;
    if (!text.empty() && text != "B") {
        constexpr std::string_view kSuffixes = "KMGTPE";
        const char upper =
            static_cast<char>(text.front() >= 'a' ? text.front() - 32 : text.front());
        const size_t index = kSuffixes.find(upper);
        const auto rest = text.substr(1);
        if (index == std::string_view::npos || !(rest.empty() || rest == "B" || rest == "iB")) {
            return make_error(EINVAL, "'{}' is not a size (suffixes: K, M, G, T, P, E)", original);
        }
        factor = uint64_t{1} << (10 * (index + 1));
    } else if (number->fraction_unit != 1) {
        return make_error(EINVAL, "'{}' is not a whole number of bytes", original);
    }
    const auto bytes = scale(*number, factor);
    if (!bytes) {
        return make_error(ERANGE, "'{}' is too large", original);
    }
    return *bytes;
}

Result<SizeLimit> parse_size_limit(std::string_view text) {
    text = trim(text);
    if (!text.empty() && text.back() == '%') {
        const auto percent = parse_integer<uint32_t>(trim(text.substr(0, text.size() - 1)));
        if (!percent || *percent > 100) {
            return make_error(EINVAL, "'{}' is not a percentage (0%-100%)", text);
        }
        return SizeLimit{true, 0, *percent};
    }
    auto bytes = parse_size_bytes(text);
    if (!bytes) {
        return tl::unexpected(bytes.error());
    }
    return SizeLimit{false, *bytes, 0};
}

std::string format_size(uint64_t bytes) {
    constexpr std::string_view kSuffixes = "EPTGMK";
    for (size_t i = 0; i < kSuffixes.size(); ++i) {
        const unsigned shift = 10 * static_cast<unsigned>(kSuffixes.size() - i);
        const uint64_t unit = uint64_t{1} << shift;
        if (bytes != 0 && bytes % unit == 0) {
            return fmt::format("{}{}", bytes / unit, kSuffixes[i]);
        }
    }
    return std::to_string(bytes);
}

std::string to_string(const SizeLimit& limit) {
    return limit.is_percent ? fmt::format("{}%", limit.percent) : format_size(limit.bytes);
}

// ---------------------------------------------------------------------------
// Time spans (systemd's parse_sec() and format_timespan(), src/basic/time-util.c).

namespace {

constexpr uint64_t kUsecPerSec = 1000 * 1000;
constexpr uint64_t kUsecPerMinute = 60 * kUsecPerSec;
constexpr uint64_t kUsecPerHour = 60 * kUsecPerMinute;
constexpr uint64_t kUsecPerDay = 24 * kUsecPerHour;
constexpr uint64_t kUsecPerWeek = 7 * kUsecPerDay;
// systemd time-util.h: USEC_PER_MONTH = 2629800 s (30.44 days),
// USEC_PER_YEAR = 31557600 s (365.25 days).
constexpr uint64_t kUsecPerMonth = 2629800 * kUsecPerSec;
constexpr uint64_t kUsecPerYear = 31557600 * kUsecPerSec;

struct TimeUnit {
    std::string_view name;
    uint64_t usec;
};

// systemd's table; case matters ("M" is a month, "m" a minute).
constexpr TimeUnit kTimeUnits[] = {
    {"seconds", kUsecPerSec},
    {"second", kUsecPerSec},
    {"sec", kUsecPerSec},
    {"s", kUsecPerSec},
    {"minutes", kUsecPerMinute},
    {"minute", kUsecPerMinute},
    {"min", kUsecPerMinute},
    {"months", kUsecPerMonth},
    {"month", kUsecPerMonth},
    {"M", kUsecPerMonth},
    {"msec", 1000},
    {"ms", 1000},
    {"m", kUsecPerMinute},
    {"hours", kUsecPerHour},
    {"hour", kUsecPerHour},
    {"hr", kUsecPerHour},
    {"h", kUsecPerHour},
    {"days", kUsecPerDay},
    {"day", kUsecPerDay},
    {"d", kUsecPerDay},
    {"weeks", kUsecPerWeek},
    {"week", kUsecPerWeek},
    {"w", kUsecPerWeek},
    {"years", kUsecPerYear},
    {"year", kUsecPerYear},
    {"y", kUsecPerYear},
    {"usec", 1},
    {"us", 1},
    {"\xc2\xb5s", 1},
    {"\xce\xbcs", 1},
};

bool is_unit_character(char c) {
    // Letters, and the bytes of "µ" (U+00B5, C2 B5) and "μ" (U+03BC, CE BC).
    const auto byte = static_cast<unsigned char>(c);
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || byte == 0xc2 || byte == 0xb5 ||
           byte == 0xce || byte == 0xbc;
}

}  // namespace

Result<uint64_t> parse_timespan_usec(std::string_view text) {
    text = trim(text);
    const std::string original(text);
    if (text == "infinity") {
        return kInfiniteTimeSpan;
    }
    if (text.empty()) {
        return make_error(EINVAL, "no time span");
    }
    uint64_t total = 0;
    while (!text.empty()) {
        auto number = take_decimal(text);
        if (!number) {
            return make_error(
                EINVAL, "'{}' is not a time span (e.g. 90s, 30min, 1h 30min, infinity)", original);
        }
        size_t length = 0;
        while (length < text.size() && text[length] == ' ') {
            ++length;
        }
        text.remove_prefix(length);
        length = 0;
        while (length < text.size() && is_unit_character(text[length])) {
            ++length;
        }
        const auto unit_name = text.substr(0, length);
        uint64_t unit = kUsecPerSec;  // a bare number is seconds
        if (!unit_name.empty()) {
            const auto* found =
                std::find_if(std::begin(kTimeUnits), std::end(kTimeUnits),
                             [&](const TimeUnit& u) { return u.name == unit_name; });
            if (found == std::end(kTimeUnits)) {
                return make_error(EINVAL, "'{}': unknown time unit '{}'", original, unit_name);
            }
            unit = found->usec;
        }
        text.remove_prefix(length);
        text = trim(text);
        const auto usec = scale(*number, unit);
        if (!usec || *usec > kInfiniteTimeSpan - 1 - total) {
            return make_error(ERANGE, "'{}' is too long", original);
        }
        total += *usec;
    }
    return total;
}

std::string format_timespan(uint64_t usec) {
    if (usec == kInfiniteTimeSpan) {
        return "infinity";
    }
    if (usec == 0) {
        return "0";
    }
    // systemd's format_timespan() table, largest first.
    constexpr TimeUnit kFormatUnits[] = {
        {"y", kUsecPerYear}, {"month", kUsecPerMonth}, {"w", kUsecPerWeek}, {"d", kUsecPerDay},
        {"h", kUsecPerHour}, {"min", kUsecPerMinute},  {"s", kUsecPerSec},  {"ms", 1000},
        {"us", 1},
    };
    std::string text;
    for (const auto& unit : kFormatUnits) {
        if (usec >= unit.usec) {
            if (!text.empty()) {
                text += ' ';
            }
            text += fmt::format("{}{}", usec / unit.usec, unit.name);
            usec %= unit.usec;
        }
    }
    return text;
}

}  // namespace crashcapture
