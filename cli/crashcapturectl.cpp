// crashcapturectl: the administrator's tool, a client of crashcaptured's
// D-Bus API (org.crashcapture1.Manager), in the spirit of coredumpctl.
// Environment: CRASHCAPTURE_BUS=session talks to the session bus (tests).
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <thread>

#include "config.hpp"
#include "manager-proxy.h"
#include "process.hpp"
#include "propagate.hpp"
#include "reservation.hpp"
#include "system-paths.hpp"

extern char** environ;

namespace {

// Exit codes scripts can trust (documented in crashcapturectl(1)).
constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
constexpr int kExitNoDaemon = 3;
constexpr int kExitDenied = 4;
constexpr int kExitNotFound = 5;

constexpr const char* kBusName = "org.crashcapture1";
constexpr const char* kObjectPath = "/org/crashcapture1";

class ManagerProxy final : public sdbus::ProxyInterfaces<org::crashcapture1::Manager_proxy> {
  public:
    ManagerProxy(sdbus::IConnection& connection)
        : ProxyInterfaces(connection, kBusName, kObjectPath) {
        registerProxy();
    }
    ~ManagerProxy() { unregisterProxy(); }

  private:
    void onDumpCaptured(const std::string&, const std::string&, const std::string&) override {}
};

std::unique_ptr<sdbus::IConnection> connect() {
    const char* bus = std::getenv("CRASHCAPTURE_BUS");
    if (bus && std::string_view(bus) == "session") {
        return sdbus::createSessionBusConnection();
    }
    return sdbus::createSystemBusConnection();
}

int exit_code_for(const sdbus::Error& e) {
    const auto& name = e.getName();
    if (name == "org.freedesktop.DBus.Error.ServiceUnknown" ||
        name == "org.freedesktop.DBus.Error.NameHasNoOwner" ||
        name == "org.freedesktop.DBus.Error.NoReply" ||
        name == "org.freedesktop.DBus.Error.FileNotFound" ||
        name == "org.freedesktop.DBus.Error.NoServer" ||
        name == "org.freedesktop.DBus.Error.Disconnected" || name == "System.Error.ENOENT" ||
        name == "System.Error.ECONNREFUSED") {
        return kExitNoDaemon;
    }
    if (name == "org.freedesktop.DBus.Error.AccessDenied" || name == "System.Error.EACCES" ||
        name == "System.Error.EPERM") {
        return kExitDenied;
    }
    if (name == "org.crashcapture1.Error.NoSuchDump") {
        return kExitNotFound;
    }
    return kExitFailure;
}

std::string human_bytes(uint64_t bytes) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double value = static_cast<double>(bytes);
    int unit = 0;
    while (value >= 1024 && unit < 4) {
        value /= 1024;
        ++unit;
    }
    return unit == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", value, units[unit]);
}

std::string format_time(int64_t epoch_seconds) {
    if (epoch_seconds <= 0) {
        return "-";
    }
    const time_t t = static_cast<time_t>(epoch_seconds);
    struct tm tm {};
    localtime_r(&t, &tm);
    char buffer[64];
    strftime(buffer, sizeof(buffer), "%Y-%m-%d %H:%M:%S %Z", &tm);
    return buffer;
}

// The crashkernel= value of a kernel command line, or "" if none.
std::string crashkernel_of(const std::string& command_line) {
    std::string value;
    std::istringstream words(command_line);
    for (std::string word; words >> word;) {
        if (word.rfind("crashkernel=", 0) == 0) {
            value = word.substr(12);  // the last one wins, as in the kernel
        }
    }
    return value;
}

std::string read_first_line(const std::string& path) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    return line;
}

bool is_executable(const std::string& path) {
    return ::access(path.c_str(), X_OK) == 0;
}

// Finds a program in PATH (posix_spawnp would too, but we want to say which
// mechanism we will use before running anything).
std::string find_program(const std::string& name) {
    const char* path = std::getenv("PATH");
    std::istringstream directories(path ? path : "/usr/sbin:/usr/bin:/sbin:/bin");
    for (std::string directory; std::getline(directories, directory, ':');) {
        if (!directory.empty() && is_executable(directory + "/" + name)) {
            return directory + "/" + name;
        }
    }
    return {};
}

