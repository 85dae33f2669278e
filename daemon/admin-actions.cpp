#include "admin-actions.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include <fmt/format.h>
#include <cerrno>
#include <cstring>
#include <utility>

#include "file-util.hpp"
#include "process.hpp"
#include "reservation.hpp"

namespace crashcapture {
namespace {

// The last non-empty line of a program's messages: its own reason
// ("crashcapturectl: update-grub failed (exit status 1)").
std::string last_line(const std::string& text) {
    size_t end = text.find_last_not_of(" \n");
    if (end == std::string::npos) {
        return {};
    }
    const size_t start = text.rfind('\n', end);
    return text.substr(start == std::string::npos ? 0 : start + 1,
                       end - (start == std::string::npos ? 0 : start + 1) + 1);
}

}  // namespace

AdminActions::AdminActions(EventLoop& loop, SystemPaths paths,
                           std::vector<std::string> setup_runner, ManagerObserver& observer)
    : loop_(loop),
      paths_(std::move(paths)),
      setup_runner_(std::move(setup_runner)),
      observer_(observer) {}

AdminActions::~AdminActions() {
    if (setup_pid_ > 0) {
        loop_.unwatch_child(setup_pid_);
    }
    loop_.cancel_timer("capture-test");
}

Status AdminActions::start_set_reservation(uint64_t size_mib, uid_t caller, SetupReply reply) {
    if (setup_pid_ > 0) {
        return make_error(EBUSY, "crashkernel={}M is being set already; try again when it is done",
                          setup_mib_);
    }
    ::mkdir(paths_.run.c_str(), 0700);
    const auto command = reservation_setup_command(setup_runner_, size_mib);
    const auto started =
        start_program(command, paths_.run + "/setup.log", paths_.run + "/setup.json");
    if (!started) {
        return make_error(started.error().errno_value, "cannot run {}: {}", command.front(),
                          started.error().message);
    }
    setup_pid_ = *started;
    setup_mib_ = size_mib;
    setup_reply_ = std::move(reply);
    observer_.log(LOG_NOTICE, fmt::format("Setting crashkernel={}M for the next boot "
                                          "(SetReservation, uid {})",
                                          size_mib, caller));
    loop_.watch_child(setup_pid_, [this](int status) { setup_finished(status); });
    return {};
}

void AdminActions::setup_finished(int status) {
    setup_pid_ = -1;
    auto reply = std::exchange(setup_reply_, nullptr);
    const std::string output = read_kernel_file(paths_.run + "/setup.json").value_or("");
    const std::string messages = read_kernel_file(paths_.run + "/setup.log").value_or("");
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        observer_.log(LOG_NOTICE, fmt::format("crashkernel={}M is set for the next boot: reboot "
                                              "for it to take effect",
                                              setup_mib_));
        reply(output);
        return;
    }
    const std::string why = last_line(messages);
    const std::string error =
        WIFEXITED(status)
            ? fmt::format("setting crashkernel={}M failed (exit status {}){}", setup_mib_,
                          WEXITSTATUS(status), why.empty() ? "" : ": " + why)
            : fmt::format("setting crashkernel={}M was killed by signal {}", setup_mib_,
                          WTERMSIG(status));
    observer_.log(LOG_ERR, error + (messages.empty() ? "" : "\n" + messages));
    reply(make_error(EIO, "{}", error));
}

Status AdminActions::schedule_capture_test(uid_t caller) {
    // /proc/sysrq-trigger takes 'c' whatever kernel.sysrq says
    // (write_sysrq_trigger() calls __handle_sysrq() with check_mask false,
    // drivers/tty/sysrq.c).
    const std::string trigger = paths_.proc + "/sysrq-trigger";
    sysrq_trigger_.reset(::open(trigger.c_str(), O_WRONLY | O_CLOEXEC));
    if (!sysrq_trigger_) {
        return make_errno_error(errno, "cannot open {}", trigger);
    }
    observer_.log(LOG_WARNING,
                  fmt::format("Crashing the machine in {} s to test the capture (TestCapture, uid "
                              "{})",
                              kCrashDelay.count(), caller));
    loop_.arm_timer("capture-test", kCrashDelay, [this] {
        // What the page cache holds of this boot's logs reaches the disk;
        // the crash itself is the point.
        ::sync();
        if (::write(sysrq_trigger_.get(), "c", 1) != 1) {
            observer_.log(LOG_ERR, fmt::format("TestCapture: writing to sysrq-trigger failed: {}",
                                               std::strerror(errno)));
        }
        sysrq_trigger_.reset();
    });
    return {};
}

}  // namespace crashcapture
