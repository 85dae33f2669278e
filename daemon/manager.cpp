#include "manager.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>

#include "capture-cmdline.hpp"
#include "capture-manager.hpp"
#include "daemon-run.hpp"
#include "dracut-command.hpp"
#include "dump-catalog.hpp"
#include "file-util.hpp"
#include "group.hpp"
#include "initrd-build-plan.hpp"
#include "initrd-plan.hpp"
#include "manager-internal.hpp"
#include "message-ids.hpp"
#include "process.hpp"
#include "raw-recovery.hpp"
#include "remote-target.hpp"
#include "reservation.hpp"
#include "retention-settings.hpp"
#include "retention.hpp"
#include "stopwatch.hpp"

namespace crashcapture {
namespace {

// A kernel file's text without its trailing newline; "" if unreadable (the
// callers treat a missing boot id or cpuinfo as unknown).
std::string read_text(const std::string& path) {
    std::string text = read_kernel_file(path).value_or("");
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
        text.pop_back();
    }
    return text;
}

// How often this boot's ledger record says the system is alive: the "last
// seen" of a lost capture is at most this old. One small atomic write.
constexpr auto kHeartbeatPeriod = std::chrono::minutes(10);
// How long a rebuild waits for depmod after a module changed: depmod takes a
// few seconds (a minute under emulation, beside a build); a module copied in
// by hand without it must not hold the rebuild back for ever.
constexpr auto kDepmodWait = std::chrono::minutes(3);
// How long the last boots wait for Target='s filesystem to be mounted:
// systemd waits 90 s for a mount's device (DefaultDeviceTimeoutSec=,
// systemd-system.conf(5)), then the filesystem is checked; and how often
// mountinfo is read meanwhile.
constexpr auto kTargetMountWait = std::chrono::minutes(2);
constexpr auto kTargetMountPoll = std::chrono::seconds(2);

uint64_t now_usec() {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
}

}  // namespace

using manager_internal::entry_to_json;
using manager_internal::now_sec;

std::string_view to_string(ManagerState state) {
    switch (state) {
        case ManagerState::unavailable:
            return "unavailable";
        case ManagerState::idle:
            return "idle";
        case ManagerState::building:
            return "building";
        case ManagerState::loading:
            return "loading";
        case ManagerState::loaded:
            return "loaded";
        case ManagerState::failed:
            return "failed";
    }
    return "failed";
}

Manager::Manager(EventLoop& loop, SystemPaths paths, KexecInterface& kexec, std::string builder,
                 ManagerObserver& observer)
    : loop_(loop),
      paths_(std::move(paths)),
      kexec_(kexec),
      builder_(std::move(builder)),
      observer_(observer) {}

Manager::~Manager() {
    // A stop during a build (a package upgrade's restart): the builder and
    // its dracut go with the daemon, and leave no half-built image behind.
    if (builder_pid_ > 0) {
        loop_.unwatch_child(builder_pid_);
        ::kill(-builder_pid_, SIGTERM);
        ::waitpid(builder_pid_, nullptr, 0);
        const std::string output = properties_.capture_initrd + ".new";
        ::unlink(output.c_str());
        ::unlink((output + ".building").c_str());
    }
}

void Manager::set_state(ManagerState state, std::string error) {
    if (error.empty() && state == ManagerState::loaded) {
        // Loaded, but likely to fail: LastError says why while loaded.
        error = properties_.reservation_warning;
    }
    const bool changed = state != properties_.state || error != properties_.last_error;
    const bool state_changed = state != properties_.state;
    properties_.state = state;
    properties_.last_error = std::move(error);
    if (changed) {
        const std::string message = properties_.last_error.empty()
                                        ? fmt::format("Capture kernel state: {}", to_string(state))
                                        : fmt::format("Capture kernel state: {}: {}",
                                                      to_string(state), properties_.last_error);
        observer_.log(state == ManagerState::failed || state == ManagerState::unavailable
                          ? LOG_ERR
                          : LOG_INFO,
                      message,
                      {{"MESSAGE_ID", kMessageIdStateChanged},
                       {"CRASHCAPTURE_STATE", std::string(to_string(state))}});
    }
    if (state_changed) {
        record_daemon_run();
    }
    update_boot_record();
    observer_.properties_changed();
}

void Manager::record_daemon_run() {
    if (started_at_ == 0) {
        return;  // before start(): note_previous_run() has not read the last one yet
    }
    DaemonRun run{.pid = ::getpid(),
                  .boot_id = boot_id_,
                  .state = std::string(to_string(properties_.state)),
                  .started_at = started_at_,
                  .state_since = now_sec()};
    ::mkdir(paths_.state.c_str(), 0700);
    if (auto s = write_daemon_run(paths_, run); !s) {
        observer_.log(LOG_WARNING,
                      "Cannot record the daemon's state for the next start: " + s.error().message);
    }
}

void Manager::note_previous_run() {
    auto previous = read_daemon_run(paths_);
    if (!previous) {
        observer_.log(LOG_WARNING, "Ignoring an unreadable record of the previous run: " +
                                       previous.error().message);
    }
    std::vector<std::string> problems;
    const auto removed = remove_build_leftovers(paths_, problems);
    for (const auto& problem : problems) {
        observer_.log(LOG_WARNING, "Cannot clear what a build cut short left: " + problem);
    }
    properties_.previous_run =
        describe_previous_run(previous ? *previous : std::nullopt,
                              normalize_boot_id(boot_id_).empty() ? "" : boot_id_, removed);
    if (!properties_.previous_run.empty()) {
        observer_.log(LOG_WARNING, "Previous run: " + properties_.previous_run,
                      {{"MESSAGE_ID", kMessageIdPreviousRun}});
    }
    started_at_ = now_sec();
    record_daemon_run();
}

