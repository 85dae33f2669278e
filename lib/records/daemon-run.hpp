// What the running crashcaptured keeps in its state directory, so that the
// next start in the same boot can tell an orderly stop from a kill (SIGKILL,
// a crash, the watchdog), say what the daemon was doing when it died, and
// clear what it left half-done. systemd restarts it (Restart=on-failure);
// without this, the restart would look like any other start and a build
// cut short would leave its half-written image in the state directory.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "result.hpp"
#include "system-paths.hpp"

namespace crashcapture {

// <state>/running.json: written at start and at every change of State,
// removed at an orderly stop.
inline constexpr std::string_view kDaemonRunFileName = "running.json";

struct DaemonRun {
    int64_t pid = 0;
    std::string boot_id;
    std::string state;  // the Manager's State when it was last written
    int64_t started_at = 0;
    int64_t state_since = 0;
    bool operator==(const DaemonRun&) const = default;
};

nlohmann::json to_json(const DaemonRun& run);
Result<DaemonRun> daemon_run_from_json(const nlohmann::json& json);

std::string daemon_run_path(const SystemPaths& paths);
// Atomically (write_file_atomically), mode 0600.
Status write_daemon_run(const SystemPaths& paths, const DaemonRun& run);
// Nothing when there is no file (the last stop was orderly, or this is the
// first start); an error when it cannot be read or parsed.
Result<std::optional<DaemonRun>> read_daemon_run(const SystemPaths& paths);
Status remove_daemon_run(const SystemPaths& paths);

// Whether a name in the state directory is a half-built capture initrd or
// its inputs list: initrd-KVER.img.new (the builder's output),
// initrd-KVER.img.new.building (dracut's own, initrd-build-plan.hpp) and
// initrd-KVER.inputs.json.new. A running build owns them; at start no build
// runs, so any that exist were left by one that was cut short.
bool is_build_leftover(std::string_view name);

// Removes the build leftovers in the state directory; returns their names.
std::vector<std::string> remove_build_leftovers(const SystemPaths& paths,
                                                std::vector<std::string>& problems);

// The PreviousRun property: what the last crashcaptured of this boot was
// doing when it stopped without an orderly stop, and what this start
// cleared; empty when there is nothing to say (no record, or a record of an
// earlier boot: a reboot is not a kill, and the armed-boot ledger reports
// it).
std::string describe_previous_run(const std::optional<DaemonRun>& previous,
                                  std::string_view this_boot_id,
                                  const std::vector<std::string>& removed_leftovers);

}  // namespace crashcapture
