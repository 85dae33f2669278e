// Text helpers shared by every floor: whitespace trimming and strict integer
// parsing of what the kernel, a config file or a tool printed.
#pragma once

#include <algorithm>
#include <charconv>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace crashcapture {

// Appends item unless list has it already: module and program lists keep
// their first-seen order.
inline void add_unique(std::vector<std::string>& list, const std::string& item) {
    if (std::find(list.begin(), list.end(), item) == list.end()) {
        list.push_back(item);
    }
}

// C's isspace() in the "C" locale, which is also the kernel's for the command
// line (lib/ctype.c): space, \t, \n, \v, \f, \r.
inline constexpr std::string_view kWhitespace = " \t\n\v\f\r";

inline bool is_whitespace(char c) {
    return kWhitespace.find(c) != std::string_view::npos;
}

inline bool is_ascii_digit(char c) {
    return c >= '0' && c <= '9';
}

// A C0 control character or DEL: never part of a path, name or word that
// reaches a command line or a file.
inline bool has_control_character(std::string_view text) {
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20 || byte == 0x7f) {
            return true;
        }
    }
    return false;
}

// text without leading and trailing kWhitespace; a view into text.
std::string_view trim(std::string_view text);

// The whole of text as an integer in base, or nothing: no sign '+', no
// surrounding space, no trailing characters, no overflow (std::from_chars).
template <typename Integer>
std::optional<Integer> parse_integer(std::string_view text, int base = 10) {
    Integer value{};
    if (text.empty()) {
        return std::nullopt;
    }
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value, base);
    if (error != std::errc() || end != text.data() + text.size()) {
        return std::nullopt;
    }
    return value;
}

}  // namespace crashcapture