std::string Manager::running_kernel_release() const {
    return read_text(paths_.proc + "/sys/kernel/osrelease");
}

Status Manager::reload_config() {
    auto config = load_config(paths_);
    if (!config) {
        return tl::unexpected(config.error());
    }
    config_ = std::move(*config);
    share_target_with_group();
    properties_.target = config_->target_description();
    properties_.dump_level = static_cast<uint32_t>(config_->dump_level);
    return {};
}

void Manager::share_target_with_group() {
    if (config_->group.empty() || config_->target.kind != TargetKind::directory) {
        return;
    }
    const auto gid = resolve_group(config_->group);
    if (!gid) {
        observer_.log(LOG_WARNING, "Group=" + gid.error().message +
                                       "; the dumps stay readable by root only, ignoring");
        return;
    }
    const std::string directory = paths_.resolve(config_->target.path);
    auto shared = share_directory_with_group(directory, *gid);
    if (!shared) {
        observer_.log(LOG_WARNING, fmt::format("Group={}: {}, ignoring", config_->group,
                                               shared.error().message));
    } else if (*shared) {
        observer_.log(LOG_INFO, fmt::format("Gave group {} the dump directory {} (0750)",
                                            config_->group, directory));
    }
}

std::vector<std::string> Manager::dump_locations() const {
    std::vector<std::string> directories;
    if (config_ && config_->target.kind == TargetKind::directory) {
        directories.push_back(paths_.resolve(config_->target.path));
    }
    if (directories.empty() || directories.front() != paths_.crash_dir) {
        directories.push_back(paths_.crash_dir);
    }
    return directories;
}

std::vector<std::string> Manager::watched_directories() const {
    return {paths_.boot, paths_.modules, paths_.legacy_modules, paths_.root + "/etc"};
}

std::vector<std::string> Manager::watched_trees() const {
    const std::string release = running_kernel_release();
    // /etc/crashcapture as a tree: crashcapture.conf.d, and ssh/, which
    // crashcapturectl propagate creates after the daemon started (the
    // capture's key and pinned host key, an initrd input for ssh targets).
    return {paths_.modules + "/" + release, paths_.etc_config};
}

std::vector<std::string> Manager::fixed_inputs() const {
    const std::string release = running_kernel_release();
    const Config config = config_.value_or(Config{});
    const std::string kernel = !config.kernel_override.empty()
                                   ? paths_.resolve(config.kernel_override)
                                   : paths_.boot + "/vmlinuz-" + release;
    return fixed_initrd_inputs(paths_, config, kernel, release, builder_);
}

std::vector<std::string> Manager::manifest_inputs() const {
    const std::string list = recorded_inputs_path(paths_, running_kernel_release());
    auto recorded = read_recorded_inputs(list);
    if (!recorded) {
        // The files of the last build are then unknown: their entries in the
        // saved manifest show as removed, which rebuilds and records anew.
        observer_.log(LOG_WARNING, recorded.error().message + ", ignoring");
    }
    return all_initrd_inputs(paths_, fixed_inputs(), recorded.value_or(std::vector<std::string>{}));
}

void Manager::start() {
    boot_id_ = read_text(paths_.proc + "/sys/kernel/random/boot_id");
    if (normalize_boot_id(boot_id_).empty()) {
        observer_.log(LOG_WARNING, "No boot id in " + paths_.proc +
                                       "/sys/kernel/random/boot_id: lost captures of this boot "
                                       "cannot be reported, ignoring");
        boot_id_.clear();
    } else if (auto record = read_armed_boot(armed_boots_directory(paths_), boot_id_)) {
        // Started again in the same boot (a restart, an upgrade): the
        // system is still up.
        this_boot_ = std::move(*record);
        this_boot_->orderly_shutdown = false;
        this_boot_->shutdown_at = 0;
    }
    note_previous_run();
    auto reservation = read_reservation(paths_);
    if (reservation) {
        properties_.reserved_bytes = reservation->size_bytes;
    }
    if (auto s = reload_config(); !s) {
        set_state(ManagerState::failed, s.error().message);
    }
    look_at_earlier_boots();
    // Armed from the loop, after the daemon has told systemd it is ready:
    // hashing the initrd's inputs and loading take seconds (tens under
    // emulation), and a service that arms in the background must not hold
    // up multi-user.target for them (issue 17). State says "loading" or
    // "building" meanwhile.
    if (properties_.state != ManagerState::failed) {
        loop_.arm_timer("arm", std::chrono::milliseconds(0), [this] { request_reload(false); });
    }
    loop_.arm_timer("heartbeat", kHeartbeatPeriod, [this] { heartbeat(); });
}

std::string Manager::target_mount_awaited() const {
    if (!config_ || config_->target.kind != TargetKind::directory) {
        return {};
    }
    const auto mounts = parse_mountinfo(read_text(paths_.proc + "/self/mountinfo"));
    if (!mounts) {
        return {};
    }
    return fstab_mount_not_mounted(read_text(paths_.resolve("/etc/fstab")), *mounts,
                                   config_->target.path);
}

// A local Target= on a filesystem /etc/fstab mounts, not mounted yet as the
// daemon starts (a nofail mount still waiting for its device: an LVM thin
// volume or an MD array that comes up seconds later; the target-thin guest):
// the dumps on it cannot be seen, and a crash captured there would be
// reported lost. The last boots are looked at once it is mounted.
EventLoop::Clock::duration Manager::target_mount_waited(
    std::optional<EventLoop::Clock::time_point>& since, const std::string& awaited,
    std::string_view then) {
    const auto now_time = EventLoop::Clock::now();
    if (!since) {
        since = now_time;
        observer_.log(
            LOG_INFO,
            fmt::format(
                "Target={} is on {}, which /etc/fstab mounts and which is not mounted "
                "yet: {} once it is (at most {} s)",
                config_->target.path, awaited, then,
                std::chrono::duration_cast<std::chrono::seconds>(kTargetMountWait).count()));
    }
    return now_time - *since;
}

