#include "stopwatch.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace crashcapture;
using namespace std::chrono_literals;

namespace {

// Burns CPU until `length` of this process's CPU time has passed.
void spin_for(const Stopwatch& watch, std::chrono::microseconds length) {
    volatile uint64_t sink = 0;
    while (watch.cpu() < length) {
        for (int i = 0; i < 100000; ++i) {
            sink = sink + static_cast<uint64_t>(i);
        }
    }
}

}  // namespace

TEST(Stopwatch, CountsThisProcessesCpu) {
    Stopwatch watch;
    spin_for(watch, 50ms);
    EXPECT_GE(watch.cpu(), 50ms);
    EXPECT_GE(watch.wall(), watch.cpu() - 5ms);
    EXPECT_THAT(watch.describe(), ::testing::MatchesRegex("[0-9]+ ms, [0-9]+ ms of CPU"));
}

TEST(Stopwatch, CountsAChildWaitedFor) {
    // The daemon's arm64 load runs kexec(8): its CPU is the load's.
    Stopwatch watch;
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        Stopwatch own;
        spin_for(own, 60ms);
        ::_exit(0);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    EXPECT_GE(watch.cpu(), 60ms);
}

TEST(Stopwatch, WallTimePassesWhileIdle) {
    Stopwatch watch;
    ::usleep(30000);
    EXPECT_GE(watch.wall(), 30ms);
    EXPECT_LT(watch.cpu(), 25ms);
}
