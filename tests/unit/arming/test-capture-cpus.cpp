#include "capture-cpus.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "reservation.hpp"

using namespace crashcapture;
using ::testing::HasSubstr;

namespace {

constexpr uint64_t kMiB = 1024 * 1024;

// A one-CPU capture needing 114 MiB, 6 MiB per further CPU, 8 online.
CaptureCpuInputs machine(uint64_t reserved_mib) {
    return {.reserved_bytes = reserved_mib * kMiB,
            .needed_one_cpu_bytes = 114 * kMiB,
            .online_cpus = 8,
            .per_cpu_bytes = 6 * kMiB,
            .configured = std::nullopt,
            .appended = std::nullopt};
}

}  // namespace

TEST(CaptureCpus, AutoTakesWhatTheReservationPaysFor) {
    // 144M: 30 MiB spare, five 6 MiB CPUs past the first.
    const auto choice = choose_capture_cpus(machine(144));
    EXPECT_EQ(choice.cpus, 6u);
    EXPECT_EQ(choice.extra_bytes, 30 * kMiB);
    EXPECT_EQ(choice.needed_bytes, 144 * kMiB);
    EXPECT_THAT(choice.reason, HasSubstr("pays for 5 more at 6.0 MiB each"));
    // One byte less: one CPU fewer.
    auto inputs = machine(144);
    inputs.reserved_bytes -= 1;
    EXPECT_EQ(choose_capture_cpus(inputs).cpus, 5u);
}

TEST(CaptureCpus, AutoNeverBreaksTheFitCheck) {
    // Whatever the reservation, the choice's need fits it whenever one CPU's did.
    for (uint64_t reserved = 100; reserved <= 400; ++reserved) {
        const auto inputs = machine(reserved);
        const auto choice = choose_capture_cpus(inputs);
        EXPECT_GE(choice.cpus, 1u);
        EXPECT_LE(choice.cpus, inputs.online_cpus);
        if (inputs.reserved_bytes >= inputs.needed_one_cpu_bytes) {
            EXPECT_LE(choice.needed_bytes, inputs.reserved_bytes) << reserved;
            // And one more CPU would not have fitted, unless all are taken.
            if (choice.cpus < inputs.online_cpus) {
                EXPECT_GT(choice.needed_bytes + inputs.per_cpu_bytes, inputs.reserved_bytes);
            }
        } else {
            EXPECT_EQ(choice.cpus, 1u) << reserved;
        }
    }
}

TEST(CaptureCpus, AutoStopsAtTheOnlineCpus) {
    const auto choice = choose_capture_cpus(machine(1024));
    EXPECT_EQ(choice.cpus, 8u);
    EXPECT_EQ(choice.extra_bytes, 7 * 6 * kMiB);
    EXPECT_THAT(choice.reason, HasSubstr("every online CPU"));
}

TEST(CaptureCpus, AutoStopsAtItsLimit) {
    auto inputs = machine(8192);
    inputs.online_cpus = 256;
    const auto choice = choose_capture_cpus(inputs);
    EXPECT_EQ(choice.cpus, kAutoCaptureCpusLimit);
    EXPECT_THAT(choice.reason, HasSubstr("64 of 256 online CPUs"));
}

TEST(CaptureCpus, AutoOneCpuWhenNothingOrTooLittleIsReserved) {
    auto none = choose_capture_cpus(machine(0));
    EXPECT_EQ(none.cpus, 1u);
    EXPECT_EQ(none.extra_bytes, 0u);
    EXPECT_THAT(none.reason, HasSubstr("nothing is reserved"));
    auto small = choose_capture_cpus(machine(96));
    EXPECT_EQ(small.cpus, 1u);
    EXPECT_EQ(small.needed_bytes, 114 * kMiB);
    EXPECT_THAT(small.reason, HasSubstr("below what a capture with one CPU needs"));
    auto single = machine(1024);
    single.online_cpus = 1;
    EXPECT_EQ(choose_capture_cpus(single).cpus, 1u);
    // An unknown count (0) is one CPU too.
    single.online_cpus = 0;
    EXPECT_EQ(choose_capture_cpus(single).cpus, 1u);
}

TEST(CaptureCpus, ConfiguredCountIsTakenAndAccounted) {
    auto inputs = machine(128);
    inputs.configured = 4;
    const auto choice = choose_capture_cpus(inputs);
    EXPECT_EQ(choice.cpus, 4u);
    EXPECT_EQ(choice.extra_bytes, 18 * kMiB);
    // 132 MiB > 128 MiB: the fit check (with_capture_cpus()) will warn.
    EXPECT_EQ(choice.needed_bytes, 132 * kMiB);
    EXPECT_EQ(choice.reason, "CPUs=4");
    // More than the machine has: the kernel caps it (nrcpus()), the
    // accounting does not guess.
    inputs.configured = 16;
    EXPECT_EQ(choose_capture_cpus(inputs).cpus, 16u);
}