void Manager::look_at_earlier_boots() {
    const std::string awaited = target_mount_awaited();
    if (!awaited.empty()) {
        if (target_mount_waited(target_mount_wait_since_, awaited,
                                "looking for the last boots' dumps") < kTargetMountWait) {
            loop_.arm_timer("target-mount", kTargetMountPoll, [this] { look_at_earlier_boots(); });
            return;
        }
        observer_.log(LOG_WARNING,
                      fmt::format("{} is still not mounted: looking at the last boots without it "
                                  "(a crash captured there is reported lost; mount it and "
                                  "restart crashcaptured to see its dump)",
                                  awaited));
    } else if (target_mount_wait_since_) {
        observer_.log(LOG_INFO,
                      fmt::format("Target={} is mounted now, after {} s", config_->target.path,
                                  std::chrono::duration_cast<std::chrono::seconds>(
                                      EventLoop::Clock::now() - *target_mount_wait_since_)
                                      .count()));
    }
    target_mount_wait_since_.reset();
    recover_raw_captures();
    report_new_dumps();
    resolve_earlier_boots();
}

void Manager::heartbeat() {
    update_boot_record();
    loop_.arm_timer("heartbeat", kHeartbeatPeriod, [this] { heartbeat(); });
}

void Manager::inputs_changed() {
    observer_.log(LOG_DEBUG, "Watched files changed, checking the capture initrd's inputs");
    request_reload(false);
}

void Manager::hotplug_event(const Uevent& event) {
    if (!hotplug_needs_reload(event, kernel_handles_crash_hotplug(paths_, event.subsystem))) {
        return;
    }
    // Onlining 64 GiB is hundreds of memory blocks: one reload after a second of quiet.
    loop_.arm_timer("hotplug", std::chrono::seconds(1), [this] {
        if (properties_.state != ManagerState::loaded) {
            return;
        }
        ++hotplug_reloads_;
        observer_.log(LOG_INFO, "CPUs or memory changed, loading the capture kernel again");
        load();
    });
}

namespace {

// Where the capture's network leads: an ssh or nfs target's server, or an
// iSCSI portal under the target or the root; nothing without a network.
std::optional<CaptureNetworkDestination> network_destination(const SystemPaths& paths,
                                                             const std::optional<Config>& config) {
    return config ? capture_network_destination(paths, *config) : std::nullopt;
}

// The network towards it now, without waiting for it.
Result<std::string> current_network_summary(const SystemPaths& paths,
                                            const CaptureNetworkDestination& destination) {
    SystemNetworkProbe probe;
    auto network = plan_capture_network_to(paths, destination.host, destination.what, probe,
                                           /*wait_seconds=*/0);
    if (!network) {
        return tl::unexpected(network.error());
    }
    return capture_network_summary(*network);
}

}  // namespace

std::string Manager::build_network_name() const {
    return "initrd-" + running_kernel_release() + ".network";
}

void Manager::record_build_network() {
    network_at_build_.clear();
    ::unlink((paths_.state + "/" + build_network_name()).c_str());
    const auto destination = network_destination(paths_, config_);
    if (!destination) {
        return;
    }
    // As the build began (a change during the build then shows as one at
    // the next check); at boot the network may have come up only while the
    // builder waited for it: then as it is now.
    auto summary = network_before_build_ ? Result<std::string>(*network_before_build_)
                                         : current_network_summary(paths_, *destination);
    network_before_build_.reset();
    if (!summary) {
        return;  // the next check takes today's as the initrd's
    }
    network_at_build_ = std::move(*summary);
    if (auto directory = open_directory(paths_.state)) {
        (void)write_file_atomically(directory->get(), build_network_name(), network_at_build_,
                                    0600);
    }
}

void Manager::network_event() {
    // Whether the capture needs a network at all is check_network()'s
    // question (an iSCSI disk is found in sysfs): not for every message.
    if (!config_) {
        return;
    }
    // A DHCP renewal or a router advertisement comes as a burst of
    // messages: one check after 5 s of quiet.
    loop_.arm_timer("network", std::chrono::seconds(5), [this] { check_network(); });
}

void Manager::check_network() {
    const auto destination = network_destination(paths_, config_);
    if (!destination) {
        return;
    }
    // A build or load under way: look again once it is over.
    if (properties_.state == ManagerState::building || properties_.state == ManagerState::loading) {
        loop_.arm_timer("network", std::chrono::seconds(30), [this] { check_network(); });
        return;
    }
    // Without a loaded capture kernel there is nothing stale.
    if (properties_.state != ManagerState::loaded) {
        return;
    }
    if (network_at_build_.empty()) {
        network_at_build_ = read_text(paths_.state + "/" + build_network_name());
        if (network_at_build_.empty()) {
            // An initrd built before this was recorded: take today's as its.
            record_build_network();
            return;
        }
    }
    auto summary = current_network_summary(paths_, *destination);
    if (!summary) {
        // No way to the server now (a link down): the copy may work again
        // when it returns; nothing better to build.
        observer_.log(LOG_DEBUG,
                      "Network changed, no way to the server now: " + summary.error().message);
        return;
    }
    if (*summary == network_at_build_) {
        return;
    }
    std::string was = network_at_build_, now = *summary;
    std::replace(was.begin(), was.end(), '\n', ';');
    std::replace(now.begin(), now.end(), '\n', ';');
    observer_.log(LOG_INFO, fmt::format("The network towards {} changed (was: {} now: {}), "
                                        "rebuilding the capture initrd",
                                        destination->what, was, now));
    request_reload(true);
}

