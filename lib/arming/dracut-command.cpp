#include "dracut-command.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "text.hpp"

namespace crashcapture {

namespace {

std::string joined(const std::vector<std::string>& words) {
    std::string text;
    for (const auto& word : words) {
        text += (text.empty() ? "" : " ") + word;
    }
    return text;
}

}  // namespace

std::vector<std::string> dracut_command(const DracutInvocation& invocation) {
    std::vector<std::string> modules = {kCaptureDracutModules};
    modules.insert(modules.end(), invocation.stack.dracut_modules.begin(),
                   invocation.stack.dracut_modules.end());
    if (invocation.squash) {
        // 99squash: everything but a small loader goes into a squashfs
        // image, which the capture kernel mounts (loop, then an overlay for
        // writes) instead of unpacking it into tmpfs. Its files stay
        // compressed in the reservation; the pages in use are read into the
        // page cache, which the kernel can drop again under pressure.
        modules.emplace_back("squash");
    }
    std::vector<std::string> drivers = invocation.drivers;
    for (const auto& module : invocation.stack.kernel_modules) {
        if (std::find(drivers.begin(), drivers.end(), module) == drivers.end()) {
            drivers.push_back(module);
        }
    }
    std::vector<std::string> command = {
        invocation.dracut,
        "--force",
        "--conf",
        invocation.conf,
        "--confdir",
        invocation.confdir,
        // dracut's exclusive list: a module not named here is not in the
        // image, whatever --add-device asks for (issue 23).
        "--modules",
        joined(modules),
        // The root filesystem's device: the fallback dump, the failure note
        // and a raw or ssh capture's record go there. Hostonly, dracut
        // installs its disk's drivers; the layers above (LVM, RAID) come
        // from the block stack's modules.
        "--add-device",
        invocation.root_device,
        // The filesystems' drivers, an ssh or nfs target's network drivers,
        // and the block stack's (dm-mod, raid1, each disk's driver and the
        // buses under it). dracut's exclusive list: with it, its
        // kernel-modules module skips its catch-all (90kernel-modules'
        // installkernel, "if [[ -z $drivers ]]"), which puts every crypto
        // algorithm (=crypto, tcrypt included), hid, sr_mod, cdrom and the
        // SATA drivers into every image: 4.5 MB of 39.5 unpacked here. The
        // dependencies and softdeps of what is named still come (ext4's
        // crc32c). Other dracut modules (nfs, lvm, dm) add their own.
        "--drivers",
        joined(drivers),
        "--kver",
        invocation.kernel_version,
        // The daemon runs with ProtectSystem=strict and PrivateTmp=yes:
        // /tmp is the one place it may write scratch files.
        "--tmpdir",
        "/tmp",
    };
    if (invocation.squash) {
        // mksquashfs has zstd built in (squashfs-tools); the kernel reads it
        // with CONFIG_SQUASHFS_ZSTD (squash_unavailable_reason() checks).
        // Its default, gzip, is 9% larger and slower to read.
        command.insert(command.end(), {"--squash-compressor", "zstd"});
    }
    // The target's device, the same way.
    if (!invocation.target_device.empty() && invocation.target_device != invocation.root_device) {
        command.insert(command.end(), {"--add-device", invocation.target_device});
    }
    for (const auto& device : invocation.extra_devices) {
        if (device != invocation.root_device && device != invocation.target_device) {
            command.insert(command.end(), {"--add-device", device});
        }
    }
    // The programs the stack needs (lvm, mdadm, thin_check...), named to
    // dracut itself: missing_from_image() refuses an image without them, and
    // some dracut modules install them only when their own hostonly probe
    // finds the layer (90lvm: thin_check only when `lvs -o segtype` on the
    // VG of a device it was given says thin or cache). Naming a program a
    // module installs anyway changes nothing.
    if (!invocation.stack.programs.empty()) {
        command.insert(command.end(), {"--install", joined(invocation.stack.programs)});
    }
    // rd.lvm.lv=, rd.md.uuid=: written into the image's /etc/cmdline.d, so
    // the capture activates just these volumes and arrays (our dracut.conf
    // has hostonly_cmdline="no").
    if (!invocation.stack.kernel_arguments.empty()) {
        command.insert(command.end(),
                       {"--kernel-cmdline", joined(invocation.stack.kernel_arguments)});
    }
    command.push_back(invocation.verbose ? "--verbose" : "--quiet");
    command.insert(command.end(), {invocation.output, invocation.kernel_version});
    return command;
}

std::string filesystem_module(std::string_view modules_alias_text, std::string_view fstype) {
    const std::string wanted = fmt::format("alias fs-{} ", fstype);
    std::string_view rest = modules_alias_text;
    while (!rest.empty()) {
        const size_t end = std::min(rest.find('\n'), rest.size());
        std::string_view line = rest.substr(0, end);
        rest.remove_prefix(std::min(end + 1, rest.size()));
        if (line.starts_with(wanted)) {
            line.remove_prefix(wanted.size());
            line = trim(line);
            if (!line.empty() && line.find_first_of(kWhitespace) == std::string_view::npos) {
                return std::string(line);
            }
        }
    }
    return std::string(fstype);
}

std::string explain_setuid_copy_failures(std::string_view dracut_output) {
    constexpr std::string_view kPreserving = "cp: preserving permissions for '";
    constexpr std::string_view kNotPermitted = "': Operation not permitted";
    constexpr std::string_view kInstallError = "dracut-install: ERROR: 'cp ";
    std::vector<std::string_view> lines;
    for (size_t start = 0; start < dracut_output.size();) {
        const size_t end = std::min(dracut_output.find('\n', start), dracut_output.size());
        lines.push_back(dracut_output.substr(start, end - start));
        start = end + 1;
    }
    std::string kept;
    std::vector<std::string> programs;
    for (size_t i = 0; i < lines.size(); ++i) {
        const std::string_view line = lines[i];
        if (line.starts_with(kPreserving) && line.ends_with(kNotPermitted) &&
            i + 1 < lines.size()) {
            const std::string_view copy = line.substr(
                kPreserving.size(), line.size() - kPreserving.size() - kNotPermitted.size());
            const std::string_view next = lines[i + 1];
            // The staging copy's path is the last word of dracut-install's
            // cp command line: the pair is about the same file.
            if (next.starts_with(kInstallError) &&
                next.find(fmt::format(" {}' failed with ", copy)) != std::string_view::npos) {
                const size_t in_image = copy.find("/initramfs/");
                programs.emplace_back(
                    in_image == std::string_view::npos
                        ? copy
                        : copy.substr(in_image + std::string_view("/initramfs").size()));
                ++i;
                continue;
            }
        }
        kept.append(line);
        kept.push_back('\n');
    }
    if (!dracut_output.ends_with('\n') && !kept.empty()) {
        kept.pop_back();
    }
    if (!programs.empty()) {
        kept += fmt::format(
            "{}{} copied into the capture initrd without the set-user-ID bit "
            "(RestrictSUIDSGID=yes; the capture runs everything as root)\n",
            kept.empty() || kept.ends_with('\n') ? "" : "\n", fmt::join(programs, ", "));
    }
    return kept;
}

}  // namespace crashcapture
