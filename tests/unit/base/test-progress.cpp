#include "progress.hpp"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

using namespace crashcapture;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

namespace {

constexpr uint64_t kMiB = 1024 * 1024;

// A pipe: not a terminal, so ProgressReporter prints whole lines.
class Pipe {
  public:
    Pipe() {
        int fds[2];
        EXPECT_EQ(::pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0);
        read_ = fds[0];
        write_ = fds[1];
    }
    ~Pipe() {
        ::close(read_);
        ::close(write_);
    }
    int write_fd() const { return write_; }
    std::string drain() const {
        std::string out;
        char buffer[4096];
        ssize_t n;
        while ((n = ::read(read_, buffer, sizeof(buffer))) > 0) {
            out.append(buffer, static_cast<size_t>(n));
        }
        return out;
    }

  private:
    int read_ = -1, write_ = -1;
};

// A clock the test moves by hand.
struct FakeClock {
    std::chrono::steady_clock::time_point now{};
    ProgressReporter::Clock function() {
        return [this] { return now; };
    }
};

TEST(Progress, FormatLine) {
    EXPECT_EQ(ProgressReporter::format_line("save", 430 * kMiB, 1024 * kMiB, 10.0),
              "save:  41% 430/1024 MiB, 45.1 MB/s, ETA 0:13");
    EXPECT_EQ(ProgressReporter::format_line("save", 0, 1024 * kMiB, 0.0),
              "save:   0% 0/1024 MiB, 0.0 MB/s, ETA --:--");
    EXPECT_EQ(ProgressReporter::format_line("save", 1024 * kMiB, 1024 * kMiB, 4.0),
              "save: 100% 1024/1024 MiB, 268.4 MB/s, ETA 0:00");
    // Nothing to do counts as done.
    EXPECT_EQ(ProgressReporter::format_line("x", 0, 0, 1.0),
              "x: 100% 0/0 MiB, 0.0 MB/s, ETA --:--");
    // Minutes in the ETA.
    EXPECT_THAT(ProgressReporter::format_line("x", 1 * kMiB, 1001 * kMiB, 1.0),
                HasSubstr("ETA 16:40"));
}

TEST(Progress, ThrottledToOneLinePerSecondOffTerminal) {
    Pipe pipe;
    FakeClock clock;
    ProgressReporter reporter(pipe.write_fd(), ProgressMode::always, "save", clock.function());
    EXPECT_TRUE(reporter.enabled());
    reporter.update(1 * kMiB, 100 * kMiB);
    clock.now += 500ms;
    reporter.update(2 * kMiB, 100 * kMiB);
    EXPECT_EQ(pipe.drain(), "");
    clock.now += 500ms;
    reporter.update(3 * kMiB, 100 * kMiB);
    const auto first = pipe.drain();
    EXPECT_EQ(first, "save:   3% 3/100 MiB, 3.1 MB/s, ETA 0:32\n");
    clock.now += 999ms;
    reporter.update(4 * kMiB, 100 * kMiB);
    EXPECT_EQ(pipe.drain(), "");
    clock.now += 1ms;
    reporter.update(5 * kMiB, 100 * kMiB);
    EXPECT_THAT(pipe.drain(), HasSubstr("  5% 5/100 MiB"));
    // finish() always prints, without waiting, and never uses \r off a terminal.
    reporter.finish(100 * kMiB, 100 * kMiB);
    const auto last = pipe.drain();
    EXPECT_THAT(last, HasSubstr("100% 100/100 MiB"));
    EXPECT_EQ(last.back(), '\n');
    EXPECT_EQ(last.find('\r'), std::string::npos);
}

TEST(Progress, NeverModeWritesNothing) {
    Pipe pipe;
    FakeClock clock;
    ProgressReporter reporter(pipe.write_fd(), ProgressMode::never, "save", clock.function());
    EXPECT_FALSE(reporter.enabled());
    for (int i = 0; i < 5; ++i) {
        clock.now += 2s;
        reporter.update(i * kMiB, 10 * kMiB);
    }
    reporter.finish(10 * kMiB, 10 * kMiB);
    EXPECT_EQ(pipe.drain(), "");
}

TEST(Progress, AutomaticModeIsOffWhenNotATerminal) {
    Pipe pipe;
    FakeClock clock;
    ProgressReporter reporter(pipe.write_fd(), ProgressMode::automatic, "save", clock.function());
    EXPECT_FALSE(reporter.enabled());
    clock.now += 5s;
    reporter.update(1, 2);
    reporter.finish(2, 2);
    EXPECT_EQ(pipe.drain(), "");
}

TEST(Progress, ParseMode) {
    EXPECT_EQ(parse_progress_mode("auto"), ProgressMode::automatic);
    EXPECT_EQ(parse_progress_mode("always"), ProgressMode::always);
    EXPECT_EQ(parse_progress_mode("never"), ProgressMode::never);
    EXPECT_FALSE(parse_progress_mode("sometimes"));
}

}  // namespace