void Manager::request_reload(bool force) {
    if (!build_queue_.request(force)) {
        return;  // a build is running: one more pass when it ends picks the change up
    }
    if (auto s = reload_config(); !s) {
        // The old capture kernel, if any, stays loaded (it was fine).
        set_state(ManagerState::failed, s.error().message);
        return;
    }
    auto reservation = read_reservation(paths_);
    properties_.reserved_bytes = reservation ? reservation->size_bytes : 0;
    if (properties_.reserved_bytes == 0) {
        properties_.reservation_warning.clear();
    }
    // Built even when nothing is reserved: the crashkernel= to ask for
    // depends on the initrd that will be loaded (issue 23: an estimate
    // without it, 96M, lost the first crash of a fresh machine), and after
    // the reboot the capture is armed without a second build.
    const std::string release = running_kernel_release();
    properties_.capture_kernel = fixed_inputs().front();
    properties_.capture_initrd = config_->initrd_override.empty()
                                     ? paths_.state + "/initrd-" + release + ".img"
                                     : paths_.resolve(config_->initrd_override);
    ArmingFacts facts{.force = force,
                      .initrd_override = !config_->initrd_override.empty(),
                      .reserved = properties_.reserved_bytes != 0,
                      .loaded = properties_.state == ManagerState::loaded &&
                                kexec_.crash_kernel_loaded().value_or(false)};
    if (facts.initrd_override) {
        act_on(decide_arming(facts));
        return;
    }
    const std::string manifest_path = paths_.state + "/initrd-" + release + ".manifest.json";
    auto old = read_manifest(manifest_path);
    // The saved manifest's stat cache spares rereading files whose inode,
    // size and times are unchanged (initrd-manifest.hpp): a Reload from the
    // package trigger after an unrelated upgrade then reads no module.
    const Stopwatch hashing;
    auto manifest =
        old ? compute_manifest(manifest_inputs(), *old) : compute_manifest(manifest_inputs());
    if (!manifest) {
        set_state(ManagerState::failed,
                  "cannot hash the capture initrd's inputs: " + manifest.error().message);
        return;
    }
    // What each start costs when nothing changed (issue 17 §5).
    observer_.log(
        LOG_INFO,
        fmt::format("Checked the capture initrd's inputs ({} files and directories{}): {}",
                    manifest->entries.size(), old ? "" : ", no earlier manifest: every file read",
                    hashing.describe()));
    struct stat st {};
    facts.initrd_exists = ::stat(properties_.capture_initrd.c_str(), &st) == 0;
    facts.have_previous_manifest = old.has_value();
    std::vector<ManifestChange> changes;
    if (old) {
        changes = diff_manifests(*old, *manifest);
        facts.changed_inputs = describe_changes(changes);
    }
    const ArmingAction action = decide_arming(facts);
    const bool builds =
        action == ArmingAction::build || action == ArmingAction::load_previous_then_build;
    if (builds && holding_build_for_target_mount()) {
        return;  // a loaded capture kernel stays loaded meanwhile
    }
    if (builds && !force && old && facts.initrd_exists) {
        if (waiting_for_depmod(*manifest, changes)) {
            return;  // the old initrd stays loaded meanwhile
        }
        // A kernel package touches thousands of modules; the journal gets the
        // first few and a count, not a 500 kB message.
        constexpr std::size_t kInputsNamed = 5;
        const auto& changed = facts.changed_inputs;
        std::string list;
        for (std::size_t i = 0; i < changed.size() && i < kInputsNamed; ++i) {
            list += (list.empty() ? "" : ", ") + changed[i];
        }
        if (changed.size() > kInputsNamed) {
            list += fmt::format(" and {} more", changed.size() - kInputsNamed);
        }
        observer_.log(LOG_INFO, "Capture initrd inputs changed (" + list + "), rebuilding");
    }
    if (builds) {
        pending_manifest_ = std::move(*manifest);
    }
    act_on(action);
}

// The builder finds Target='s filesystem in mountinfo: before the fstab
// mount is there, that is the filesystem below the mount point, and the
// capture would write the dump where it is hidden once the target is mounted.
bool Manager::holding_build_for_target_mount() {
    const std::string awaited = target_mount_awaited();
    if (awaited.empty()) {
        build_target_wait_since_.reset();
        loop_.cancel_timer("target-mount-build");
        return false;
    }
    if (target_mount_waited(build_target_wait_since_, awaited, "building the capture initrd") >=
        kTargetMountWait) {
        build_target_wait_since_.reset();
        set_state(ManagerState::failed,
                  fmt::format("Target={}: {}, which /etc/fstab mounts, is not mounted, so a "
                              "capture would write under its mount point, on the filesystem "
                              "below, where the dump is hidden once it is mounted; mount it (or "
                              "correct /etc/fstab), then crashcapturectl reload",
                              config_->target.path, awaited));
        return true;
    }
    loop_.arm_timer("target-mount-build", kTargetMountPoll, [this] { request_reload(false); });
    return true;
}

