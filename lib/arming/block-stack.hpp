// The block devices under a filesystem, read from sysfs, and what a capture
// initrd needs to bring them up (issue 23, part 2): dracut's exclusive
// --modules list keeps its dm, lvm and mdraid modules out unless we name
// them, and a capture kernel that cannot assemble the root's LVM waits for
// the device and reboots, and the crash is lost.
//
// The walk starts at /sys/dev/block/MAJ:MIN (a mounted filesystem's device,
// mountinfo field 3) and follows slaves/ down to the disks:
//   dm-N with dm/uuid "LVM-<vg uuid><lv uuid>[-suffix]"  LVM (dm/name is
//        "vg-lv" with '-' in a name doubled, dmsetup splitname); a suffix
//        -tpool/-tdata/-tmeta/-pool is a thin pool, -cdata/-cmeta/-corig a
//        cache, -real/-cow a snapshot, -rimage_N/-rmeta_N an LVM RAID
//   dm-N with "CRYPT-"   dm-crypt: the capture initrd has no key; refused
//   dm-N with "mpath-"   multipath;  "partN-" a kpartx partition on it
//   dm-N otherwise       a mapping the capture cannot recreate; refused
//   mdN (md/ exists)     MD RAID, md/level names the personality
//   a partition (a "partition" file) or a disk: the disk's driver is
//        device/driver/module, when it is a module
//   a disk under hostH/sessionN with iscsi_session/: an iSCSI LUN, logged
//        in to again by the capture (IscsiSession); NVMe over Fabrics:
//        refused
// Every path under SystemPaths, so tests walk a fake tree.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "result.hpp"
#include "system-paths.hpp"

namespace crashcapture {

struct BlockLayer {
    std::string name;  // the kernel's name: dm-0, md0, vda3
    // lvm, lvm-thin, lvm-cache, lvm-snapshot, lvm-raid, crypt, multipath,
    // dm-partition, dm, md, partition, disk
    std::string kind;
    std::string detail;  // vg0/root, raid1, the disk driver, ...
    bool operator==(const BlockLayer&) const = default;
};

// A file that satisfies a requirement when the image holds any of these
// names (Debian renames some of the upstream udev rules: 10-dm.rules is
// 55-dm.rules there).
struct ImageFile {
    std::string what;                       // "udev rule 55-dm.rules", "program lvm"
    std::vector<std::string> alternatives;  // basenames
    bool operator==(const ImageFile&) const = default;
};

// A software iSCSI session (iscsi_tcp) a disk of the stack is reached
// through, as sysfs shows it (drivers/scsi/scsi_transport_iscsi.c: the
// session's and its connection's attributes). The capture logs in again
// with iscsistart (open-iscsi) before it waits for the disk.
struct IscsiSession {
    std::string session;    // session1
    std::string initiator;  // the initiator's name (IQN) the target knows
    std::string target;     // the target's name (IQN)
    std::string tpgt;       // the target portal group tag
    std::string address;    // the portal as configured (persistent_address)
    std::string port;       // persistent_port
    // CHAP: the initiator's credentials, and the target's for mutual CHAP;
    // empty when not configured. sysfs shows them to root only.
    std::string username;
    std::string password;
    std::string username_in;
    std::string password_in;
    bool operator==(const IscsiSession&) const = default;
};

struct BlockStack {
    std::vector<BlockLayer> layers;           // top first, each device once
    std::vector<std::string> dracut_modules;  // dm lvm mdraid multipath
    std::vector<std::string> kernel_modules;  // dm-mod dm-thin-pool raid1 md-mod virtio_blk
    std::vector<std::string> programs;        // lvm dmsetup mdadm thin_check
    std::vector<ImageFile> udev_rules;
    // The capture kernel's command line for this stack: rd.lvm.lv=VG/LV for
    // each logical volume (dracut.cmdline(7)), so only those are activated.
    std::vector<std::string> kernel_arguments;
    // Layers a capture cannot bring up, each with why: arming must refuse.
    std::vector<std::string> unsupported;
    // The iSCSI sessions the disks are reached through, each once.
    std::vector<IscsiSession> iscsi_sessions;
    bool operator==(const BlockStack&) const = default;
};

// The stack under the block device MAJ:MIN. An error when sysfs has no such
// device or a link cannot be read.
Result<BlockStack> block_stack(const SystemPaths& paths, unsigned major, unsigned minor);

// The stack under the filesystem that holds directory, from mountinfo_text.
// A filesystem on no block device (major 0: tmpfs, nfs, a btrfs anonymous
// device) has an empty stack.
Result<BlockStack> block_stack_for_directory(const SystemPaths& paths,
                                             std::string_view mountinfo_text,
                                             const std::string& directory);

// Adds what other needs to into (no duplicates, order kept).
void merge_block_stack(BlockStack& into, const BlockStack& other);

// "vg0-root" -> {"vg0", "root"}; "my--vg-my--lv" -> {"my-vg", "my-lv"}
// (dmsetup splitname). Empty strings when name has no single '-'.
std::pair<std::string, std::string> split_lvm_dm_name(std::string_view name);

// The required files the image (its entries' paths, as listed from the
// archive) does not hold: every kernel module (NAME.ko, NAME.ko.xz, .zst,
// .gz under lib/modules/, '-' and '_' alike) not in builtin_modules (the
// basenames of modules.builtin), every program (in a bin or sbin directory)
// and every udev rule (in a udev/rules.d directory). One human line each:
// "kernel module dm-mod", "program lvm", "udev rule 55-dm.rules or 10-dm.rules".
std::vector<std::string> missing_from_image(const BlockStack& stack,
                                            const std::vector<std::string>& image_paths,
                                            const std::vector<std::string>& builtin_modules = {});

}  // namespace crashcapture
