// Words of a kernel command line, as the kernel itself splits and matches
// them: shared by the configuration (KernelCommandLineRemove=/Append=) and the
// capture command line.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace crashcapture {

// Splits like the kernel's next_arg() (lib/cmdline.c): words are separated by
// whitespace outside double quotes; an unterminated quote runs to the end.
// Words are returned verbatim, quotes included.
std::vector<std::string> split_kernel_command_line(std::string_view line);

// The parameter name of a word: "foo" for foo="a b", "foo=x", "\"foo=a b\"".
std::string_view kernel_parameter_name(std::string_view word);

// Names compare with '-' and '_' equal, as the kernel's parameq()
// (kernel/params.c) and systemd's proc_cmdline_key_streq() do.
bool kernel_parameter_names_equal(std::string_view a, std::string_view b);

// Whether a KernelCommandLineRemove= word matches a command-line word:
// "name" matches every value of name, "name=value" only that exact word,
// "prefix*" every name that starts with prefix ("rd.luks.*").
bool kernel_parameter_matches(std::string_view pattern, std::string_view word);

// Why a KernelCommandLineRemove= or KernelCommandLineAppend= word is unusable
// (an unterminated quote, a control character, a '*' not at the end of a
// remove pattern), or nothing.
std::optional<std::string> check_command_line_word(std::string_view word, bool is_remove_pattern);

}  // namespace crashcapture
