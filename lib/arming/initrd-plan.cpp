#include "initrd-plan.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <fmt/format.h>
#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <filesystem>

#include "armed-boot-ledger.hpp"
#include "file-util.hpp"
#include "raw-recovery.hpp"
#include "remote-target.hpp"
#include "text.hpp"

namespace crashcapture {

namespace {

// Undoes the kernel's seq_escape(): a backslash and three octal digits.
std::string unescape_mountinfo(std::string_view field) {
    std::string out;
    out.reserve(field.size());
    for (size_t i = 0; i < field.size(); ++i) {
        if (field[i] == '\\' && field.size() - i >= 4) {
            const std::string_view digits = field.substr(i + 1, 3);
            if (digits.find_first_not_of("01234567") == std::string_view::npos) {
                out += static_cast<char>((digits[0] - '0') * 64 + (digits[1] - '0') * 8 +
                                         (digits[2] - '0'));
                i += 3;
                continue;
            }
        }
        out += field[i];
    }
    return out;
}

std::vector<std::string_view> split_words(std::string_view line) {
    std::vector<std::string_view> words;
    size_t position = 0;
    while (position < line.size()) {
        const size_t start = line.find_first_not_of(' ', position);
        if (start == std::string_view::npos) {
            break;
        }
        const size_t end = std::min(line.find(' ', start), line.size());
        words.push_back(line.substr(start, end - start));
        position = end;
    }
    return words;
}

// The lines of a kernel text file, without their '\n'; a final '\n' ends
// the last line rather than starting an empty one.
std::vector<std::string_view> split_lines(std::string_view text) {
    std::vector<std::string_view> lines;
    for (size_t position = 0; position < text.size();) {
        const size_t end = std::min(text.find('\n', position), text.size());
        lines.push_back(text.substr(position, end - position));
        position = end + 1;
    }
    return lines;
}

// "/var/crash" under mount point "/var" -> "/crash"; under "/" -> itself.
std::string path_below(std::string_view path, std::string_view mount_point) {
    if (mount_point == "/") {
        return std::string(path);
    }
    std::string rest(path.substr(mount_point.size()));
    return rest.empty() ? "/" : rest;
}

// "/" + "/var/crash" -> "/var/crash"; "/@" + "/var/crash" -> "/@/var/crash".
std::string join_paths(std::string_view base, std::string_view rest) {
    if (base == "/" || base.empty()) {
        return std::string(rest);
    }
    if (rest == "/") {
        return std::string(base);
    }
    return std::string(base) + std::string(rest);
}

// DEVNAME= from /sys/dev/block/MAJ:MIN/uevent (Documentation/ABI/testing/
// sysfs-dev: every block device has that link), "" when it is not there
// (btrfs and other filesystems on anonymous device numbers).
std::string device_name_from_sysfs(const SystemPaths& paths, unsigned major, unsigned minor) {
    const auto uevent =
        read_kernel_file(paths.resolve(fmt::format("/sys/dev/block/{}:{}/uevent", major, minor)));
    if (!uevent) {
        return {};
    }
    for (const auto line : split_lines(*uevent)) {
        if (line.starts_with("DEVNAME=")) {
            return std::string(line.substr(8));
        }
    }
    return {};
}

// A device-mapper device's stable name (dm-0 -> /dev/mapper/vg-root), from
// /sys/dev/block/MAJ:MIN/dm/name (Documentation/ABI/testing/sysfs-block-dm).
std::string device_mapper_name(const SystemPaths& paths, unsigned major, unsigned minor) {
    auto name =
        read_kernel_file(paths.resolve(fmt::format("/sys/dev/block/{}:{}/dm/name", major, minor)));
    if (!name) {
        return {};
    }
    while (!name->empty() && name->back() == '\n') {
        name->pop_back();
    }
    return *name;
}

// The UUID whose /dev/disk/by-uuid link (made by udev's 60-persistent-
// storage.rules) points at device_name, or "".
std::string uuid_of_device(const SystemPaths& paths, const std::string& device_name) {
    const std::string by_uuid = paths.resolve("/dev/disk/by-uuid");
    auto directory = open_directory(by_uuid);
    if (!directory) {
        return {};
    }
    auto names = list_directory(directory->get(), by_uuid);
    if (!names) {
        return {};
    }
    for (const auto& name : *names) {
        std::array<char, 4096> link{};
        const ssize_t length =
            ::readlinkat(directory->get(), name.c_str(), link.data(), link.size() - 1);
        if (length <= 0) {
            continue;
        }
        const std::string_view target(link.data(), static_cast<size_t>(length));
        const size_t slash = target.rfind('/');
        if (target.substr(slash == std::string_view::npos ? 0 : slash + 1) == device_name) {
            return name;
        }
    }
    return {};
}

std::string_view systemd_action(std::string_view action) {
    // The -force variants (systemd.unit(5), "SuccessAction="): the capture
    // initrd has nothing worth an orderly stop, and a hung unit must not
    // keep the machine from coming back.
    if (action == "reboot") {
        return "reboot-force";
    }
    if (action == "poweroff") {
        return "poweroff-force";
    }
    if (action == "halt") {
        return "halt-force";
    }
    return "none";
}

std::string timeout_setting(const Config& config) {
    return config.timeout_usec == kInfiniteTimeSpan || config.timeout_usec == 0
               ? std::string("infinity")
               : format_timespan(config.timeout_usec);
}

}  // namespace

Result<std::vector<MountInfoEntry>> parse_mountinfo(std::string_view text) {
    std::vector<MountInfoEntry> mounts;
    unsigned line_number = 0;
    for (const auto line : split_lines(text)) {
        ++line_number;
        if (line.empty()) {
            continue;
        }
        const auto words = split_words(line);
        // Optional fields (7) end at the lone "-"; three fields follow it.
        size_t separator = 6;
        while (separator < words.size() && words[separator] != "-") {
            ++separator;
        }
        MountInfoEntry entry;
        const std::string_view device = words.size() > 2 ? words[2] : std::string_view();
        const size_t colon = device.find(':');
        const auto major = parse_integer<unsigned>(device.substr(0, colon));
        const auto minor = colon == std::string_view::npos
                               ? std::nullopt
                               : parse_integer<unsigned>(device.substr(colon + 1));
        if (words.size() < 6 || separator + 2 >= words.size() || !major || !minor) {
            return make_error(0,
                              "mountinfo line {}: not \"ID PARENT MAJ:MIN ROOT MOUNTPOINT "
                              "OPTIONS ... - FSTYPE SOURCE OPTIONS\"",
                              line_number);
        }
        entry.major = *major;
        entry.minor = *minor;
        entry.root = unescape_mountinfo(words[3]);
        entry.mount_point = unescape_mountinfo(words[4]);
        entry.fstype = std::string(words[separator + 1]);
        entry.source = unescape_mountinfo(words[separator + 2]);
        mounts.push_back(std::move(entry));
    }
    return mounts;
}

const MountInfoEntry* find_mount_for(const std::vector<MountInfoEntry>& mounts,
                                     std::string_view path) {
    const MountInfoEntry* best = nullptr;
    for (const auto& mount : mounts) {
        const std::string_view point = mount.mount_point;
        const bool holds =
            point == "/" || path == point ||
            (path.starts_with(point) && path.size() > point.size() && path[point.size()] == '/');
        if (holds && (best == nullptr || point.size() >= best->mount_point.size())) {
            best = &mount;
        }
    }
    return best;
}

std::string fstab_mount_not_mounted(std::string_view fstab_text,
                                    const std::vector<MountInfoEntry>& mounts,
                                    std::string_view path) {
    std::string best;
    for (std::string_view line : split_lines(fstab_text)) {
        line = trim(line);
        if (line.empty() || line.starts_with('#')) {
            continue;
        }
        const auto words = split_words(line);
        if (words.size() < 3) {
            continue;
        }
        // fstab(5) escapes spaces in its fields as \040, as mountinfo does.
        std::string mount_point = unescape_mountinfo(words[1]);
        while (mount_point.size() > 1 && mount_point.ends_with('/')) {
            mount_point.pop_back();
        }
        const bool noauto =
            words.size() > 3 && (words[3] == "noauto" || words[3].starts_with("noauto,") ||
                                 words[3].find(",noauto") != std::string::npos);
        if (mount_point == "/" || !mount_point.starts_with('/') || words[2] == "swap" || noauto) {
            continue;
        }
        const bool holds = path == mount_point ||
                           (path.starts_with(mount_point) && path[mount_point.size()] == '/');
        if (holds && mount_point.size() > best.size()) {
            best = std::move(mount_point);
        }
    }
    if (best.empty()) {
        return {};
    }
    const bool mounted = std::any_of(mounts.begin(), mounts.end(), [&](const MountInfoEntry& m) {
        return m.mount_point == best;
    });
    return mounted ? std::string() : best;
}

bool is_local_block_filesystem(std::string_view fstype) {
    static constexpr std::array<std::string_view, 8> kSupported = {
        "ext4", "ext3", "ext2", "xfs", "btrfs", "f2fs", "vfat", "exfat"};
    for (const auto supported : kSupported) {
        if (fstype == supported) {
            return true;
        }
    }
    return false;
}

Result<TargetFilesystem> resolve_directory_target(const SystemPaths& paths,
                                                  std::string_view mountinfo_text,
                                                  const std::string& directory) {
    if (directory.empty() || directory[0] != '/') {
        return make_error(EINVAL, "Target={}: not an absolute path", directory);
    }
    auto mounts = parse_mountinfo(mountinfo_text);
    if (!mounts) {
        return propagate(mounts.error(), "reading /proc/self/mountinfo");
    }
    const MountInfoEntry* mount = find_mount_for(*mounts, directory);
    if (mount == nullptr) {
        return make_error(ENOENT, "Target={}: no filesystem is mounted there", directory);
    }
    if (!is_local_block_filesystem(mount->fstype)) {
        return make_error(EINVAL,
                          "Target={} is on {} ({} at {}), which the capture kernel cannot write "
                          "to a disk: choose a directory on a local disk filesystem (ext4, xfs, "
                          "btrfs, ...), or Target=nfs:SERVER:/DIR or ssh://HOST/DIR",
                          directory, mount->fstype, mount->source, mount->mount_point);
    }
    TargetFilesystem target;
    target.host_directory = directory;
    target.mount_point = mount->mount_point;
    target.fstype = mount->fstype;
    target.is_root_filesystem = mount->mount_point == "/";
    target.directory_in_filesystem =
        join_paths(mount->root, path_below(directory, mount->mount_point));

    std::string device_name = device_name_from_sysfs(paths, mount->major, mount->minor);
    if (device_name.empty() && mount->source.starts_with("/dev/")) {
        device_name = mount->source.substr(mount->source.rfind('/') + 1);
    }
    if (device_name.empty()) {
        return make_error(ENODEV, "Target={}: cannot tell which block device holds {} ({} {})",
                          directory, mount->mount_point, mount->fstype, mount->source);
    }
    const std::string mapper_name = device_mapper_name(paths, mount->major, mount->minor);
    target.device = mapper_name.empty() ? "/dev/" + device_name : "/dev/mapper/" + mapper_name;
    const std::string uuid = uuid_of_device(paths, device_name);
    target.source = uuid.empty() ? target.device : "UUID=" + uuid;
    return target;
}

Result<TargetFilesystem> resolve_raw_target(const SystemPaths& paths,
                                            std::string_view mountinfo_text,
                                            std::string_view swaps_text,
                                            const std::string& device) {
    const std::string what = "Target=raw:" + device;
    std::error_code error;
    const auto real = std::filesystem::canonical(paths.resolve(device), error);
    if (error) {
        return make_error(error.value(), "{}: {}", what, error.message());
    }
    struct stat st {};
    if (::stat(real.c_str(), &st) < 0) {
        return make_errno_error(errno, "{}: cannot stat {}", what, real.string());
    }
    if (!S_ISBLK(st.st_mode)) {
        return make_error(ENOTBLK, "{}: {} is not a block device", what, real.string());
    }
    // The node as the running system names it, without paths' root.
    std::string node = real.string();
    if (!paths.root.empty() && node.starts_with(paths.root + "/")) {
        node = node.substr(paths.root.size());
    }
    const unsigned major = ::major(st.st_rdev);
    const unsigned minor = ::minor(st.st_rdev);
    const std::string destroys = "a dump written there would destroy it";
    auto mounts = parse_mountinfo(mountinfo_text);
    if (!mounts) {
        return propagate(mounts.error(), "reading /proc/self/mountinfo");
    }
    for (const auto& mount : *mounts) {
        if (mount.major == major && mount.minor == minor) {
            return make_error(EBUSY, "{}: {} is mounted on {} ({}): {}", what, node,
                              mount.mount_point, mount.fstype, destroys);
        }
    }
    // /proc/swaps: "Filename Type Size Used Priority" and one line a swap
    // area, the name padded with spaces, then tabs (mm/swapfile.c
    // swap_show(), which escapes the name like mountinfo).
    const auto swap_lines = split_lines(swaps_text);
    for (size_t i = 1; i < swap_lines.size(); ++i) {  // after the header line
        const auto name = swap_lines[i].substr(0, swap_lines[i].find_first_of(" \t"));
        if (!name.empty() && unescape_mountinfo(name) == node) {
            return make_error(EBUSY, "{}: {} is in use as swap: {}", what, node, destroys);
        }
    }
    // Documentation/ABI/stable/sysfs-block: holders/ lists the devices
    // built on this one (dm, md); a partition is a subdirectory with a
    // "partition" file.
    const std::string sys = paths.resolve(fmt::format("/sys/dev/block/{}:{}", major, minor));
    for (const auto& entry : std::filesystem::directory_iterator(sys + "/holders", error)) {
        return make_error(EBUSY, "{}: {} is in use by {} (LVM, RAID or encryption): {}", what, node,
                          entry.path().filename().string(), destroys);
    }
    for (const auto& entry : std::filesystem::directory_iterator(sys, error)) {
        if (std::filesystem::exists(entry.path() / "partition", error)) {
            return make_error(EBUSY,
                              "{}: {} has partitions ({}): {}; name one partition that is not "
                              "in use, or a disk without partitions",
                              what, node, entry.path().filename().string(), destroys);
        }
    }
    TargetFilesystem target;
    target.device = node;
    target.source = device;
    return target;
}

std::optional<TargetFilesystem> spare_note_filesystem(const SystemPaths& paths,
                                                      std::string_view mountinfo_text,
                                                      const TargetFilesystem& target,
                                                      const TargetFilesystem& root) {
    auto boot = resolve_directory_target(paths, mountinfo_text, "/boot");
    if (!boot || boot->mount_point != "/boot" || boot->source == root.source ||
        boot->source == target.source) {
        return std::nullopt;
    }
    return *boot;
}

std::vector<std::string> save_arguments(const Config& config, std::optional<unsigned> group_id,
                                        std::optional<DumpFormat> format) {
    std::vector<std::string> words = {
        "--format",         std::string(to_string(format.value_or(config.effective_format()))),
        "--compress",       std::string(to_string(config.compression)),
        "--compress-level", std::to_string(config.effective_compression_level()),
        "--dump-level",     std::to_string(config.dump_level)};
    if (group_id) {
        words.insert(words.end(), {"--group", std::to_string(*group_id)});
    }
    return words;
}

std::string shell_quote(std::string_view word) {
    std::string quoted = "'";
    for (const char c : word) {
        if (c == '\'') {
            quoted += "'\\''";
        } else {
            quoted += c;
        }
    }
    quoted += '\'';
    return quoted;
}

namespace {

// CRASHCAPTURE_NET_LINKS: one line per interface the capture makes, the
// route's interface last.
std::string capture_link_lines(const CaptureNetwork& network) {
    std::string lines;
    for (const auto& link : links_to_make(network)) {
        if (!lines.empty()) {
            lines += '\n';
        }
        lines += capture_link_line(link);
    }
    return lines;
}

}  // namespace

std::string capture_environment(const Config& config, const TargetFilesystem& target,
                                const TargetFilesystem& root, std::optional<unsigned> group_id,
                                const std::optional<TargetFilesystem>& state,
                                const std::optional<CaptureNetwork>& network,
                                const std::optional<TargetFilesystem>& spare_note) {
    const auto join_words = [](const std::vector<std::string>& words) {
        std::string joined;
        for (const auto& word : words) {
            joined += joined.empty() ? "" : " ";
            joined += word;
        }
        return joined;
    };
    const bool raw = config.target.kind == TargetKind::raw;
    const bool ssh = config.target.kind == TargetKind::ssh;
    const bool nfs = config.target.kind == TargetKind::nfs;
    // Targets that cannot hold a kdump file (a device, a pipe) stream it; a
    // fallback to the root filesystem writes a file like any other.
    const bool streamed = raw || ssh;
    // The root filesystem, reachable when the target is not it.
    const bool state_on_root = state && !target.is_root_filesystem &&
                               state->source == root.source && state->fstype == root.fstype;
    // Dumps that fall back to the root filesystem go to its /var/crash
    // (FailureAction=dump-to-rootfs, crashcapture.conf(5)).
    const std::string fallback_directory =
        target.is_root_filesystem ? target.directory_in_filesystem
                                  : join_paths(root.directory_in_filesystem, "/var/crash");
    std::string text =
        "# Written by crashcapture-build-initrd from crashcapture.conf; read by\n"
        "# /usr/lib/crashcapture/crashcapture-capture in the capture initrd.\n";
    const std::vector<std::pair<std::string_view, std::string>> assignments = {
        {"CRASHCAPTURE_TARGET", config.target_description()},
        {"CRASHCAPTURE_TARGET_KIND", std::string(to_string(config.target.kind))},
        {"CRASHCAPTURE_TARGET_SOURCE", target.source},
        {"CRASHCAPTURE_TARGET_DEVICE", target.device},
        {"CRASHCAPTURE_TARGET_FSTYPE", target.fstype},
        {"CRASHCAPTURE_TARGET_DIRECTORY", target.directory_in_filesystem},
        {"CRASHCAPTURE_ROOT_SOURCE", root.source},
        {"CRASHCAPTURE_ROOT_DEVICE", root.device},
        {"CRASHCAPTURE_ROOT_FSTYPE", root.fstype},
        {"CRASHCAPTURE_FALLBACK_DIRECTORY", fallback_directory},
        // Only on the root filesystem, which the capture can mount when the
        // target is gone, and only when the target is elsewhere.
        // The same filesystem, whatever the mount: the service's sandbox
        // (StateDirectory=) bind-mounts /var/lib/crashcapture onto itself,
        // and mountinfo's root field already places it.
        {"CRASHCAPTURE_FAILURE_NOTE_DIRECTORY",
         state_on_root ? join_paths(state->directory_in_filesystem, kCaptureFailuresSubdirectory)
                       : std::string()},
        // A separate /boot, for the note when the root filesystem is
        // unreachable too (its directory is kSpareCaptureFailuresDirectory
        // on the running system).
        {"CRASHCAPTURE_SPARE_NOTE_SOURCE", spare_note ? spare_note->source : std::string()},
        {"CRASHCAPTURE_SPARE_NOTE_DEVICE", spare_note ? spare_note->device : std::string()},
        {"CRASHCAPTURE_SPARE_NOTE_FSTYPE", spare_note ? spare_note->fstype : std::string()},
        {"CRASHCAPTURE_SPARE_NOTE_DIRECTORY",
         spare_note ? join_paths(spare_note->directory_in_filesystem,
                                 path_below(std::string(kSpareCaptureFailuresDirectory), "/boot"))
                    : std::string()},
        // Where a raw, ssh or nfs capture copies its record and logs, for
        // crashcaptured to report after the reboot.
        {"CRASHCAPTURE_KEPT_RECORD_DIRECTORY",
         (streamed || nfs) && state_on_root
             ? join_paths(state->directory_in_filesystem, raw   ? kRawCapturesSubdirectory
                                                          : ssh ? kSshCapturesSubdirectory
                                                                : kNfsCapturesSubdirectory)
             : std::string()},
        {"CRASHCAPTURE_SAVE_ARGUMENTS", join_words(save_arguments(config, group_id))},
        {"CRASHCAPTURE_FALLBACK_SAVE_ARGUMENTS",
         join_words(save_arguments(config, group_id,
                                   streamed ? std::optional(DumpFormat::kdump) : std::nullopt))},
        {"CRASHCAPTURE_FINAL_ACTION", std::string(to_string(config.final_action))},
        {"CRASHCAPTURE_FAILURE_ACTION", std::string(to_string(config.failure_action))},
    };
    for (const auto& [name, value] : assignments) {
        text += fmt::format("{}={}\n", name, shell_quote(value));
    }
    std::vector<std::pair<std::string_view, std::string>> remote_assignments;
    if (ssh) {
        remote_assignments = {
            {"CRASHCAPTURE_SSH_DESTINATION", ssh_destination(config.target)},
            {"CRASHCAPTURE_SSH_OPTIONS",
             join_words(ssh_options(config.target, kSshKeyPath, kSshKnownHostsPath))},
            {"CRASHCAPTURE_SSH_DIRECTORY", config.target.path},
        };
    }
    if (nfs) {
        remote_assignments = {
            {"CRASHCAPTURE_NFS_SOURCE", nfs_mount_source(config.target)},
            {"CRASHCAPTURE_NFS_HOST", config.target.host},
            {"CRASHCAPTURE_NFS_ADDRESS", network ? network->server_address : std::string()},
        };
    }
    // ssh, nfs, or a disk reached through iSCSI: the network the capture
    // sets up.
    if (ssh || nfs || network) {
        remote_assignments.insert(
            remote_assignments.end(),
            {
                {"CRASHCAPTURE_NET_INTERFACE", network ? network->interface : std::string()},
                {"CRASHCAPTURE_NET_MAC", network ? network->mac : std::string()},
                {"CRASHCAPTURE_NET_ADDRESS", network ? network->address : std::string()},
                {"CRASHCAPTURE_NET_GATEWAY", network ? network->gateway : std::string()},
                {"CRASHCAPTURE_NET_LINKS", network ? capture_link_lines(*network) : std::string()},
            });
    }
    for (const auto& [name, value] : remote_assignments) {
        text += fmt::format("{}={}\n", name, shell_quote(value));
    }
    return text;
}

std::string iscsi_capture_environment(const std::vector<IscsiSession>& sessions) {
    if (sessions.empty()) {
        return {};
    }
    std::string lines;
    std::string credentials;
    for (size_t i = 0; i < sessions.size(); ++i) {
        const IscsiSession& session = sessions[i];
        lines += fmt::format("{}{} {} {} {} {}", lines.empty() ? "" : "\n", session.target,
                             session.address, session.port, session.tpgt, session.initiator);
        for (const auto& [name, value] :
             {std::pair<std::string_view, const std::string&>{"USERNAME", session.username},
              {"PASSWORD", session.password},
              {"USERNAME_IN", session.username_in},
              {"PASSWORD_IN", session.password_in}}) {
            if (!value.empty()) {
                credentials +=
                    fmt::format("CRASHCAPTURE_ISCSI_{}_{}={}\n", name, i + 1, shell_quote(value));
            }
        }
    }
    return fmt::format("CRASHCAPTURE_ISCSI_SESSIONS={}\n", shell_quote(lines)) + credentials;
}

std::string capture_unit_dropin(const Config& config) {
    std::string text = fmt::format(
        "# Written by crashcapture-build-initrd from crashcapture.conf: FinalAction={}, "
        "FailureAction={}, TimeoutSec={}.\n[Unit]\nSuccessAction={}\n",
        to_string(config.final_action), to_string(config.failure_action), timeout_setting(config),
        systemd_action(to_string(config.final_action)));
    switch (config.failure_action) {
        case FailureAction::reboot:
        case FailureAction::poweroff:
            text +=
                fmt::format("FailureAction={}\n", systemd_action(to_string(config.failure_action)));
            break;
        case FailureAction::shell:
            // emergency.target runs a root shell on the console
            // (systemd.special(7)); whoever is there reboots by hand.
            text += "OnFailure=emergency.target\n";
            break;
        case FailureAction::dump_to_rootfs:
            text += "OnFailure=crashcapture-fallback.service\n";
            break;
    }
    text += fmt::format("[Service]\nTimeoutStartSec={}\n", timeout_setting(config));
    return text;
}

std::string fallback_unit_dropin(const Config& config) {
    return fmt::format(
        "# Written by crashcapture-build-initrd from crashcapture.conf: FinalAction={}, "
        "TimeoutSec={}.\n[Unit]\nSuccessAction={}\nFailureAction=reboot-force\n"
        "[Service]\nTimeoutStartSec={}\n",
        to_string(config.final_action), timeout_setting(config),
        systemd_action(to_string(config.final_action)), timeout_setting(config));
}

}  // namespace crashcapture
