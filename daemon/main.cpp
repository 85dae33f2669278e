// crashcaptured: keeps the capture kernel loaded and reports captures.
// A short main over the Manager (daemon/manager.cpp) and libcrashcapture.
//
// Environment (for tests and unusual systems; documented in crashcaptured(8)):
//   CRASHCAPTURE_ROOT=DIR            every system path under DIR (a fake tree)
//   CRASHCAPTURE_BUS=session         the session bus instead of the system bus
//   CRASHCAPTURE_KEXEC=fake          record loads instead of calling kexec_file_load
//   CRASHCAPTURE_INITRD_BUILDER=EXE  the capture initrd builder
//   CRASHCAPTURE_KEXEC_REJECT=TEXT   with the fake kexec: refuse kernels whose
//                                    path contains TEXT, as the kernel refuses
//                                    a bad image (ENOEXEC)
//   CRASHCAPTURE_KEXEC_FAKE_LOAD_MS=N with the fake kexec: every load takes N ms
//                                    (a kill in the middle of a load)
//   CRASHCAPTURE_SETUP_COMMAND=EXE   SetReservation runs EXE setup --apply ...
//                                    itself, not systemd-run ... crashcapturectl
//                                    (for a daemon with no sandbox: tests)
//   CRASHCAPTURE_SHUTDOWN=yes|no     at SIGTERM, do not ask systemd whether the
//                                    system is shutting down: take this answer
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <syslog.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <sdbus-c++/sdbus-c++.h>
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <vector>

#include "dbus-service.hpp"
#include "event-loop.hpp"
#include "file-watcher.hpp"
#include "kexec-loader.hpp"
#include "manager.hpp"
#include "metrics-writer.hpp"
#include "system-paths.hpp"

using namespace crashcapture;

namespace {

constexpr const char* kBusName = "org.crashcapture1";
// Where packages install the builder (dracut/crashcapture-build-initrd).
constexpr const char* kDefaultBuilder = "/usr/libexec/crashcapture/crashcapture-build-initrd";
// SetReservation: crashcapturectl setup --apply as a transient service, out
// of this unit's sandbox (ProtectSystem=full keeps /etc and /boot read-only
// here). --wait: the D-Bus reply waits for the result; --pipe: its JSON and
// messages come back to the daemon's files; --collect: a failed run leaves
// no unit behind.
const std::vector<std::string> kSetupRunner = {
    "systemd-run",
    "--wait",
    "--pipe",
    "--quiet",
    "--collect",
    "--service-type=exec",
    "--description=crashcaptured: set crashkernel= for the next boot (SetReservation)",
    "--",
    "/usr/bin/crashcapturectl"};
// A package upgrade settles within seconds; wait for 2 s of quiet, at most 30 s.
constexpr auto kQuietPeriod = std::chrono::milliseconds(2000);
constexpr auto kMaxDelay = std::chrono::milliseconds(30000);
// How often the Prometheus file is rewritten with nothing changed.
constexpr auto kMetricsRefresh = std::chrono::minutes(5);

std::string env_or(const char* name, const std::string& fallback) {
    const char* value = std::getenv(name);
    return value && *value ? value : fallback;
}

// At SIGTERM: is systemd shutting the system down (or rebooting), or did an
// admin stop the service? systemctl poweroff, reboot, halt and kexec all
// queue a start job for shutdown.target (it is what every unit conflicts
// with, systemd.special(7)), and the job waits while the units, this one
// among them, are stopped: ListJobs shows it. Asking systemd is simpler
// than a second unit whose ExecStop= marks the shutdown, and it needs no
// help from the admin. The unit is ordered After=dbus.service, so the bus
// is still there when this runs. nullopt when systemd cannot be asked (no
// systemd, no bus): the caller then does what is safe either way.
std::optional<bool> ask_systemd_if_shutting_down(sdbus::IConnection& connection) {
    try {
        auto systemd =
            sdbus::createProxy(connection, "org.freedesktop.systemd1", "/org/freedesktop/systemd1");
        // a(usssoo): id, unit, type, state, job path, unit path.
        std::vector<sdbus::Struct<uint32_t, std::string, std::string, std::string,
                                  sdbus::ObjectPath, sdbus::ObjectPath>>
            jobs;
        systemd->callMethod("ListJobs")
            .onInterface("org.freedesktop.systemd1.Manager")
            .withTimeout(std::chrono::seconds(5))
            .storeResultsTo(jobs);
        for (const auto& job : jobs) {
            if (job.get<1>() == "shutdown.target" && job.get<2>() == "start") {
                return true;
            }
        }
        return false;
    } catch (const sdbus::Error&) {
        return std::nullopt;
    }
}

int run() {
    const SystemPaths paths = SystemPaths::from_environment();
    const bool session_bus = env_or("CRASHCAPTURE_BUS", "system") == "session";
    std::unique_ptr<KexecInterface> kexec;
    if (env_or("CRASHCAPTURE_KEXEC", "real") == "fake") {
        auto fake = std::make_unique<FakeKexec>(paths.sys);
        fake->reject_kernels_containing(env_or("CRASHCAPTURE_KEXEC_REJECT", ""));
        fake->set_load_duration(std::chrono::milliseconds(
            std::strtoul(env_or("CRASHCAPTURE_KEXEC_FAKE_LOAD_MS", "0").c_str(), nullptr, 10)));
        kexec = std::move(fake);
    } else {
        kexec = std::make_unique<SystemKexec>(paths.sys, paths.proc);
    }
    const std::string builder = env_or("CRASHCAPTURE_INITRD_BUILDER", kDefaultBuilder);
    const std::string shutdown_override = env_or("CRASHCAPTURE_SHUTDOWN", "");
    const std::string setup_command = env_or("CRASHCAPTURE_SETUP_COMMAND", "");

    // Signals arrive through a signalfd in the loop, never asynchronously.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGHUP);
    sigprocmask(SIG_BLOCK, &signals, nullptr);
    UniqueFd signal_fd(::signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK));

