// crashcapture-build-initrd: builds the capture initrd with dracut, the
// crashcapture dracut module (dracut/modules.d/99crashcapture) and
// crashcaptured's own dracut configuration, so that the host's dracut
// settings do not leak in. crashcaptured runs it as
//   crashcapture-build-initrd --kernel-version KVER --kernel IMAGE --output FILE
// and an admin may run it by hand (--dry-run shows the plan).
#include <fcntl.h>
#include <netdb.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "block-stack.hpp"
#include "config.hpp"
#include "dracut-command.hpp"
#include "file-util.hpp"
#include "group.hpp"
#include "initrd-inputs.hpp"
#include "initrd-plan.hpp"
#include "initrd-size.hpp"
#include "process.hpp"
#include "remote-target.hpp"
#include "system-paths.hpp"

using namespace crashcapture;

namespace {

constexpr int kBuiltOk = 0;
constexpr int kBuildFailed = 1;
constexpr int kBuildUsage = 2;

// Installed by the package (CMakeLists.txt): our dracut.conf, which replaces
// /etc/dracut.conf, and the admin's additions, which replace
// /etc/dracut.conf.d.
// Both are inputs of the capture initrd, which lib/arming/initrd-inputs.hpp
// owns (kAdminDracutConfDir comes from there too).
const std::string kDracutConf = crashcapture_dracut_conf();
// crashcaptured's StateDirectory= (units/crashcaptured.service).
constexpr const char* kStateDirectory = "/var/lib/crashcapture";

[[noreturn]] void fail(const std::string& message) {
    std::cerr << "crashcapture-build-initrd: " << message << '\n';
    std::exit(kBuildFailed);
}

void write_text(const std::string& path, const std::string& text, mode_t mode) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0 || ::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size()) ||
        ::close(fd) != 0) {
        fail(fmt::format("cannot write {}: {}", path, std::strerror(errno)));
    }
}

// mkdir -p with 0700 for the last component: a dump directory holds
// memory images (crashcapture.conf(5), Target=).
void make_target_directory(const std::string& path) {
    std::error_code error;
    const std::filesystem::path directory(path);
    std::filesystem::create_directories(directory.parent_path(), error);
    if (error) {
        fail(
            fmt::format("cannot create {}: {}", directory.parent_path().string(), error.message()));
    }
    if (auto made = make_directory(path, 0700); !made) {
        fail(fmt::format("cannot create the target directory: {}", made.error().message));
    }
}

// What `ip -j ...` prints.
Result<std::string> ip_json(const std::vector<std::string>& arguments) {
    std::vector<std::string> command = {"ip", "-j"};
    command.insert(command.end(), arguments.begin(), arguments.end());
    auto output = program_output(command, /*with_standard_error=*/true);
    if (!output && output.error().errno_value == ENOENT) {
        fail("cannot run ip: an ssh target needs it (the iproute2 package)");
    }
    return output;
}