TEST(CaptureCpus, AppendedNrCpusWins) {
    auto inputs = machine(1024);
    inputs.configured = 4;
    inputs.appended = 2;
    const auto choice = choose_capture_cpus(inputs);
    EXPECT_EQ(choice.cpus, 2u);
    EXPECT_EQ(choice.extra_bytes, 6 * kMiB);
    EXPECT_THAT(choice.reason, HasSubstr("KernelCommandLineAppend="));
}

TEST(CaptureCpus, AppendedNrCpus) {
    EXPECT_EQ(appended_nr_cpus({}), std::nullopt);
    EXPECT_EQ(appended_nr_cpus({"panic=30", "nr_cpus=3"}), 3u);
    EXPECT_EQ(appended_nr_cpus({"nr-cpus=2"}), 2u);
    // The last one counts, as the kernel parses them in order.
    EXPECT_EQ(appended_nr_cpus({"nr_cpus=2", "nr_cpus=5"}), 5u);
    // What kernel/smp.c nrcpus() ignores.
    EXPECT_EQ(appended_nr_cpus({"nr_cpus=0"}), std::nullopt);
    EXPECT_EQ(appended_nr_cpus({"nr_cpus=two"}), std::nullopt);
    EXPECT_EQ(appended_nr_cpus({"nr_cpus"}), std::nullopt);
    EXPECT_EQ(appended_nr_cpus({"maxcpus=2"}), std::nullopt);
}

TEST(CaptureCpus, CountCpuList) {
    EXPECT_EQ(count_cpu_list("0\n"), 1u);
    EXPECT_EQ(count_cpu_list("0-1\n"), 2u);
    EXPECT_EQ(count_cpu_list("0-3,6,8-9\n"), 7u);
    EXPECT_EQ(count_cpu_list(""), std::nullopt);
    EXPECT_EQ(count_cpu_list("3-1"), std::nullopt);
    EXPECT_EQ(count_cpu_list("0-"), std::nullopt);
    EXPECT_EQ(count_cpu_list("a"), std::nullopt);
}

TEST(CaptureCpus, Explanation) {
    auto inputs = machine(144);
    const auto json = explain_capture_cpus(choose_capture_cpus(inputs), inputs);
    EXPECT_EQ(json["cpus"], 6);
    EXPECT_EQ(json["configured"], "auto");
    EXPECT_EQ(json["online_cpus"], 8);
    EXPECT_EQ(json["per_cpu_bytes"], 6 * kMiB);
    EXPECT_EQ(json["extra_bytes"], 30 * kMiB);
    inputs.configured = 2;
    EXPECT_EQ(explain_capture_cpus(choose_capture_cpus(inputs), inputs)["configured"], 2);
}

// The memory accounting (reservation.cpp): each CPU past the first costs the
// kernel's measured share plus one more compressing thread of the saver.
TEST(CaptureCpuCost, KernelShareAndSaverThread) {
    const uint64_t cost = capture_cpu_cost_bytes();
    // The saver's thread alone: three 256-page batch buffers and a
    // compressor (1 MiB): 4 MiB.
    EXPECT_GT(cost, 4 * kMiB);
    EXPECT_LT(cost, 16 * kMiB);
}

TEST(CaptureCpuCost, WithCaptureCpusGrowsTheNeed) {
    const auto one = capture_memory_need(64 * kMiB, 13 * kMiB, 38 * kMiB, 4096 * kMiB);
    EXPECT_EQ(one.cpu_bytes, 0u);
    const auto two = with_capture_cpus(one, capture_cpu_cost_bytes());
    EXPECT_EQ(two.cpu_bytes, capture_cpu_cost_bytes());
    EXPECT_EQ(two.needed_bytes, one.needed_bytes + capture_cpu_cost_bytes());
    EXPECT_GE(two.recommended_bytes, two.needed_bytes);
    EXPECT_EQ(two.recommended_bytes % (16 * kMiB), 0u);
    // Nothing extra: the same need.
    const auto same = with_capture_cpus(one, 0);
    EXPECT_EQ(same.needed_bytes, one.needed_bytes);
    EXPECT_EQ(same.recommended_bytes, one.recommended_bytes);
    // The fit check sees the CPUs: a reservation that fits one CPU exactly
    // does not fit two.
    EXPECT_TRUE(check_reservation_fit(one.needed_bytes, one).empty());
    EXPECT_FALSE(check_reservation_fit(one.needed_bytes, two).empty());
}
