// The armed-boot ledger (issue 8, "Nothing is lost silently"): one small
// record per boot in which the capture kernel was armed, so that a crash
// whose capture never happened (the capture kernel ran out of memory, hung,
// or the machine was reset) is still reported after the reboot.
//
//   <state>/boots/<boot id>.json    (/var/lib/crashcapture/boots/…)
//
// The daemon writes its own boot's record when it arms the capture kernel,
// refreshes last_seen every few minutes and on every state change, and marks
// an orderly shutdown (or that it disarmed the capture kernel). At its next
// start, on a later boot, it resolves every earlier boot once:
//   orderly    shut down or rebooted in order: nothing to report;
//   disarmed   the capture kernel was not loaded at the end: nothing to catch;
//   captured   a dump names the boot (status.json boot_id): reported as a dump;
//   lost       none of those: a crash or reset whose capture did not happen.
// A lost boot stays in the ledger, listed with the dumps as "lost-<boot id>"
// (result "lost"), until an admin removes it; the others are pruned to the
// newest kArmedBootsKept.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "dump-catalog.hpp"
#include "panic-signature.hpp"
#include "result.hpp"
#include "system-paths.hpp"

namespace crashcapture {

inline constexpr int kArmedBootSchemaVersion = 1;
// Boots remembered besides the lost ones: a month of daily reboots.
inline constexpr size_t kArmedBootsKept = 32;
// The prefix of a lost capture's id among the dumps.
inline constexpr std::string_view kLostIdPrefix = "lost-";

enum class BootOutcome { pending, orderly, disarmed, captured, lost };
std::string_view to_string(BootOutcome outcome);
std::optional<BootOutcome> parse_boot_outcome(std::string_view text);

// A crashed kernel's log that survived the reset in pstore: a dmesg-* file in
// /sys/fs/pstore (fs/pstore/inode.c names them dmesg-<backend>-<id>), or one
// archived by systemd-pstore under /var/lib/systemd/pstore.
struct PstoreRecord {
    std::string path;        // as this process opens it (under SystemPaths)
    std::string panic_line;  // find_panic_line() of its text; empty if none
    int64_t time = 0;        // the file's mtime, seconds since the epoch
    uint64_t bytes = 0;
    PanicSignature signature = {};  // panic_signature() of its text; empty if none
};

struct ArmedBoot {
    std::string boot_id;  // as /proc/sys/kernel/random/boot_id prints it
    std::string kernel_release;
    int64_t armed_at = 0;   // first armed in this boot, seconds since the epoch
    int64_t last_seen = 0;  // the daemon's last sign of life in this boot
    bool armed = false;     // the capture kernel was loaded at the last word
    bool orderly_shutdown = false;
    int64_t shutdown_at = 0;
    // Decided once, on a later boot.
    BootOutcome outcome = BootOutcome::pending;
    int64_t resolved_at = 0;
    std::string dump_id;               // captured: the dump that names the boot
    std::vector<PstoreRecord> pstore;  // lost: what pstore kept of the crash
    // lost: the note the capture kernel left on the root filesystem when it
    // ran but could not reach the target (capture_failure_notes_directory()).
    std::string capture_failure;  // its reason line
    std::string capture_log;      // the note's path: the reason, then the capture kernel's journal
};

nlohmann::json to_json(const ArmedBoot& boot);
Result<ArmedBoot> armed_boot_from_json(const nlohmann::json& json);

// <state>/boots
std::string armed_boots_directory(const SystemPaths& paths);

// A boot id in one spelling, 32 lower-case hex digits without dashes, so
// "0f5c0d3e-6a1b-…" (procfs) and "0f5c0d3e6a1b…" (journal) compare equal;
// "" when text is not a 128-bit id.
std::string normalize_boot_id(std::string_view text);

// "lost-<boot id>", and back ("" when id is not one).
std::string lost_capture_id(const ArmedBoot& boot);
std::string boot_id_of_lost_capture(std::string_view id);

struct ArmedBootList {
    std::vector<ArmedBoot> boots;       // oldest first (armed_at, then boot id)
    std::vector<std::string> problems;  // unreadable or malformed records, skipped
};
// A missing directory holds no boots.
Result<ArmedBootList> read_armed_boots(const std::string& directory);
// One boot's record; ENOENT when there is none.
Result<ArmedBoot> read_armed_boot(const std::string& directory, std::string_view boot_id);
// Written atomically (mode 0644: it holds no memory contents); the
// directory is created (0700) when missing, its parent must exist.
Status write_armed_boot(const std::string& directory, const ArmedBoot& boot);
Status remove_armed_boot(const std::string& directory, std::string_view boot_id);

// What became of an earlier boot, given the dumps present now. Only for
// pending boots; dump_id is set when captured.
struct BootResolution {
    BootOutcome outcome = BootOutcome::pending;
    std::string dump_id;
};
BootResolution resolve_earlier_boot(const ArmedBoot& boot, const std::vector<DumpEntry>& dumps);

// The boot ids to delete so that at most `keep` records remain besides the
// lost ones and the current boot's: the oldest go first.
std::vector<std::string> armed_boots_to_forget(const std::vector<ArmedBoot>& boots,
                                               std::string_view current_boot_id, size_t keep);

// Every pstore dmesg record present now, oldest first.
std::vector<PstoreRecord> find_pstore_records(const SystemPaths& paths);

// Gives each lost boot the pstore records that can be its crash's: a record
// goes to the latest lost boot armed before the record was written.
// lost_boots must be sorted oldest first.
void attribute_pstore_records(std::vector<ArmedBoot*>& lost_boots,
                              const std::vector<PstoreRecord>& records);

// A lost boot as ListDumps and GetDump show it, in the shape of a dump's
// entry: id, path (""), result "lost", crash_time (last seen alive),
// disk_bytes 0, record_error "", record (result, error, kernel_release,
// boot_id, panic_line from pstore), signature and signature_hash (from the
// first pstore record that has one; "" when none), and "lost" with what the
// ledger knows.
nlohmann::json lost_capture_json(const ArmedBoot& boot);

// <state>/capture-failures: where crashcapture-capture, in the capture
// kernel, leaves "<crashed boot id>.log" on the root filesystem when it cannot
// mount the target (dracut/modules.d/99crashcapture/crashcapture-capture):
// a first line "reason: <why>", then the capture kernel's journal.
inline constexpr std::string_view kCaptureFailuresSubdirectory = "/capture-failures";
std::string capture_failure_notes_directory(const SystemPaths& paths);

// Where the capture leaves its note when neither the target nor the root
// filesystem can be mounted (a root on LVM or RAID that did not come up): a
// separate /boot, as the Debian installer's and Anaconda's LVM layouts make it
// (spare_note_filesystem(), lib/arming/initrd-plan.hpp). crashcaptured moves
// such notes into capture_failure_notes_directory() after the reboot, so
// /boot does not fill up with them (crashcaptured.service's ReadWritePaths=).
inline constexpr std::string_view kSpareCaptureFailuresDirectory = "/boot/crashcapture-failures";
std::string spare_capture_failure_notes_directory(const SystemPaths& paths);

// Moves every note ("<boot id>.log") from `from` into `into` (created 0700
// when missing): renamed when both are on one filesystem, else copied (0600)
// and then removed. A note already in `into` is kept and the spare one
// removed. Returns one problem string per note left behind; a missing `from`
// is no problem.
std::vector<std::string> adopt_capture_failure_notes(const std::string& from,
                                                     const std::string& into);

// Gives each lost boot the note its capture kernel left in directory, if any
// (the file name's boot id compared in either spelling). A boot that has a
// note already keeps it.
void attach_capture_failure_notes(std::vector<ArmedBoot*>& lost_boots,
                                  const std::string& directory);

// Decides each pending boot but the current one (resolve_earlier_boot()
// against dumps, resolved_at = now), and gives the lost ones the pstore
// records that can be their crash's (attribute_pstore_records(); find_pstore
// is asked only when a boot was lost: it reads every record, which an
// ordinary start need not do) and the note their capture kernel left in
// notes_directory (attach_capture_failure_notes()). Returns the boots
// decided now, pointers into boots, oldest first; the caller writes them
// back and reports the lost.
std::vector<ArmedBoot*> resolve_pending_boots(
    std::vector<ArmedBoot>& boots, std::string_view current_boot_id,
    const std::vector<DumpEntry>& dumps,
    const std::function<std::vector<PstoreRecord>()>& find_pstore,
    const std::string& notes_directory, int64_t now);

// One sentence for the journal and the record's error field.
std::string describe_lost_capture(const ArmedBoot& boot);

}  // namespace crashcapture
