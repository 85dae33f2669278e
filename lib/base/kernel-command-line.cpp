#include "kernel-command-line.hpp"

#include "text.hpp"

namespace crashcapture {

std::vector<std::string> split_kernel_command_line(std::string_view line) {
    std::vector<std::string> words;
    size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && is_whitespace(line[i])) {
            ++i;
        }
        if (i == line.size()) {
            break;
        }
        const size_t start = i;
        bool in_quote = false;
        while (i < line.size() && (in_quote || !is_whitespace(line[i]))) {
            if (line[i] == '"') {
                in_quote = !in_quote;
            }
            ++i;
        }
        words.emplace_back(line.substr(start, i - start));
    }
    return words;
}

std::string_view kernel_parameter_name(std::string_view word) {
    // next_arg(): a leading quote opens a quoted word; the name ends at '='.
    if (!word.empty() && word.front() == '"') {
        word.remove_prefix(1);
    }
    const size_t equals = word.find('=');
    std::string_view name = word.substr(0, equals);
    if (equals == std::string_view::npos && !name.empty() && name.back() == '"') {
        name.remove_suffix(1);
    }
    return name;
}

bool kernel_parameter_names_equal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) {
        return false;
    }
    for (size_t i = 0; i < a.size(); ++i) {
        const char x = a[i] == '-' ? '_' : a[i];
        const char y = b[i] == '-' ? '_' : b[i];
        if (x != y) {
            return false;
        }
    }
    return true;
}

bool kernel_parameter_matches(std::string_view pattern, std::string_view word) {
    if (!pattern.empty() && pattern.back() == '*') {
        const auto prefix = pattern.substr(0, pattern.size() - 1);
        const auto name = kernel_parameter_name(word);
        return name.size() >= prefix.size() &&
               kernel_parameter_names_equal(name.substr(0, prefix.size()), prefix);
    }
    if (pattern.find('=') != std::string_view::npos) {
        // An exact word; the name part compares like a name.
        const size_t equals = word.find('=');
        return equals != std::string_view::npos &&
               kernel_parameter_names_equal(kernel_parameter_name(word),
                                            kernel_parameter_name(pattern)) &&
               word.substr(equals) == pattern.substr(pattern.find('='));
    }
    return kernel_parameter_names_equal(kernel_parameter_name(word), pattern);
}

std::optional<std::string> check_command_line_word(std::string_view word, bool is_remove_pattern) {
    if (word.empty()) {
        return "an empty word";
    }
    size_t quotes = 0;
    for (const char c : word) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20 || byte == 0x7f) {
            return "a control character";
        }
        quotes += c == '"' ? 1 : 0;
    }
    if (quotes % 2 != 0) {
        return "an unterminated quote";
    }
    if (kernel_parameter_name(word).empty()) {
        return "no parameter name";
    }
    if (is_remove_pattern) {
        const size_t star = word.find('*');
        if (star != std::string_view::npos && star != word.size() - 1) {
            return "'*' is only allowed at the end of a name";
        }
        if (star != std::string_view::npos && word.find('=') != std::string_view::npos) {
            return "'*' cannot be combined with a value";
        }
    } else if (word == "--") {
        return "\"--\" would turn the rest of the line into arguments for init";
    }
    return std::nullopt;
}
}  // namespace crashcapture