// The server's address when this system can resolve it (the daemon's
// sandbox has no IP sockets: /etc/hosts and literal addresses only).
std::optional<std::string> resolve_host(const std::string& host) {
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
void check_ssh_keys(const SystemPaths& paths, const Config& config) {
    for (const auto path : {kSshKeyPath, kSshKnownHostsPath}) {
        if (::access(paths.resolve(path).c_str(), R_OK) != 0) {
            fail(
                fmt::format("Target={}: cannot read {} ({}); run `crashcapturectl propagate` "
                            "to make the capture's key, install it on the server and record "
                            "the server's host key",
                            config.target_description(), path, std::strerror(errno)));
        }
    }
}

// An ssh or nfs target: the capture kernel gets this system's way to the
// server.
CaptureNetwork plan_capture_network(const SystemPaths& paths, const Config& config) {
    // At boot crashcaptured starts before the network is configured (it
    // needs none itself): wait for a route and an address, as long as
    // systemd waits for a device (DefaultDeviceTimeoutSec=90s).
    constexpr int kNetworkWaitSeconds = 90;
    Result<CaptureNetwork> network = make_error(0, "not tried");
    std::optional<std::string> address;
    for (int waited = 0;; ++waited) {
        address = resolve_host(config.target.host);
        const auto route_json =
            address ? ip_json({"route", "get", *address}) : ip_json({"route", "show", "default"});
        const auto route = route_json ? parse_ip_route(*route_json)
                                      : Result<Route>(tl::unexpected(route_json.error()));
        if (!route) {
            network = make_error(0, "no route to {}: {}",
                                 address.value_or(config.target.host + " (by the default route)"),
                                 route.error().message);
        } else if (auto link = ip_json({"address", "show", "dev", route->device}); !link) {
            network = tl::unexpected(link.error());
        } else {
            network = capture_network_from(*route, *link);
            // The server on this machine is no passing state.
            if (network || route->device == "lo") {
                break;
            }
        }
        if (waited == kNetworkWaitSeconds) {
            break;
        }
        if (waited == 0) {
            std::cerr << fmt::format(
                "crashcapture-build-initrd: Target={}: {}; waiting up to {}s for the network\n",
                config.target_description(), network.error().message, kNetworkWaitSeconds);
        }
        ::sleep(1);
    }
    if (!network) {
        fail(fmt::format("Target={}: {}", config.target_description(), network.error().message));
    }
    auto drivers = network_device_drivers(paths, network->interface);
    if (!drivers) {
        fail(fmt::format("Target={}: {}", config.target_description(), drivers.error().message));
    }
    network->drivers = std::move(*drivers);
    network->server_address = address.value_or("");
    return *network;
}

// The block devices under the root filesystem and the target, and what the
// capture needs to bring them up; refuses a layer it cannot (dm-crypt).
BlockStack plan_block_stack(const SystemPaths& paths, const std::string& mountinfo,
                            const Config& config, const TargetFilesystem& target) {
    auto stack = block_stack_for_directory(paths, mountinfo, "/");
    if (!stack) {
        fail(fmt::format("the root filesystem's devices: {}", stack.error().message));
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
            fail(fmt::format("Target={}: {}", config.target_description(),
                             under_target->error().message));
        }
        if (!(*under_target)->unsupported.empty()) {
            where = fmt::format("Target={}", config.target_description());
        }
        merge_block_stack(*stack, **under_target);
    }
    if (!stack->unsupported.empty()) {
        fail(
            fmt::format("{} rests on a block device the capture cannot bring up, so a capture "
                        "could not reach it; not arming: {}",
                        where, stack->unsupported.front()));
    }
    return std::move(*stack);
}

// What the image must hold for the block stack, checked in the image itself:
// a capture initrd without them waits for its device and reboots, and the
// crash is lost.
void check_image(const SystemPaths& paths, const std::string& image,
                 const std::string& kernel_version, const BlockStack& stack) {
    const auto listing = measure_initrd(image, /*with_names=*/true);
    if (!listing) {
        ::unlink(image.c_str());
        fail(fmt::format("cannot list the built initrd: {}", listing.error().message));
    }
    std::vector<std::string> builtin;
    if (auto text =
            read_kernel_file(fmt::format("{}/{}/modules.builtin", paths.modules, kernel_version))) {
        std::string_view rest = *text;
        while (!rest.empty()) {
            const size_t end = std::min(rest.find('\n'), rest.size());
            builtin.emplace_back(rest.substr(0, end));
            rest.remove_prefix(std::min(end + 1, rest.size()));
        }
    }
    const auto missing = missing_from_image(stack, listing->file_names, builtin);
    if (!missing.empty()) {
        std::string list;
        for (const auto& item : missing) {
            list += (list.empty() ? "" : ", ") + item;
        }
        ::unlink(image.c_str());
        fail(
            fmt::format("the built initrd lacks what the block devices under the root and the "
                        "target need ({}); not arming a capture that cannot reach them",
                        list));
    }
}

}  // namespace

