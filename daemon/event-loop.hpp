// crashcaptured's single-threaded event loop (the threading story: there is
// one thread; the capture initrd builder runs as a child process, so a
// 30-second dracut run never blocks the D-Bus API). poll(2) over a few fds:
// the bus connection, inotify, a signalfd, a pidfd per child; timers are
// deadlines on CLOCK_MONOTONIC.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "unique-fd.hpp"

namespace crashcapture {

class EventLoop {
  public:
    using Clock = std::chrono::steady_clock;
    using FdHandler = std::function<void(short revents)>;
    using TimerHandler = std::function<void()>;

    // Watches fd for events; the handler runs in the loop. Replaces an
    // earlier watch of the same fd.
    void watch_fd(int fd, short events, FdHandler handler);
    void unwatch_fd(int fd);
    // Calls on_exit with the wait status when child pid exits, having reaped
    // it, through a pidfd (pidfd_open(2), Linux 5.3) watched in the loop.
    // Without pidfds it waits here and calls on_exit before returning:
    // rare, and still correct.
    void watch_child(pid_t pid, std::function<void(int status)> on_exit);
    // Stops watching pid; the caller reaps it.
    void unwatch_child(pid_t pid);
    // (Re)arms a named one-shot timer; arming an armed timer moves it — the
    // debounce of a burst of file events.
    void arm_timer(const std::string& name, Clock::duration delay, TimerHandler handler);
    void cancel_timer(const std::string& name);
    bool timer_armed(const std::string& name) const { return timers_.count(name) != 0; }
    // Extra poll timeout from outside (the D-Bus connection's own timeouts).
    void set_external_timeout(std::function<std::optional<Clock::duration>()> provider);

    // Runs until stop(); returns the exit code given to stop().
    int run();
    void stop(int exit_code) {
        stopping_ = true;
        exit_code_ = exit_code;
    }

  private:
    struct Watch {
        short events;
        FdHandler handler;
    };
    struct Timer {
        Clock::time_point deadline;
        TimerHandler handler;
    };
    std::map<int, Watch> fds_;
    std::map<pid_t, UniqueFd> children_;  // their pidfds
    std::map<std::string, Timer> timers_;
    std::function<std::optional<Clock::duration>()> external_timeout_;
    bool stopping_ = false;
    int exit_code_ = 0;
};

}  // namespace crashcapture
