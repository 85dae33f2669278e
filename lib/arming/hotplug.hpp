// CPU and memory hotplug: the capture kernel's ELF core header lists the
// CPUs and the memory of the machine as it was at load time. When they
// change, kexec_file_load must run again — unless the kernel updates the
// header itself, which it says in /sys/devices/system/{cpu,memory}/crash_hotplug
// (CONFIG_CRASH_HOTPLUG, Linux 6.6; Documentation/ABI/testing/sysfs-devices-memory).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "system-paths.hpp"

namespace crashcapture {

// One kernel uevent (NETLINK_KOBJECT_UEVENT): "ACTION@DEVPATH\0KEY=VALUE\0...".
struct Uevent {
    std::string action;     // add, remove, online, offline, change...
    std::string subsystem;  // cpu, memory, ...
    std::string devpath;
};
std::optional<Uevent> parse_uevent(std::string_view message);

// Whether the kernel keeps the capture kernel's header current by itself
// for this subsystem ("cpu" or "memory"): crash_hotplug reads 1.
bool kernel_handles_crash_hotplug(const SystemPaths& paths, std::string_view subsystem);

// Whether this event means the loaded capture kernel describes the machine
// wrongly and must be loaded again.
bool hotplug_needs_reload(const Uevent& event, bool kernel_handles_it);

}  // namespace crashcapture
