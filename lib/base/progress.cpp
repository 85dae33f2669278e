#include "progress.hpp"

#include <fmt/format.h>
#include <unistd.h>

namespace crashcapture {

std::optional<ProgressMode> parse_progress_mode(std::string_view text) {
    if (text == "auto") {
        return ProgressMode::automatic;
    }
    if (text == "always") {
        return ProgressMode::always;
    }
    if (text == "never") {
        return ProgressMode::never;
    }
    return std::nullopt;
}

ProgressReporter::ProgressReporter(int fd, ProgressMode mode, std::string label, Clock clock)
    : fd_(fd), label_(std::move(label)), clock_(std::move(clock)) {
    if (!clock_) {
        clock_ = [] { return std::chrono::steady_clock::now(); };
    }
    // Redrawn in place only when chosen automatically for a terminal: with
    // "always" (the capture initrd) the console is a serial line that a log
    // records, where one plain line a second reads better than escape codes.
    terminal_ = mode == ProgressMode::automatic && ::isatty(fd_) == 1;
    enabled_ = mode == ProgressMode::always || terminal_;
    start_ = clock_();
    last_emit_ = start_;
}

std::string ProgressReporter::format_line(std::string_view label, uint64_t done_bytes,
                                          uint64_t total_bytes, double elapsed_sec) {
    constexpr double kMiB = 1024.0 * 1024.0;
    const unsigned percent =
        total_bytes ? static_cast<unsigned>(done_bytes * 100 / total_bytes) : 100;
    const double rate = elapsed_sec > 0 ? static_cast<double>(done_bytes) / elapsed_sec : 0;
    std::string eta = "--:--";
    if (rate > 0 && total_bytes >= done_bytes) {
        const auto seconds =
            static_cast<uint64_t>(static_cast<double>(total_bytes - done_bytes) / rate);
        eta = fmt::format("{}:{:02}", seconds / 60, seconds % 60);
    }
    return fmt::format("{}: {:3}% {:.0f}/{:.0f} MiB, {:.1f} MB/s, ETA {}", label, percent,
                       static_cast<double>(done_bytes) / kMiB,
                       static_cast<double>(total_bytes) / kMiB, rate / 1e6, eta);
}

void ProgressReporter::emit(uint64_t done_bytes, uint64_t total_bytes, bool final) {
    const auto now = clock_();
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    auto line = format_line(label_, done_bytes, total_bytes, elapsed);
    if (terminal_) {
        line = "\r" + line + "\x1b[K";  // erase what a longer previous line left
        if (final) {
            line += "\n";
        }
    } else {
        line += "\n";
    }
    // Progress is best effort: a console that went away must not stop a dump.
    (void)!::write(fd_, line.data(), line.size());
    last_emit_ = now;
    emitted_ = true;
}

void ProgressReporter::update(uint64_t done_bytes, uint64_t total_bytes) {
    if (!enabled_) {
        return;
    }
    // A terminal redraws in place 4 times a second; a serial console or log
    // gets one line a second so it is not flooded.
    const auto interval = terminal_ ? std::chrono::milliseconds(250) : std::chrono::seconds(1);
    if (clock_() - last_emit_ < interval) {
        return;
    }
    emit(done_bytes, total_bytes, false);
}

void ProgressReporter::finish(uint64_t done_bytes, uint64_t total_bytes) {
    if (enabled_) {
        emit(done_bytes, total_bytes, true);
    }
}

}  // namespace crashcapture
