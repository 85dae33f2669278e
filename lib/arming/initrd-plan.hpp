// What crashcapture-build-initrd puts into a capture initrd besides dracut's
// own modules: where the target filesystem is and how to mount it in the
// capture kernel, the crashcapture-save arguments the configuration asks for,
// and the systemd drop-in that turns FinalAction=/FailureAction=/TimeoutSec=
// into unit settings. Pure functions over text and SystemPaths, so the unit
// tests can feed them a made-up /proc/self/mountinfo and /dev tree.
//
// The capture side reads these files (dracut/modules.d/99crashcapture/):
//   /etc/crashcapture/capture.env   shell assignments, capture_environment()
//   /etc/systemd/system/crashcapture-capture.service.d/50-actions.conf
//   /etc/systemd/system/crashcapture-fallback.service.d/50-actions.conf
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "block-stack.hpp"
#include "config.hpp"
#include "remote-target.hpp"
#include "result.hpp"
#include "system-paths.hpp"

namespace crashcapture {

// One line of /proc/PID/mountinfo (proc(5), "/proc/pid/mountinfo"):
//   36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//   (1)(2)(3)   (4)   (5)      (6)      (7)   (8) (9)   (10)         (11)
// Fields 4, 5 and 10 escape space, tab, newline and backslash as \040 \011
// \012 \134 (the kernel's show_mountinfo() -> seq_escape(..., " \t\n\\")).
struct MountInfoEntry {
    unsigned major = 0;
    unsigned minor = 0;
    std::string root;         // (4) the directory of the filesystem mounted here
    std::string mount_point;  // (5)
    std::string fstype;       // (9)
    std::string source;       // (10)
    bool operator==(const MountInfoEntry&) const = default;
};

// Every well-formed line; a malformed one is an error naming its number.
Result<std::vector<MountInfoEntry>> parse_mountinfo(std::string_view text);

// The mount that holds path (absolute, normalised): the longest mount point
// that is path or a parent of it; of several mounts on the same point, the
// last (the one on top, as the kernel lists them in mount order).
const MountInfoEntry* find_mount_for(const std::vector<MountInfoEntry>& mounts,
                                     std::string_view path);

// The mount point /etc/fstab (fstab_text, fstab(5)) gives path's filesystem
// (the longest that is path or a parent of it, "/" and swap aside, noauto
// ones too: nothing mounts them at boot) when mounts has nothing mounted
// there yet: a filesystem still to come at boot, as a nofail mount waiting
// for its device. Empty when it is mounted or fstab names none for path.
std::string fstab_mount_not_mounted(std::string_view fstab_text,
                                    const std::vector<MountInfoEntry>& mounts,
                                    std::string_view path);

// Filesystems a capture kernel can mount from a local block device and write a
// dump to. Everything else (tmpfs and other memory filesystems, network and
// FUSE filesystems, overlay) is refused with a reason: tmpfs dies with the
// crashed kernel, and nfs has its own Target=nfs: form.
bool is_local_block_filesystem(std::string_view fstype);

// Where a directory target lives, as the capture kernel must find it.
struct TargetFilesystem {
    std::string host_directory;  // Target=, as the running system sees it
    std::string mount_point;     // the host's mount point of that filesystem
    std::string device;          // /dev/vda1, /dev/mapper/vg-crash: today's name
    // How the capture finds the device: UUID=... when /dev/disk/by-uuid has
    // it (device names can change between kernels), else the device path.
    std::string source;
    std::string fstype;
    // The directory inside the filesystem: mountinfo's root of the mount
    // (a bind mount or a btrfs subvolume) plus Target= below the mount point.
    std::string directory_in_filesystem;
    bool is_root_filesystem = false;
    bool operator==(const TargetFilesystem&) const = default;
};

// Resolves a directory (which must exist) through mountinfo_text and the
// device tree under paths (/sys/dev/block/MAJ:MIN, /dev/disk/by-uuid).
Result<TargetFilesystem> resolve_directory_target(const SystemPaths& paths,
                                                  std::string_view mountinfo_text,
                                                  const std::string& directory);

// A raw target (Target=raw:/dev/...) as the capture must find it: device is
// today's node (/dev/vdb), source the configured name (a /dev/disk/by-id link
// stays right when names change), fstype and directory empty. Refused with
// the reason when writing a dump over the device would destroy something in
// use: a mounted filesystem, partitions, a holder (LVM, RAID, dm-crypt),
// swap. mountinfo_text and swaps_text are /proc/self/mountinfo and
// /proc/swaps; /sys/dev/block and the device under paths.
Result<TargetFilesystem> resolve_raw_target(const SystemPaths& paths,
                                            std::string_view mountinfo_text,
                                            std::string_view swaps_text, const std::string& device);

// A separate /boot on a local block device, as the Debian installer's and
// Anaconda's LVM layouts make it (a plain partition next to the volume
// group): where the capture leaves its note when it can mount neither the
// target nor the root filesystem (kSpareCaptureFailuresDirectory,
// lib/records/armed-boot-ledger.hpp). None when /boot is on the root
// filesystem or the target's, or is not a local disk filesystem.
std::optional<TargetFilesystem> spare_note_filesystem(const SystemPaths& paths,
                                                      std::string_view mountinfo_text,
                                                      const TargetFilesystem& target,
                                                      const TargetFilesystem& root);

// crashcapture-save's options for this configuration (format, compression and
// its level, dump level, and --group with the numeric id of Group=, resolved
// on the host: the capture initrd has no /etc/group), as separate words.
// format overrides the configuration's (the fallback to the root filesystem
// of a raw target writes a kdump file, not a stream).
std::vector<std::string> save_arguments(const Config& config,
                                        std::optional<unsigned> group_id = std::nullopt,
                                        std::optional<DumpFormat> format = std::nullopt);

// Quotes a word for a POSIX shell: 'it'\''s'.
std::string shell_quote(std::string_view word);

// /etc/crashcapture/capture.env: CRASHCAPTURE_* assignments, one per line,
// every value shell-quoted. root is the root filesystem, for
// FailureAction=dump-to-rootfs (and the same as target when the dumps go to
// the root filesystem). state is where crashcaptured's state directory
// (/var/lib/crashcapture) lies: when that is on the root filesystem and the
// target is not, the capture leaves its capture-failures note there when it
// cannot mount the target (capture_failure_notes_directory()), and a raw
// or ssh target's capture copies its record and logs there
// (raw_capture_records_directory(), lib/raw-recovery.hpp;
// ssh_capture_records_directory(), lib/remote-target.hpp). network is an ssh
// target's: the interface, address and gateway the capture sets up.
// spare_note is spare_note_filesystem()'s: where the note goes when the root
// filesystem cannot be mounted either.
std::string capture_environment(const Config& config, const TargetFilesystem& target,
                                const TargetFilesystem& root,
                                std::optional<unsigned> group_id = std::nullopt,
                                const std::optional<TargetFilesystem>& state = {},
                                const std::optional<CaptureNetwork>& network = {},
                                const std::optional<TargetFilesystem>& spare_note = {});

// The iSCSI sessions the capture logs in to before it waits for its disks,
// appended to capture.env: CRASHCAPTURE_ISCSI_SESSIONS, one session a line,
// "TARGET ADDRESS PORT TPGT INITIATOR" (each a plain word,
// read_iscsi_session() checks), and for session N (from 1) its CHAP
// credentials when set: CRASHCAPTURE_ISCSI_USERNAME_N, _PASSWORD_N,
// _USERNAME_IN_N, _PASSWORD_IN_N. The capture initrd is root's only (the
// builder writes it 0600). Empty without sessions.
std::string iscsi_capture_environment(const std::vector<IscsiSession>& sessions);

// The drop-in for crashcapture-capture.service: SuccessAction= from
// FinalAction=, FailureAction=/OnFailure= from FailureAction=,
// TimeoutStartSec= from TimeoutSec= (systemd.unit(5), systemd.service(5)).
std::string capture_unit_dropin(const Config& config);

// The drop-in for crashcapture-fallback.service, which FailureAction=
// dump-to-rootfs starts when the capture failed: it ends in FinalAction= when
// it saved the dump, in a reboot when it could not either, within the same
// time limit.
std::string fallback_unit_dropin(const Config& config);

}  // namespace crashcapture