bool Manager::waiting_for_depmod(const Manifest& now, const std::vector<ManifestChange>& changes) {
    const std::string release = running_kernel_release();
    const auto module = module_changed_after_depmod(now, changes, paths_.modules + "/" + release);
    if (!module) {
        depmod_wait_since_.reset();
        loop_.cancel_timer("depmod-wait");
        return false;
    }
    const auto now_time = EventLoop::Clock::now();
    if (!depmod_wait_since_) {
        depmod_wait_since_ = now_time;
        observer_.log(
            LOG_INFO,
            fmt::format("{} changed after modules.dep was written: waiting for depmod "
                        "{} (at most {} s) before rebuilding the capture initrd, which "
                        "finds modules through modules.dep",
                        *module, release,
                        std::chrono::duration_cast<std::chrono::seconds>(kDepmodWait).count()));
    }
    const auto waited = now_time - *depmod_wait_since_;
    if (waited >= kDepmodWait) {
        observer_.log(LOG_WARNING,
                      fmt::format("depmod has not run since {} changed: rebuilding the capture "
                                  "initrd with the modules.dep there is (run depmod {}, and the "
                                  "daemon rebuilds it again)",
                                  *module, release));
        depmod_wait_since_.reset();
        return false;
    }
    // depmod writing modules.dep is a watched change and ends the wait
    // earlier; this is the limit.
    loop_.arm_timer("depmod-wait", kDepmodWait - waited, [this] { request_reload(false); });
    return true;
}

void Manager::act_on(ArmingAction action) {
    switch (action) {
        case ArmingAction::build:
            begin_build();
            return;
        case ArmingAction::load_previous_then_build:
            load();
            if (properties_.state == ManagerState::loaded) {
                observer_.log(LOG_INFO,
                              "Loaded the previous capture initrd " + properties_.capture_initrd +
                                  " so that a crash is captured while the new one builds");
            }
            begin_build();
            return;
        case ArmingAction::load:
            load();
            return;
        case ArmingAction::keep:
            // The image is current, but the CPU count it was loaded with
            // comes from the machine (online CPUs, the reservation), which
            // may have changed without a hotplug event reaching us: a Reload
            // loads again when the choice differs.
            if (const CaptureCpuChoice cpus = capture_need().cpus;
                cpus.cpus != properties_.capture_cpus) {
                observer_.log(LOG_INFO,
                              fmt::format("The capture kernel was loaded with {} CPU{}, now "
                                          "{}: loading it again",
                                          properties_.capture_cpus,
                                          properties_.capture_cpus == 1 ? "" : "s", cpus.cpus));
                load();
                return;
            }
            // Nothing to load; the fit is checked again all the same.
            check_reservation();
            set_state(ManagerState::loaded);
            return;
        case ArmingAction::wait_for_reservation: {
            // The estimate now includes the capture initrd, measured.
            const auto [recommended, explanation] = estimate_reservation();
            set_state(ManagerState::unavailable, explain_missing_reservation(recommended));
            return;
        }
    }
}

void Manager::begin_build() {
    const std::string release = running_kernel_release();
    const std::string output = properties_.capture_initrd + ".new";
    // The builder records the host files that went into the initrd
    // (initrd-inputs.hpp); the list is kept with the initrd when it is
    // installed.
    const std::string inputs_list = recorded_inputs_path(paths_, release) + ".new";
    ::unlink(inputs_list.c_str());
    std::vector<std::string> args{builder_,   "--kernel-version",         release,
                                  "--kernel", properties_.capture_kernel, "--output",
                                  output,     "--record-inputs",          inputs_list};
    ::mkdir(paths_.state.c_str(), 0700);
    // The builder's messages go to a file, so that a failure's reason
    // ("run crashcapturectl propagate", "no route to ...") reaches LastError
    // and not only the journal (build_finished()).
    ::mkdir(paths_.run.c_str(), 0700);
    network_before_build_.reset();
    if (const auto destination = network_destination(paths_, config_)) {
        if (auto summary = current_network_summary(paths_, *destination)) {
            network_before_build_ = std::move(*summary);
        }
    }
    const auto started = start_program(args, builder_log_path());
    if (!started) {
        set_state(ManagerState::failed,
                  "cannot run the initrd builder: " + started.error().message);
        return;
    }
    const pid_t pid = *started;
    ++builds_started_;
    builder_pid_ = pid;
    build_queue_.started();
    set_state(ManagerState::building);
    loop_.watch_child(pid, [this](int status) { build_finished(status); });
}

std::string Manager::builder_log_path() const {
    return paths_.run + "/builder.log";
}

void Manager::build_finished(int status) {
    builder_pid_ = -1;
    const std::string output = properties_.capture_initrd + ".new";
    // The builder's last words: its own failure message
    // ("crashcapture-build-initrd: ...", the last line it writes), or
    // dracut's last line.
    // dracut-install's set-user-ID copies that the unit's sandbox refuses
    // read as errors; they are not (explain_setuid_copy_failures()).
    const std::string builder_output = explain_setuid_copy_failures(read_text(builder_log_path()));
    const size_t last_line_start = builder_output.rfind('\n');
    std::string last_line =
        builder_output.substr(last_line_start == std::string::npos ? 0 : last_line_start + 1);
    constexpr size_t kLastLineShown = 600;  // a D-Bus property, not a log
    if (last_line.size() > kLastLineShown) {
        last_line = last_line.substr(0, kLastLineShown) + "...";
    }
    if (!builder_output.empty()) {
        // Whole, for the journal: dracut's output when it failed.
        constexpr size_t kOutputLogged = 16384;
        observer_.log(WIFEXITED(status) && WEXITSTATUS(status) == 0 ? LOG_INFO : LOG_WARNING,
                      "Initrd builder: " + (builder_output.size() > kOutputLogged
                                                ? "..." + builder_output.substr(
                                                              builder_output.size() - kOutputLogged)
                                                : builder_output));
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        ::unlink(output.c_str());
        const std::string why = last_line.empty() ? std::string() : ": " + last_line;
        set_state(ManagerState::failed,
                  WIFEXITED(status)
                      ? fmt::format("the initrd builder {} failed with exit status {}{}", builder_,
                                    WEXITSTATUS(status), why)
                      : fmt::format("the initrd builder {} was killed by signal {}{}", builder_,
                                    WTERMSIG(status), why));
    } else if (::rename(output.c_str(), properties_.capture_initrd.c_str()) < 0) {
        set_state(
            ManagerState::failed,
            fmt::format("cannot install {}: {}", properties_.capture_initrd, std::strerror(errno)));
    } else {
        save_build_manifest();
        record_build_network();
        act_on(properties_.reserved_bytes != 0 ? ArmingAction::load
                                               : ArmingAction::wait_for_reservation);
    }
    pending_manifest_.reset();
    if (const auto again = build_queue_.finished()) {
        request_reload(*again);
    }
}

