// The two D-Bus requests that reach past the daemon's own job, both root
// only (checked by DbusService before they get here):
//
//   SetReservation  sets crashkernel= for the next boot. The daemon's
//                   sandbox keeps /etc and /boot read-only
//                   (ProtectSystem=full), so crashcapturectl setup --apply
//                   runs as a transient systemd service (systemd-run),
//                   outside it, and the reply waits for it.
//   TestCapture     crashes the machine with sysrq-c once the reply is on
//                   its way, as crashcapturectl test --yes does locally.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "event-loop.hpp"
#include "manager.hpp"
#include "result.hpp"
#include "system-paths.hpp"
#include "unique-fd.hpp"

namespace crashcapture {

class AdminActions {
  public:
    using SetupReply = std::function<void(Result<std::string> setup_json)>;

    // setup_runner: the words before "setup --apply ..." (lib/arming
    // reservation_setup_command()): systemd-run ... crashcapturectl, or
    // crashcapturectl alone where the daemon runs unconfined (tests).
    AdminActions(EventLoop& loop, SystemPaths paths, std::vector<std::string> setup_runner,
                 ManagerObserver& observer);
    ~AdminActions();

    // Starts the change; reply runs in the loop when it ends, with
    // crashcapturectl's JSON, or its last words as the error. One at a
    // time (EBUSY while one runs).
    Status start_set_reservation(uint64_t size_mib, uid_t caller, SetupReply reply);

    // Opens the sysrq trigger now, so a failure is the caller's error; the
    // crash follows kCrashDelay later from the loop, after a sync, so the
    // reply leaves first.
    Status schedule_capture_test(uid_t caller);
    static constexpr std::chrono::seconds kCrashDelay{1};

  private:
    void setup_finished(int status);

    EventLoop& loop_;
    SystemPaths paths_;
    std::vector<std::string> setup_runner_;
    ManagerObserver& observer_;
    pid_t setup_pid_ = -1;
    uint64_t setup_mib_ = 0;
    SetupReply setup_reply_;
    UniqueFd sysrq_trigger_;
};

}  // namespace crashcapture
