#include "manager.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include "capture-cmdline.hpp"
#include "dump-catalog.hpp"
#include "file-util.hpp"
#include "reservation.hpp"
#include "retention.hpp"

extern char** environ;

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

nlohmann::json entry_to_json(const DumpEntry& entry) {
    return nlohmann::json{
        {"id", entry.id},
        {"path", entry.path},
        {"result", std::string(to_string(entry.record.result))},
        {"crash_time", entry.crash_time},
        {"disk_bytes", entry.disk_bytes},
        {"record_error", entry.record_error},
        {"record", to_json(entry.record)},
    };
}

uint64_t now_usec() {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
}

}  // namespace

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
    if (builder_pid_ > 0) {
        ::kill(builder_pid_, SIGTERM);
        ::waitpid(builder_pid_, nullptr, 0);
    }
}

void Manager::set_state(ManagerState state, std::string error) {
    const bool changed = state != properties_.state || error != properties_.last_error;
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
                      {{"MESSAGE_ID", "5e8d3b0a9c7f4e21b4d6a8c0e2f41357"},
                       {"CRASHCAPTURE_STATE", std::string(to_string(state))}});
    }
    observer_.properties_changed();
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
    properties_.target = config_->target_description();
    properties_.dump_level = static_cast<uint32_t>(config_->dump_level);
    return {};
}

std::vector<std::string> Manager::watched_directories() const {
    return {paths_.boot,
            paths_.modules,
            paths_.legacy_modules,
            paths_.etc_config,
            paths_.etc_config + "/crashcapture.conf.d",
            paths_.root + "/etc"};
}

std::vector<std::string> Manager::watched_trees() const {
    const std::string release = running_kernel_release();
    return {paths_.modules + "/" + release};
}

std::vector<std::string> Manager::manifest_inputs() const {
    const std::string release = running_kernel_release();
    std::vector<std::string> inputs{
        config_ && !config_->kernel_override.empty() ? paths_.resolve(config_->kernel_override)
                                                     : paths_.boot + "/vmlinuz-" + release,
        paths_.modules + "/" + release,
        paths_.etc_config + "/crashcapture.conf",
        paths_.etc_config + "/crashcapture.conf.d",
        paths_.root + "/etc/fstab",
        builder_,
    };
    return inputs;
}

