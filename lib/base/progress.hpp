// Progress of a dump on a terminal or the capture kernel's console: percent,
// throughput and ETA, a few times a second, and nothing when stderr is not a
// terminal unless asked (the capture initrd asks: its console is a serial line).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace crashcapture {

enum class ProgressMode { automatic, always, never };
std::optional<ProgressMode> parse_progress_mode(std::string_view text);

class ProgressReporter {
  public:
    using Clock = std::function<std::chrono::steady_clock::time_point()>;

    // fd is where lines go (stderr); on a terminal a line is redrawn with
    // \r, elsewhere each update is a new line, at most one per second.
    ProgressReporter(int fd, ProgressMode mode, std::string label, Clock clock = {});

    void update(uint64_t done_bytes, uint64_t total_bytes);
    void finish(uint64_t done_bytes, uint64_t total_bytes);
    bool enabled() const { return enabled_; }

    // "label: 42% 430/1024 MiB, 123.4 MB/s, ETA 0:05"
    static std::string format_line(std::string_view label, uint64_t done_bytes,
                                   uint64_t total_bytes, double elapsed_sec);

  private:
    void emit(uint64_t done_bytes, uint64_t total_bytes, bool final);

    int fd_;
    bool enabled_ = false;
    bool terminal_ = false;
    std::string label_;
    Clock clock_;
    std::chrono::steady_clock::time_point start_;
    std::chrono::steady_clock::time_point last_emit_;
    bool emitted_ = false;
};

}  // namespace crashcapture
