#include "dump-options.hpp"

namespace crashcapture {

std::optional<DumpFormat> parse_dump_format(std::string_view name) {
    if (name == "kdump") {
        return DumpFormat::kdump;
    }
    if (name == "elf") {
        return DumpFormat::elf;
    }
    if (name == "flattened" || name == "flat") {
        return DumpFormat::flattened;
    }
    return std::nullopt;
}

std::string_view to_string(DumpFormat format) {
    switch (format) {
        case DumpFormat::kdump:
            return "kdump";
        case DumpFormat::elf:
            return "elf";
        case DumpFormat::flattened:
            return "flattened";
    }
    return "kdump";
}

std::string dump_file_name(DumpFormat format, bool complete) {
    std::string name = format == DumpFormat::flattened ? "vmcore.flat" : "vmcore";
    return complete ? name : name + ".incomplete";
}

}  // namespace crashcapture
