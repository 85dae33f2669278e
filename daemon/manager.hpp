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
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "config.hpp"
#include "event-loop.hpp"
#include "hotplug.hpp"
#include "initrd-manifest.hpp"
#include "kexec-loader.hpp"
#include "result.hpp"
#include "system-paths.hpp"
#include "unique-fd.hpp"

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

    const ManagerProperties& properties() const { return properties_; }
    std::vector<std::string> watched_directories() const;
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
    void report_new_dumps();

    uint64_t builds_started() const { return builds_started_; }
    // An orderly stop: records it for the armed-boot ledger.
    void shutdown();

  private:
    void set_state(ManagerState state, std::string error = {});
    Status reload_config();
    void begin_build();
    void build_finished(int exit_status);
    void load();
    std::string running_kernel_release() const;
    std::vector<std::string> manifest_inputs() const;

    EventLoop& loop_;
    SystemPaths paths_;
    KexecInterface& kexec_;
    std::string builder_;
    ManagerObserver& observer_;
    std::optional<Config> config_;
    ManagerProperties properties_;
    std::optional<Manifest> pending_manifest_;
    struct LoadedImage {
        std::string kernel, initrd, command_line;
    };
    std::optional<LoadedImage> last_good_;
    pid_t builder_pid_ = -1;
    UniqueFd builder_pidfd_;
    bool reload_again_ = false;
    bool force_next_ = false;
    uint64_t builds_started_ = 0;
    uint64_t hotplug_reloads_ = 0;
};

}  // namespace crashcapture
