#include "device-drivers.hpp"

#include <algorithm>
#include <system_error>

namespace crashcapture {

std::vector<std::string> bound_driver_modules(const std::filesystem::path& sys_devices,
                                              const std::filesystem::path& device) {
    std::vector<std::string> modules;
    std::error_code error;
    const std::filesystem::path root = std::filesystem::weakly_canonical(sys_devices, error);
    // lexically_relative: a device outside SYS_DEVICES (a fake tree's
    // stray link) yields nothing rather than walking up to "/".
    const std::filesystem::path below = device.lexically_relative(root);
    if (error || below.empty() || *below.begin() == "..") {
        return modules;
    }
    for (std::filesystem::path at = device; at != root && at.has_relative_path();
         at = at.parent_path()) {
        const std::filesystem::path module =
            std::filesystem::read_symlink(at / "driver/module", error);
        if (error || module.filename().empty()) {
            continue;
        }
        const std::string name = module.filename().string();
        if (std::find(modules.begin(), modules.end(), name) == modules.end()) {
            modules.push_back(name);
        }
    }
    return modules;
}

}  // namespace crashcapture