int main(int argc, char** argv) {
    std::string kernel_version;
    std::string kernel_image;
    std::string output;
    std::string dracut = "dracut";
    std::string record_inputs;
    bool dry_run = false;
    bool verbose = false;

    CLI::App app{
        "Build the capture initrd: dracut with crashcaptured's own configuration, the "
        "crashcapture module, and exactly the drivers the dump target needs.",
        "crashcapture-build-initrd"};
    app.set_version_flag("--version", CRASHCAPTURE_VERSION);
    app.add_option("--kernel-version", kernel_version,
                   "Kernel release the initrd is for (its modules are in /lib/modules/KVER)")
        ->required();
    app.add_option("--kernel", kernel_image,
                   "The capture kernel's image (recorded only; dracut needs the release)");
    app.add_option("--output", output, "Where to write the initrd (replaced atomically)")
        ->required();
    app.add_option("--dracut", dracut, "The dracut to run")->default_val("dracut");
    app.add_option("--record-inputs", record_inputs,
                   "Write the host files that went into the initrd to FILE (JSON; crashcaptured "
                   "hashes them to know when to rebuild)");
    app.add_flag("--dry-run", dry_run,
                 "Print the files for the initrd and the dracut command, build nothing");
    app.add_flag("-v,--verbose", verbose, "Let dracut say what it includes");
    app.footer(
        "Exit status: 0 built, 1 failed (the message says why), 2 usage error. "
        "See crashcapture-build-initrd(8).");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int code = app.exit(e);
        return code == 0 ? kBuiltOk : kBuildUsage;
    }

    const SystemPaths paths = SystemPaths::from_environment();
    auto config = load_config(paths);
    if (!config) {
        fail(fmt::format("the configuration has errors:\n{}", config.error().message));
    }
    const TargetKind kind = config->target.kind;
    std::optional<CaptureNetwork> network;
    if (kind == TargetKind::ssh) {
        check_ssh_keys(paths, *config);
    }
    if (kind == TargetKind::ssh || kind == TargetKind::nfs) {
        network = plan_capture_network(paths, *config);
    }
    if (kind == TargetKind::directory && !dry_run) {
        make_target_directory(paths.resolve(config->target.path));
    }
    const auto mountinfo = read_kernel_file(paths.resolve("/proc/self/mountinfo"));
    if (!mountinfo) {
        fail(mountinfo.error().message);
    }
    // A missing /proc/swaps (no swap support) lists nothing.
    const auto swaps = kind == TargetKind::raw ? read_kernel_file(paths.resolve("/proc/swaps"))
                                               : Result<std::string>(std::string());
    const auto target =
        kind == TargetKind::raw
            ? resolve_raw_target(paths, *mountinfo, swaps.value_or(""), config->target.path)
        : kind == TargetKind::ssh || kind == TargetKind::nfs
            ? Result<TargetFilesystem>(remote_target(*config))
            : resolve_directory_target(paths, *mountinfo, config->target.path);
    if (!target) {
        fail(target.error().message);
    }
    const auto root = resolve_directory_target(paths, *mountinfo, "/");
    if (!root) {
        fail(fmt::format("the root filesystem (for FailureAction=dump-to-rootfs): {}",
                         root.error().message));
    }

    // The files the module installs (module-setup.sh reads
    // $CRASHCAPTURE_STAGING).
    // Group= as a number: the capture initrd has no /etc/group.
    std::optional<unsigned> group_id;
    if (!config->group.empty()) {
        const auto gid = resolve_group(config->group);
        if (!gid) {
            fail(fmt::format("Group={} on this system", gid.error().message));
        }
        group_id = *gid;
    }
    // Where the capture says why it could not mount the target: crashcaptured
    // reads it after the reboot (lib/armed-boot-ledger.hpp). Only useful when
    // it is on the root filesystem, which capture_environment() checks.
    std::optional<TargetFilesystem> state_filesystem;
    if (auto state = resolve_directory_target(paths, *mountinfo, kStateDirectory)) {
        state_filesystem = *state;
    } else if (verbose) {
        fmt::print(stderr, "no capture failure notes: {}\n", state.error().message);
    }
    // A separate /boot for the note when the root filesystem is unreachable
    // too; only if the capture can bring up what lies under it, and never a
    // reason to refuse: it is a last resort.
    auto spare_note = spare_note_filesystem(paths, *mountinfo, *target, *root);
    std::optional<BlockStack> spare_stack;
    if (spare_note) {
        if (auto stack = block_stack_for_directory(paths, *mountinfo, "/boot");
            stack && stack->unsupported.empty()) {
            spare_stack = std::move(*stack);
        } else {
            if (verbose) {
                fmt::print(stderr, "no capture failure note on /boot: {}\n",
                           stack ? stack->unsupported.front() : stack.error().message);
            }
            spare_note.reset();
        }
    }
    const std::string environment = capture_environment(*config, *target, *root, group_id,
                                                        state_filesystem, network, spare_note);
    const std::string capture_dropin = capture_unit_dropin(*config);
    const std::string fallback_dropin = fallback_unit_dropin(*config);

    const std::string temporary_output = output + ".building";
    BlockStack stack = plan_block_stack(paths, *mountinfo, *config, *target);
    if (spare_stack) {
        merge_block_stack(stack, *spare_stack);
    }
    DracutInvocation invocation;
    invocation.dracut = dracut;
    invocation.conf = kDracutConf;
    // --confdir must exist (dracut refuses a missing one); without the
    // admin's directory, point it at ours, which has no drop-ins.
    invocation.confdir = ::access(paths.resolve(kAdminDracutConfDir).c_str(), F_OK) == 0
                             ? paths.resolve(kAdminDracutConfDir)
                             : std::string(CRASHCAPTURE_LIBDIR "/dracut.conf.d");
    invocation.kernel_version = kernel_version;
    invocation.output = temporary_output;
    invocation.root_device = root->device;
    invocation.target_device = target->device;
    // Each filesystem's module by its fs- alias (ext2 and ext3 are ext4's);
    // NFSv4's filesystem type is nfs4, its module nfsv4 (fs/nfs/Makefile).
    const std::string modules_alias =
        read_kernel_file(fmt::format("{}/{}/modules.alias", paths.modules, kernel_version))
            .value_or("");
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
    add_driver(target->fstype);
    add_driver(root->fstype);
    if (spare_note) {
        invocation.extra_devices.push_back(spare_note->device);
        add_driver(spare_note->fstype);
    }
    if (network) {
        invocation.drivers.insert(invocation.drivers.end(), network->drivers.begin(),
                                  network->drivers.end());
    }
    invocation.stack = stack;
    invocation.verbose = verbose;
    const std::vector<std::string> dracut_command = crashcapture::dracut_command(invocation);

    if (dry_run) {
        std::cout << "# /etc/crashcapture/capture.env\n"
                  << environment
                  << "\n# /etc/systemd/system/crashcapture-capture.service.d/50-actions.conf\n"
                  << capture_dropin
                  << "\n# /etc/systemd/system/crashcapture-fallback.service.d/50-actions.conf\n"
                  << fallback_dropin << "\n# block devices under the root and the target\n";
        for (const auto& layer : stack.layers) {
            std::cout << "# " << layer.name << ": " << layer.kind
                      << (layer.detail.empty() ? "" : " " + layer.detail) << '\n';
        }
        std::cout << "\n# dracut command\n";
        for (const auto& word : dracut_command) {
            std::cout << shell_quote(word) << ' ';
        }
        std::cout << '\n';
        return kBuiltOk;
    }

    char staging_template[] = "/tmp/crashcapture-initrd.XXXXXX";
    if (::mkdtemp(staging_template) == nullptr) {
        fail(fmt::format("cannot create a staging directory in /tmp: {}", std::strerror(errno)));
    }
    const std::string staging = staging_template;
    write_text(staging + "/capture.env", environment, 0644);
    write_text(staging + "/capture-actions.conf", capture_dropin, 0644);
    write_text(staging + "/fallback-actions.conf", fallback_dropin, 0644);

    const auto ran = run_program(dracut_command, {"CRASHCAPTURE_STAGING=" + staging});
    if (!ran) {
        fail(ran.error().message);
    }
    const int status = *ran;
    std::error_code ignored;
    std::filesystem::remove_all(staging, ignored);
    if (status != 0) {
        ::unlink(temporary_output.c_str());
        fail(
            fmt::format("dracut failed (exit status {}); run crashcapture-build-initrd "
                        "--verbose --kernel-version {} --output FILE to see why",
                        status, kernel_version));
    }
    check_image(paths, temporary_output, kernel_version, stack);
    if (!record_inputs.empty()) {
        if (auto recorded =
                record_initrd_inputs(paths, temporary_output, kernel_version, record_inputs);
            !recorded) {
            ::unlink(temporary_output.c_str());
            fail(recorded.error().message);
        }
    }
    if (::rename(temporary_output.c_str(), output.c_str()) != 0) {
        fail(fmt::format("cannot rename {} to {}: {}", temporary_output, output,
                         std::strerror(errno)));
    }
    struct stat built {};
    ::stat(output.c_str(), &built);
    const std::string destination =
        kind == TargetKind::raw ? fmt::format("the raw device {} ({}), as a flattened stream",
                                              target->source, target->device)
        : kind == TargetKind::ssh
            ? fmt::format("{} through {} ({}), as a flattened stream", config->target_description(),
                          network->interface, network->address)
        : kind == TargetKind::nfs ? fmt::format("{} (NFSv4) through {} ({})", target->source,
                                                network->interface, network->address)
                                  : fmt::format("{} on {} ({})", target->directory_in_filesystem,
                                                target->source, target->fstype);
    std::cout << fmt::format("crashcapture-build-initrd: {} for {}: {:.1f} MiB; dumps go to {}\n",
                             output, kernel_version, static_cast<double>(built.st_size) / (1 << 20),
                             destination);
    return kBuiltOk;
}
