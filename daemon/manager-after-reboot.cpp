// crashcaptured after a reboot: what the last boots left. Dumps copied off a
// raw device or kept for an ssh or nfs target become dump directories, every
// dump not reported yet is reported (journal, DumpCaptured, the reported
// ledger), and armed boots that left no dump are resolved: lost, shut down
// in order, or disarmed.
#include <syslog.h>

#include <fmt/format.h>

#include "armed-boot-ledger.hpp"
#include "dump-catalog.hpp"
#include "file-util.hpp"
#include "manager-internal.hpp"
#include "manager.hpp"
#include "message-ids.hpp"
#include "raw-recovery.hpp"
#include "remote-target.hpp"
#include "retention.hpp"

namespace crashcapture {

using manager_internal::entry_to_json;
using manager_internal::now_sec;

void Manager::resolve_earlier_boots() {
    const std::string directory = armed_boots_directory(paths_);
    auto list = read_armed_boots(directory);
    if (!list) {
        observer_.log(LOG_WARNING, "Failed to read the armed-boot ledger: " + list.error().message +
                                       ", ignoring");
        return;
    }
    for (const auto& problem : list->problems) {
        observer_.log(LOG_WARNING, "Armed-boot ledger: " + problem + ", ignoring");
    }
    std::vector<DumpEntry> dumps;
    bool any_pending = false;
    for (const auto& boot : list->boots) {
        any_pending =
            any_pending || (boot.boot_id != boot_id_ && boot.outcome == BootOutcome::pending);
    }
    if (!any_pending) {
        return;
    }
    if (auto scanned = scan_dump_directories(dump_locations())) {
        dumps = std::move(scanned->dumps);
    } else {
        // Without the dumps a captured crash would look lost: decide later.
        observer_.log(LOG_WARNING, "Failed to look for dumps: " + scanned.error().message +
                                       "; earlier boots are looked at on the next start");
        return;
    }
    // Notes on a separate /boot (the root was unreachable too) join the
    // others first, so every lost capture's log is in one place.
    for (const auto& problem :
         adopt_capture_failure_notes(spare_capture_failure_notes_directory(paths_),
                                     capture_failure_notes_directory(paths_))) {
        observer_.log(LOG_WARNING, "Capture failure note on /boot: " + problem);
    }
    std::vector<ArmedBoot*> lost;
    for (ArmedBoot* boot : resolve_pending_boots(
             list->boots, boot_id_, dumps, [this] { return find_pstore_records(paths_); },
             capture_failure_notes_directory(paths_), now_sec())) {
        if (boot->outcome == BootOutcome::lost) {
            lost.push_back(boot);
        } else if (auto s = write_armed_boot(directory, *boot); !s) {
            observer_.log(LOG_WARNING, "Failed to update the armed-boot ledger: " +
                                           s.error().message + ", ignoring");
        }
    }
    for (ArmedBoot* boot : lost) {
        // Recorded before it is reported: a report too many is better than
        // none, but a restart must not report it again.
        if (auto s = write_armed_boot(directory, *boot); !s) {
            observer_.log(LOG_WARNING,
                          "Failed to record a lost capture in the armed-boot "
                          "ledger: " +
                              s.error().message + "; it may be reported again");
        }
        const auto json = lost_capture_json(*boot);
        std::string pstore_paths;
        for (const auto& record : boot->pstore) {
            pstore_paths += (pstore_paths.empty() ? "" : " ") + record.path;
        }
        const std::string id = lost_capture_id(*boot);
        observer_.log(LOG_ERR, describe_lost_capture(*boot),
                      {{"MESSAGE_ID", kMessageIdCapture},
                       {"CRASHCAPTURE_DUMP_ID", id},
                       {"CRASHCAPTURE_RESULT", "lost"},
                       {"CRASHCAPTURE_BOOT_ID", boot->boot_id},
                       {"CRASHCAPTURE_KERNEL", boot->kernel_release},
                       {"CRASHCAPTURE_LAST_SEEN", std::to_string(boot->last_seen)},
                       {"CRASHCAPTURE_PANIC", json["record"].value("panic_line", "")},
                       {"CRASHCAPTURE_SIGNATURE", json.value("signature", "")},
                       {"CRASHCAPTURE_SIGNATURE_HASH", json.value("signature_hash", "")},
                       {"CRASHCAPTURE_PSTORE", pstore_paths},
                       {"CRASHCAPTURE_CAPTURE_LOG", boot->capture_log}});
        observer_.dump_captured(id, "lost", json);
    }
    for (const auto& boot_id : armed_boots_to_forget(list->boots, boot_id_, kArmedBootsKept)) {
        (void)remove_armed_boot(directory, boot_id);
    }
}

void Manager::recover_raw_captures() {
    if (config_ &&
        (config_->target.kind == TargetKind::ssh || config_->target.kind == TargetKind::nfs)) {
        recover_remote_records();
        return;
    }
    if (!config_ || config_->target.kind != TargetKind::raw) {
        return;
    }
    const std::string device = paths_.resolve(config_->target.path);
    if (auto s = make_directory(paths_.crash_dir, 0700); !s) {
        observer_.log(LOG_ERR, "Cannot look for a dump on " + config_->target.path + ": " +
                                   s.error().message);
        return;
    }
    auto report = crashcapture::recover_raw_captures(device, raw_capture_records_directory(paths_),
                                                     paths_.crash_dir, now_sec());
    if (!report) {
        // Nothing was cleared: the dump stays on the device for the next try.
        observer_.log(LOG_ERR, fmt::format("Cannot copy the dump off the raw target {}: {}; "
                                           "it is tried again at the next start",
                                           config_->target.path, report.error().message));
        return;
    }
    for (const auto& problem : report->problems) {
        observer_.log(LOG_WARNING, "Raw target " + config_->target.path + ": " + problem);
    }
    for (const auto& recovered : report->recovered) {
        observer_.log(
            LOG_INFO,
            recovered.from_device
                ? fmt::format("Copied the dump off {} into {} ({})", config_->target.path,
                              recovered.path, to_string(recovered.result))
                : fmt::format("Brought back the record of a capture to {} "
                              "into {} ({})",
                              config_->target.path, recovered.path, to_string(recovered.result)));
    }
}

void Manager::recover_remote_records() {
    if (auto s = make_directory(paths_.crash_dir, 0700); !s) {
        observer_.log(LOG_ERR, "Cannot report the captures sent to " +
                                   config_->target_description() + ": " + s.error().message);
        return;
    }
    auto report = recover_kept_records(config_->target.kind == TargetKind::ssh
                                           ? ssh_capture_records_directory(paths_)
                                           : nfs_capture_records_directory(paths_),
                                       paths_.crash_dir, now_sec());
    if (!report) {
        observer_.log(LOG_ERR, fmt::format("Cannot report the captures sent to {}: {}; tried "
                                           "again at the next start",
                                           config_->target_description(), report.error().message));
        return;
    }
    for (const auto& problem : report->problems) {
        observer_.log(LOG_WARNING, "Target " + config_->target_description() + ": " + problem);
    }
    for (const auto& recovered : report->recovered) {
        observer_.log(LOG_INFO,
                      fmt::format("Brought back the record of a capture sent to {} into {} ({})",
                                  config_->target_description(), recovered.path,
                                  to_string(recovered.result)));
    }
}

void Manager::report_new_dumps() {
    auto scan = scan_dump_directories(dump_locations());
    if (!scan) {
        observer_.log(LOG_WARNING,
                      "Failed to look for dumps: " + scan.error().message + ", ignoring");
        return;
    }
    for (const auto& problem : scan->problems) {
        observer_.log(LOG_WARNING, "Failed to look for dumps: " + problem + ", ignoring");
    }
    auto* dumps = &scan->dumps;
    auto ledger = read_ledger(paths_.state);
    if (!ledger) {
        // Reporting a dump twice beats never reporting it.
        observer_.log(LOG_WARNING, "Failed to read the reported-dumps ledger: " +
                                       ledger.error().message + ", starting afresh");
        ledger = Ledger{};
    }
    bool pruned = prune_ledger(*ledger, *dumps);
    for (const auto& entry : unreported(*dumps, *ledger)) {
        const auto json = entry_to_json(entry, signatures_);
        const std::string result = json.value("result", "unknown");
        const auto& record = entry.record;
        observer_.log(result == "complete" ? LOG_NOTICE : LOG_ERR,
                      fmt::format("Kernel crash captured: {} ({}): {}", entry.id, result,
                                  record.panic_line.empty() ? record.error : record.panic_line),
                      {{"MESSAGE_ID", kMessageIdCapture},
                       {"CRASHCAPTURE_DUMP_ID", entry.id},
                       {"CRASHCAPTURE_RESULT", result},
                       {"CRASHCAPTURE_KERNEL", record.kernel_release},
                       {"CRASHCAPTURE_PANIC", record.panic_line},
                       {"CRASHCAPTURE_SIGNATURE", json.value("signature", "")},
                       {"CRASHCAPTURE_SIGNATURE_HASH", json.value("signature_hash", "")},
                       {"CRASHCAPTURE_ERROR", record.error},
                       {"CRASHCAPTURE_DUMP_BYTES", std::to_string(record.bytes_out)},
                       {"CRASHCAPTURE_PATH", entry.path}});
        observer_.dump_captured(entry.id, result, json);
        if (auto s = mark_reported(paths_.state, *ledger, {entry.id}); !s) {
            observer_.log(LOG_WARNING, "Failed to record that dump " + entry.id +
                                           " was reported: " + s.error().message);
        }
        pruned = false;
    }
    if (pruned) {
        (void)write_ledger(paths_.state, *ledger);
    }
    if (config_) {
        (void)apply_retention();
    }
}

}  // namespace crashcapture
