#include "printk-log.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "synthetic-vmcore.hpp"

using namespace crashcapture;
using namespace crashcapture::test;
using ::testing::HasSubstr;

namespace {

Result<KernelLog> extract(const PhysicalMemory& memory, const std::string& vmcoreinfo_text) {
    auto info = Vmcoreinfo::parse(vmcoreinfo_text);
    EXPECT_TRUE(info);
    auto space = KernelAddressSpace::create(memory, *info, {});
    EXPECT_TRUE(space) << (space ? "" : space.error().message);
    return extract_kernel_log(*space, *info);
}

// struct printk_ringbuffer in the synthetic kernel, and its fields (6.1).
constexpr uint64_t kRingPhys = SyntheticKernel::kImagePhys + SyntheticKernel::kRingOffset;
constexpr uint64_t kTailIdPhys = kRingPhys + 32;    // desc_ring.tail_id
constexpr uint64_t kCountBitsPhys = kRingPhys + 0;  // desc_ring.count_bits

class PrintkLog : public ::testing::TestWithParam<int> {};

TEST_P(PrintkLog, FormatsLikeMakedumpfileDumpDmesg) {
    SyntheticKernelOptions options;
    options.paging_levels = GetParam();
    SyntheticKernel kernel(options);
    auto log = extract(kernel.memory(), kernel.vmcoreinfo());
    ASSERT_TRUE(log) << log.error().message;
    // Skipped: the reserved record, the stale slot and the data-less one.
    EXPECT_EQ(log->record_count, 7u);
    EXPECT_EQ(log->text, SyntheticKernel::default_records_dmesg());
}

INSTANTIATE_TEST_SUITE_P(PagingLevels, PrintkLog, ::testing::Values(4, 5),
                         [](const auto& param_info) {
                             return std::to_string(param_info.param) + "Level";
                         });

TEST(PrintkLogDetails, TextRingSpanningPages) {
    // An 8 KiB text ring starting 256 bytes before a page boundary.
    SyntheticKernelOptions options;
    options.text_size_bits = 13;
    SyntheticKernel kernel(options);
    auto log = extract(kernel.memory(), kernel.vmcoreinfo());
    ASSERT_TRUE(log) << log.error().message;
    EXPECT_EQ(log->text, SyntheticKernel::default_records_dmesg());
}

TEST(PrintkLogDetails, ReadFromAnElfVmcore) {
    SyntheticKernel kernel;
    TempDir dir;
    kernel.vmcore_builder().write(dir.file("vmcore"));
    auto vmcore = VmcoreFile::open(dir.file("vmcore"));
    ASSERT_TRUE(vmcore) << vmcore.error().message;
    auto log = extract(*vmcore, vmcore->vmcoreinfo_text());
    ASSERT_TRUE(log) << log.error().message;
    EXPECT_EQ(log->text, SyntheticKernel::default_records_dmesg());
}

TEST(PrintkLogDetails, EscapesEveryNonPrintableByte) {
    SyntheticKernelOptions options;
    PrintkRecord record;
    record.ts_nsec = 123'456'789'012;  // 123.456789 s
    record.text = std::string("a\x01z\x1b[0m\t\r\x80\xfe", 11);
    options.records = {record};
    SyntheticKernel kernel(options);
    auto log = extract(kernel.memory(), kernel.vmcoreinfo());
    ASSERT_TRUE(log) << log.error().message;
    EXPECT_EQ(log->text, "[  123.456789] a\\x01z\\x1b[0m\t\r\\xffffff80\\xfffffffe\n");
}

TEST(PrintkLogDetails, LongTimestampsWiden) {
    SyntheticKernelOptions options;
    PrintkRecord record;
    record.ts_nsec = 1'234'567'000'000'000;  // 1234567 s: wider than %5llu
    record.text = "a\nb";
    options.records = {record};
    SyntheticKernel kernel(options);
    auto log = extract(kernel.memory(), kernel.vmcoreinfo());
    ASSERT_TRUE(log);
    // The continuation indent is as wide as the actual prefix.
    EXPECT_EQ(log->text, "[1234567.000000] a\n                 b\n");
}

TEST(PrintkLogDetails, MissingLayoutIsNamed) {
    SyntheticKernel kernel;
    std::string text = kernel.vmcoreinfo();
    const auto at = text.find("SIZE(printk_info)=");
    text.erase(at, text.find('\n', at) + 1 - at);
    auto log = extract(kernel.memory(), text);
    ASSERT_FALSE(log);
    EXPECT_THAT(log.error().message, HasSubstr("SIZE(printk_info)"));
}

TEST(PrintkLogDetails, PreLocklessKernelIsExplained) {
    SyntheticKernel kernel;
    // A 5.4 kernel exports log_buf/log_first_idx and no prb.
    std::string text;
    for (size_t pos = 0; pos < kernel.vmcoreinfo().size();) {
        const auto end = kernel.vmcoreinfo().find('\n', pos);
        const auto line = kernel.vmcoreinfo().substr(pos, end - pos);
        pos = end + 1;
        if (line.find("prb") == std::string::npos && line.find("printk") == std::string::npos) {
            text += line + "\n";
        }
    }
    text +=
        "OSRELEASE=5.4.0-old\nSYMBOL(log_buf)=ffffffff82000000\nSYMBOL(log_first_idx)="
        "ffffffff82000008\n";
    auto log = extract(kernel.memory(), text);
    ASSERT_FALSE(log);
    EXPECT_THAT(log.error().message, HasSubstr("predates the lockless printk ring buffer"));
}

TEST(PrintkLogDetails, ImplausibleRingSizeIsRejected) {
    SyntheticKernel kernel;
    kernel.memory().write_u32(kCountBitsPhys, 40);
    auto log = extract(kernel.memory(), kernel.vmcoreinfo());
    ASSERT_FALSE(log);
    EXPECT_THAT(log.error().message, HasSubstr("implausible"));
}

TEST(PrintkLogDetails, HugeOffsetsReadAsMissingFieldsNotOutOfBounds) {
    // Offsets that wrap past 2^64 when added to the ring's own offsets:
    // the fields read as zero (empty records), never outside the buffers.
    SyntheticKernel kernel;
    // desc_ring (0) + count_bits (2^64 - 4) wraps to 4: inside a naive
    // "offset + 4 <= size" check, 2^64 - 4 bytes past the buffer.
    const std::string text =
        kernel.vmcoreinfo() + "OFFSET(prb_desc_ring.count_bits)=18446744073709551612\n";
    auto log = extract(kernel.memory(), text);
    ASSERT_TRUE(log) << log.error().message;
    // count_bits read as 0: a ring of one descriptor, so one record at most.
    EXPECT_LE(log->record_count, 1u);
}

TEST(PrintkLogDetails, ImplausibleStructSizesAreRefused) {
    SyntheticKernel kernel;
    for (const char* line : {"SIZE(printk_ringbuffer)=18446744073709551615\n", "SIZE(prb_desc)=0\n",
                             "SIZE(printk_info)=1000000\n", "OFFSET(printk_info.text_len)=87\n"}) {
        auto log = extract(kernel.memory(), kernel.vmcoreinfo() + line);
        ASSERT_FALSE(log) << line;
        EXPECT_THAT(log.error().message, HasSubstr("implausible")) << line;
    }
}

TEST(PrintkLogDetails, CorruptTailDoesNotLoopForever) {
    SyntheticKernel kernel;
    // tail = head + 1: walking from tail to head would take 2^62 steps.
    const uint64_t tail = kernel.memory().read_u64(kTailIdPhys);
    kernel.memory().write_u64(kTailIdPhys, tail + 10);
    auto log = extract(kernel.memory(), kernel.vmcoreinfo());
    ASSERT_TRUE(log);
    EXPECT_LE(log->record_count, 2u * 16u + 1u);
}

TEST(PrintkLogDetails, UnreadableRingIsAnError) {
    SyntheticKernel kernel;
    // prb pointing at an unmapped direct-map address.
    kernel.memory().write_u64(SyntheticKernel::kImagePhys + SyntheticKernel::kPrbPointerOffset,
                              kernel.direct_map(64 * kMiB));
    auto log = extract(kernel.memory(), kernel.vmcoreinfo());
    ASSERT_FALSE(log);
    EXPECT_THAT(log.error().message, HasSubstr("ring buffer"));
}

TEST(FindPanicLine, PrefersThePanicOverEarlierOopses) {
    const std::string log =
        "[    1.000000] BUG: kernel NULL pointer dereference, address: 0000000000000000\n"
        "[    1.000100] Oops: 0002 [#1] PREEMPT SMP NOPTI\n"
        "[    1.000200] Kernel panic - not syncing: Fatal exception\n";
    EXPECT_EQ(find_panic_line(log), "Kernel panic - not syncing: Fatal exception");
}

TEST(FindPanicLine, FallsBackToTheFirstOops) {
    const std::string log =
        "[    0.500000] usb 1-1: new device\n"
        "[    1.000000] general protection fault, probably for non-canonical address\n"
        "[    1.000100] Oops: 0002 [#1] PREEMPT SMP NOPTI\n";
    EXPECT_EQ(find_panic_line(log), "general protection fault, probably for non-canonical address");
}

TEST(FindPanicLine, NothingToFind) {
    EXPECT_EQ(find_panic_line("[    0.000000] Linux version 6.1\n"), "");
    EXPECT_EQ(find_panic_line(""), "");
}

TEST(FindPanicLine, DefaultSyntheticLog) {
    EXPECT_EQ(find_panic_line(SyntheticKernel::default_records_dmesg()),
              "Kernel panic - not syncing: sysrq triggered crash");
}

}  // namespace