void Manager::save_build_manifest() {
    const std::string release = running_kernel_release();
    const std::string list = recorded_inputs_path(paths_, release);
    // A builder that records nothing (an older or a test builder) leaves
    // the fixed inputs alone, never the list of an earlier initrd.
    std::vector<std::string> recorded;
    if (::rename((list + ".new").c_str(), list.c_str()) == 0) {
        auto read = read_recorded_inputs(list);
        if (read) {
            recorded = std::move(*read);
        } else {
            observer_.log(LOG_WARNING, read.error().message + ", ignoring");
        }
    } else {
        ::unlink(list.c_str());
    }
    if (!pending_manifest_) {
        return;
    }
    auto manifest = manifest_after_build(*pending_manifest_,
                                         all_initrd_inputs(paths_, fixed_inputs(), recorded));
    if (!manifest) {
        // Without a manifest the next check rebuilds: safe, if slow.
        observer_.log(LOG_WARNING,
                      "cannot hash the new capture initrd's inputs: " + manifest.error().message);
        return;
    }
    auto directory = open_directory(paths_.state);
    const std::string name = "initrd-" + release + ".manifest.json";
    if (directory) {
        (void)write_manifest(directory->get(), name, *manifest);
    }
}

void Manager::load() {
    set_state(ManagerState::loading);
    std::string running = read_text(paths_.proc + "/cmdline");
    std::string boot_id = read_text(paths_.proc + "/sys/kernel/random/boot_id");
    const CaptureCpuChoice cpus = capture_need().cpus;
    auto command_line = derive_capture_command_line(
        running, *config_, boot_id, parse_boot_cpu_apicid(read_text(paths_.proc + "/cpuinfo")),
        cpus.cpus);
    if (!command_line) {
        set_state(ManagerState::failed, command_line.error().message);
        return;
    }
    properties_.command_line = *command_line;
    if (cpus.cpus != properties_.capture_cpus || cpus.reason != properties_.capture_cpus_reason) {
        observer_.log(LOG_INFO, fmt::format("The capture kernel gets {} CPU{} ({})", cpus.cpus,
                                            cpus.cpus == 1 ? "" : "s", cpus.reason));
    }
    properties_.capture_cpus = cpus.cpus;
    properties_.capture_cpus_reason = cpus.reason;
    // Loaded anyway when it does not fit (it may work, and nothing loaded
    // certainly does not), but the admin is told.
    check_reservation();
    const Stopwatch loading;
    if (auto s = loader_.load(
            {properties_.capture_kernel, properties_.capture_initrd, properties_.command_line});
        !s) {
        std::string message = s.error().message;
        if (!properties_.reservation_warning.empty()) {
            message += "; " + properties_.reservation_warning;
        }
        set_state(ManagerState::failed, message);
        return;
    }
    auto loaded = kexec_.crash_kernel_loaded();
    if (!loaded || !*loaded) {
        set_state(ManagerState::failed,
                  "kexec_file_load succeeded but /sys/kernel/kexec_crash_loaded is not 1");
        return;
    }
    properties_.loaded_timestamp_usec = now_usec();
    // Most of a load is the kernel's: reading the kernel and the initrd into
    // the reservation, and checking the kernel's signature under Secure Boot.
    observer_.log(LOG_INFO, "Loaded the capture kernel and initrd: " + loading.describe());
    set_state(ManagerState::loaded);
}

Status Manager::unload() {
    if (auto s = kexec_.unload_crash_kernel(); !s) {
        return s;
    }
    properties_.loaded_timestamp_usec = 0;
    set_state(ManagerState::idle);
    return {};
}

void Manager::shutdown(std::optional<bool> system_shutdown) {
    loop_.cancel_timer("heartbeat");
    // An orderly stop: the next start has nothing to report.
    if (auto s = remove_daemon_run(paths_); !s) {
        observer_.log(LOG_WARNING, s.error().message);
    }
    if (system_shutdown.value_or(false)) {
        observer_.log(LOG_INFO,
                      "The system is shutting down; the capture kernel stays loaded, so a crash "
                      "until the end is still captured");
        if (this_boot_) {
            this_boot_->orderly_shutdown = true;
            this_boot_->shutdown_at = now_sec();
            update_boot_record();
        }
        return;
    }
    if (kexec_.crash_kernel_loaded().value_or(false)) {
        if (auto s = kexec_.unload_crash_kernel(); !s) {
            observer_.log(LOG_WARNING,
                          "Stopping; failed to unload the capture kernel: " + s.error().message);
        } else {
            observer_.log(LOG_NOTICE,
                          system_shutdown.has_value()
                              ? "Stopping (systemctl stop): capture kernel unloaded; a crash is "
                                "not captured until crashcaptured starts again"
                              : "Stopping, and systemd could not say whether the system is "
                                "shutting down: capture kernel unloaded; a crash is not captured "
                                "until crashcaptured starts again");
        }
    }
    update_boot_record();
}

