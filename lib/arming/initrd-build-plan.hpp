// What crashcapture-build-initrd does, decided before anything is run: the
// target, the root and the block devices under them, the capture kernel's
// network for a remote target, the files the dracut module installs and the
// dracut command (issue 13: the builder's main() only carries the plan out,
// so the unit tests can check every decision on a fake system).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "block-stack.hpp"
#include "config.hpp"
#include "initrd-plan.hpp"
#include "remote-target.hpp"
#include "result.hpp"
#include "system-paths.hpp"

namespace crashcapture {

// The host's network as the builder sees it: name resolution and `ip -j`.
// The real one asks the system; the unit tests give a fake, so the plan for
// an ssh or nfs target is checked on a machine without a default route too.
class NetworkProbe {
  public:
    virtual ~NetworkProbe() = default;
    // The host's address, numeric, when this system can resolve it.
    virtual std::optional<std::string> resolve_host(const std::string& host) = 0;
    // What `ip -j ARGUMENTS...` prints.
    virtual Result<std::string> ip_json(const std::vector<std::string>& arguments) = 0;
    // Between two tries while the network comes up.
    virtual void wait_one_second() = 0;
};

class SystemNetworkProbe : public NetworkProbe {
  public:
    std::optional<std::string> resolve_host(const std::string& host) override;
    Result<std::string> ip_json(const std::vector<std::string>& arguments) override;
    void wait_one_second() override;
};

// At boot crashcaptured starts before the network is configured (it needs
// none itself): the builder waits for a route and an address as long as
// systemd waits for a device (DefaultDeviceTimeoutSec=90s).
inline constexpr int kNetworkWaitSeconds = 90;

// The way from this system to an ssh or nfs target's server, which the
// capture kernel sets up again: the route's interface (by MAC), its address
// and gateway, the NIC's drivers. A server on this machine (lo) is refused.
// note is called once with the reason when the builder starts waiting.
Result<CaptureNetwork> plan_capture_network(
    const SystemPaths& paths, const Config& config, NetworkProbe& probe,
    int wait_seconds = kNetworkWaitSeconds,
    const std::function<void(const std::string&)>& note = {});

// The same towards host (a name or an address), for what (the first words
// of its errors and note: "Target=ssh://...", "the iSCSI portal ..."):
// an iSCSI portal a disk under the target or the root is reached through.
Result<CaptureNetwork> plan_capture_network_to(
    const SystemPaths& paths, const std::string& host, const std::string& what, NetworkProbe& probe,
    int wait_seconds = kNetworkWaitSeconds,
    const std::function<void(const std::string&)>& note = {});

// Where the capture kernel's network leads, when it needs one: an ssh or
// nfs target's server, or the portal of the first iSCSI session under the
// root filesystem or the target (the one plan_initrd_build() plans the
// network towards). host is a name or an address; what names it in
// messages ("Target=ssh://...", "the iSCSI portal ADDRESS:PORT of IQN").
// crashcaptured watches the way there and rebuilds when it changes.
struct CaptureNetworkDestination {
    std::string host;
    std::string what;
    bool operator==(const CaptureNetworkDestination&) const = default;
};
std::optional<CaptureNetworkDestination> capture_network_destination(const SystemPaths& paths,
                                                                     const Config& config);

// One of the kernel's module index files (modules.alias, modules.builtin,
// ...) for kernel_version: under /usr/lib/modules, or /lib/modules where
// /usr is not merged; the first one's error when neither has it.
Result<std::string> read_module_index(const SystemPaths& paths, const std::string& kernel_version,
                                      const std::string& name);

// Why the capture initrd for kernel_version cannot be packed with dracut's
// squash module here, or nothing when it can: the module
// (modules.d/99squash, Debian's dracut-squash), mksquashfs and unsquashfs
// (squashfs-tools), and the kernel's squashfs, loop and overlay modules,
// with zstd in its squashfs when its config says.
std::optional<std::string> squash_unavailable_reason(const SystemPaths& paths,
                                                     const std::string& kernel_version);

struct InitrdBuildRequest {
    std::string kernel_version;
    std::string output;  // the image; dracut writes output + ".building" first
    std::string dracut = "dracut";
    bool verbose = false;
    // Told what the builder waits for (the network at boot), as it starts
    // waiting; may be empty.
    std::function<void(const std::string&)> progress;
};

struct InitrdBuildPlan {
    TargetFilesystem target;
    TargetFilesystem root;
    // A separate /boot for the failure note (spare_note_filesystem()).
    std::optional<TargetFilesystem> spare_note;
    std::optional<CaptureNetwork> network;
    BlockStack stack;  // under the root, the target and the spare note's /boot
    // The files the dracut module installs (module-setup.sh reads them from
    // $CRASHCAPTURE_STAGING), by name: capture.env, capture-actions.conf,
    // fallback-actions.conf.
    std::vector<std::pair<std::string, std::string>> staged_files;
    std::string temporary_output;  // output + ".building"
    std::vector<std::string> dracut_command;
    // Where dumps go, one phrase for the builder's last line.
    std::string destination;
    // What was left out and why (verbose output): no failure notes, no /boot.
    std::vector<std::string> notes;
    // Packed with dracut's squash module; when not, squash_missing says why
    // (the builder warns: the capture needs more of the reservation).
    bool squash = false;
    std::string squash_missing;
};

// Everything from the configuration and the system under paths
// (/proc/self/mountinfo, /proc/swaps, /sys, /dev/disk, the kernel's
// modules.alias and modules.builtin). Nothing is written. Errors say what to
// fix: a target the capture could not reach, missing ssh keys, no route.
Result<InitrdBuildPlan> plan_initrd_build(const SystemPaths& paths, const Config& config,
                                          const InitrdBuildRequest& request, NetworkProbe& probe);

}  // namespace crashcapture
