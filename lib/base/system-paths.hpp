// Every path where the daemon meets the system, in one value (STYLE.md,
// "Kernel-facing paths come in as a value", after fwupd's path store). Code
// that reads /proc, /sys, /boot or the config takes a SystemPaths and never
// spells those directories itself, so a test points the whole library at a
// fake tree in a temporary directory with SystemPaths::under(dir).
#pragma once

#include <string>
#include <string_view>

namespace crashcapture {

// The environment variable SystemPaths::from_environment() reads: every
// system path under this directory (a fake tree for tests, or a system image
// being prepared). Documented in crashcaptured(8); only main() reads it.
inline constexpr std::string_view kRootEnvironmentVariable = "CRASHCAPTURE_ROOT";

struct SystemPaths {
    // "" on a running system, so root + "/etc" is "/etc"; otherwise an
    // absolute directory without a trailing '/'.
    std::string root;

    std::string proc;            // /proc
    std::string sys;             // /sys
    std::string boot;            // /boot: kernels and their initrds
    std::string modules;         // /usr/lib/modules (merged /usr)
    std::string legacy_modules;  // /lib/modules (the same directory, or not, before merged /usr)
    std::string etc_config;      // /etc/crashcapture: crashcapture.conf and crashcapture.conf.d/
    std::string state;           // /var/lib/crashcapture: initrds, manifests, the ledger
    std::string run;             // /run/crashcapture: runtime state, gone at reboot
    std::string crash_dir;       // /var/crash: where dumps go by default

    // Every path under root ("" or "/" = the running system). A trailing '/'
    // on root is dropped. root is used as given: pass an absolute directory.
    static SystemPaths under(std::string_view root);

    // under($CRASHCAPTURE_ROOT), or the running system when it is unset or
    // empty. A relative value is made absolute against the working directory,
    // so the paths stay valid if the process changes directory later. Only
    // main() calls this; the library takes the value it is given.
    static SystemPaths from_environment();

    // A path as the running system names it ("/etc/fstab", a Kernel= from the
    // config) as this process must open it: root + path. path must be absolute.
    std::string resolve(std::string_view absolute_path) const;

    // /etc/crashcapture/crashcapture.conf and its drop-in directory.
    std::string config_file() const;
    std::string config_dropin_directory() const;

    bool operator==(const SystemPaths&) const = default;
};

}  // namespace crashcapture
