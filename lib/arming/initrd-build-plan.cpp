#include "initrd-build-plan.hpp"

#include <netdb.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "dracut-command.hpp"
#include "file-util.hpp"
#include "group.hpp"
#include "initrd-inputs.hpp"
#include "process.hpp"
#include "text.hpp"

namespace crashcapture {
namespace {

// crashcaptured's StateDirectory= (units/crashcaptured.service).
constexpr const char* kStateDirectory = "/var/lib/crashcapture";

// A target on another machine, as capture_environment() takes it: no device;
// for nfs the mount source and type, and dumps go to the export's top.
TargetFilesystem remote_target(const Config& config) {
    TargetFilesystem target;
    target.host_directory = config.target.path;
    if (config.target.kind == TargetKind::nfs) {
        target.source = nfs_mount_source(config.target);
        target.fstype = "nfs4";
        target.directory_in_filesystem = "/";
    }
    return target;
}

// An ssh target: the key and the pinned host key must be there (crashcapturectl
// propagate).
Status check_ssh_keys(const SystemPaths& paths, const Config& config) {
    for (const auto path : {kSshKeyPath, kSshKnownHostsPath}) {
        if (::access(paths.resolve(path).c_str(), R_OK) != 0) {
            return make_errno_error(
                errno,
                "Target={}: cannot read {} ({}); run `crashcapturectl propagate` to make the "
                "capture's key, install it on the server and record the server's host key",
                config.target_description(), path, std::strerror(errno));
        }
    }
    return {};
}

// How messages name an iSCSI session's portal.
std::string iscsi_portal_description(const IscsiSession& session) {
    return fmt::format("the iSCSI portal {}:{} of {}", session.address, session.port,
                       session.target);
}

// The block devices under the root filesystem and the target, and what the
// capture needs to bring them up; refuses a layer it cannot (dm-crypt).
Result<BlockStack> plan_block_stack(const SystemPaths& paths, const std::string& mountinfo,
                                    const Config& config, const TargetFilesystem& target) {
    auto stack = block_stack_for_directory(paths, mountinfo, "/");
    if (!stack) {
        return propagate(stack.error(), "the root filesystem's devices");
    }
    std::string where = "the root filesystem";
    // The target's own stack: a directory's filesystem, or a raw device.
    std::optional<Result<BlockStack>> under_target;
    if (config.target.kind == TargetKind::directory) {
        under_target = block_stack_for_directory(paths, mountinfo, config.target.path);
    } else if (config.target.kind == TargetKind::raw) {
        struct stat device {};
        if (::stat(paths.resolve(target.device).c_str(), &device) == 0 && S_ISBLK(device.st_mode)) {
            under_target = block_stack(paths, major(device.st_rdev), minor(device.st_rdev));
        }
    }
    if (under_target) {
        if (!*under_target) {
            return propagate(under_target->error(), "Target=" + config.target_description());
        }
        if (!(*under_target)->unsupported.empty()) {
            where = fmt::format("Target={}", config.target_description());
        }
        merge_block_stack(*stack, **under_target);
    }
    if (!stack->unsupported.empty()) {
        return make_error(EINVAL,
                          "{} rests on a block device the capture cannot bring up, so a capture "
                          "could not reach it; not arming: {}",
                          where, stack->unsupported.front());
    }
    return stack;
}

std::string describe_destination(const Config& config, const InitrdBuildPlan& plan) {
    const auto& target = plan.target;
    switch (config.target.kind) {
        case TargetKind::raw:
            return fmt::format("the raw device {} ({}), as a flattened stream", target.source,
                               target.device);
        case TargetKind::ssh:
            return fmt::format("{} through {} ({}), as a flattened stream",
                               config.target_description(), plan.network->interface,
                               plan.network->address);
        case TargetKind::nfs:
            return fmt::format("{} (NFSv4) through {} ({})", target.source, plan.network->interface,
                               plan.network->address);
        case TargetKind::directory:
            break;
    }
    std::string where =
        fmt::format("{} on {} ({})", target.directory_in_filesystem, target.source, target.fstype);
    // A disk the capture logs in to first: which, and the way there.
    for (const auto& session : plan.stack.iscsi_sessions) {
        where += fmt::format(", iSCSI {} at {}:{}", session.target, session.address, session.port);
    }
    if (!plan.stack.iscsi_sessions.empty() && plan.network) {
        where += fmt::format(" through {} ({})", plan.network->interface, plan.network->address);
    }
    return where;
}

}  // namespace

std::optional<std::string> SystemNetworkProbe::resolve_host(const std::string& host) {
    // The daemon's sandbox has no IP sockets: /etc/hosts and literal
    // addresses only.
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (::getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0 || found == nullptr) {
        return std::nullopt;
    }
    std::array<char, NI_MAXHOST> text{};
    const int rc = ::getnameinfo(found->ai_addr, found->ai_addrlen, text.data(), text.size(),
                                 nullptr, 0, NI_NUMERICHOST);
    ::freeaddrinfo(found);
    return rc == 0 ? std::optional<std::string>(text.data()) : std::nullopt;
}

Result<std::string> SystemNetworkProbe::ip_json(const std::vector<std::string>& arguments) {
    std::vector<std::string> command = {"ip", "-j"};
    command.insert(command.end(), arguments.begin(), arguments.end());
    auto output = program_output(command, /*with_standard_error=*/true);
    if (!output && output.error().errno_value == ENOENT) {
        return make_error(ENOENT,
                          "cannot run ip: an ssh or nfs target needs it (the iproute2 "
                          "package)");
    }
    return output;
}

void SystemNetworkProbe::wait_one_second() {
    ::sleep(1);
}

Result<CaptureNetwork> plan_capture_network(const SystemPaths& paths, const Config& config,
                                            NetworkProbe& probe, int wait_seconds,
                                            const std::function<void(const std::string&)>& note) {
    return plan_capture_network_to(paths, config.target.host,
                                   "Target=" + config.target_description(), probe, wait_seconds,
                                   note);
}

Result<CaptureNetwork> plan_capture_network_to(
    const SystemPaths& paths, const std::string& host, const std::string& what, NetworkProbe& probe,
    int wait_seconds, const std::function<void(const std::string&)>& note) {
    Result<CaptureNetwork> network = make_error(0, "not tried");
    std::optional<std::string> address;
    for (int waited = 0;; ++waited) {
        address = probe.resolve_host(host);
        const auto route_json = address ? probe.ip_json({"route", "get", *address})
                                        : probe.ip_json({"route", "show", "default"});
        if (!route_json && route_json.error().errno_value == ENOENT) {
            return tl::unexpected(route_json.error());  // no ip at all: waiting will not help
        }
        const auto route = route_json ? parse_ip_route(*route_json)
                                      : Result<Route>(tl::unexpected(route_json.error()));
        if (!route) {
            network = make_error(0, "no route to {}: {}",
                                 address.value_or(host + " (by the default route)"),
                                 route.error().message);
        } else if (auto link = probe.ip_json({"address", "show", "dev", route->device}); !link) {
            network = tl::unexpected(link.error());
        } else {
            network = capture_network_from(*route, *link);
            // The server on this machine is no passing state.
            if (network || route->device == "lo") {
                break;
            }
        }
        if (waited >= wait_seconds) {
            break;
        }
        if (waited == 0 && note) {
            note(fmt::format("{}: {}; waiting up to {}s for the network", what,
                             network.error().message, wait_seconds));
        }
        probe.wait_one_second();
    }
    if (!network) {
        return propagate(network.error(), what);
    }
    // What lies under the route's interface (a bond's ports, a VLAN's
    // interface, a bridge's), which the capture makes again.
    const auto links_json = probe.ip_json({"-d", "link", "show"});
    auto links = links_json ? capture_links_from(network->interface, *links_json)
                            : Result<std::vector<CaptureLink>>(tl::unexpected(links_json.error()));
    if (!links) {
        return propagate(links.error(), what);
    }
    network->links = std::move(*links);
    // Each NIC's driver and bus, then the modules of the kinds above them.
    for (const auto& link : network->links) {
        if (link.kind != "ethernet") {
            continue;
        }
        auto drivers = network_device_drivers(paths, link.name);
        if (!drivers) {
            return propagate(drivers.error(), what);
        }
        for (const auto& driver : *drivers) {
            add_unique(network->drivers, driver);
        }
    }
    for (const auto& module : capture_link_modules(network->links)) {
        add_unique(network->drivers, module);
    }
    network->server_address = address.value_or("");
    return *network;
}

std::optional<std::string> squash_unavailable_reason(const SystemPaths& paths,
                                                     const std::string& kernel_version) {
    const auto exists = [&](const std::string& path) {
        return ::access(paths.resolve(path).c_str(), F_OK) == 0;
    };
    if (!exists(std::string(kDracutLibrary) + "/modules.d/99squash/module-setup.sh")) {
        return "dracut's squash module is not installed (Debian: dracut-squash)";
    }
    for (const char* program : {"mksquashfs", "unsquashfs"}) {
        if (!exists(fmt::format("/usr/bin/{}", program)) &&
            !exists(fmt::format("/usr/sbin/{}", program))) {
            return fmt::format("{} is not installed (squashfs-tools)", program);
        }
    }
    // A module's line in modules.dep ("kernel/fs/squashfs/squashfs.ko:",
    // compressed ones end .ko.xz or .ko.zst), or its path in
    // modules.builtin when it is built in.
    const std::string modules =
        read_module_index(paths, kernel_version, "modules.dep").value_or("") +
        read_module_index(paths, kernel_version, "modules.builtin").value_or("");
    for (const char* module : {"squashfs", "loop", "overlay"}) {
        if (modules.find(fmt::format("/{}.ko", module)) == std::string::npos) {
            return fmt::format("kernel {} has no {} module", kernel_version, module);
        }
    }
    // The kernel's configuration, where installed: a squashfs without zstd
    // (fs/squashfs/Kconfig, SQUASHFS_ZSTD) cannot read the image.
    if (auto config = read_kernel_file(paths.resolve("/boot/config-" + kernel_version))) {
        if (config->find("\nCONFIG_SQUASHFS_ZSTD=y") == std::string::npos) {
            return fmt::format("kernel {}'s squashfs cannot read zstd (CONFIG_SQUASHFS_ZSTD)",
                               kernel_version);
        }
    }
    return std::nullopt;
}

Result<std::string> read_module_index(const SystemPaths& paths, const std::string& kernel_version,
                                      const std::string& name) {
    auto text = read_kernel_file(fmt::format("{}/{}/{}", paths.modules, kernel_version, name));
    if (!text) {
        if (auto legacy = read_kernel_file(
                fmt::format("{}/{}/{}", paths.legacy_modules, kernel_version, name))) {
            return legacy;
        }
    }
    return text;
}

std::optional<CaptureNetworkDestination> capture_network_destination(const SystemPaths& paths,
                                                                     const Config& config) {
    if (config.target.is_remote()) {
        return CaptureNetworkDestination{config.target.host,
                                         "Target=" + config.target_description()};
    }
    const auto mountinfo = read_kernel_file(paths.resolve("/proc/self/mountinfo"));
    if (!mountinfo) {
        return std::nullopt;
    }
    // The stacks the builder plans (the root's sessions first, then the
    // target's), so the first is the one the capture's network was planned
    // to. A raw target's device is its path (stat follows a by-id link).
    TargetFilesystem target;
    target.device = config.target.path;
    const auto stack = plan_block_stack(paths, *mountinfo, config, target);
    if (!stack) {
        return std::nullopt;  // not armable: nothing loaded to keep current
    }
    const std::vector<IscsiSession>& sessions = stack->iscsi_sessions;
    if (sessions.empty()) {
        return std::nullopt;
    }
    return CaptureNetworkDestination{sessions.front().address,
                                     iscsi_portal_description(sessions.front())};
}

Result<InitrdBuildPlan> plan_initrd_build(const SystemPaths& paths, const Config& config,
                                          const InitrdBuildRequest& request, NetworkProbe& probe) {
    InitrdBuildPlan plan;
    const TargetKind kind = config.target.kind;
    if (kind == TargetKind::ssh) {
        if (auto keys = check_ssh_keys(paths, config); !keys) {
            return tl::unexpected(keys.error());
        }
    }
    // Why the builder waits for the network: kept in the notes and told as
    // it starts waiting (the server's network, or an iSCSI portal's).
    const auto note_network_wait = [&](const std::string& why) {
        plan.notes.push_back(why);
        if (request.progress) {
            request.progress(why);
        }
    };
    if (config.target.is_remote()) {
        auto network =
            plan_capture_network(paths, config, probe, kNetworkWaitSeconds, note_network_wait);
        if (!network) {
            return tl::unexpected(network.error());
        }
        plan.network = std::move(*network);
    }
    const auto mountinfo = read_kernel_file(paths.resolve("/proc/self/mountinfo"));
    if (!mountinfo) {
        return tl::unexpected(mountinfo.error());
    }
    // A missing /proc/swaps (no swap support) lists nothing.
    const auto swaps = kind == TargetKind::raw ? read_kernel_file(paths.resolve("/proc/swaps"))
                                               : Result<std::string>(std::string());
    auto target =
        kind == TargetKind::raw
            ? resolve_raw_target(paths, *mountinfo, swaps.value_or(""), config.target.path)
        : config.target.is_remote()
            ? Result<TargetFilesystem>(remote_target(config))
            : resolve_directory_target(paths, *mountinfo, config.target.path);
    if (!target) {
        return tl::unexpected(target.error());
    }
    plan.target = std::move(*target);
    auto root = resolve_directory_target(paths, *mountinfo, "/");
    if (!root) {
        return propagate(root.error(), "the root filesystem (for FailureAction=dump-to-rootfs)");
    }
    plan.root = std::move(*root);

    // Group= as a number: the capture initrd has no /etc/group.
    std::optional<unsigned> group_id;
    if (!config.group.empty()) {
        const auto gid = resolve_group(config.group);
        if (!gid) {
            return propagate(gid.error(), "Group= on this system");
        }
        group_id = *gid;
    }
    // Where the capture says why it could not mount the target: crashcaptured
    // reads it after the reboot (lib/records/armed-boot-ledger.hpp). Only
    // useful when it is on the root filesystem, which capture_environment()
    // checks.
    std::optional<TargetFilesystem> state_filesystem;
    if (auto state = resolve_directory_target(paths, *mountinfo, kStateDirectory)) {
        state_filesystem = *state;
    } else {
        plan.notes.push_back("no capture failure notes on the root filesystem: " +
                             state.error().message);
    }
    auto stack = plan_block_stack(paths, *mountinfo, config, plan.target);
    if (!stack) {
        return tl::unexpected(stack.error());
    }
    plan.stack = std::move(*stack);
    // A disk reached through iSCSI: the capture brings up the network
    // towards the first session's portal and logs in again. With an ssh or
    // nfs target the capture's one network is the server's.
    if (!plan.stack.iscsi_sessions.empty()) {
        const IscsiSession& first = plan.stack.iscsi_sessions.front();
        if (plan.network) {
            return make_error(ENOTSUP,
                              "Target={}: the root filesystem is on an iSCSI disk ({} at {}), "
                              "and a capture that sends its dump to another machine does not "
                              "also log in to iSCSI: set Target= to a directory (on the iSCSI "
                              "disk or a local one)",
                              config.target_description(), first.target, first.address);
        }
        auto network =
            plan_capture_network_to(paths, first.address, iscsi_portal_description(first), probe,
                                    kNetworkWaitSeconds, note_network_wait);
        if (!network) {
            return tl::unexpected(network.error());
        }
        plan.network = std::move(*network);
    }
    // A separate /boot for the note when the root filesystem is unreachable
    // too; only if the capture can bring up what lies under it, and never a
    // reason to refuse: it is a last resort.
    plan.spare_note = spare_note_filesystem(paths, *mountinfo, plan.target, plan.root);
    if (plan.spare_note) {
        if (auto boot_stack = block_stack_for_directory(paths, *mountinfo, "/boot");
            boot_stack && boot_stack->unsupported.empty()) {
            merge_block_stack(plan.stack, *boot_stack);
        } else {
            plan.notes.push_back(
                "no capture failure note on /boot: " +
                (boot_stack ? boot_stack->unsupported.front() : boot_stack.error().message));
            plan.spare_note.reset();
        }
    }
    plan.staged_files = {
        {"capture.env", capture_environment(config, plan.target, plan.root, group_id,
                                            state_filesystem, plan.network, plan.spare_note) +
                            iscsi_capture_environment(plan.stack.iscsi_sessions)},
        {"capture-actions.conf", capture_unit_dropin(config)},
        {"fallback-actions.conf", fallback_unit_dropin(config)},
    };

    plan.temporary_output = request.output + ".building";
    DracutInvocation invocation;
    invocation.dracut = request.dracut;
    invocation.conf = crashcapture_dracut_conf();
    // --confdir must exist (dracut refuses a missing one); without the
    // admin's directory, point it at ours, which has no drop-ins.
    const std::string admin_confdir = paths.resolve(std::string(kAdminDracutConfDir));
    invocation.confdir =
        ::access(admin_confdir.c_str(), F_OK) == 0 ? admin_confdir : crashcapture_dracut_conf_dir();
    invocation.kernel_version = request.kernel_version;
    invocation.output = plan.temporary_output;
    invocation.root_device = plan.root.device;
    invocation.target_device = plan.target.device;
    // Each filesystem's module by its fs- alias (ext2 and ext3 are ext4's);
    // NFSv4's filesystem type is nfs4, its module nfsv4 (fs/nfs/Makefile).
    const std::string modules_alias =
        read_module_index(paths, request.kernel_version, "modules.alias").value_or("");
    const auto add_driver = [&](const std::string& fstype) {
        if (fstype.empty()) {
            return;
        }
        const std::string module =
            fstype == "nfs4" ? "nfsv4" : filesystem_module(modules_alias, fstype);
        if (std::find(invocation.drivers.begin(), invocation.drivers.end(), module) ==
            invocation.drivers.end()) {
            invocation.drivers.push_back(module);
        }
    };
    add_driver(plan.target.fstype);
    add_driver(plan.root.fstype);
    if (plan.spare_note) {
        invocation.extra_devices.push_back(plan.spare_note->device);
        add_driver(plan.spare_note->fstype);
    }
    if (plan.network) {
        invocation.drivers.insert(invocation.drivers.end(), plan.network->drivers.begin(),
                                  plan.network->drivers.end());
    }
    invocation.stack = plan.stack;
    if (auto why = squash_unavailable_reason(paths, request.kernel_version)) {
        plan.squash_missing = *why;
    } else {
        plan.squash = true;
        // 99squash's installpost(): the loader is busybox when dracut finds
        // one, else sh, kmod and util-linux's mount with their libraries
        // (kmod alone pulls in libcrypto, 4.7 MB on Debian 12).
        if (::access(paths.resolve("/usr/bin/busybox").c_str(), X_OK) != 0 &&
            ::access(paths.resolve("/bin/busybox").c_str(), X_OK) != 0) {
            plan.notes.push_back(
                "no busybox: the squash loader takes sh, kmod and mount with their libraries, "
                "about 8 MB more while the capture kernel unpacks its initrd");
        }
    }
    invocation.squash = plan.squash;
    invocation.verbose = request.verbose;
    plan.dracut_command = dracut_command(invocation);
    plan.destination = describe_destination(config, plan);
    return plan;
}

}  // namespace crashcapture
