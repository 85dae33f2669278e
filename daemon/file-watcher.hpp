// Watches directories with inotify and turns bursts of events into one call:
// a package upgrade writes thousands of files under /usr/lib/modules and
// /boot, and the capture initrd must be rebuilt once, after it settles.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "event-loop.hpp"
#include "result.hpp"
#include "unique-fd.hpp"

namespace crashcapture {

class FileWatcher {
  public:
    // on_settled runs once no event has come for `quiet`, or `max_delay`
    // after the first event of a burst that never goes quiet.
    FileWatcher(EventLoop& loop, std::function<void()> on_settled, std::chrono::milliseconds quiet,
                std::chrono::milliseconds max_delay);
    ~FileWatcher();

    Status open();
    // Replaces the watched set. Missing directories are skipped (and
    // reported), so /lib/modules may be a symlink or absent. Trees are
    // watched with every subdirectory (inotify is not recursive), new ones
    // included as they appear, up to kMaxTreeWatches.
    std::vector<std::string> watch(const std::vector<std::string>& directories,
                                   const std::vector<std::string>& trees = {});

    uint64_t events_seen() const { return events_seen_; }
    uint64_t bursts_settled() const { return bursts_settled_; }

  private:
    void on_readable();
    void settle();

    EventLoop& loop_;
    std::function<void()> on_settled_;
    std::chrono::milliseconds quiet_, max_delay_;
    UniqueFd fd_;
    void add_tree(const std::string& directory);
    std::map<int, std::string> watches_;
    std::map<int, bool> is_tree_;
    static constexpr size_t kMaxTreeWatches = 8192;
    bool burst_open_ = false;
    EventLoop::Clock::time_point burst_started_;
    uint64_t events_seen_ = 0;
    uint64_t bursts_settled_ = 0;
};

}  // namespace crashcapture