nlohmann::json Manager::list_dumps() const {
    std::vector<nlohmann::json> entries;
    if (auto scan = scan_dump_directories(dump_locations())) {
        for (const auto& entry : scan->dumps) {
            entries.push_back(entry_to_json(entry, signatures_));
        }
    }
    if (auto boots = read_armed_boots(armed_boots_directory(paths_))) {
        for (const auto& boot : boots->boots) {
            if (boot.outcome == BootOutcome::lost) {
                entries.push_back(lost_capture_json(boot));
            }
        }
    }
    // Oldest first, as scan_dumps() orders the dumps.
    std::stable_sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
        return a.value("crash_time", int64_t{0}) < b.value("crash_time", int64_t{0});
    });
    return nlohmann::json(entries);
}

std::optional<ArmedBoot> Manager::lost_capture(const std::string& id) const {
    const std::string boot_id = boot_id_of_lost_capture(id);
    if (boot_id.empty()) {
        return std::nullopt;
    }
    auto boot = read_armed_boot(armed_boots_directory(paths_), boot_id);
    if (!boot || boot->outcome != BootOutcome::lost) {
        return std::nullopt;
    }
    return std::move(*boot);
}

Result<nlohmann::json> Manager::get_dump(const std::string& id) const {
    if (auto lost = lost_capture(id)) {
        return lost_capture_json(*lost);
    }
    auto entry = load_dump_from(dump_locations(), id);
    if (!entry) {
        return tl::unexpected(entry.error());
    }
    return entry_to_json(*entry, signatures_);
}

Result<std::string> Manager::get_dump_log(const std::string& id) const {
    if (auto lost = lost_capture(id)) {
        // What pstore kept of the crash, each record under its name.
        std::string text;
        for (const auto& record : lost->pstore) {
            auto content = read_kernel_file(record.path);
            text += fmt::format("==> {} <==\n{}", record.path,
                                content ? *content : "(" + content.error().message + ")\n");
            if (!text.empty() && text.back() != '\n') {
                text += '\n';
            }
        }
        if (text.empty()) {
            return make_error(ENOENT, "{}: the capture was lost and pstore kept no kernel log{}",
                              id,
                              lost->capture_log.empty()
                                  ? std::string()
                                  : "; the capture kernel's own log is " + lost->capture_log);
        }
        return text;
    }
    auto entry = load_dump_from(dump_locations(), id);
    if (!entry) {
        return tl::unexpected(entry.error());
    }
    const std::string path = entry->path + "/vmcore-dmesg.txt";
    std::ifstream in(path);
    if (!in) {
        return make_error(ENOENT, "dump {} has no kernel log", id);
    }
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
}

Status Manager::remove_dump(const std::string& id) {
    if (auto lost = lost_capture(id)) {
        if (auto s = remove_armed_boot(armed_boots_directory(paths_), lost->boot_id); !s) {
            return s;
        }
        if (!lost->capture_log.empty() &&
            lost->capture_log.starts_with(capture_failure_notes_directory(paths_) + "/")) {
            (void)::unlink(lost->capture_log.c_str());
        }
        observer_.log(LOG_INFO, "Removed lost capture " + id, {{"CRASHCAPTURE_DUMP_ID", id}});
        return {};
    }
    auto entry = load_dump_from(dump_locations(), id);
    if (!entry) {
        return tl::unexpected(entry.error());
    }
    // The directory the dump is in (Target= or /var/crash).
    const std::string crash_dir = entry->path.substr(0, entry->path.rfind('/'));
    if (auto s = crashcapture::remove_dump(crash_dir, id); !s) {
        return s;
    }
    observer_.log(LOG_INFO, "Removed dump " + id, {{"CRASHCAPTURE_DUMP_ID", id}});
    return {};
}

Result<std::vector<std::string>> Manager::apply_retention() {
    if (!config_) {
        return make_error(0, "no valid configuration");
    }
    // Retention keeps Target= within its limits; dumps saved elsewhere
    // (FailureAction=dump-to-rootfs) are the admin's to remove.
    const std::string crash_dir = dump_locations().front();
    auto dumps = scan_dumps(crash_dir);
    if (!dumps) {
        return tl::unexpected(dumps.error());
    }
    auto space = filesystem_space(crash_dir);
    if (!space) {
        return tl::unexpected(space.error());
    }
    const RetentionPolicy policy = retention_policy_for(config_->retention, space->size_bytes);
    auto plan =
        plan_retention(dump_directories(*dumps), policy, space->free_bytes, space->size_bytes);
    if (!plan) {
        return tl::unexpected(plan.error());
    }
    if (plan->empty()) {
        return plan;
    }
    auto applied = crashcapture::apply_retention(crash_dir, *plan);
    for (const auto& id : *plan) {
        observer_.log(LOG_INFO, "Retention removed dump " + id, {{"CRASHCAPTURE_DUMP_ID", id}});
    }
    if (!applied) {
        return tl::unexpected(applied.error());
    }
    return plan;
}

