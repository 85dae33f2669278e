// The daemon's state machine: what is loaded, why, and what was captured.
// It decides; the event loop, D-Bus and the journal only carry its words.
//
//   unavailable  no crashkernel= reservation (LastError says what to do)
//   idle         nothing loaded (after Unload)
//   building     the capture initrd builder runs (a child process)
//   loading      kexec_file_load in progress
//   loaded       /sys/kernel/kexec_crash_loaded = 1
//   failed       a bad config, a failed build or load (LastError says why);
//                a capture kernel loaded before stays loaded
//
// Loaded is not always enough: when the reservation is smaller than the
// capture kernel and its unpacked initrd need (reservation.hpp), the state
// stays truthful (loaded) and ReservationWarning, and LastError while
// loaded, say which crashkernel= to set.
//
// The armed-boot ledger (armed-boot-ledger.hpp) is kept here: this boot's
// record follows every state change and a 10-minute heartbeat; at start,
// earlier boots are resolved, and a lost capture is reported like a dump.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "armed-boot-ledger.hpp"
#include "capture-cpus.hpp"
#include "capture-manager.hpp"
#include "config.hpp"
#include "event-loop.hpp"
#include "hotplug.hpp"
#include "initrd-inputs.hpp"
#include "initrd-manifest.hpp"
#include "initrd-size.hpp"
#include "kexec-loader.hpp"
#include "reservation.hpp"
#include "result.hpp"
#include "system-paths.hpp"

namespace crashcapture {

enum class ManagerState { unavailable, idle, building, loading, loaded, failed };
std::string_view to_string(ManagerState state);

struct ManagerProperties {
    ManagerState state = ManagerState::idle;
    std::string last_error;
    std::string capture_kernel;
    std::string capture_initrd;
    std::string command_line;
    uint64_t reserved_bytes = 0;
    std::string target;
    uint32_t dump_level = 31;
    uint64_t loaded_timestamp_usec = 0;
    // Empty, or why the reservation is too small for this capture kernel
    // and initrd, with the crashkernel= to set (check_reservation_fit()).
    std::string reservation_warning;
    // Empty, or what the last crashcaptured of this boot was doing when it
    // stopped without an orderly stop, and what this start cleared up
    // (describe_previous_run(), lib/records/daemon-run.hpp).
    std::string previous_run;
    // The capture kernel's nr_cpus= at the last load, and why
    // (choose_capture_cpus()); 0 before the first load.
    unsigned capture_cpus = 0;
    std::string capture_cpus_reason;
};

// What the manager tells the outside world (D-Bus signals, the journal).
class ManagerObserver {
  public:
    virtual ~ManagerObserver() = default;
    virtual void properties_changed() = 0;
    virtual void dump_captured(const std::string& id, const std::string& result,
                               const nlohmann::json& record) = 0;
    // One journal line; priority as syslog (LOG_ERR...), with structured fields.
    virtual void log(int priority, const std::string& message,
                     const std::vector<std::pair<std::string, std::string>>& fields = {}) = 0;
};

class Manager {
  public:
    // builder: the executable that builds a capture initrd, called as
    //   BUILDER --kernel-version KVER --kernel IMAGE --output FILE
    Manager(EventLoop& loop, SystemPaths paths, KexecInterface& kexec, std::string builder,
            ManagerObserver& observer);
    ~Manager();

    // Reads the config, checks the reservation, reports new dumps, loads.
    void start();
    // Re-reads the config and rebuilds + reloads when an input changed (or
    // always, when forced); returns at once, the work goes on in the loop.
    void request_reload(bool force);
    Status unload();
    // The file watcher saw a burst of changes settle.
    void inputs_changed();
    // A kernel uevent: CPUs or memory came or went. Reloads the capture
    // kernel (its ELF core header lists them) unless the kernel keeps the
    // header current itself (crash_hotplug = 1); bursts are debounced.
    void hotplug_event(const Uevent& event);
    uint64_t hotplug_reloads() const { return hotplug_reloads_; }
    // The kernel's routing netlink said addresses, routes or links changed.
    // For an ssh or nfs target, after a quiet period, the network towards
    // the server is read again and compared with the loaded capture
    // initrd's copy (capture_network_summary()); a difference (a new DHCP
    // lease, a bond's new port) rebuilds it. Lifetime refreshes of the same
    // address compare equal and cost three `ip` calls; other targets
    // ignore the event.
    void network_event();

    const ManagerProperties& properties() const { return properties_; }
    // The configuration in effect; empty before the first good read.
    const std::optional<Config>& config() const { return config_; }
    std::vector<std::string> watched_directories() const;
    // Where dumps are listed from: Target= when it is a directory, then
    // /var/crash on the root filesystem (FailureAction=dump-to-rootfs saves
    // there; dumps made before Target= changed stay there).
    std::vector<std::string> dump_locations() const;
    // Directories watched with all their subdirectories: the running
    // kernel's modules (a module update changes files deep inside).
    std::vector<std::string> watched_trees() const;