void Manager::start() {
    auto reservation = read_reservation(paths_);
    if (reservation) {
        properties_.reserved_bytes = reservation->size_bytes;
    }
    if (auto s = reload_config(); !s) {
        set_state(ManagerState::failed, s.error().message);
    }
    report_new_dumps();
    if (properties_.state != ManagerState::failed) {
        request_reload(false);
    }
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

void Manager::request_reload(bool force) {
    if (builder_pid_ > 0) {
        // A build is running: one more pass when it ends picks the change up.
        reload_again_ = true;
        force_next_ = force_next_ || force;
        return;
    }
    if (auto s = reload_config(); !s) {
        // The old capture kernel, if any, stays loaded (it was fine).
        set_state(ManagerState::failed, s.error().message);
        return;
    }
    auto reservation = read_reservation(paths_);
    properties_.reserved_bytes = reservation ? reservation->size_bytes : 0;
    if (!reservation || reservation->size_bytes == 0) {
        const auto [recommended, explanation] = estimate_reservation();
        set_state(ManagerState::unavailable, explain_missing_reservation(recommended));
        return;
    }
    const std::string release = running_kernel_release();
    properties_.capture_kernel = manifest_inputs().front();
    properties_.capture_initrd = config_->initrd_override.empty()
                                     ? paths_.state + "/initrd-" + release + ".img"
                                     : paths_.resolve(config_->initrd_override);
    if (!config_->initrd_override.empty()) {
        load();
        return;
    }
    auto manifest = compute_manifest(manifest_inputs());
    if (!manifest) {
        set_state(ManagerState::failed,
                  "cannot hash the capture initrd's inputs: " + manifest.error().message);
        return;
    }
    const std::string manifest_path = paths_.state + "/initrd-" + release + ".manifest.json";
    auto old = read_manifest(manifest_path);
    struct stat st {};
    const bool initrd_exists = ::stat(properties_.capture_initrd.c_str(), &st) == 0;
    if (!force && old && initrd_exists) {
        const auto changed = changed_inputs(*old, *manifest);
        if (changed.empty()) {
            if (properties_.state != ManagerState::loaded ||
                !kexec_.crash_kernel_loaded().value_or(false)) {
                load();
            } else {
                observer_.properties_changed();
            }
            return;
        }
        std::string list;
        for (const auto& input : changed) {
            list += (list.empty() ? "" : ", ") + input;
        }
        observer_.log(LOG_INFO, "Capture initrd inputs changed (" + list + "), rebuilding");
    }
    pending_manifest_ = std::move(*manifest);
    begin_build();
}

void Manager::begin_build() {
    const std::string release = running_kernel_release();
    const std::string output = properties_.capture_initrd + ".new";
    std::vector<std::string> args{builder_,   "--kernel-version",         release,
                                  "--kernel", properties_.capture_kernel, "--output",
                                  output};
    std::vector<char*> argv;
    for (auto& arg : args) {
        argv.push_back(arg.data());
    }
    argv.push_back(nullptr);
    ::mkdir(paths_.state.c_str(), 0700);
    pid_t pid = -1;
    if (int rc = posix_spawn(&pid, builder_.c_str(), nullptr, nullptr, argv.data(), environ);
        rc != 0) {
        set_state(ManagerState::failed,
                  fmt::format("cannot run the initrd builder {}: {}", builder_, std::strerror(rc)));
        return;
    }
    ++builds_started_;
    builder_pid_ = pid;
    builder_pidfd_.reset(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    set_state(ManagerState::building);
    if (!builder_pidfd_) {
        // No pidfd (kernel < 5.3): wait here; rare and still correct.
        int status = 0;
        ::waitpid(pid, &status, 0);
        build_finished(status);
        return;
    }
    loop_.watch_fd(builder_pidfd_.get(), POLLIN, [this](short) {
        int status = 0;
        ::waitpid(builder_pid_, &status, 0);
        loop_.unwatch_fd(builder_pidfd_.get());
        builder_pidfd_.reset();
        build_finished(status);
    });
}

void Manager::build_finished(int status) {
    builder_pid_ = -1;
    const std::string output = properties_.capture_initrd + ".new";
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        ::unlink(output.c_str());
        set_state(ManagerState::failed,
                  WIFEXITED(status)
                      ? fmt::format("the initrd builder {} failed with exit status {}", builder_,
                                    WEXITSTATUS(status))
                      : fmt::format("the initrd builder {} was killed by signal {}", builder_,
                                    WTERMSIG(status)));
    } else if (::rename(output.c_str(), properties_.capture_initrd.c_str()) < 0) {
        set_state(
            ManagerState::failed,
            fmt::format("cannot install {}: {}", properties_.capture_initrd, std::strerror(errno)));
    } else {
        if (pending_manifest_) {
            auto directory = open_directory(paths_.state);
            const std::string name = "initrd-" + running_kernel_release() + ".manifest.json";
            if (directory) {
                (void)write_manifest(directory->get(), name, *pending_manifest_);
            }
        }
        load();
    }
    pending_manifest_.reset();
    if (reload_again_) {
        reload_again_ = false;
        const bool force = force_next_;
        force_next_ = false;
        request_reload(force);
    }
}

void Manager::load() {
    set_state(ManagerState::loading);
    std::string running = read_text(paths_.proc + "/cmdline");
    std::string boot_id = read_text(paths_.proc + "/sys/kernel/random/boot_id");
    auto command_line = derive_capture_command_line(
        running, *config_, boot_id, parse_boot_cpu_apicid(read_text(paths_.proc + "/cpuinfo")));
    if (!command_line) {
        set_state(ManagerState::failed, command_line.error().message);
        return;
    }
    properties_.command_line = *command_line;
    if (auto s = kexec_.load_crash_kernel(properties_.capture_kernel, properties_.capture_initrd,
                                          properties_.command_line);
        !s) {
        // The kernel drops the loaded image before it tries the new one
        // (kernel/kexec_file.c): put the last good one back, so a bad new
        // kernel or initrd never leaves the machine unprotected.
        std::string message = s.error().message;
        if (last_good_ && kexec_.load_crash_kernel(last_good_->kernel, last_good_->initrd,
                                                   last_good_->command_line)) {
            message += "; the previous capture kernel was loaded again";
        }
        set_state(ManagerState::failed, message);
        return;
    }
    last_good_ = LoadedImage{properties_.capture_kernel, properties_.capture_initrd,
                             properties_.command_line};
    auto loaded = kexec_.crash_kernel_loaded();
    if (!loaded || !*loaded) {
        set_state(ManagerState::failed,
                  "kexec_file_load succeeded but /sys/kernel/kexec_crash_loaded is not 1");
        return;
    }
    properties_.loaded_timestamp_usec = now_usec();
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

void Manager::shutdown() {
    observer_.log(LOG_INFO, "Stopping; the capture kernel stays loaded");
}

nlohmann::json Manager::list_dumps() const {
    nlohmann::json list = nlohmann::json::array();
    if (auto dumps = scan_dumps(paths_.crash_dir)) {
        for (const auto& entry : *dumps) {
            list.push_back(entry_to_json(entry));
        }
    }
    return list;
}

Result<nlohmann::json> Manager::get_dump(const std::string& id) const {
    auto entry = load_dump(paths_.crash_dir, id);
    if (!entry) {
        return tl::unexpected(entry.error());
    }
    return entry_to_json(*entry);
}

Result<std::string> Manager::get_dump_log(const std::string& id) const {
    auto entry = load_dump(paths_.crash_dir, id);
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
    if (auto s = crashcapture::remove_dump(paths_.crash_dir, id); !s) {
        return s;
    }
    observer_.log(LOG_INFO, "Removed dump " + id, {{"CRASHCAPTURE_DUMP_ID", id}});
    return {};
}

Result<std::vector<std::string>> Manager::apply_retention() {
    if (!config_) {
        return make_error(0, "no valid configuration");
    }
    auto dumps = scan_dumps(paths_.crash_dir);
    if (!dumps) {
        return tl::unexpected(dumps.error());
    }
    auto space = filesystem_space(paths_.crash_dir);
    if (!space) {
        return tl::unexpected(space.error());
    }
    // [Retention] settings as the policy wants them (percentages of this
    // filesystem resolved now).
    RetentionPolicy policy;
    if (const auto& max_use = config_->retention.max_use) {
        policy.max_use_bytes = max_use->resolve(space->size_bytes);
    }
    if (const auto& keep_free = config_->retention.keep_free) {
        policy.keep_free_bytes = keep_free->resolve(space->size_bytes);
    }
    policy.max_dumps = static_cast<unsigned>(config_->retention.keep_dumps);
    auto plan =
        plan_retention(dump_directories(*dumps), policy, space->free_bytes, space->size_bytes);
    if (!plan) {
        return tl::unexpected(plan.error());
    }
    if (plan->empty()) {
        return plan;
    }
    auto applied = crashcapture::apply_retention(paths_.crash_dir, *plan);
    for (const auto& id : *plan) {
        observer_.log(LOG_INFO, "Retention removed dump " + id, {{"CRASHCAPTURE_DUMP_ID", id}});
    }
    if (!applied) {
        return tl::unexpected(applied.error());
    }
    return plan;
}

std::pair<uint64_t, nlohmann::json> Manager::estimate_reservation() const {
    struct stat kernel {
    }, initrd{};
    const std::string release = running_kernel_release();
    const std::string kernel_path = paths_.boot + "/vmlinuz-" + release;
    // What the kernel needs in memory while it boots (the bzImage header's
    // init_size), not the file's size; the file size only if unreadable.
    const uint64_t kernel_bytes = read_kernel_load_size(kernel_path)
                                      .value_or(::stat(kernel_path.c_str(), &kernel) == 0
                                                    ? static_cast<uint64_t>(kernel.st_size)
                                                    : 0);
    const std::string initrd_path = properties_.capture_initrd;
    const uint64_t initrd_bytes = !initrd_path.empty() && ::stat(initrd_path.c_str(), &initrd) == 0
                                      ? static_cast<uint64_t>(initrd.st_size)
                                      : 0;
    const uint64_t memory = read_memory_total(paths_).value_or(0);
    // An unknown unpacked size: assume the usual 3x of a compressed cpio.
    const uint64_t bytes =
        crashcapture::estimate_reservation(kernel_bytes, initrd_bytes, initrd_bytes * 3, memory);
    return {bytes, nlohmann::json{{"kernel", kernel_path},
                                  {"kernel_bytes", kernel_bytes},
                                  {"initrd", initrd_path},
                                  {"initrd_bytes", initrd_bytes},
                                  {"memory_bytes", memory},
                                  {"recommended_bytes", bytes}}};
}

void Manager::report_new_dumps() {
    auto dumps = scan_dumps(paths_.crash_dir);
    if (!dumps) {
        observer_.log(LOG_WARNING,
                      "Failed to look for dumps: " + dumps.error().message + ", ignoring");
        return;
    }
    auto ledger = read_ledger(paths_.state);
    if (!ledger) {
        // Reporting a dump twice beats never reporting it.
        observer_.log(LOG_WARNING, "Failed to read the reported-dumps ledger: " +
                                       ledger.error().message + ", starting afresh");
        ledger = Ledger{};
    }
    bool pruned = prune_ledger(*ledger, *dumps);
    for (const auto& entry : unreported(*dumps, *ledger)) {
        const auto json = entry_to_json(entry);
        const std::string result = json.value("result", "unknown");
        const auto& record = entry.record;
        observer_.log(result == "complete" ? LOG_NOTICE : LOG_ERR,
                      fmt::format("Kernel crash captured: {} ({}): {}", entry.id, result,
                                  record.panic_line.empty() ? record.error : record.panic_line),
                      {{"MESSAGE_ID", "c2a1f0e4b6d94f3a8e5b7c9d1f203a41"},
                       {"CRASHCAPTURE_DUMP_ID", entry.id},
                       {"CRASHCAPTURE_RESULT", result},
                       {"CRASHCAPTURE_KERNEL", record.kernel_release},
                       {"CRASHCAPTURE_PANIC", record.panic_line},
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
