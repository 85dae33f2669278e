#include "event-loop.hpp"

#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

namespace crashcapture {

void EventLoop::watch_fd(int fd, short events, FdHandler handler) {
    fds_[fd] = Watch{events, std::move(handler)};
}

void EventLoop::unwatch_fd(int fd) {
    fds_.erase(fd);
}

void EventLoop::watch_child(pid_t pid, std::function<void(int status)> on_exit) {
    UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    if (!pidfd) {
        int status = 0;
        ::waitpid(pid, &status, 0);
        on_exit(status);
        return;
    }
    const int fd = pidfd.get();
    children_[pid] = std::move(pidfd);
    watch_fd(fd, POLLIN, [this, pid, on_exit = std::move(on_exit)](short) {
        int status = 0;
        ::waitpid(pid, &status, 0);
        auto handler = on_exit;  // unwatch_child() destroys this closure
        unwatch_child(pid);
        handler(status);
    });
}

void EventLoop::unwatch_child(pid_t pid) {
    if (auto it = children_.find(pid); it != children_.end()) {
        unwatch_fd(it->second.get());
        children_.erase(it);
    }
}

void EventLoop::arm_timer(const std::string& name, Clock::duration delay, TimerHandler handler) {
    timers_[name] = Timer{Clock::now() + delay, std::move(handler)};
}

void EventLoop::cancel_timer(const std::string& name) {
    timers_.erase(name);
}

void EventLoop::set_external_timeout(std::function<std::optional<Clock::duration>()> provider) {
    external_timeout_ = std::move(provider);
}

int EventLoop::run() {
    while (!stopping_) {
        // Due timers first; a handler may arm or cancel timers.
        const auto now = Clock::now();
        for (auto it = timers_.begin(); it != timers_.end();) {
            if (it->second.deadline <= now) {
                auto handler = std::move(it->second.handler);
                it = timers_.erase(it);
                handler();
                it = timers_.begin();  // the map may have changed
                continue;
            }
            ++it;
        }
        if (stopping_) {
            break;
        }
        std::optional<Clock::duration> wait;
        for (const auto& [name, timer] : timers_) {
            const auto left = timer.deadline - Clock::now();
            if (!wait || left < *wait) {
                wait = left;
            }
        }
        if (external_timeout_) {
            if (auto external = external_timeout_(); external && (!wait || *external < *wait)) {
                wait = external;
            }
        }
        int timeout_ms = -1;
        if (wait) {
            const auto ms = std::chrono::ceil<std::chrono::milliseconds>(*wait).count();
            timeout_ms = static_cast<int>(std::clamp<int64_t>(ms, 0, 60 * 60 * 1000));
        }
        std::vector<pollfd> polled;
        for (const auto& [fd, watch] : fds_) {
            polled.push_back(pollfd{fd, watch.events, 0});
        }
        const int n = ::poll(polled.data(), polled.size(), timeout_ms);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return 1;
        }
        for (const auto& p : polled) {
            if (p.revents == 0) {
                continue;
            }
            // The handler may have been removed by an earlier one.
            if (auto it = fds_.find(p.fd); it != fds_.end()) {
                auto handler = it->second.handler;  // copy: the handler may unwatch itself
                handler(p.revents);
            }
            if (stopping_) {
                break;
            }
        }
    }
    return exit_code_;
}

}  // namespace crashcapture