    auto connection = session_bus ? sdbus::createSessionBusConnection(kBusName)
                                  : sdbus::createSystemBusConnection(kBusName);
    EventLoop loop;
    Manager* manager_pointer = nullptr;
    DbusService service(*connection, manager_pointer);
    Manager manager(loop, paths, *kexec, builder, service);
    manager_pointer = &manager;
    AdminActions admin_actions(
        loop, paths, setup_command.empty() ? kSetupRunner : std::vector<std::string>{setup_command},
        service);
    service.set_admin_actions(&admin_actions);
    MetricsWriter metrics(paths, service);
    service.set_change_hook([&] { metrics.update(manager); });
    // Rewritten every few minutes even when nothing changes, so a fleet can
    // tell a quiet machine from a dead daemon by node_exporter's
    // node_textfile_mtime_seconds (README: the alerting rules).
    std::function<void()> refresh_metrics = [&] {
        metrics.update(manager);
        loop.arm_timer("metrics", kMetricsRefresh, refresh_metrics);
    };
    loop.arm_timer("metrics", kMetricsRefresh, refresh_metrics);

    // The bus: its fd and timeout can change after every dispatch.
    auto dispatch = [&](short) {
        while (connection->processPendingRequest()) {
        }
    };
    loop.set_external_timeout([&]() -> std::optional<EventLoop::Clock::duration> {
        // sd-bus reports a timeout of "now" while it holds messages it has
        // read but not dispatched; poll() would not wake for those, so
        // dispatch until it has nothing due (bounded, in case it never settles).
        for (int round = 0; round < 64; ++round) {
            const auto poll_data = connection->getEventLoopPollData();
            loop.watch_fd(poll_data.fd, poll_data.events, dispatch);
            if (poll_data.timeout_usec == UINT64_MAX) {
                return std::nullopt;
            }
            // An absolute CLOCK_MONOTONIC time.
            timespec now{};
            clock_gettime(CLOCK_MONOTONIC, &now);
            const uint64_t now_usec = static_cast<uint64_t>(now.tv_sec) * 1000000 +
                                      static_cast<uint64_t>(now.tv_nsec) / 1000;
            if (poll_data.timeout_usec > now_usec) {
                return std::chrono::microseconds(poll_data.timeout_usec - now_usec);
            }
            dispatch(0);
        }
        return std::chrono::milliseconds(10);
    });

    loop.watch_fd(signal_fd.get(), POLLIN, [&](short) {
        signalfd_siginfo info{};
        while (::read(signal_fd.get(), &info, sizeof(info)) == sizeof(info)) {
            if (info.ssi_signo == SIGHUP) {
                manager.request_reload(false);
            } else {
                sd_notify(0, "STOPPING=1\nSTATUS=Stopping");
                loop.stop(0);
            }
        }
    });

