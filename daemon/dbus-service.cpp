#include "dbus-service.hpp"

#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>

#include "reservation.hpp"

namespace crashcapture {
namespace {

constexpr const char* kErrorFailed = "org.crashcapture1.Error.Failed";
constexpr const char* kErrorNoSuchDump = "org.crashcapture1.Error.NoSuchDump";

// Runs a handler body, turning every non-sdbus exception and every library
// error into a D-Bus error instead of letting it escape into C.
template <typename Body>
auto guarded(Body&& body) -> decltype(body()) {
    try {
        return body();
    } catch (const sdbus::Error&) {
        throw;
    } catch (const std::exception& e) {
        throw sdbus::Error(kErrorFailed, e.what());
    } catch (...) {
        throw sdbus::Error(kErrorFailed, "unexpected error");
    }
}

[[noreturn]] void throw_error(const Error& error) {
    const bool missing = error.errno_value == ENOENT;
    throw sdbus::Error(missing ? kErrorNoSuchDump : kErrorFailed, error.message);
}

}  // namespace

DbusService::DbusService(sdbus::IConnection& connection, Manager*& manager)
    : AdaptorInterfaces(connection, "/org/crashcapture1"), manager_(manager) {
    registerAdaptor();
}

DbusService::~DbusService() {
    unregisterAdaptor();
}

Manager& DbusService::manager() {
    if (!manager_) {
        throw sdbus::Error(kErrorFailed, "crashcaptured is starting");
    }
    return *manager_;
}

AdminActions& DbusService::admin_actions() {
    if (!admin_actions_) {
        throw sdbus::Error(kErrorFailed, "crashcaptured is starting");
    }
    return *admin_actions_;
}

uid_t DbusService::require_root(const char* action) {
    const auto* message = getObject().getCurrentlyProcessedMessage();
    if (!message) {
        throw sdbus::Error("org.freedesktop.DBus.Error.AccessDenied", "no caller credentials");
    }
    const uid_t uid = message->getCredsUid();
    if (uid != 0) {
        throw sdbus::Error("org.freedesktop.DBus.Error.AccessDenied",
                           fmt::format("{} needs root (caller uid {})", action, uid));
    }
    return uid;
}

void DbusService::properties_changed() {
    const auto& now = manager_ ? manager_->properties() : ManagerProperties{};
    std::vector<std::string> changed;
    auto compare = [&](bool differs, const char* name) {
        if (!emitted_once_ || differs) {
            changed.emplace_back(name);
        }
    };
    compare(now.state != last_emitted_.state, "State");
    compare(now.last_error != last_emitted_.last_error, "LastError");
    compare(now.reservation_warning != last_emitted_.reservation_warning, "ReservationWarning");
    compare(now.previous_run != last_emitted_.previous_run, "PreviousRun");
    compare(now.capture_kernel != last_emitted_.capture_kernel, "CaptureKernel");
    compare(now.capture_initrd != last_emitted_.capture_initrd, "CaptureInitrd");
    compare(now.command_line != last_emitted_.command_line, "CommandLine");
    compare(now.reserved_bytes != last_emitted_.reserved_bytes, "ReservedBytes");
    compare(now.target != last_emitted_.target, "Target");
    compare(now.dump_level != last_emitted_.dump_level, "DumpLevel");
    compare(now.loaded_timestamp_usec != last_emitted_.loaded_timestamp_usec, "LoadedTimestamp");
    if (!emitted_once_ || now.state != last_emitted_.state ||
        now.last_error != last_emitted_.last_error) {
        // systemctl status shows the state, and why when it is not loaded.
        const std::string status =
            now.last_error.empty()
                ? fmt::format("STATUS=Capture kernel {}", to_string(now.state))
                : fmt::format("STATUS=Capture kernel {}: {}", to_string(now.state),
                              now.last_error.substr(0, 200));
        sd_notify(0, status.c_str());
    }
    last_emitted_ = now;
    emitted_once_ = true;
    notify_change();
    if (!changed.empty()) {
        try {
            getObject().emitPropertiesChangedSignal(INTERFACE_NAME, changed);
        } catch (const sdbus::Error&) {
            // A bus hiccup must not stop the state machine; clients re-read.
        }
    }
}

void DbusService::dump_captured(const std::string& id, const std::string& result,
                                const nlohmann::json& record) {
    try {
        emitDumpCaptured(id, result, record.dump());
    } catch (const sdbus::Error&) {
    }
    notify_change();
}

void DbusService::notify_change() {
    if (change_hook_ && manager_) {
        change_hook_();
    }
}

void DbusService::log(int priority, const std::string& message,
                      const std::vector<std::pair<std::string, std::string>>& fields) {
    // sd_journal_sendv: MESSAGE, PRIORITY and the structured fields in one entry.
    std::vector<std::string> lines{"MESSAGE=" + message, fmt::format("PRIORITY={}", priority),
                                   "SYSLOG_IDENTIFIER=crashcaptured"};
    for (const auto& [key, value] : fields) {
        lines.push_back(key + "=" + value);
    }
    std::vector<iovec> iov;
    for (auto& line : lines) {
        iov.push_back(iovec{line.data(), line.size()});
    }
    const int sent = sd_journal_sendv(iov.data(), static_cast<int>(iov.size()));
    // Under systemd, stderr goes to the journal already (JOURNAL_STREAM);
    // elsewhere (a terminal, a test) or when journald is away, stderr is
    // where a human or a test looks. The <N> prefix is sd-daemon's level.
    if (sent < 0 || !std::getenv("JOURNAL_STREAM")) {
        fmt::print(stderr, "<{}>{}\n", priority, message);
        std::fflush(stderr);
    }
}

void DbusService::Reload() {
    guarded([&] {
        require_root("Reload");
        // Re-read everything; rebuild only if an input's content changed.
        manager().request_reload(false);
    });
}

void DbusService::Rebuild() {
    guarded([&] {
        require_root("Rebuild");
        // Rebuild whatever the hashes say, then load.
        manager().request_reload(true);
    });
}

void DbusService::Unload() {
    guarded([&] {
        require_root("Unload");
        if (auto s = manager().unload(); !s) {
            throw_error(s.error());
        }
    });
}

std::string DbusService::ListDumps() {
    return guarded([&] { return manager().list_dumps().dump(); });
}

std::string DbusService::GetDump(const std::string& id) {
    return guarded([&] {
        auto dump = manager().get_dump(id);
        if (!dump) {
            throw_error(dump.error());
        }
        return dump->dump();
    });
}

std::string DbusService::GetDumpLog(const std::string& id) {
    return guarded([&] {
        require_root("Reading a crashed kernel's log");
        auto log = manager().get_dump_log(id);
        if (!log) {
            throw_error(log.error());
        }
        return *log;
    });
}

void DbusService::RemoveDump(const std::string& id) {
    guarded([&] {
        require_root("RemoveDump");
        if (auto s = manager().remove_dump(id); !s) {
            throw_error(s.error());
        }
        notify_change();
    });
}

std::vector<std::string> DbusService::ApplyRetention() {
    return guarded([&] {
        require_root("ApplyRetention");
        auto removed = manager().apply_retention();
        if (!removed) {
            throw_error(removed.error());
        }
        notify_change();
        return *removed;
    });
}

std::tuple<uint64_t, std::string> DbusService::EstimateReservation() {
    return guarded([&] {
        auto [bytes, explanation] = manager().estimate_reservation();
        return std::tuple<uint64_t, std::string>(bytes, explanation.dump());
    });
}

void DbusService::SetReservation(sdbus::Result<std::string>&& result, uint64_t size_mib) {
    // Asynchronous: the reply waits for update-grub (seconds) while the loop
    // keeps serving the bus. sdbus::Result is move-only; the reply callback
    // is a std::function, so it holds the Result through a shared_ptr.
    auto pending = std::make_shared<sdbus::Result<std::string>>(std::move(result));
    try {
        guarded([&] {
            const uid_t caller = require_root("SetReservation");
            const auto [offered_bytes, explanation] = manager().estimate_reservation();
            const auto mib = reservation_mib_to_set(size_mib, offered_bytes, explanation);
            if (!mib) {
                throw sdbus::Error(mib.error().errno_value == EINVAL
                                       ? "org.freedesktop.DBus.Error.InvalidArgs"
                                       : kErrorFailed,
                                   mib.error().message);
            }
            auto started = admin_actions().start_set_reservation(
                *mib, caller, [pending](Result<std::string> setup_json) {
                    if (setup_json) {
                        pending->returnResults(*setup_json);
                    } else {
                        pending->returnError(
                            sdbus::Error(kErrorFailed, setup_json.error().message));
                    }
                });
            if (!started) {
                throw_error(started.error());
            }
        });
    } catch (const sdbus::Error& error) {
        pending->returnError(error);
    }
}

void DbusService::TestCapture() {
    guarded([&] {
        const uid_t caller = require_root("TestCapture");
        const auto& properties = manager().properties();
        if (properties.state != ManagerState::loaded) {
            throw sdbus::Error(
                kErrorFailed,
                fmt::format("the capture kernel is not loaded (state {}{}): a "
                            "crash now would not be captured",
                            to_string(properties.state),
                            properties.last_error.empty() ? "" : ": " + properties.last_error));
        }
        if (auto s = admin_actions().schedule_capture_test(caller); !s) {
            throw_error(s.error());
        }
    });
}

std::string DbusService::State() {
    return guarded([&] { return std::string(to_string(manager().properties().state)); });
}
std::string DbusService::LastError() {
    return guarded([&] { return manager().properties().last_error; });
}
std::string DbusService::ReservationWarning() {
    return guarded([&] { return manager().properties().reservation_warning; });
}
std::string DbusService::PreviousRun() {
    return guarded([&] { return manager().properties().previous_run; });
}
std::string DbusService::CaptureKernel() {
    return guarded([&] { return manager().properties().capture_kernel; });
}
std::string DbusService::CaptureInitrd() {
    return guarded([&] { return manager().properties().capture_initrd; });
}
std::string DbusService::CommandLine() {
    return guarded([&] { return manager().properties().command_line; });
}
uint64_t DbusService::ReservedBytes() {
    return guarded([&] { return manager().properties().reserved_bytes; });
}
std::string DbusService::Target() {
    return guarded([&] { return manager().properties().target; });
}
uint32_t DbusService::DumpLevel() {
    return guarded([&] { return manager().properties().dump_level; });
}
uint64_t DbusService::LoadedTimestamp() {
    return guarded([&] { return manager().properties().loaded_timestamp_usec; });
}
std::string DbusService::Version() {
    return CRASHCAPTURE_VERSION;
}

}  // namespace crashcapture
