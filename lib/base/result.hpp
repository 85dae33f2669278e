// Result<T>: the library's error channel. The library never throws across its
// API and never logs above debug (STYLE.md); callers log once, where they
// handle the error.
#pragma once

#include <fmt/format.h>

#include <cstring>
#include <string>
#include <tl/expected.hpp>
#include <utility>

namespace crashcapture {

struct Error {
    // errno of the failing system call, or 0 when the cause is the data
    // (a malformed vmcore, an unknown kernel layout).
    int errno_value = 0;
    std::string message;

    // "while reading /proc/vmcore: " + message — keeps the innermost cause last.
    Error with_context(const std::string& context) const {
        return Error{errno_value, context + ": " + message};
    }
};

template <typename T>
using Result = tl::expected<T, Error>;

using Status = tl::expected<void, Error>;

template <typename... Args>
tl::unexpected<Error> make_error(int errno_value, fmt::format_string<Args...> format,
                                 Args&&... args) {
    return tl::unexpected<Error>(
        Error{errno_value, fmt::format(format, std::forward<Args>(args)...)});
}

// Appends strerror(errno_value) the way systemd's %m does.
template <typename... Args>
tl::unexpected<Error> make_errno_error(int errno_value, fmt::format_string<Args...> format,
                                       Args&&... args) {
    auto message = fmt::format(format, std::forward<Args>(args)...);
    message += ": ";
    message += std::strerror(errno_value);
    return tl::unexpected<Error>(Error{errno_value, std::move(message)});
}

inline tl::unexpected<Error> propagate(const Error& error, const std::string& context) {
    return tl::unexpected<Error>(error.with_context(context));
}

}  // namespace crashcapture