    FileWatcher watcher(
        loop, [&] { manager.inputs_changed(); }, kQuietPeriod, kMaxDelay);
    if (auto s = watcher.open(); !s) {
        service.log(LOG_WARNING,
                    "Failed to watch files, kernel updates need a reload: " + s.error().message);
    } else {
        for (const auto& skipped :
             watcher.watch(manager.watched_directories(), manager.watched_trees())) {
            service.log(LOG_DEBUG, "Not watching " + skipped + " (missing), ignoring");
        }
    }

    // Kernel uevents for CPU and memory hotplug (the kernel's multicast
    // group 1, NETLINK_KOBJECT_UEVENT): no udev rule needed.
    UniqueFd uevents(
        ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_KOBJECT_UEVENT));
    sockaddr_nl address{};
    address.nl_family = AF_NETLINK;
    address.nl_groups = 1;
    if (uevents &&
        ::bind(uevents.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0) {
        loop.watch_fd(uevents.get(), POLLIN, [&](short) {
            char buffer[8192];
            ssize_t n;
            while ((n = ::recv(uevents.get(), buffer, sizeof(buffer), 0)) > 0) {
                if (auto event = parse_uevent(std::string_view(buffer, static_cast<size_t>(n)))) {
                    manager.hotplug_event(*event);
                }
            }
        });
    } else {
        service.log(LOG_WARNING, fmt::format("Failed to listen to kernel uevents ({}): CPU and "
                                             "memory hotplug will not reload the capture kernel",
                                             std::strerror(errno)));
    }

    // Address, route and link changes (rtnetlink(7) multicast groups): an
    // ssh or nfs target's capture carries a copy of the network, which a
    // new DHCP lease would leave stale (Manager::network_event()).
    UniqueFd route_events(
        ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE));
    sockaddr_nl route_address{};
    route_address.nl_family = AF_NETLINK;
    route_address.nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR |
                              RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE;
    if (route_events && ::bind(route_events.get(), reinterpret_cast<sockaddr*>(&route_address),
                               sizeof(route_address)) == 0) {
        loop.watch_fd(route_events.get(), POLLIN, [&](short) {
            char buffer[16384];
            bool any = false;
            for (;;) {
                const ssize_t n = ::recv(route_events.get(), buffer, sizeof(buffer), 0);
                // ENOBUFS: the socket overflowed and messages were dropped,
                // which is a change too.
                if (n > 0 || (n < 0 && errno == ENOBUFS)) {
                    any = true;
                    continue;
                }
                break;
            }
            if (any) {
                manager.network_event();
            }
        });
    } else {
        service.log(LOG_WARNING,
                    fmt::format("Failed to listen to network changes ({}): an ssh or nfs target's "
                                "capture initrd keeps the network it was built with until the "
                                "next rebuild",
                                std::strerror(errno)));
    }

    manager.start();
    sd_notifyf(0, "READY=1\nSTATUS=%s", std::string(to_string(manager.properties().state)).c_str());

    // Watchdog pings from the loop: a wedged loop is restarted by systemd.
    uint64_t watchdog_usec = 0;
    std::function<void()> ping;
    if (sd_watchdog_enabled(0, &watchdog_usec) > 0 && watchdog_usec > 0) {
        ping = [&] {
            sd_notify(0, "WATCHDOG=1");
            loop.arm_timer("watchdog", std::chrono::microseconds(watchdog_usec / 2), ping);
        };
        ping();
    }
    const int code = loop.run();
    std::optional<bool> system_shutdown;
    if (shutdown_override == "yes" || shutdown_override == "no") {
        system_shutdown = shutdown_override == "yes";
    } else {
        system_shutdown = ask_systemd_if_shutting_down(*connection);
    }
    manager.shutdown(system_shutdown);
    return code;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "Keep the capture kernel loaded for kernel crash capture, rebuild its initrd when its "
        "inputs change, and report captured dumps. Started by systemd "
        "(crashcaptured.service); configured in /etc/crashcapture/crashcapture.conf.",
        "crashcaptured"};
    app.set_version_flag("--version", CRASHCAPTURE_VERSION);
    app.footer("See crashcaptured(8) and crashcapture.conf(5).");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    // A daemon never dies of a bad input; this is the last resort (fwupd's rule).
    try {
        return run();
    } catch (const sdbus::Error& e) {
        std::cerr << "crashcaptured: D-Bus: " << e.getName() << ": " << e.getMessage() << '\n';
        sd_notifyf(0, "STATUS=Failed: %s", e.getMessage().c_str());
    } catch (const std::exception& e) {
        std::cerr << "crashcaptured: " << e.what() << '\n';
        sd_notifyf(0, "STATUS=Failed: %s", e.what());
    }
    return 1;
}