// crashcapturectl setup: the crashkernel= step, shown always, applied only
// with --apply, through the distribution's own mechanism: a GRUB drop-in and
// update-grub on Debian (/etc/default/grub.d/*.cfg is sourced by
// update-grub), grubby on Fedora-style systems. Never edits grub.cfg itself.
//
// Without --size the number is the daemon's estimate for the capture initrd
// that will be loaded: the daemon builds it even while nothing is reserved,
// and setup waits for that build rather than offer a number that leaves the
// initrd out (crashcapture::reservation_offer()).
struct SetupDaemon {
    std::function<std::pair<uint64_t, std::string>()> estimate;  // EstimateReservation
    std::function<std::string()> state;                          // State
    std::function<std::string()> last_error;                     // LastError
};

crashcapture::Result<crashcapture::ReservationOffer> ask_for_offer(const SetupDaemon& daemon,
                                                                   bool quiet) {
    // A first dracut build takes minutes on a slow machine; 30 is plenty.
    constexpr auto kBuildWait = std::chrono::minutes(30);
    constexpr auto kPoll = std::chrono::seconds(2);
    constexpr auto kProgressEvery = std::chrono::seconds(20);
    const auto start = std::chrono::steady_clock::now();
    auto last_said = start - kProgressEvery;
    while (true) {
        const auto [bytes, text] = daemon.estimate();
        auto offer =
            crashcapture::reservation_offer(bytes, nlohmann::json::parse(text, nullptr, false));
        if (offer) {
            return offer;
        }
        const std::string state = daemon.state();
        if (state != "building") {
            const std::string error = daemon.last_error();
            return crashcapture::make_error(
                0, "{}; crashcaptured is {}{} (pass --size MIB to choose the size yourself)",
                offer.error().message, state, error.empty() ? "" : ": " + error);
        }
        const auto now = std::chrono::steady_clock::now();
        if (now - start > kBuildWait) {
            return crashcapture::make_error(
                ETIMEDOUT, "crashcaptured is still building the capture initrd after {} minutes",
                std::chrono::duration_cast<std::chrono::minutes>(kBuildWait).count());
        }
        if (!quiet && now - last_said >= kProgressEvery) {
            std::cerr << fmt::format(
                "crashcapturectl: waiting for crashcaptured to build the capture initrd, to "
                "measure what it needs ({}s)...\n",
                std::chrono::duration_cast<std::chrono::seconds>(now - start).count());
            last_said = now;
        }
        std::this_thread::sleep_for(kPoll);
    }
}

