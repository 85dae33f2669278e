#include "vmcoreinfo.hpp"

#include <charconv>

#include "text.hpp"

namespace crashcapture {
namespace {

// Most hex values in VMCOREINFO come bare (SYMBOL(name)=%lx in
// include/linux/vmcore_info.h); a few carry "0x" (arm64's
// NUMBER(kimage_voffset)=0x%llx in arch/arm64/kernel/vmcore_info.c).
template <typename Int>
std::optional<Int> parse_vmcoreinfo_integer(std::string_view text, int base) {
    if (base == 16 && (text.starts_with("0x") || text.starts_with("0X"))) {
        text.remove_prefix(2);
    }
    return parse_integer<Int>(text, base);
}

// "SYMBOL(prb)" -> {"SYMBOL", "prb"}; "OSRELEASE" -> {"OSRELEASE", ""}.
std::pair<std::string_view, std::string_view> split_key(std::string_view key) {
    const auto open = key.find('(');
    if (open == std::string_view::npos || !key.ends_with(')')) {
        return {key, {}};
    }
    return {key.substr(0, open), key.substr(open + 1, key.size() - open - 2)};
}

template <typename Map>
auto lookup(const Map& map, std::string_view name) -> std::optional<typename Map::mapped_type> {
    if (auto it = map.find(name); it != map.end()) {
        return it->second;
    }
    return std::nullopt;
}

}  // namespace

Result<Vmcoreinfo> Vmcoreinfo::parse(std::string_view text) {
    // The note descriptor is NUL padded to a 4-byte multiple.
    while (!text.empty() && text.back() == '\0') {
        text.remove_suffix(1);
    }
    if (text.empty()) {
        return make_error(0, "VMCOREINFO is empty");
    }
    Vmcoreinfo info;
    info.text_ = std::string(text);
    size_t line_number = 0;
    while (!text.empty()) {
        const auto newline = text.find('\n');
        const auto line = text.substr(0, newline);
        text = newline == std::string_view::npos ? std::string_view{} : text.substr(newline + 1);
        ++line_number;
        if (line.empty()) {
            continue;
        }
        const auto equals = line.find('=');
        if (equals == std::string_view::npos) {
            info.warnings_.push_back(fmt::format("line {}: no '=' in \"{}\"", line_number, line));
            continue;
        }
        const auto key = line.substr(0, equals);
        const auto value = line.substr(equals + 1);
        info.raw_.emplace(std::string(key), std::string(value));
        // Not a structured binding: the lambda below captures name, which
        // clang before 16 does not allow for bindings (P1091).
        const auto split = split_key(key);
        const std::string_view kind = split.first;
        const std::string_view name = split.second;
        bool parsed = true;
        auto store_unsigned = [&](auto& table, int base) {
            if (auto number = parse_vmcoreinfo_integer<uint64_t>(value, base)) {
                table[std::string(name)] = *number;
            } else {
                parsed = false;
            }
        };
        if (kind == "SYMBOL") {
            store_unsigned(info.symbols_, 16);
        } else if (kind == "SIZE") {
            store_unsigned(info.sizes_, 10);
        } else if (kind == "OFFSET") {
            store_unsigned(info.offsets_, 10);
        } else if (kind == "LENGTH") {
            store_unsigned(info.lengths_, 10);
        } else if (kind == "NUMBER") {
            // makedumpfile read_vmcoreinfo_long(): decimal first, then hex.
            auto number = parse_vmcoreinfo_integer<int64_t>(value, 10);
            if (!number) {
                if (auto hex = parse_vmcoreinfo_integer<uint64_t>(value, 16)) {
                    number = static_cast<int64_t>(*hex);
                }
            }
            if (number) {
                info.numbers_[std::string(name)] = *number;
            } else {
                parsed = false;
            }
        } else if (key == "OSRELEASE") {
            info.osrelease_ = std::string(value);
        } else if (key == "PAGESIZE") {
            parsed = (info.page_size_ = parse_vmcoreinfo_integer<uint64_t>(value, 10)).has_value();
        } else if (key == "KERNELOFFSET") {
            parsed =
                (info.kernel_offset_ = parse_vmcoreinfo_integer<uint64_t>(value, 16)).has_value();
        } else if (key == "CRASHTIME") {
            parsed = (info.crash_time_ = parse_vmcoreinfo_integer<int64_t>(value, 10)).has_value();
        }
        if (!parsed) {
            info.warnings_.push_back(
                fmt::format("line {}: cannot parse value of {}: \"{}\"", line_number, key, value));
        }
    }
    return info;
}

std::optional<uint64_t> Vmcoreinfo::symbol(std::string_view name) const {
    return lookup(symbols_, name);
}
std::optional<uint64_t> Vmcoreinfo::size(std::string_view name) const {
    return lookup(sizes_, name);
}
std::optional<uint64_t> Vmcoreinfo::offset(std::string_view name) const {
    return lookup(offsets_, name);
}
std::optional<uint64_t> Vmcoreinfo::length(std::string_view name) const {
    return lookup(lengths_, name);
}
std::optional<int64_t> Vmcoreinfo::number(std::string_view name) const {
    return lookup(numbers_, name);
}
std::optional<std::string> Vmcoreinfo::value(std::string_view key) const {
    return lookup(raw_, key);
}

}  // namespace crashcapture