Manager::CaptureNeed Manager::capture_need() const {
    const std::string kernel_path = !properties_.capture_kernel.empty()
                                        ? properties_.capture_kernel
                                        : paths_.boot + "/vmlinuz-" + running_kernel_release();
    // What the kernel needs in memory while it boots (the bzImage header's
    // init_size), not the file's size; the file size only if unreadable.
    struct stat kernel {};
    auto load_size = read_kernel_load_size(kernel_path);
    const uint64_t kernel_bytes = load_size ? *load_size
                                            : (::stat(kernel_path.c_str(), &kernel) == 0
                                                   ? static_cast<uint64_t>(kernel.st_size)
                                                   : 0);
    const std::string& initrd_path = properties_.capture_initrd;
    uint64_t initrd_bytes = 0;
    uint64_t unpacked_bytes = 0;
    std::string initrd_note;
    const InitrdSize* measured = nullptr;
    auto initrd = initrd_path.empty() ? Result<InitrdSizeCache::Measured>(make_error(ENOENT, ""))
                                      : initrd_sizes_.measure(initrd_path);
    if (!initrd) {
        initrd_note = "no capture initrd is built yet";
    } else {
        initrd_bytes = initrd->file_bytes;
        if (initrd->size) {
            measured = &*initrd->size;
            unpacked_bytes = measured->unpacked_bytes;
            initrd_note = measured->note;
        } else {
            // Not an initrd we can read: the kernel may still unpack it.
            unpacked_bytes = initrd_bytes * kUnknownCompressionFactor;
            initrd_note = fmt::format("{}: its unpacked size is taken as {} times its size",
                                      initrd->size.error().message, kUnknownCompressionFactor);
        }
    }
    const uint64_t memory = read_memory_total(paths_).value_or(0);
    const CaptureMemoryNeed one_cpu =
        capture_memory_need(kernel_bytes, initrd_bytes, unpacked_bytes, memory,
                            measured != nullptr && measured->squashed);
    auto reservation = read_reservation(paths_);
    // Unknown online CPUs (no sysfs): one, as before CPUs= existed.
    const CaptureCpuInputs cpu_inputs{
        .reserved_bytes = reservation ? reservation->total_bytes() : 0,
        .needed_one_cpu_bytes = one_cpu.needed_bytes,
        .online_cpus =
            count_cpu_list(read_text(paths_.sys + "/devices/system/cpu/online")).value_or(1),
        .per_cpu_bytes = capture_cpu_cost_bytes(),
        .configured = config_->capture_cpus,
        .appended = appended_nr_cpus(config_->cmdline_append),
    };
    const CaptureCpuChoice cpus = choose_capture_cpus(cpu_inputs);
    const CaptureMemoryNeed need = with_capture_cpus(one_cpu, cpus.extra_bytes);
    nlohmann::json explanation =
        explain_capture_need(need, {.kernel = kernel_path,
                                    .kernel_bytes_from_init_size = load_size.has_value(),
                                    .initrd = initrd_path,
                                    .memory_bytes = memory});
    if (measured != nullptr) {
        explanation["initrd_segments"] = measured->segments;
        explanation["initrd_files"] = measured->files;
        explanation["initrd_squashed"] = measured->squashed;
        explanation["initrd_unpacked_estimated"] = measured->estimated;
    }
    if (!initrd_note.empty()) {
        explanation["note"] = initrd_note;
    }
    explanation["capture_cpus"] = explain_capture_cpus(cpus, cpu_inputs);
    return {need, one_cpu, cpus, explanation};
}

std::pair<uint64_t, nlohmann::json> Manager::estimate_reservation() const {
    auto [need, one_cpu, cpus, explanation] = capture_need();
    auto reservation = read_reservation(paths_);
    const uint64_t reserved = reservation ? reservation->total_bytes() : 0;
    explanation["reserved_bytes"] = reserved;
    explanation["fits"] = reserved != 0 && reserved >= need.needed_bytes;
    // CPUs=auto takes what the reservation pays for, so it recommends the
    // size for one CPU: a larger reservation only makes the capture faster.
    const bool automatic = !config_->capture_cpus && !appended_nr_cpus(config_->cmdline_append);
    return {automatic ? one_cpu.recommended_bytes : need.recommended_bytes, explanation};
}

void Manager::check_reservation() {
    auto reservation = read_reservation(paths_);
    const uint64_t reserved = reservation ? reservation->total_bytes() : 0;
    const auto [need, one_cpu, cpus, explanation] = capture_need();
    std::string warning = check_reservation_fit(reserved, need);
    if (warning == properties_.reservation_warning) {
        return;
    }
    properties_.reservation_warning = warning;
    if (warning.empty()) {
        observer_.log(LOG_INFO, "The reservation now fits the capture kernel and initrd");
        return;
    }
    observer_.log(LOG_WARNING, warning,
                  {{"MESSAGE_ID", kMessageIdReservation},
                   {"CRASHCAPTURE_RESERVED_BYTES", std::to_string(reserved)},
                   {"CRASHCAPTURE_NEEDED_BYTES", std::to_string(need.needed_bytes)},
                   {"CRASHCAPTURE_RECOMMENDED", format_crashkernel_size(need.recommended_bytes)},
                   {"CRASHCAPTURE_ESTIMATE", explanation.dump()}});
}

void Manager::update_boot_record() {
    if (boot_id_.empty()) {
        return;
    }
    // The kernel's word first: a failed reload leaves the old image loaded.
    const bool armed =
        kexec_.crash_kernel_loaded().value_or(properties_.state == ManagerState::loaded);
    if (!this_boot_) {
        if (!armed) {
            return;  // never armed in this boot: a crash could not be captured anyway
        }
        this_boot_ = ArmedBoot{};
        this_boot_->boot_id = boot_id_;
        this_boot_->kernel_release = running_kernel_release();
        this_boot_->armed_at = now_sec();
    }
    this_boot_->armed = armed;
    this_boot_->last_seen = now_sec();
    if (auto s = write_armed_boot(armed_boots_directory(paths_), *this_boot_); !s) {
        if (!ledger_write_failed_) {
            observer_.log(LOG_WARNING,
                          "Failed to write the armed-boot ledger: " + s.error().message +
                              "; a lost capture of this boot may go unreported");
        }
        ledger_write_failed_ = true;
    } else {
        ledger_write_failed_ = false;
    }
}

}  // namespace crashcapture