    nlohmann::json list_dumps() const;
    Result<nlohmann::json> get_dump(const std::string& id) const;
    Result<std::string> get_dump_log(const std::string& id) const;
    Status remove_dump(const std::string& id);
    Result<std::vector<std::string>> apply_retention();
    std::pair<uint64_t, nlohmann::json> estimate_reservation() const;
    // Reports dumps that no earlier run reported (journal + signal + ledger).
    // Target=raw: copies a dump the capture left on the device, and the
    // records it left on the root filesystem, into the crash directory
    // (lib/raw-recovery.hpp), before report_new_dumps() reports them.
    // Target=ssh and nfs: recover_remote_records().
    void recover_raw_captures();
    // Target=ssh and nfs: the records the capture kept on the root
    // filesystem become dump directories (their dumps are on the server).
    void recover_remote_records();
    void report_new_dumps();
    // Resolves the earlier boots of the armed-boot ledger, once each, and
    // reports the lost captures among them (journal + DumpCaptured signal
    // with result "lost"); then prunes the ledger.
    void resolve_earlier_boots();
    // The three above, in order, once a local Target= that /etc/fstab mounts
    // is mounted (target_mount_awaited()), or after kTargetMountWait.
    void look_at_earlier_boots();

    uint64_t builds_started() const { return builds_started_; }
    // The daemon stops. system_shutdown: true when systemd is shutting the
    // system down or rebooting (the capture kernel stays loaded, so a crash
    // during shutdown is still captured, and this boot is marked as shut
    // down in order); false for systemctl stop, and nullopt when it cannot
    // be told (the capture kernel is unloaded, as kdump's services do, and
    // this boot is marked disarmed: either way the ledger tells the truth).
    void shutdown(std::optional<bool> system_shutdown);

  private:
    void set_state(ManagerState state, std::string error = {});
    Status reload_config();
    void share_target_with_group();
    void begin_build();
    void build_finished(int exit_status);
    // After a build: keeps the builder's list of recorded inputs with the
    // initrd, and the manifest of what went into it.
    void save_build_manifest();
    // Where the builder's standard error goes (the runtime directory).
    std::string builder_log_path() const;
    void load();
    // Carries out decide_arming()'s answer.
    void act_on(ArmingAction action);
    std::string running_kernel_release() const;
    // The capture initrd's inputs (lib/arming/initrd-inputs.hpp): the fixed
    // ones, first the capture kernel, then the files the last build
    // recorded (what dracut copied in).
    std::vector<std::string> fixed_inputs() const;
    std::vector<std::string> manifest_inputs() const;
    // What the capture needs (kernel load size, initrd and its unpacked
    // size, margin, the CPUs chosen for it), and the figures as JSON for
    // EstimateReservation.
    struct CaptureNeed {
        CaptureMemoryNeed need;     // with the chosen CPUs' cost
        CaptureMemoryNeed one_cpu;  // the same for one CPU
        CaptureCpuChoice cpus;
        nlohmann::json explanation;
    };
    CaptureNeed capture_need() const;
    // Compares the reservation with capture_need(); sets and logs
    // reservation_warning when it changes.
    void check_reservation();
    // network_event()'s check, and the copy kept after each build
    // (initrd-KVER.network in the state directory).
    void check_network();
    void record_build_network();
    std::string build_network_name() const;  // in the state directory
    std::string network_at_build_;
    std::optional<std::string> network_before_build_;
    // This boot's ledger record: created when first armed, then refreshed
    // (armed or not, last seen) on every call.
    void update_boot_record();
    void heartbeat();
    std::optional<ArmedBoot> lost_capture(const std::string& id) const;

    EventLoop& loop_;
    SystemPaths paths_;
    KexecInterface& kexec_;
    std::string builder_;
    ManagerObserver& observer_;
    std::optional<Config> config_;
    ManagerProperties properties_;
    std::optional<Manifest> pending_manifest_;
    // A rebuild held back while a changed module waits for depmod
    // (module_changed_after_depmod()): true to wait on, since when.
    bool waiting_for_depmod(const Manifest& now, const std::vector<ManifestChange>& changes);
    std::optional<EventLoop::Clock::time_point> depmod_wait_since_;
    // Target='s fstab mount point while it is not mounted yet (empty when
    // there is nothing to wait for).
    std::string target_mount_awaited() const;
    // How long a wait for that mount (since) has lasted; the first call
    // starts it and says in the journal what waits (then: "building the
    // capture initrd") for which mount (awaited).
    EventLoop::Clock::duration target_mount_waited(
        std::optional<EventLoop::Clock::time_point>& since, const std::string& awaited,
        std::string_view then);
    std::optional<EventLoop::Clock::time_point> target_mount_wait_since_;
    // A build waits for the same mount: built before it, the capture would
    // write under the mount point, on the filesystem below.
    bool holding_build_for_target_mount();
    std::optional<EventLoop::Clock::time_point> build_target_wait_since_;
    CaptureLoader loader_{kexec_};
    BuildQueue build_queue_;
    pid_t builder_pid_ = -1;
    uint64_t builds_started_ = 0;
    uint64_t hotplug_reloads_ = 0;
    std::string boot_id_;  // empty when unknown: no ledger
    std::optional<ArmedBoot> this_boot_;
    // Crash signatures of older records, read from their logs once.
    mutable DumpSignatureCache signatures_;
    int64_t started_at_ = 0;
    // Keeps running.json (daemon-run.hpp) in step with State.
    void record_daemon_run();
    // At start: reads the last run's running.json and clears a build's leftovers.
    void note_previous_run();
    bool ledger_write_failed_ = false;
    // measure_initrd() of the capture initrd, kept while the file is the same.
    mutable InitrdSizeCache initrd_sizes_;
};

}  // namespace crashcapture
