#include "block-stack.hpp"

#include <fmt/format.h>
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <optional>
#include <set>

#include "device-drivers.hpp"
#include "file-util.hpp"
#include "initrd-plan.hpp"
#include "text.hpp"

namespace crashcapture {

namespace {

namespace fs = std::filesystem;

// A stack deeper than this is a loop in a fake tree, not a real system.
constexpr int kMaxDepth = 16;

void add_rule(BlockStack& stack, std::string what, std::vector<std::string> alternatives) {
    ImageFile file{std::move(what), std::move(alternatives)};
    if (std::find(stack.udev_rules.begin(), stack.udev_rules.end(), file) ==
        stack.udev_rules.end()) {
        stack.udev_rules.push_back(std::move(file));
    }
}

std::string trimmed_file(const fs::path& path) {
    auto text = read_kernel_file(path.string());
    return text ? std::string(trim(*text)) : std::string();
}

// Device-mapper in the capture initrd (dracut's 90dm): the driver, dmsetup,
// the rules that make /dev/mapper names and by-uuid links (Debian ships the
// upstream 10-dm.rules and 13-dm-disk.rules as 55-dm.rules and
// 60-persistent-storage-dm.rules).
void need_device_mapper(BlockStack& stack) {
    add_unique(stack.dracut_modules, "dm");
    add_unique(stack.kernel_modules, "dm-mod");
    add_unique(stack.programs, "dmsetup");
    add_rule(stack, "udev rule 55-dm.rules", {"55-dm.rules", "10-dm.rules"});
    add_rule(stack, "udev rule 60-persistent-storage-dm.rules",
             {"60-persistent-storage-dm.rules", "13-dm-disk.rules"});
}

// dracut's lvm and mdraid modules activate from its initqueue (lvm_scan,
// mdadm as udev finds members) and parse rd.lvm.lv=/rd.md.uuid= in its
// cmdline hooks: in a systemd initrd both run in dracut-systemd's
// dracut-cmdline.service and dracut-initqueue.service, which the exclusive
// module list leaves out unless named.
void need_initqueue(BlockStack& stack) {
    add_unique(stack.dracut_modules, "dracut-systemd");
}

// LVM (dracut's 90lvm): lvm itself, dracut's 64-lvm.rules that runs
// lvm_scan, and lvm2's own rules (Debian: 56-lvm.rules; upstream
// 11-dm-lvm.rules).
void need_lvm(BlockStack& stack) {
    need_device_mapper(stack);
    add_unique(stack.dracut_modules, "lvm");
    need_initqueue(stack);
    add_unique(stack.programs, "lvm");
    add_rule(stack, "udev rule 64-lvm.rules (dracut's LVM activation)", {"64-lvm.rules"});
    add_rule(stack, "udev rule 56-lvm.rules", {"56-lvm.rules", "11-dm-lvm.rules"});
}

// What an LVM sub-device's uuid suffix says about its logical volume.
void classify_lvm(BlockStack& stack, BlockLayer& layer, std::string_view suffix) {
    auto is = [&](std::initializer_list<std::string_view> names) {
        return std::any_of(names.begin(), names.end(), [&](auto n) { return suffix == n; });
    };
    if (is({"tpool", "tdata", "tmeta", "pool"})) {
        layer.kind = "lvm-thin";
        add_unique(stack.kernel_modules, "dm-thin-pool");
        add_unique(stack.programs, "thin_check");
    } else if (is({"cdata", "cmeta", "corig", "cpool"})) {
        layer.kind = "lvm-cache";
        add_unique(stack.kernel_modules, "dm-cache");
        add_unique(stack.programs, "cache_check");
    } else if (is({"real", "cow"})) {
        layer.kind = "lvm-snapshot";
        add_unique(stack.kernel_modules, "dm-snapshot");
    } else if (suffix.starts_with("rimage") || suffix.starts_with("rmeta")) {
        layer.kind = "lvm-raid";
        add_unique(stack.kernel_modules, "dm-raid");
    } else if (!suffix.empty()) {
        layer.kind = "lvm";
        stack.unsupported.push_back(
            fmt::format("{} ({}): an LVM volume of a kind the capture does not handle "
                        "(uuid suffix -{})",
                        layer.name, layer.detail, suffix));
    }
}

void classify_dm(BlockStack& stack, BlockLayer& layer, const fs::path& sys) {
    const std::string uuid = trimmed_file(sys / "dm/uuid");
    const std::string dm_name = trimmed_file(sys / "dm/name");
    layer.detail = dm_name;
    if (uuid.starts_with("LVM-")) {
        need_lvm(stack);
        layer.kind = "lvm";
        // "LVM-" + 32 characters of VG uuid + 32 of LV uuid [+ "-suffix"].
        constexpr size_t kPlainLength = 4 + 64;
        const std::string suffix = uuid.size() > kPlainLength + 1 && uuid[kPlainLength] == '-'
                                       ? uuid.substr(kPlainLength + 1)
                                       : std::string();
        const auto [vg, lv] = split_lvm_dm_name(dm_name);
        if (!vg.empty()) {
            layer.detail = vg + "/" + lv;
        }
        classify_lvm(stack, layer, suffix);
        // A logical volume the admin sees (no suffix): activate it, and
        // lvm brings up what it rests on (a thin pool, a cache).
        if (suffix.empty() && !vg.empty()) {
            add_unique(stack.kernel_arguments, "rd.lvm.lv=" + vg + "/" + lv);
        }
    } else if (uuid.starts_with("CRYPT-")) {
        layer.kind = "crypt";
        // The running kernel hands its dm-crypt keys to the capture kernel
        // only from Linux 6.16 (crash_dm_crypt_keys, kernel/crash_dump_dm_crypt.c);
        // before that a capture on it would wait at a passphrase prompt
        // nobody answers, so it is refused here, up front.
        stack.unsupported.push_back(fmt::format(
            "{} ({}): dm-crypt; the capture initrd holds no key to open it (the kernel hands "
            "dm-crypt keys to the capture kernel only from Linux 6.16), so a capture cannot "
            "reach a filesystem on it: set Target= to a directory on an unencrypted "
            "filesystem, raw: on an unencrypted device, ssh:// or nfs:",
            layer.name, dm_name));
    } else if (uuid.starts_with("mpath-")) {
        need_device_mapper(stack);
        layer.kind = "multipath";
        add_unique(stack.dracut_modules, "multipath");
        add_unique(stack.kernel_modules, "dm-multipath");
        add_unique(stack.programs, "multipath");
        add_rule(stack, "udev rule 11-dm-mpath.rules", {"11-dm-mpath.rules"});
    } else if (uuid.starts_with("part")) {
        // kpartx's partitions of a multipath map ("partN-mpath-...").
        need_device_mapper(stack);
        layer.kind = "dm-partition";
        add_unique(stack.programs, "kpartx");
    } else {
        layer.kind = "dm";
        stack.unsupported.push_back(
            fmt::format("{} ({}): a device-mapper table the capture cannot recreate (uuid \"{}\")",
                        layer.name, dm_name, uuid));
    }
}

// md/level: raid1 -> raid1; raid4/5/6 -> raid456; linear, raid0, raid10.
void classify_md(BlockStack& stack, BlockLayer& layer, const fs::path& sys) {
    layer.kind = "md";
    layer.detail = trimmed_file(sys / "md/level");
    add_unique(stack.dracut_modules, "mdraid");
    need_initqueue(stack);
    // Without rd.md.uuid= (or rd.auto) dracut's parse-md.sh drops MD
    // assembly; md/uuid is the array's UUID (drivers/md/md.c uuid_show).
    const std::string uuid = trimmed_file(sys / "md/uuid");
    if (!uuid.empty()) {
        add_unique(stack.kernel_arguments, "rd.md.uuid=" + uuid);
    } else {
        stack.unsupported.push_back(fmt::format(
            "{}: an MD array whose UUID sysfs does not show (md/uuid), so the capture cannot "
            "be told to assemble it",
            layer.name));
    }
    add_unique(stack.kernel_modules, "md-mod");
    const std::string& level = layer.detail;
    if (level == "raid4" || level == "raid5" || level == "raid6") {
        add_unique(stack.kernel_modules, "raid456");
    } else if (level == "raid0" || level == "raid1" || level == "raid10" || level == "linear") {
        add_unique(stack.kernel_modules, level);
    } else if (!level.empty() && level != "container") {
        stack.unsupported.push_back(fmt::format(
            "{}: an MD array of level {}, which the capture does not know", layer.name, level));
    }
    add_unique(stack.programs, "mdadm");
    add_rule(stack, "udev rule 63-md-raid-arrays.rules", {"63-md-raid-arrays.rules"});
    add_rule(stack, "udev rule 64-md-raid-assembly.rules",
             {"64-md-raid-assembly.rules", "64-md-raid.rules"});
    add_rule(stack, "udev rule 65-md-incremental-imsm.rules (dracut's MD assembly)",
             {"65-md-incremental-imsm.rules"});
}

// A value of an iSCSI attribute: libiscsi prints an unset string parameter
// as "(null)" (iscsi_session_get_param()'s sysfs_emit of a NULL pointer).
std::string iscsi_attribute(const fs::path& path) {
    std::string value = trimmed_file(path);
    return value == "(null)" ? std::string() : value;
}

// Words the capture passes to iscsistart unquoted, one per field of
// CRASHCAPTURE_ISCSI_SESSIONS: an iSCSI name (RFC 3720 3.2.6.2: iqn., eui.,
// naa. with letters, digits, '.', '-', ':'), an IPv4 or IPv6 address, a
// number.
bool plain_iscsi_word(std::string_view word) {
    return !word.empty() && std::all_of(word.begin(), word.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' ||
               c == '_' || c == '%';
    });
}

// The session directory (.../hostH/sessionN) and the iSCSI session a disk
// is reached through, read from its session's and first connection's
// attributes; an error says why the capture could not log in to it.
Result<IscsiSession> read_iscsi_session(const fs::path& session_directory) {
    IscsiSession session;
    session.session = session_directory.filename().string();
    const fs::path attributes = session_directory / "iscsi_session" / session.session;
    // An offload adapter (qla4xxx, bnx2i, be2iscsi, cxgbi) logs in through
    // its own firmware and network: only software iSCSI (iscsi_tcp, whose
    // hosts sit under /sys/devices/platform) is redone by iscsistart.
    const fs::path host = session_directory.parent_path();
    const std::string driver = trimmed_file(host / "scsi_host" / host.filename() / "proc_name");
    if (driver != "iscsi_tcp") {
        return make_error(ENOTSUP,
                          "an iSCSI disk ({}) through {}, not the software initiator "
                          "iscsi_tcp, which the capture cannot log in with",
                          session.session, driver.empty() ? "an unknown driver" : driver);
    }
    session.target = iscsi_attribute(attributes / "targetname");
    session.tpgt = iscsi_attribute(attributes / "tpgt");
    session.initiator = iscsi_attribute(attributes / "initiatorname");
    if (session.initiator.empty()) {
        // Older kernels show it on the host only (iscsi_host's initiatorname).
        session.initiator =
            iscsi_attribute(host / "iscsi_host" / host.filename() / "initiatorname");
    }
    session.username = iscsi_attribute(attributes / "username");
    session.password = iscsi_attribute(attributes / "password");
    session.username_in = iscsi_attribute(attributes / "username_in");
    session.password_in = iscsi_attribute(attributes / "password_in");
    // The session's first connection: connectionN:0 (the kernel names
    // each "connection<sid>:<cid>").
    std::error_code error;
    for (fs::directory_iterator it(session_directory, error), end; !error && it != end;
         it.increment(error)) {
        const std::string name = it->path().filename().string();
        if (!name.starts_with("connection")) {
            continue;
        }
        const fs::path connection = it->path() / "iscsi_connection" / name;
        session.address = iscsi_attribute(connection / "persistent_address");
        session.port = iscsi_attribute(connection / "persistent_port");
        if (session.address.empty()) {
            session.address = iscsi_attribute(connection / "address");
            session.port = iscsi_attribute(connection / "port");
        }
        break;
    }
    for (const auto& [what, value] :
         {std::pair<std::string_view, const std::string&>{"target name", session.target},
          {"initiator name", session.initiator},
          {"portal address", session.address},
          {"portal port", session.port},
          {"portal group tag", session.tpgt}}) {
        if (!plain_iscsi_word(value)) {
            return make_error(EINVAL,
                              "an iSCSI disk ({}) whose {} sysfs shows as \"{}\", which the "
                              "capture cannot log in with",
                              session.session, what, value);
        }
    }
    return session;
}

// A disk reached over the network, which the capture kernel can open only
// after bringing the network up and logging in. iSCSI: the disk sits under
// its session's directory, which holds the iscsi_session class entry
// (drivers/scsi/scsi_transport_iscsi.c, iscsi_session_class:
// /sys/devices/platform/hostH/sessionN/iscsi_session): the capture logs in
// again (the session goes to stack.iscsi_sessions). NVMe over Fabrics: its
// controllers are virtual devices under /sys/devices/virtual/nvme-fabrics
// (drivers/nvme/host/fabrics.c, nvmf_class and the "ctl" device); the
// capture does not connect to those, so such a disk is refused up front
// rather than waited for in vain. True when the disk is reached over the
// network (and then added or refused).
bool classify_network_disk(BlockStack& stack, BlockLayer& layer, const fs::path& sys) {
    std::error_code error;
    for (fs::path at = sys; at.has_relative_path() && at != at.parent_path();
         at = at.parent_path()) {
        const std::string name = at.filename().string();
        if (name.starts_with("session") && fs::exists(at / "iscsi_session", error)) {
            layer.detail = "iscsi " + name;
            auto session = read_iscsi_session(at);
            if (!session) {
                stack.unsupported.push_back(
                    fmt::format("{}: {}: set Target= to a directory on a local disk, raw: on a "
                                "local disk, ssh:// or nfs:",
                                layer.name, session.error().message));
                return true;
            }
            layer.detail = fmt::format("iscsi {} {}", name, session->target);
            if (std::find(stack.iscsi_sessions.begin(), stack.iscsi_sessions.end(), *session) ==
                stack.iscsi_sessions.end()) {
                stack.iscsi_sessions.push_back(std::move(*session));
            }
            // The software initiator and SCSI disks (iscsi_tcp pulls in
            // libiscsi_tcp, libiscsi and scsi_transport_iscsi by its
            // dependencies); iscsistart logs in.
            add_unique(stack.kernel_modules, "iscsi_tcp");
            add_unique(stack.kernel_modules, "sd_mod");
            add_unique(stack.programs, "iscsistart");
            return true;
        }
        if (name == "nvme-fabrics") {
            layer.detail = "an NVMe over Fabrics disk";
            stack.unsupported.push_back(fmt::format(
                "{}: an NVMe over Fabrics disk; the capture initrd does not connect to NVMe "
                "over Fabrics controllers: set Target= to a directory on a local disk, raw: on "
                "a local disk, ssh:// or nfs:",
                layer.name));
            return true;
        }
    }
    return false;
}

// A disk: an iSCSI LUN or refused when it is reached over the network;
// otherwise the modules of its driver and of the devices above it.
void classify_disk(BlockStack& stack, BlockLayer& layer, const fs::path& sys,
                   const fs::path& devices_root) {
    std::error_code error;
    if (classify_network_disk(stack, layer, sys)) {
        return;
    }
    // The disk's driver and the buses it hangs from: dracut installs only
    // the drivers it is given (--drivers), so a SCSI disk needs ahci or
    // virtio_scsi named as well as sd_mod.
    const fs::path device = fs::canonical(sys / "device", error);
    if (error) {
        return;
    }
    const std::vector<std::string> modules = bound_driver_modules(devices_root, device);
    if (!modules.empty()) {
        layer.detail = modules.front();
    }
    for (const auto& module : modules) {
        add_unique(stack.kernel_modules, module);
    }
}

std::string device_name(const fs::path& sys) {
    if (auto uevent = read_kernel_file((sys / "uevent").string())) {
        std::string_view rest = *uevent;
        while (!rest.empty()) {
            const size_t end = std::min(rest.find('\n'), rest.size());
            const std::string_view line = rest.substr(0, end);
            if (line.starts_with("DEVNAME=")) {
                return std::string(line.substr(8));
            }
            rest.remove_prefix(std::min(end + 1, rest.size()));
        }
    }
    return sys.filename().string();
}

Status walk(const SystemPaths& paths, BlockStack& stack, const fs::path& sys, int depth,
            std::set<std::string>& seen) {
    if (depth > kMaxDepth) {
        return make_error(ELOOP, "{}: the block stack is deeper than {} layers", sys.string(),
                          kMaxDepth);
    }
    std::error_code error;
    const fs::path real = fs::canonical(sys, error);
    if (error) {
        return make_error(error.value(), "cannot read {}: {}", sys.string(), error.message());
    }
    BlockLayer layer;
    layer.name = device_name(real);
    if (!seen.insert(layer.name).second) {
        return {};
    }
    if (fs::exists(real / "dm", error)) {
        classify_dm(stack, layer, real);
    } else if (fs::exists(real / "md", error)) {
        classify_md(stack, layer, real);
    } else if (fs::exists(real / "partition", error)) {
        layer.kind = "partition";
        // The disk is the partition's parent in the device tree.
        BlockLayer disk{real.parent_path().filename().string(), "disk", ""};
        stack.layers.push_back(layer);
        if (seen.insert(disk.name).second) {
            classify_disk(stack, disk, real.parent_path(), paths.resolve("/sys/devices"));
            stack.layers.push_back(disk);
        }
        return {};
    } else {
        layer.kind = "disk";
        classify_disk(stack, layer, real, paths.resolve("/sys/devices"));
    }
    stack.layers.push_back(layer);
    std::vector<std::string> slaves;
    for (fs::directory_iterator it(real / "slaves", error), end; !error && it != end;
         it.increment(error)) {
        slaves.push_back(it->path().filename().string());
    }
    std::sort(slaves.begin(), slaves.end());
    for (const auto& slave : slaves) {
        if (auto walked =
                walk(paths, stack, paths.resolve("/sys/class/block/" + slave), depth + 1, seen);
            !walked) {
            return walked;
        }
    }
    return {};
}

bool ends_with_dir(std::string_view path, std::string_view directory_suffix) {
    const size_t slash = path.rfind('/');
    if (slash == std::string_view::npos) {
        return false;
    }
    return path.substr(0, slash).ends_with(directory_suffix);
}

std::string_view basename_of(std::string_view path) {
    const size_t slash = path.rfind('/');
    return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

std::string module_key(std::string_view name) {
    std::string key(name);
    std::replace(key.begin(), key.end(), '-', '_');
    return key;
}

}  // namespace

std::pair<std::string, std::string> split_lvm_dm_name(std::string_view name) {
    for (size_t i = 0; i < name.size(); ++i) {
        if (name[i] != '-') {
            continue;
        }
        if (i + 1 < name.size() && name[i + 1] == '-') {
            ++i;  // "--": a '-' inside a name
            continue;
        }
        auto unescape = [](std::string_view part) {
            std::string out;
            for (size_t j = 0; j < part.size(); ++j) {
                out += part[j];
                if (part[j] == '-' && j + 1 < part.size() && part[j + 1] == '-') {
                    ++j;
                }
            }
            return out;
        };
        return {unescape(name.substr(0, i)), unescape(name.substr(i + 1))};
    }
    return {};
}

Result<BlockStack> block_stack(const SystemPaths& paths, unsigned major, unsigned minor) {
    BlockStack stack;
    std::set<std::string> seen;
    const std::string sys = paths.resolve(fmt::format("/sys/dev/block/{}:{}", major, minor));
    if (auto walked = walk(paths, stack, sys, 0, seen); !walked) {
        return tl::unexpected(walked.error());
    }
    return stack;
}

Result<BlockStack> block_stack_for_directory(const SystemPaths& paths,
                                             std::string_view mountinfo_text,
                                             const std::string& directory) {
    const auto mounts = parse_mountinfo(mountinfo_text);
    if (!mounts) {
        return tl::unexpected(mounts.error());
    }
    const MountInfoEntry* mount = find_mount_for(*mounts, directory);
    if (mount == nullptr) {
        return make_error(ENOENT, "no mount holds {}", directory);
    }
    if (mount->major == 0) {
        return BlockStack{};
    }
    auto stack = block_stack(paths, mount->major, mount->minor);
    if (!stack) {
        return propagate(stack.error(), fmt::format("the devices under {}", mount->mount_point));
    }
    return stack;
}

void merge_block_stack(BlockStack& into, const BlockStack& other) {
    for (const auto& layer : other.layers) {
        if (std::find(into.layers.begin(), into.layers.end(), layer) == into.layers.end()) {
            into.layers.push_back(layer);
        }
    }
    for (const auto& item : other.dracut_modules) {
        add_unique(into.dracut_modules, item);
    }
    for (const auto& item : other.kernel_modules) {
        add_unique(into.kernel_modules, item);
    }
    for (const auto& item : other.programs) {
        add_unique(into.programs, item);
    }
    for (const auto& rule : other.udev_rules) {
        add_rule(into, rule.what, rule.alternatives);
    }
    for (const auto& item : other.kernel_arguments) {
        add_unique(into.kernel_arguments, item);
    }
    for (const auto& item : other.unsupported) {
        add_unique(into.unsupported, item);
    }
    for (const auto& session : other.iscsi_sessions) {
        if (std::find(into.iscsi_sessions.begin(), into.iscsi_sessions.end(), session) ==
            into.iscsi_sessions.end()) {
            into.iscsi_sessions.push_back(session);
        }
    }
}

std::vector<std::string> missing_from_image(const BlockStack& stack,
                                            const std::vector<std::string>& image_paths,
                                            const std::vector<std::string>& builtin_modules) {
    std::set<std::string> modules;
    std::set<std::string> programs;
    std::set<std::string> rules;
    for (const auto& path : image_paths) {
        const std::string_view base = basename_of(path);
        if (path.find("lib/modules/") != std::string::npos) {
            const size_t ko = base.find(".ko");
            if (ko != std::string_view::npos) {
                modules.insert(module_key(base.substr(0, ko)));
            }
        } else if (ends_with_dir(path, "bin")) {
            programs.insert(std::string(base));
        } else if (ends_with_dir(path, "udev/rules.d")) {
            rules.insert(std::string(base));
        }
    }
    for (const auto& builtin : builtin_modules) {
        const std::string_view base = basename_of(builtin);
        modules.insert(module_key(base.substr(0, base.find(".ko"))));
    }
    std::vector<std::string> missing;
    for (const auto& module : stack.kernel_modules) {
        if (!modules.contains(module_key(module))) {
            missing.push_back("kernel module " + module);
        }
    }
    for (const auto& program : stack.programs) {
        if (!programs.contains(program)) {
            missing.push_back("program " + program);
        }
    }
    for (const auto& rule : stack.udev_rules) {
        if (std::none_of(rule.alternatives.begin(), rule.alternatives.end(),
                         [&](const std::string& name) { return rules.contains(name); })) {
            std::string names;
            for (const auto& name : rule.alternatives) {
                names += (names.empty() ? "" : " or ") + name;
            }
            missing.push_back("udev rule " + names);
        }
    }
    return missing;
}

}  // namespace crashcapture
