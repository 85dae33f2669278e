// The dracut command line crashcapture-build-initrd runs, built from what it
// found, so the unit tests can check it (the block stack's modules, drivers
// and rd.* arguments must reach dracut: issue 23, part 2).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "block-stack.hpp"

namespace crashcapture {

// The dracut modules of every capture initrd, and no others (dracut(8), -m):
// systemd and its udev and journal (the capture unit, device discovery, the
// capture kernel's own log), kernel-modules (block and filesystem drivers;
// hostonly keeps just this machine's), base and fs-lib (mount, the shell),
// and ours. The host's default module list (plymouth, i18n, network, ...)
// costs megabytes of reservation for nothing. The block stack under the
// root and the target adds its own (BlockStack::dracut_modules).
inline constexpr const char* kCaptureDracutModules =
    "systemd systemd-udevd systemd-journald kernel-modules udev-rules base fs-lib crashcapture";

struct DracutInvocation {
    std::string dracut = "dracut";
    std::string conf;     // --conf
    std::string confdir;  // --confdir
    std::string kernel_version;
    std::string output;         // where dracut writes the image
    std::string root_device;    // the root filesystem's device
    std::string target_device;  // the target's, or empty
    // Other filesystems' devices the capture may mount: a separate /boot for
    // its failure note (spare_note_filesystem(), initrd-plan.hpp).
    std::vector<std::string> extra_devices;
    // Filesystem and network drivers; the stack's kernel modules are added.
    std::vector<std::string> drivers;
    BlockStack stack;  // under the root and the target, merged
    // Pack the image with dracut's squash module (squash_unavailable_reason(),
    // initrd-build-plan.hpp).
    bool squash = false;
    bool verbose = false;
};

std::vector<std::string> dracut_command(const DracutInvocation& invocation);

// The kernel module that provides filesystem type fstype, from the kernel's
// modules.alias text ("alias fs-ext2 ext4": every filesystem module declares
// MODULE_ALIAS_FS(), include/linux/fs.h; Debian's kernels mount ext2 and ext3
// with ext4, CONFIG_EXT4_USE_FOR_EXT2). fstype itself when no alias names it
// (a built-in filesystem, or no modules.alias).
std::string filesystem_module(std::string_view modules_alias_text, std::string_view fstype);

// dracut's output with the set-user-ID copies explained. Under the unit's
// RestrictSUIDSGID=yes (units/crashcaptured.service) no process of the
// service may set a set-user-ID or set-group-ID bit (systemd.exec(5)), so
// dracut-install's `cp --preserve=mode` of mount and umount copies the
// program, then fails to give it its mode: two lines each,
//   cp: preserving permissions for '<staging>/usr/bin/mount': Operation not permitted
//   dracut-install: ERROR: 'cp ... /usr/bin/mount <staging>/usr/bin/mount' failed with 1
// The copy is there and everything in the capture initrd runs as root, so
// the bit is not missed. The pairs become one line naming the programs; any
// other line, and a lone line of a pair, stays as dracut wrote it.
std::string explain_setuid_copy_failures(std::string_view dracut_output);

}  // namespace crashcapture
