// Integer fields of the JSON files crashcaptured reads back (status.json,
// the armed-boot ledger, the initrd manifest and inputs). nlohmann's
// get<Int>() turns a float into an integer with a static_cast, undefined
// behaviour when it is out of range (UBSan; tests/fuzz/fuzz-records-json
// found "bytes": 4E96). These accept integers, and floats that are whole
// and in range, and throw JsonIntegerError for anything else.
#pragma once

#include <nlohmann/json.hpp>

#include <cmath>
#include <concepts>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>

namespace crashcapture {

class JsonIntegerError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

template <std::integral Int>
Int json_integer(const nlohmann::json& value, std::string_view name = "value") {
    using Limits = std::numeric_limits<Int>;
    const auto out_of_range = [&] {
        return JsonIntegerError(std::string(name) + ": " + value.dump() +
                                " is not an integer this field can hold");
    };
    if (value.is_number_unsigned()) {
        const auto v = value.get<uint64_t>();
        if (v > static_cast<uint64_t>(Limits::max())) {
            throw out_of_range();
        }
        return static_cast<Int>(v);
    }
    if (value.is_number_integer()) {
        const auto v = value.get<int64_t>();
        if (v < 0 ? (!Limits::is_signed || v < static_cast<int64_t>(Limits::min()))
                  : static_cast<uint64_t>(v) > static_cast<uint64_t>(Limits::max())) {
            throw out_of_range();
        }
        return static_cast<Int>(v);
    }
    if (value.is_number_float()) {
        // 2^digits is exactly representable; a whole double below it fits.
        const double v = value.get<double>();
        const double limit = std::ldexp(1.0, Limits::digits);
        const double lower = Limits::is_signed ? -limit : 0.0;
        if (!(v >= lower && v < limit) || std::trunc(v) != v) {
            throw out_of_range();
        }
        return static_cast<Int>(v);
    }
    return value.get<Int>();  // not a number: nlohmann's own type_error
}

// object[key] as an Int, or fallback when the key is missing.
template <std::integral Int>
Int json_integer(const nlohmann::json& object, std::string_view key, Int fallback) {
    const auto it = object.find(key);
    return it == object.end() ? fallback : json_integer<Int>(*it, key);
}

}  // namespace crashcapture
