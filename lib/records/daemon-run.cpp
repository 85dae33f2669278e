#include "daemon-run.hpp"

#include <unistd.h>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <cerrno>
#include <ctime>

#include "file-util.hpp"
#include "json-integer.hpp"

namespace crashcapture {

namespace {

constexpr int kSchemaVersion = 1;

bool ends_with(std::string_view text, std::string_view suffix) {
    return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

std::string utc_time(int64_t seconds) {
    return fmt::format("{:%Y-%m-%d %H:%M:%S} UTC", fmt::gmtime(static_cast<std::time_t>(seconds)));
}

}  // namespace

nlohmann::json to_json(const DaemonRun& run) {
    return {{"schema_version", kSchemaVersion}, {"pid", run.pid},
            {"boot_id", run.boot_id},           {"state", run.state},
            {"started_at", run.started_at},     {"state_since", run.state_since}};
}

Result<DaemonRun> daemon_run_from_json(const nlohmann::json& json) {
    try {
        if (!json.is_object()) {
            return make_error(0, "not a JSON object");
        }
        DaemonRun run;
        run.pid = json_integer<int64_t>(json.at("pid"), "pid");
        run.boot_id = json.at("boot_id").get<std::string>();
        run.state = json.at("state").get<std::string>();
        run.started_at = json_integer<int64_t>(json.at("started_at"), "started_at");
        run.state_since = json_integer<int64_t>(json.at("state_since"), "state_since");
        return run;
    } catch (const std::exception& e) {  // nlohmann's type errors, JsonIntegerError
        return make_error(0, "{}", e.what());
    }
}

std::string daemon_run_path(const SystemPaths& paths) {
    return paths.state + "/" + std::string(kDaemonRunFileName);
}

Status write_daemon_run(const SystemPaths& paths, const DaemonRun& run) {
    auto directory = open_directory(paths.state);
    if (!directory) {
        return tl::unexpected(directory.error());
    }
    return write_file_atomically(directory->get(), std::string(kDaemonRunFileName),
                                 to_json(run).dump() + "\n", 0600);
}

Result<std::optional<DaemonRun>> read_daemon_run(const SystemPaths& paths) {
    const std::string path = daemon_run_path(paths);
    auto text = read_kernel_file(path);
    if (!text) {
        if (text.error().errno_value == ENOENT) {
            return std::optional<DaemonRun>();
        }
        return tl::unexpected(text.error());
    }
    const auto json = nlohmann::json::parse(*text, nullptr, false);
    if (json.is_discarded()) {
        return make_error(0, "{}: not JSON", path);
    }
    auto run = daemon_run_from_json(json);
    if (!run) {
        return propagate(run.error(), path);
    }
    return std::optional<DaemonRun>(std::move(*run));
}

Status remove_daemon_run(const SystemPaths& paths) {
    const std::string path = daemon_run_path(paths);
    if (::unlink(path.c_str()) < 0 && errno != ENOENT) {
        return make_errno_error(errno, "cannot remove {}", path);
    }
    return {};
}

bool is_build_leftover(std::string_view name) {
    if (name.substr(0, 7) != "initrd-") {
        return false;
    }
    return ends_with(name, ".img.new") || ends_with(name, ".img.new.building") ||
           ends_with(name, ".inputs.json.new");
}

std::vector<std::string> remove_build_leftovers(const SystemPaths& paths,
                                                std::vector<std::string>& problems) {
    std::vector<std::string> removed;
    auto directory = open_directory(paths.state);
    if (!directory) {
        if (directory.error().errno_value != ENOENT) {
            problems.push_back(directory.error().message);
        }
        return removed;
    }
    auto names = list_directory(directory->get(), paths.state);
    if (!names) {
        problems.push_back(names.error().message);
        return removed;
    }
    for (const auto& name : *names) {
        if (!is_build_leftover(name)) {
            continue;
        }
        if (::unlinkat(directory->get(), name.c_str(), 0) < 0) {
            problems.push_back(
                make_errno_error(errno, "cannot remove {}/{}", paths.state, name).value().message);
            continue;
        }
        removed.push_back(name);
    }
    return removed;
}

std::string describe_previous_run(const std::optional<DaemonRun>& previous,
                                  std::string_view this_boot_id,
                                  const std::vector<std::string>& removed_leftovers) {
    std::string text;
    if (previous && !this_boot_id.empty() && previous->boot_id == this_boot_id) {
        text = fmt::format(
            "the previous crashcaptured (pid {}, started {}) stopped without an orderly stop "
            "(killed, crashed or stopped by the watchdog) while {} since {}",
            previous->pid, utc_time(previous->started_at),
            previous->state == "building"  ? std::string("building the capture initrd")
            : previous->state == "loading" ? std::string("loading the capture kernel")
                                           : "in state " + previous->state,
            utc_time(previous->state_since));
    }
    if (!removed_leftovers.empty()) {
        std::string names;
        for (const auto& name : removed_leftovers) {
            names += (names.empty() ? "" : ", ") + name;
        }
        text += fmt::format("{}removed what a build cut short left: {}", text.empty() ? "" : "; ",
                            names);
    }
    if (!text.empty()) {
        text += "; this start arms the capture kernel afresh (State shows how far it got)";
    }
    return text;
}

}  // namespace crashcapture
