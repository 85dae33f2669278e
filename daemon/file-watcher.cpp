#include "file-watcher.hpp"

#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <array>
#include <filesystem>

namespace crashcapture {

namespace {
// Everything that can change a file's contents or presence; not IN_ACCESS or
// IN_OPEN (reading /boot must not trigger a rebuild), not IN_ATTRIB alone
// for contents... but a chmod of a key file matters, so it is in.
constexpr uint32_t kWatchMask = IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM |
                                IN_MOVED_TO | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF;
constexpr const char* kSettleTimer = "file-watcher-settle";
}  // namespace

FileWatcher::FileWatcher(EventLoop& loop, std::function<void()> on_settled,
                         std::chrono::milliseconds quiet, std::chrono::milliseconds max_delay)
    : loop_(loop), on_settled_(std::move(on_settled)), quiet_(quiet), max_delay_(max_delay) {}

FileWatcher::~FileWatcher() {
    if (fd_) {
        loop_.unwatch_fd(fd_.get());
        loop_.cancel_timer(kSettleTimer);
    }
}

Status FileWatcher::open() {
    fd_.reset(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
    if (!fd_) {
        return make_errno_error(errno, "cannot create an inotify instance");
    }
    loop_.watch_fd(fd_.get(), POLLIN, [this](short) { on_readable(); });
    return {};
}

std::vector<std::string> FileWatcher::watch(const std::vector<std::string>& directories,
                                            const std::vector<std::string>& trees) {
    for (const auto& [wd, path] : watches_) {
        ::inotify_rm_watch(fd_.get(), wd);
    }
    watches_.clear();
    is_tree_.clear();
    std::vector<std::string> skipped;
    for (const auto& directory : directories) {
        const int wd = ::inotify_add_watch(fd_.get(), directory.c_str(), kWatchMask | IN_ONLYDIR);
        if (wd < 0) {
            skipped.push_back(directory);
            continue;
        }
        watches_[wd] = directory;
    }
    for (const auto& tree : trees) {
        if (!std::filesystem::is_directory(tree)) {
            skipped.push_back(tree);
            continue;
        }
        add_tree(tree);
    }
    return skipped;
}

void FileWatcher::add_tree(const std::string& directory) {
    std::error_code ec;
    std::vector<std::string> pending{directory};
    while (!pending.empty() && watches_.size() < kMaxTreeWatches) {
        const std::string current = std::move(pending.back());
        pending.pop_back();
        const int wd = ::inotify_add_watch(fd_.get(), current.c_str(),
                                           kWatchMask | IN_ONLYDIR | IN_DONT_FOLLOW);
        if (wd < 0) {
            continue;
        }
        watches_[wd] = current;
        is_tree_[wd] = true;
        for (const auto& entry : std::filesystem::directory_iterator(current, ec)) {
            if (entry.is_directory(ec) && !entry.is_symlink(ec)) {
                pending.push_back(entry.path().string());
            }
        }
    }
}

void FileWatcher::on_readable() {
    alignas(inotify_event) std::array<char, 64 * 1024> buffer;
    for (;;) {
        const ssize_t n = ::read(fd_.get(), buffer.data(), buffer.size());
        if (n <= 0) {
            break;  // EAGAIN: drained
        }
        for (ssize_t offset = 0; offset < n;) {
            const auto* event = reinterpret_cast<const inotify_event*>(buffer.data() + offset);
            ++events_seen_;  // IN_Q_OVERFLOW too: something changed, we lost what
            // A new directory inside a watched tree is watched too.
            if ((event->mask & IN_ISDIR) && (event->mask & (IN_CREATE | IN_MOVED_TO)) &&
                event->len > 0) {
                if (auto it = watches_.find(event->wd);
                    it != watches_.end() && is_tree_.count(event->wd)) {
                    add_tree(it->second + "/" + event->name);
                }
            }
            if (event->mask & IN_IGNORED) {
                watches_.erase(event->wd);
                is_tree_.erase(event->wd);
            }
            offset += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
        }
    }
    const auto now = EventLoop::Clock::now();
    if (!burst_open_) {
        burst_open_ = true;
        burst_started_ = now;
    }
    // Quiet period from the last event, but never later than max_delay from
    // the first: an endless trickle still gets handled.
    auto delay = std::chrono::duration_cast<EventLoop::Clock::duration>(quiet_);
    const auto latest = burst_started_ + max_delay_;
    if (now + delay > latest) {
        delay = latest > now ? latest - now : EventLoop::Clock::duration::zero();
    }
    loop_.arm_timer(kSettleTimer, delay, [this] { settle(); });
}

void FileWatcher::settle() {
    burst_open_ = false;
    ++bursts_settled_;
    on_settled_();
}

}  // namespace crashcapture