int setup(const std::optional<uint64_t>& size_mib, bool apply, bool json,
          const std::optional<SetupDaemon>& daemon) {
    const auto paths = crashcapture::SystemPaths::from_environment();
    uint64_t recommended_mib = 0;
    std::string based_on;
    if (size_mib) {
        recommended_mib = *size_mib;
        based_on = "--size";
    } else {
        auto offer = ask_for_offer(*daemon, json);
        if (!offer) {
            std::cerr << "crashcapturectl: cannot choose a crashkernel= size: "
                      << offer.error().message << '\n';
            return kExitFailure;
        }
        recommended_mib = (offer->bytes + (1ULL << 20) - 1) >> 20;
        based_on = offer->based_on;
    }
    const std::string current = crashkernel_of(read_first_line(paths.proc + "/cmdline"));
    const std::string wanted = fmt::format("crashkernel={}M", recommended_mib);
    const std::string dropin = paths.resolve("/etc/default/grub.d/crashcapture.cfg");
    std::string mechanism;
    std::vector<std::string> command;
    if (std::string update_grub = find_program("update-grub"); !update_grub.empty()) {
        mechanism = "grub drop-in " + dropin + ", then update-grub";
        command = {update_grub};
    } else if (std::string grubby = find_program("grubby"); !grubby.empty()) {
        mechanism = "grubby --update-kernel=ALL --args=" + wanted;
        command = {grubby, "--update-kernel=ALL", "--args=" + wanted};
    }
    nlohmann::json report{{"current", current},
                          {"recommended", wanted},
                          {"based_on", based_on},
                          {"mechanism", mechanism},
                          {"applied", false}};
    if (json) {
        // With --apply, printed once the change is made (or not at all):
        // "applied" is then the truth (SetReservation returns this text).
        if (!apply) {
            std::cout << report.dump(2) << '\n';
        }
    } else {
        std::cout << fmt::format("Current:     {}\n",
                                 current.empty() ? "no crashkernel=" : "crashkernel=" + current);
        std::cout << fmt::format("Recommended: {}\n", wanted);
        std::cout << fmt::format("Based on:    {}\n", based_on);
        std::cout << fmt::format("Change:      {}\n",
                                 mechanism.empty() ? "(no update-grub or grubby found: add it to "
                                                     "the kernel command line by hand)"
                                                   : mechanism);
    }
    if (!apply) {
        if (!json) {
            std::cout << "Nothing changed; run with --apply to make the change, then reboot.\n";
        }
        return kExitOk;
    }
    if (mechanism.empty()) {
        std::cerr << "crashcapturectl: no update-grub or grubby on this system; add " << wanted
                  << " to the kernel command line of your boot loader by hand\n";
        return kExitFailure;
    }
    if (::geteuid() != 0) {
        std::cerr << "crashcapturectl: setup --apply changes the boot configuration: run it as "
                     "root\n";
        return kExitDenied;
    }
    if (command.size() == 1) {  // update-grub: write the drop-in first
        std::filesystem::create_directories(std::filesystem::path(dropin).parent_path());
        std::ofstream out(dropin);
        out << "# Written by crashcapturectl setup: memory for the capture kernel\n"
               "# (crashcaptured). Remove this file and run update-grub to undo.\n"
            // GRUB_CMDLINE_LINUX, not _DEFAULT: the recovery entries reserve
            // too, so a crash while repairing the machine is captured, and it
            // agrees with what crashcaptured tells the administrator.
            << "GRUB_CMDLINE_LINUX=\"$GRUB_CMDLINE_LINUX " << wanted << "\"\n";
        if (!out.flush()) {
            std::cerr << "crashcapturectl: cannot write " << dropin << '\n';
            return kExitFailure;
        }
    }
    if (const auto ran = crashcapture::run_program(command); !ran || *ran != 0) {
        std::cerr << "crashcapturectl: "
                  << (ran ? fmt::format("{} failed (exit status {})", command.front(), *ran)
                          : ran.error().message)
                  << '\n';
        return kExitFailure;
    }
    if (json) {
        report["applied"] = true;
        std::cout << report.dump(2) << '\n';
    } else {
        std::cout << "Done: reboot for " << wanted << " to take effect.\n";
    }
    return kExitOk;
}

