#include "hotplug.hpp"

#include <fstream>

namespace crashcapture {

std::optional<Uevent> parse_uevent(std::string_view message) {
    // The header "ACTION@DEVPATH" comes first; udev's own re-broadcasts start
    // with "libudev" and are not kernel events (we bind to the kernel group).
    const auto header_end = message.find('\0');
    const auto header = message.substr(0, header_end);
    const auto at = header.find('@');
    if (at == std::string_view::npos || header_end == std::string_view::npos) {
        return std::nullopt;
    }
    Uevent event;
    event.action = std::string(header.substr(0, at));
    event.devpath = std::string(header.substr(at + 1));
    for (size_t pos = header_end + 1; pos < message.size();) {
        auto end = message.find('\0', pos);
        if (end == std::string_view::npos) {
            end = message.size();
        }
        const auto field = message.substr(pos, end - pos);
        if (field.starts_with("SUBSYSTEM=")) {
            event.subsystem = std::string(field.substr(10));
        } else if (field.starts_with("ACTION=")) {
            event.action = std::string(field.substr(7));
        }
        pos = end + 1;
    }
    if (event.subsystem.empty()) {
        return std::nullopt;
    }
    return event;
}

bool kernel_handles_crash_hotplug(const SystemPaths& paths, std::string_view subsystem) {
    std::ifstream in(paths.sys + "/devices/system/" + std::string(subsystem) + "/crash_hotplug");
    int value = 0;
    return in >> value && value == 1;
}

bool hotplug_needs_reload(const Uevent& event, bool kernel_handles_it) {
    if (kernel_handles_it || (event.subsystem != "cpu" && event.subsystem != "memory")) {
        return false;
    }
    // kdump-utils' udev rules (98-kexec.rules) reload on these actions.
    return event.action == "add" || event.action == "remove" || event.action == "online" ||
           event.action == "offline";
}

}  // namespace crashcapture
