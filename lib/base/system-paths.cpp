#include "system-paths.hpp"

#include <cstdlib>
#include <filesystem>
#include <system_error>

namespace crashcapture {

SystemPaths SystemPaths::under(std::string_view root) {
    std::string base(root);
    while (!base.empty() && base.back() == '/') {
        base.pop_back();
    }
    SystemPaths paths;
    paths.root = base;
    paths.proc = base + "/proc";
    paths.sys = base + "/sys";
    paths.boot = base + "/boot";
    paths.modules = base + "/usr/lib/modules";
    paths.legacy_modules = base + "/lib/modules";
    paths.etc_config = base + "/etc/crashcapture";
    paths.state = base + "/var/lib/crashcapture";
    paths.run = base + "/run/crashcapture";
    paths.crash_dir = base + "/var/crash";
    return paths;
}

SystemPaths SystemPaths::from_environment() {
    const std::string name(kRootEnvironmentVariable);
    const char* value = std::getenv(name.c_str());
    if (value == nullptr || *value == '\0') {
        return under("");
    }
    std::string root(value);
    if (root.front() != '/') {
        std::error_code error;
        auto absolute = std::filesystem::absolute(root, error);
        // Without a working directory (deleted under us) the relative value
        // is the best we have; opening paths will say what is wrong.
        if (!error) {
            root = absolute.string();
        }
    }
    return under(root);
}

std::string SystemPaths::resolve(std::string_view absolute_path) const {
    return root + std::string(absolute_path);
}

std::string SystemPaths::config_file() const {
    return etc_config + "/crashcapture.conf";
}

std::string SystemPaths::config_dropin_directory() const {
    return etc_config + "/crashcapture.conf.d";
}

}  // namespace crashcapture
