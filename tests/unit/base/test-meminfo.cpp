#include "meminfo.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "synthetic-vmcore.hpp"

using namespace crashcapture;
using namespace std::chrono_literals;

namespace {

// The shape of a 6.1 capture kernel's /proc/meminfo (fs/proc/meminfo.c).
std::string meminfo_with_available(uint64_t available_kib) {
    return "MemTotal:          78952 kB\nMemFree:            4212 kB\nMemAvailable:   " +
           std::to_string(available_kib) + " kB\nBuffers:               0 kB\n";
}

void write_file(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::trunc) << text;
}

}  // namespace

TEST(Meminfo, ParsesAFieldInBytes) {
    const auto text = meminfo_with_available(32064);
    EXPECT_EQ(parse_meminfo_bytes(text, "MemAvailable").value(), 32064ULL * 1024);
    EXPECT_EQ(parse_meminfo_bytes(text, "MemTotal").value(), 78952ULL * 1024);
    // A field whose name starts another's is not taken for it.
    EXPECT_FALSE(parse_meminfo_bytes("MemAvailableX: 5 kB\n", "MemAvailable"));
    const auto missing = parse_meminfo_bytes("MemFree: 1 kB\n", "MemAvailable");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().message, "/proc/meminfo has no MemAvailable");
    EXPECT_FALSE(parse_meminfo_bytes("MemAvailable: 12 MB\n", "MemAvailable"));
    EXPECT_FALSE(parse_meminfo_bytes("MemAvailable: 99999999999999999999 kB\n", "MemAvailable"));
}

TEST(MemAvailableWatch, KeepsTheLowestAndReadsAtMostOncePerInterval) {
    test::TempDir dir;
    const auto path = dir.file("meminfo");
    auto now = std::chrono::steady_clock::time_point{};
    MemAvailableWatch watch(path, 200ms, [&] { return now; });

    write_file(path, meminfo_with_available(30000));
    watch.sample_now();
    EXPECT_EQ(watch.lowest_bytes(), 30000ULL * 1024);

    // Within the interval the file is not read again: a lower value is missed.
    write_file(path, meminfo_with_available(20000));
    now += 100ms;
    watch.sample();
    EXPECT_EQ(watch.lowest_bytes(), 30000ULL * 1024);

    // Once it passed, it is.
    now += 100ms;
    watch.sample();
    EXPECT_EQ(watch.lowest_bytes(), 20000ULL * 1024);

    // A higher value later does not raise the lowest.
    write_file(path, meminfo_with_available(25000));
    now += 1s;
    watch.sample();
    EXPECT_EQ(watch.lowest_bytes(), 20000ULL * 1024);
}

TEST(MemAvailableWatch, AnUnreadableFileLeavesTheFigureAbsent) {
    test::TempDir dir;
    MemAvailableWatch missing(dir.file("nosuch"));
    missing.sample_now();
    EXPECT_FALSE(missing.lowest_bytes());

    write_file(dir.file("garbage"), "MemAvailable: lots kB\n");
    MemAvailableWatch garbage(dir.file("garbage"));
    garbage.sample_now();
    EXPECT_FALSE(garbage.lowest_bytes());
}