int print_status(ManagerProxy& manager, bool json) {
    nlohmann::json status{
        {"State", manager.State()},
        {"LastError", manager.LastError()},
        {"ReservationWarning", manager.ReservationWarning()},
        {"PreviousRun", manager.PreviousRun()},
        {"CaptureKernel", manager.CaptureKernel()},
        {"CaptureInitrd", manager.CaptureInitrd()},
        {"CommandLine", manager.CommandLine()},
        {"ReservedBytes", manager.ReservedBytes()},
        {"Target", manager.Target()},
        {"DumpLevel", manager.DumpLevel()},
        {"LoadedTimestamp", manager.LoadedTimestamp()},
        {"Version", manager.Version()},
    };
    if (json) {
        std::cout << status.dump(2) << '\n';
        return kExitOk;
    }
    const auto state = status["State"].get<std::string>();
    const auto warning = status["ReservationWarning"].get<std::string>();
    std::cout << fmt::format("       State: {}\n", state);
    if (const auto error = status["LastError"].get<std::string>();
        !error.empty() && error != warning) {
        std::cout << fmt::format("       Error: {}\n", error);
    }
    if (!warning.empty()) {
        // The capture kernel may be loaded and still fail: say it first.
        std::cout << fmt::format("     WARNING: {}\n", warning);
    }
    if (const auto previous = status["PreviousRun"].get<std::string>(); !previous.empty()) {
        std::cout << fmt::format(" PreviousRun: {}\n", previous);
    }
    std::cout << fmt::format("    Reserved: {}\n",
                             human_bytes(status["ReservedBytes"].get<uint64_t>()));
    std::cout << fmt::format("      Kernel: {}\n", status["CaptureKernel"].get<std::string>());
    std::cout << fmt::format("      Initrd: {}\n", status["CaptureInitrd"].get<std::string>());
    std::cout << fmt::format(" CommandLine: {}\n", status["CommandLine"].get<std::string>());
    std::cout << fmt::format("      Target: {}\n", status["Target"].get<std::string>());
    std::cout << fmt::format("   DumpLevel: {}\n", status["DumpLevel"].get<uint32_t>());
    const auto loaded = status["LoadedTimestamp"].get<uint64_t>();
    std::cout << fmt::format("      Loaded: {}\n",
                             loaded ? format_time(static_cast<int64_t>(loaded / 1000000)) : "-");
    return state == "loaded" ? kExitOk : kExitFailure;
}

int print_list(ManagerProxy& manager, bool json) {
    const auto dumps = nlohmann::json::parse(manager.ListDumps());
    if (json) {
        std::cout << dumps.dump(2) << '\n';
        return kExitOk;
    }
    if (dumps.empty()) {
        std::cout << "No dumps.\n";
        return kExitOk;
    }
    // SIGNATURE is the crash's name (README, "Crash signatures"): its hash,
    // then its title; the panic line when the log gave no signature.
    std::cout << fmt::format("{:<40} {:<24} {:<24} {:<10} {:>10}  {:<16}  {}\n", "ID", "CRASH TIME",
                             "KERNEL", "RESULT", "SIZE", "SIGNATURE", "PANIC");
    for (const auto& dump : dumps) {
        const auto& record = dump.value("record", nlohmann::json::object());
        const bool lost = dump.value("result", "") == "lost";
        // A lost capture has no crash time: when the system was last seen.
        const std::string when = lost ? "<=" + format_time(dump.value("crash_time", int64_t{0}))
                                      : format_time(record.value("crash_time", int64_t{0}));
        std::string panic = record.value("panic_line", "");
        if (lost && panic.empty()) {
            panic = "(crash or reset, not captured)";
        }
        const std::string hash = dump.value("signature_hash", "");
        const std::string title = dump.value("signature", "");
        std::cout << fmt::format("{:<40} {:<24} {:<24} {:<10} {:>10}  {:<16}  {}\n",
                                 dump.value("id", ""), when, record.value("kernel_release", "-"),
                                 dump.value("result", "-"),
                                 lost ? "-" : human_bytes(dump.value("disk_bytes", uint64_t{0})),
                                 hash.empty() ? "-" : hash, title.empty() ? panic : title);
    }
    return kExitOk;
}

// crashcapturectl config: the configuration as the daemon would read it
// now, from the files, without the daemon (crashcapture.conf(5)).
int print_config(bool json) {
    const auto paths = crashcapture::SystemPaths::from_environment();
    const auto loaded = crashcapture::load_config_files(paths);
    std::vector<std::string> errors;
    for (const auto& error : loaded.errors) {
        errors.push_back(error.to_string());
    }
    if (json) {
        std::cout << nlohmann::json{{"files", loaded.files},
                                    {"errors", errors},
                                    {"config", crashcapture::to_json(loaded.config)}}
                         .dump(2)
                  << '\n';
    } else {
        std::cout << "# Read: ";
        if (loaded.files.empty()) {
            std::cout << "no file (every key has its default)";
        }
        for (size_t i = 0; i < loaded.files.size(); ++i) {
            std::cout << (i ? ", " : "") << loaded.files[i];
        }
        std::cout << "\n" << loaded.config.describe();
    }
    for (const auto& error : errors) {
        std::cerr << "crashcapturectl: " << error << '\n';
    }
    if (!errors.empty() && !json) {
        std::cerr << "crashcapturectl: the configuration has errors: crashcaptured keeps its "
                     "previous one (shown above: what the valid lines say)\n";
    }
    return errors.empty() ? kExitOk : kExitFailure;
}

// reload and rebuild: the daemon builds and loads in the background; wait
// until it is done (a dracut build takes a while), then report.
int wait_and_print_status(ManagerProxy& manager, bool json) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(10);
    for (std::string state = manager.State();
         (state == "building" || state == "loading") && std::chrono::steady_clock::now() < deadline;
         state = manager.State()) {
        ::usleep(200 * 1000);
    }
    return print_status(manager, json);  // 0 only when loaded
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Control crashcaptured and look at captured kernel crash dumps.",
                 "crashcapturectl"};
    app.set_version_flag("--version", CRASHCAPTURE_VERSION);
    app.require_subcommand(1);
    bool json = false;
    app.add_flag("--json", json, "Machine-readable output");
    std::string id;
    bool yes = false;
    auto* status = app.add_subcommand("status", "Show whether the capture kernel is loaded");
    auto* list = app.add_subcommand("list", "List captured dumps, failed ones included");
    auto* info = app.add_subcommand("info", "Show one dump's record");
    info->add_option("ID", id, "Dump id (from list)")->required();
    auto* dmesg = app.add_subcommand("dmesg", "Print the crashed kernel's log (root)");
    dmesg->add_option("ID", id, "Dump id")->required();
    auto* remove = app.add_subcommand("remove", "Delete a dump (root)");
    remove->add_option("ID", id, "Dump id")->required();
    auto* reload =
        app.add_subcommand("reload", "Rebuild if needed and load the capture kernel (root)");
    auto* rebuild = app.add_subcommand(
        "rebuild", "Rebuild the capture initrd even if nothing changed, and load (root)");
    auto* unload = app.add_subcommand("unload", "Unload the capture kernel (root)");
    auto* estimate = app.add_subcommand("estimate", "Recommend a crashkernel= size");
    auto* vacuum = app.add_subcommand("vacuum", "Apply MaxUse=/KeepFree=/KeepDumps= now (root)");
    auto* setup_command = app.add_subcommand(
        "setup", "Show the crashkernel= this machine needs; --apply sets it (root)");
    std::optional<uint64_t> size_mib;
    bool apply = false;
    setup_command->add_option("--size", size_mib,
                              "crashkernel= size in MiB (default: ask crashcaptured's estimate)");
    setup_command->add_flag("--apply", apply,
                            "Make the change: a GRUB drop-in and update-grub, or grubby");
    auto* config_command = app.add_subcommand(
        "config", "Print the configuration in effect (read from the files, no daemon needed)");
    auto* propagate = app.add_subcommand(
        "propagate",
        "Target=ssh: make the capture's key, install it on the server, pin its host key (root)");
    std::string login_identity;
    propagate->add_option("-i,--identity", login_identity,
                          "Your own key to log in to the server with (default: ssh's)");
    auto* test = app.add_subcommand("test", "Crash this machine now to test the capture (root)");
    test->add_flag("--yes", yes, "Really crash the machine");
    for (auto* sub : {status, list, info, dmesg, remove, reload, rebuild, unload, estimate, vacuum,
                      setup_command, config_command, propagate, test}) {
        sub->add_flag("--json", json, "Machine-readable output");
    }
    app.footer(
        "Exit status: 0 success, 1 failure (status: not loaded), 2 usage, 3 crashcaptured not "
        "running, 4 permission denied, 5 no such dump. See crashcapturectl(1).");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int code = app.exit(e);
        return code == 0 ? kExitOk : kExitUsage;
    }

    try {
        if (config_command->parsed()) {
            return print_config(json);
        }
        if (propagate->parsed()) {
            return crashcapture::propagate_ssh_key(crashcapture::SystemPaths::from_environment(),
                                                   login_identity, json);
        }
        if (setup_command->parsed() && size_mib) {
            // With --size the daemon is not needed.
            return setup(size_mib, apply, json, std::nullopt);
        }
        auto connection = connect();
        ManagerProxy manager(*connection);
        if (setup_command->parsed()) {
            return setup(size_mib, apply, json,
                         SetupDaemon{
                             .estimate =
                                 [&] {
                                     auto [bytes, text] = manager.EstimateReservation();
                                     return std::pair{bytes, text};
                                 },
                             .state = [&] { return manager.State(); },
                             .last_error = [&] { return manager.LastError(); },
                         });
        }
        if (status->parsed()) {
            return print_status(manager, json);
        }
        if (list->parsed()) {
            return print_list(manager, json);
        }
        if (info->parsed()) {
            const auto record = nlohmann::json::parse(manager.GetDump(id));
            std::cout << record.dump(2) << '\n';
            return kExitOk;
        }
        if (dmesg->parsed()) {
            const auto log = manager.GetDumpLog(id);
            if (json) {
                std::cout << nlohmann::json{{"id", id}, {"log", log}}.dump(2) << '\n';
            } else {
                std::cout << log;
            }
            return kExitOk;
        }
        if (remove->parsed()) {
            manager.RemoveDump(id);
            if (!json) {
                std::cout << "Removed " << id << ".\n";
            }
            return kExitOk;
        }
        if (reload->parsed()) {
            manager.Reload();
            return wait_and_print_status(manager, json);
        }
        if (rebuild->parsed()) {
            manager.Rebuild();
            return wait_and_print_status(manager, json);
        }
        if (unload->parsed()) {
            manager.Unload();
            print_status(manager, json);
            return kExitOk;
        }
        if (estimate->parsed()) {
            const auto [bytes, explanation] = manager.EstimateReservation();
            if (json) {
                std::cout << nlohmann::json{{"bytes", bytes},
                                            {"explanation", nlohmann::json::parse(explanation)}}
                                 .dump(2)
                          << '\n';
            } else {
                std::cout << fmt::format("crashkernel={}M\n", (bytes + (1 << 20) - 1) >> 20);
            }
            return kExitOk;
        }
        if (vacuum->parsed()) {
            const auto removed = manager.ApplyRetention();
            if (json) {
                std::cout << nlohmann::json(removed).dump(2) << '\n';
            } else {
                for (const auto& removed_id : removed) {
                    std::cout << "Removed " << removed_id << ".\n";
                }
            }
            return kExitOk;
        }
        if (test->parsed()) {
            if (!yes) {
                std::cerr << "crashcapturectl: test crashes this machine at once (sysrq-c); "
                             "run it again with --yes to do it\n";
                return kExitUsage;
            }
            if (manager.State() != "loaded") {
                std::cerr << "crashcapturectl: the capture kernel is not loaded (state "
                          << manager.State() << "): a crash now would capture nothing\n";
                return kExitFailure;
            }
            ::sync();
            const int fd = ::open("/proc/sysrq-trigger", O_WRONLY | O_CLOEXEC);
            if (fd < 0 || ::write(fd, "c", 1) != 1) {
                std::cerr << "crashcapturectl: cannot write /proc/sysrq-trigger: "
                          << std::strerror(errno) << '\n';
                return errno == EACCES || errno == EPERM ? kExitDenied : kExitFailure;
            }
            return kExitFailure;  // not reached when the crash happens
        }
    } catch (const sdbus::Error& e) {
        const int code = exit_code_for(e);
        if (code == kExitNoDaemon) {
            std::cerr << "crashcapturectl: crashcaptured is not running (" << e.getMessage()
                      << "); start it with: systemctl start crashcaptured\n";
        } else {
            std::cerr << "crashcapturectl: " << e.getMessage() << '\n';
        }
        return code;
    } catch (const std::exception& e) {
        std::cerr << "crashcapturectl: " << e.what() << '\n';
        return kExitFailure;
    }
    return kExitUsage;
}
