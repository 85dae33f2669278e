#include "reservation.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <cstring>

#include <fstream>

#include "page-filter.hpp"
#include "synthetic-vmcore.hpp"

using namespace crashcapture;
using crashcapture::test::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

namespace {

constexpr uint64_t kMiB = 1024 * 1024;
constexpr uint64_t kGiB = 1024 * kMiB;

// /proc/iomem of a 4 GiB x86_64 guest with crashkernel=256M (abridged).
constexpr std::string_view kIomem =
    "00000000-00000fff : Reserved\n"
    "00001000-0009fbff : System RAM\n"
    "0009fc00-0009ffff : Reserved\n"
    "000a0000-000bffff : PCI Bus 0000:00\n"
    "000f0000-000fffff : Reserved\n"
    "  000f0000-000fffff : System ROM\n"
    "00100000-bffdafff : System RAM\n"
    "  2a000000-2ae02666 : Kernel code\n"
    "  2ae02667-2b6fffff : Kernel rodata\n"
    "  2b800000-2bb1ed3f : Kernel data\n"
    "  2c0f1000-2c5fffff : Kernel bss\n"
    "  ab000000-baffffff : Crash kernel\n"
    "bffdb000-bfffffff : Reserved\n"
    "c0000000-febfffff : PCI Bus 0000:00\n"
    "  fd000000-fdffffff : 0000:00:02.0\n"
    "100000000-13fffffff : System RAM\n";

// crashkernel=1G,high with its default low part: two ranges, high first in
// the file order of a deeper nesting.
constexpr std::string_view kIomemLowAndHigh =
    "00001000-0009ffff : System RAM\n"
    "00100000-7fffffff : System RAM\n"
    "  6f000000-7effffff : Crash kernel\n"
    "100000000-87fffffff : System RAM\n"
    "  840000000-87fffffff : Crash kernel\n";

// What a reader without CAP_SYS_ADMIN sees (r_show() zeroes the addresses).
constexpr std::string_view kIomemHidden =
    "00000000-00000000 : Reserved\n"
    "00000000-00000000 : System RAM\n"
    "  00000000-00000000 : Kernel code\n"
    "  00000000-00000000 : Crash kernel\n";

constexpr std::string_view kMeminfo =
    "MemTotal:        3735836 kB\n"
    "MemFree:         2880524 kB\n"
    "MemAvailable:    3312540 kB\n";

void write_file(const std::string& path, std::string_view contents) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << contents;
    ASSERT_TRUE(out.good()) << path;
}

class FakeTree : public ::testing::Test {
  protected:
    FakeTree() : paths_(SystemPaths::under(root_.path())) {
        for (const auto* dir : {"/proc", "/sys", "/sys/kernel", "/boot"}) {
            EXPECT_EQ(::mkdir((root_.path() + dir).c_str(), 0755), 0);
        }
    }
    void write(const std::string& relative, std::string_view contents) {
        write_file(root_.path() + relative, contents);
    }

    TempDir root_;
    SystemPaths paths_;
};

// A bzImage setup header (Documentation/arch/x86/boot.rst) with init_size.
std::string fake_bzimage(uint32_t init_size, uint16_t version = 0x020f) {
    std::string image(0x1000, '\0');
    auto put16 = [&](size_t offset, uint16_t v) {
        image[offset] = static_cast<char>(v & 0xff);
        image[offset + 1] = static_cast<char>(v >> 8);
    };
    auto put32 = [&](size_t offset, uint32_t v) {
        put16(offset, static_cast<uint16_t>(v & 0xffff));
        put16(offset + 2, static_cast<uint16_t>(v >> 16));
    };
    put16(0x1fe, 0xaa55);
    image.replace(0x202, 4, "HdrS");
    put16(0x206, version);
    put32(0x260, init_size);
    return image;
}

}  // namespace

// ---------------------------------------------------------------------------
// /proc/iomem and /proc/meminfo.

TEST(Iomem, FindsTheNestedCrashKernelRange) {
    const auto summary = parse_iomem(kIomem);
    ASSERT_TRUE(summary) << summary.error().message;
    EXPECT_THAT(summary->crash_kernel, ElementsAre(PhysicalMemoryRange{0xab000000, 0xbaffffff}));
    EXPECT_FALSE(summary->addresses_hidden);
    // Only top-level System RAM counts; nested names never do.
    EXPECT_EQ(summary->system_ram_bytes, (0x9fbffULL - 0x1000 + 1) +
                                             (0xbffdafffULL - 0x100000 + 1) +
                                             (0x13fffffffULL - 0x100000000 + 1));
}

TEST(Iomem, LowAndHighRangesInAddressOrder) {
    const auto summary = parse_iomem(kIomemLowAndHigh);
    ASSERT_TRUE(summary) << summary.error().message;
    ASSERT_EQ(summary->crash_kernel.size(), 2u);
    EXPECT_EQ(summary->crash_kernel[0], (PhysicalMemoryRange{0x6f000000, 0x7effffff}));
    EXPECT_EQ(summary->crash_kernel[0].size_bytes(), 256 * kMiB);
    EXPECT_EQ(summary->crash_kernel[1], (PhysicalMemoryRange{0x840000000, 0x87fffffff}));
    EXPECT_EQ(summary->crash_kernel[1].size_bytes(), kGiB);
}

TEST(Iomem, HiddenAddresses) {
    const auto summary = parse_iomem(kIomemHidden);
    ASSERT_TRUE(summary) << summary.error().message;
    EXPECT_TRUE(summary->addresses_hidden);
    EXPECT_EQ(summary->crash_kernel.size(), 1u);
    EXPECT_EQ(summary->system_ram_bytes, 0u);
}

TEST(Iomem, NoCrashKernel) {
    const auto summary = parse_iomem("00001000-0009ffff : System RAM\n");
    ASSERT_TRUE(summary);
    EXPECT_THAT(summary->crash_kernel, IsEmpty());
    const auto empty = parse_iomem("");
    ASSERT_TRUE(empty);
    EXPECT_FALSE(empty->addresses_hidden);
}

TEST(Iomem, NamesAreMatchedExactly) {
    const auto summary =
        parse_iomem("00100000-7fffffff : System RAM\n  10000000-1fffffff : Crash kernel low\n");
    ASSERT_TRUE(summary);
    EXPECT_THAT(summary->crash_kernel, IsEmpty());
}

TEST(Iomem, MalformedLinesAreErrors) {
    for (const auto* bad : {"garbage\n", "0000-zzzz : x\n", "2000-1000 : x\n",
                            "00001000 : System RAM\n", "00001000-00002000 System RAM\n"}) {
        const auto summary = parse_iomem(bad);
        ASSERT_FALSE(summary) << bad;
        EXPECT_THAT(summary.error().message, HasSubstr("line 1"));
    }
}

TEST(Meminfo, MemTotal) {
    EXPECT_EQ(parse_meminfo_total(kMeminfo).value(), 3735836ULL * 1024);
    EXPECT_FALSE(parse_meminfo_total("MemFree: 1 kB\n"));
    EXPECT_FALSE(parse_meminfo_total("MemTotal: 12 MB\n"));
    EXPECT_FALSE(parse_meminfo_total("MemTotal: lots kB\n"));
    EXPECT_FALSE(parse_meminfo_total("MemTotal: 99999999999999999999 kB\n"));
    EXPECT_FALSE(parse_meminfo_total(""));
}

// ---------------------------------------------------------------------------
// Reading a fake tree.

TEST_F(FakeTree, ReadsTheReservation) {
    write("/sys/kernel/kexec_crash_size", "268435456\n");
    write("/sys/kernel/kexec_crash_loaded", "1\n");
    write("/proc/iomem", kIomem);
    const auto reservation = read_reservation(paths_);
    ASSERT_TRUE(reservation) << reservation.error().message;
    EXPECT_EQ(reservation->size_bytes, 256 * kMiB);
    EXPECT_TRUE(reservation->loaded);
    EXPECT_THAT(reservation->ranges, ElementsAre(PhysicalMemoryRange{0xab000000, 0xbaffffff}));
    EXPECT_FALSE(reservation->addresses_hidden);
}

TEST_F(FakeTree, NoReservation) {
    write("/sys/kernel/kexec_crash_size", "0\n");
    write("/sys/kernel/kexec_crash_loaded", "0\n");
    write("/proc/iomem", "00001000-0009ffff : System RAM\n");
    const auto reservation = read_reservation(paths_);
    ASSERT_TRUE(reservation) << reservation.error().message;
    EXPECT_EQ(reservation->size_bytes, 0u);
    EXPECT_FALSE(reservation->loaded);
    EXPECT_THAT(reservation->ranges, IsEmpty());
    EXPECT_EQ(reservation->total_bytes(), 0u);
}

TEST_F(FakeTree, LowRangeCountsInTheTotal) {
    // kexec_crash_size is resource_size(&crashk_res): the high part only.
    write("/sys/kernel/kexec_crash_size", std::to_string(kGiB) + "\n");
    write("/sys/kernel/kexec_crash_loaded", "0\n");
    write("/proc/iomem", kIomemLowAndHigh);
    const auto reservation = read_reservation(paths_);
    ASSERT_TRUE(reservation) << reservation.error().message;
    EXPECT_EQ(reservation->size_bytes, kGiB);
    EXPECT_EQ(reservation->total_bytes(), kGiB + 256 * kMiB);
}

TEST_F(FakeTree, HiddenOrMissingIomemFallsBackToTheSysfsSize) {
    write("/sys/kernel/kexec_crash_size", "268435456\n");
    write("/sys/kernel/kexec_crash_loaded", "0\n");
    auto reservation = read_reservation(paths_);  // no /proc/iomem at all
    ASSERT_TRUE(reservation) << reservation.error().message;
    EXPECT_THAT(reservation->ranges, IsEmpty());
    EXPECT_EQ(reservation->total_bytes(), 256 * kMiB);

    write("/proc/iomem", kIomemHidden);
    reservation = read_reservation(paths_);
    ASSERT_TRUE(reservation) << reservation.error().message;
    EXPECT_TRUE(reservation->addresses_hidden);
    EXPECT_EQ(reservation->total_bytes(), 256 * kMiB);
}

TEST_F(FakeTree, KernelWithoutKexecIsAnError) {
    auto reservation = read_reservation(paths_);
    ASSERT_FALSE(reservation);
    EXPECT_EQ(reservation.error().errno_value, ENOENT);
    EXPECT_THAT(reservation.error().message, HasSubstr("cannot load a capture kernel"));
    EXPECT_THAT(reservation.error().message, HasSubstr("kexec_crash_size"));

    write("/sys/kernel/kexec_crash_size", "0\n");
    reservation = read_reservation(paths_);
    ASSERT_FALSE(reservation);
    EXPECT_THAT(reservation.error().message, HasSubstr("kexec_crash_loaded"));
}

TEST_F(FakeTree, GarbageIsAnError) {
    write("/sys/kernel/kexec_crash_size", "lots\n");
    write("/sys/kernel/kexec_crash_loaded", "0\n");
    auto reservation = read_reservation(paths_);
    ASSERT_FALSE(reservation);
    EXPECT_EQ(reservation.error().errno_value, EINVAL);

    write("/sys/kernel/kexec_crash_size", "0\n");
    write("/proc/iomem", "not iomem\n");
    reservation = read_reservation(paths_);
    ASSERT_FALSE(reservation);
    EXPECT_THAT(reservation.error().message, HasSubstr("/proc/iomem"));
}

TEST_F(FakeTree, MemoryTotal) {
    EXPECT_FALSE(read_memory_total(paths_));
    write("/proc/meminfo", kMeminfo);
    EXPECT_EQ(read_memory_total(paths_).value(), 3735836ULL * 1024);
}

TEST_F(FakeTree, KernelLoadSize) {
    const std::string path = root_.path() + "/boot/vmlinuz-6.1.0-18-amd64";
    // Debian 6.1's init_size (measured on linux-image-6.1.0-56-amd64).
    write("/boot/vmlinuz-6.1.0-18-amd64", fake_bzimage(0x3f98000));
    EXPECT_EQ(read_kernel_load_size(path).value(), 0x3f98000u);

    write("/boot/vmlinuz-old", fake_bzimage(0x3f98000, 0x0209));
    EXPECT_THAT(read_kernel_load_size(root_.path() + "/boot/vmlinuz-old").error().message,
                HasSubstr("2.9"));

    write("/boot/not-a-kernel", std::string(0x1000, 'x'));
    EXPECT_THAT(read_kernel_load_size(root_.path() + "/boot/not-a-kernel").error().message,
                HasSubstr("neither a bzImage nor an arm64 Image"));

    write("/boot/short", "MZ");
    EXPECT_THAT(read_kernel_load_size(root_.path() + "/boot/short").error().message,
                HasSubstr("too short"));

    EXPECT_EQ(read_kernel_load_size(root_.path() + "/boot/missing").error().errno_value, ENOENT);
}

// An arm64 Image header (Documentation/arch/arm64/booting.rst): code0 with
// the EFI stub's "MZ", image_size at 0x10, flags at 0x18, "ARM\x64" at 0x38.
std::string fake_arm64_image(uint64_t image_size, size_t file_bytes) {
    std::string image(file_bytes, '\0');
    image[0] = 'M';
    image[1] = 'Z';
    std::memcpy(image.data() + 0x10, &image_size, sizeof(image_size));
    const uint64_t flags = 0xa;  // little-endian, 4K pages, anywhere in memory
    std::memcpy(image.data() + 0x18, &flags, sizeof(flags));
    std::memcpy(image.data() + 0x38, "ARM\x64", 4);
    return image;
}

TEST_F(FakeTree, KernelLoadSizeOfAnArm64ImageIsItsImageSize) {
    // Debian 6.1.0-57-arm64's vmlinuz: a 32,956,352-byte Image whose
    // image_size (BSS included) is 0x2010000; a short file with the header
    // only must give the same answer.
    write("/boot/vmlinuz-6.1.0-57-arm64", fake_arm64_image(0x2010000, 0x1000));
    EXPECT_EQ(read_kernel_load_size(root_.path() + "/boot/vmlinuz-6.1.0-57-arm64").value(),
              0x2010000u);
    write("/boot/header-only", fake_arm64_image(0x2010000, 0x40));
    EXPECT_EQ(read_kernel_load_size(root_.path() + "/boot/header-only").value(), 0x2010000u);

    write("/boot/vmlinuz-3.16-arm64", fake_arm64_image(0, 0x1000));
    EXPECT_THAT(read_kernel_load_size(root_.path() + "/boot/vmlinuz-3.16-arm64").error().message,
                HasSubstr("without image_size"));
}

// ---------------------------------------------------------------------------
// The estimate.

TEST(Estimate, SaverMemoryIsAFewMiBWhateverTheMachine) {
    const uint64_t small = saver_memory_bytes(kGiB);
    const uint64_t large = saver_memory_bytes(64ULL * 1024 * kGiB);  // 64 TiB
    EXPECT_GE(small, 4 * kMiB);
    EXPECT_LE(small, 8 * kMiB);
    EXPECT_GE(large, small);
    EXPECT_LE(large, 12 * kMiB);
    // Bitmaps stop growing at one filter window (4 GiB of frames).
    const uint64_t window_bytes = kFilterWindowPages * 4096;
    const uint64_t at_window = saver_memory_bytes(window_bytes);
    const uint64_t twice = saver_memory_bytes(2 * window_bytes);
    EXPECT_EQ(twice - at_window, 8u * (window_bytes / (128 * kMiB)));  // section table only
    EXPECT_EQ(saver_memory_bytes(0), saver_memory_bytes(4095));
}

// The crashkernel= sweep (README, "In a real capture kernel"): a 1 GiB
// guest, a 5.6 MB gzip busybox initramfs holding 13.7 MiB of files.
constexpr uint64_t kBusyboxInitrd = 5'629'516;
constexpr uint64_t kBusyboxUnpacked = 14'409'728;  // measure_initrd(): 13.74 MiB
constexpr uint64_t kInitSize61 = 0x3f98000;        // Debian 6.1.0-56
constexpr uint64_t kInitSize612 = 0x37ee000;       // Debian 6.12.117

// The dracut sweep (kCaptureWorkingMarginBytes): 6.1.0-57 in a 1 GiB
// guest with the capture initrd crashcaptured built there.
constexpr uint64_t kDracutInitrd = 13'288'285;
constexpr uint64_t kDracutUnpacked = 39'429'588;

TEST(Estimate, TheDracutSweepFailuresAreCaughtAndItsSmallestWorkingSizeFits) {
    const auto need = capture_memory_need(kInitSize61, kDracutInitrd, kDracutUnpacked, kGiB);
    // 112M, 128M and 136M ran out of memory; 144M captured.
    for (const uint64_t failed : {112 * kMiB, 128 * kMiB, 136 * kMiB}) {
        EXPECT_THAT(check_reservation_fit(failed, need), HasSubstr("needs about 144M")) << failed;
    }
    EXPECT_EQ(check_reservation_fit(144 * kMiB, need), "");
    EXPECT_EQ(need.recommended_bytes, 144 * kMiB);
    // 144M captured in a 4 GiB guest too.
    const auto need4 = capture_memory_need(kInitSize61, kDracutInitrd, kDracutUnpacked, 4 * kGiB);
    EXPECT_EQ(check_reservation_fit(144 * kMiB, need4), "");
}

// The squashed sweep (kSquashedWorkingMarginBytes): the same guest, the
// initrd with dracut's squash loader (busybox) and image; and without
// busybox, whose loader is sh, kmod and mount.
constexpr uint64_t kSquashedInitrd = 16'399'360;
constexpr uint64_t kSquashedUnpacked = 16'400'384;  // lsinitrd's 16'390'229 in whole pages
constexpr uint64_t kSquashedNoBusyboxInitrd = 23'664'128;
constexpr uint64_t kSquashedNoBusyboxUnpacked = 23'666'688;

TEST(Estimate, TheSquashedSweepFailuresAreCaughtAndItsSmallestWorkingSizeFits) {
    const auto need =
        capture_memory_need(kInitSize61, kSquashedInitrd, kSquashedUnpacked, kGiB, true);
    EXPECT_EQ(need.margin_bytes, capture_working_margin_bytes(true));
#if !defined(__x86_64__)
    GTEST_SKIP() << "the squashed margin is swept on x86_64 only; here it is the cpio's";
#endif
    EXPECT_LT(capture_working_margin_bytes(true), capture_working_margin_bytes(false));
    // 104M ran out of memory unpacking; 112M saved, then ran out of memory
    // as the capture ended; 128M captured.
    for (const uint64_t failed : {104 * kMiB, 112 * kMiB}) {
        EXPECT_THAT(check_reservation_fit(failed, need), HasSubstr("needs about 128M")) << failed;
    }
    EXPECT_EQ(check_reservation_fit(128 * kMiB, need), "");
    EXPECT_EQ(need.recommended_bytes, 128 * kMiB);
    const auto no_busybox = capture_memory_need(kInitSize61, kSquashedNoBusyboxInitrd,
                                                kSquashedNoBusyboxUnpacked, kGiB, true);
    EXPECT_FALSE(check_reservation_fit(112 * kMiB, no_busybox).empty());
    EXPECT_EQ(check_reservation_fit(128 * kMiB, no_busybox), "");
    // The same files unpacked whole would be asked 16M more.
    EXPECT_EQ(
        capture_memory_need(kInitSize61, kDracutInitrd, kDracutUnpacked, kGiB).recommended_bytes -
            need.recommended_bytes,
        16 * kMiB);
}

TEST(Estimate, TheBusyboxSweepFailuresAreCaught) {
    // Its user space needs less than a dracut one: the margin errs large
    // there (a warning at 104M and 88M, which captured), never small.
    const auto need61 = capture_memory_need(kInitSize61, kBusyboxInitrd, kBusyboxUnpacked, kGiB);
    EXPECT_FALSE(check_reservation_fit(96 * kMiB, need61).empty());
    EXPECT_EQ(check_reservation_fit(128 * kMiB, need61), "");
    const auto need612 = capture_memory_need(kInitSize612, 5'649'152, 14'671'872, kGiB);
    EXPECT_FALSE(check_reservation_fit(80 * kMiB, need612).empty());
    EXPECT_EQ(check_reservation_fit(112 * kMiB, need612), "");
}

TEST(Estimate, NeededIsTheSumOfItsParts) {
    const auto need = capture_memory_need(64 * kMiB, 30 * kMiB, 90 * kMiB, kGiB);
    EXPECT_EQ(need.margin_bytes, capture_working_margin_bytes());
    EXPECT_EQ(need.needed_bytes, 64 * kMiB + 30 * kMiB + 90 * kMiB + need.margin_bytes);
    EXPECT_GE(need.recommended_bytes, need.needed_bytes);
    EXPECT_LT(need.recommended_bytes, need.needed_bytes + 16 * kMiB);
    EXPECT_EQ(estimate_reservation(64 * kMiB, 30 * kMiB, 90 * kMiB, kGiB), need.recommended_bytes);
}

TEST(Estimate, DebianDefaultInitrdDoesNotFitTheIssuesReservation) {
    // Issue 8: crashkernel=112M in a 1 GiB guest with a Debian initrd (a
    // 31 MB zstd initramfs-tools image, 127.5 MiB of files) loads fine and
    // then runs out of memory unpacking it.
    const auto need = capture_memory_need(kInitSize61, 31'162'754, 133'693'440, kGiB);
    const std::string warning = check_reservation_fit(112 * kMiB, need);
    EXPECT_THAT(warning, HasSubstr("crashkernel=112M is too small for this capture kernel and "
                                   "initrd (needs about 256M): set crashkernel=256M"));
}

TEST(Estimate, NothingReservedIsNotAFitWarning) {
    const auto need = capture_memory_need(kInitSize61, kBusyboxInitrd, kBusyboxUnpacked, kGiB);
    EXPECT_EQ(check_reservation_fit(0, need), "");
}

TEST(Estimate, DracutInitrdIsInKdumpUtilsRange) {
    // A 35 MB dracut + systemd initrd, about 3x unpacked, 16 GiB machine:
    // kdump-utils would reserve 256M (x86_64, 2G-64G).
    const uint64_t estimate = estimate_reservation(0x3f98000, 35'000'000, 105'000'000, 16 * kGiB);
    EXPECT_GE(estimate, 208 * kMiB);
    EXPECT_LE(estimate, 320 * kMiB);
}

TEST(Estimate, NeverBelowTheMeasuredFloor) {
    // 88M: the smallest reservation that ever captured (6.12).
    EXPECT_EQ(estimate_reservation(0, 0, 0, 0), 88 * kMiB);
    EXPECT_EQ(estimate_reservation(1, 1, 1, 1), 88 * kMiB);
}

TEST(Estimate, RoundedUpTo16MiB) {
    for (uint64_t kernel = 64 * kMiB; kernel < 256 * kMiB; kernel += 7 * kMiB + 12345) {
        const uint64_t estimate = estimate_reservation(kernel, 30 * kMiB, 90 * kMiB, 8 * kGiB);
        EXPECT_EQ(estimate % (16 * kMiB), 0u) << kernel;
    }
}

TEST(Estimate, GrowsWithEveryInput) {
    const uint64_t base = estimate_reservation(64 * kMiB, 30 * kMiB, 90 * kMiB, 8 * kGiB);
    EXPECT_GT(estimate_reservation(128 * kMiB, 30 * kMiB, 90 * kMiB, 8 * kGiB), base);
    EXPECT_GT(estimate_reservation(64 * kMiB, 90 * kMiB, 90 * kMiB, 8 * kGiB), base);
    EXPECT_GT(estimate_reservation(64 * kMiB, 30 * kMiB, 150 * kMiB, 8 * kGiB), base);
    // Memory barely matters: the saver works window by window.
    EXPECT_LE(estimate_reservation(64 * kMiB, 30 * kMiB, 90 * kMiB, 4096 * kGiB), base + 16 * kMiB);
}

TEST(Estimate, CoversItsOwnParts) {
    const uint64_t kernel = 64 * kMiB, initrd = 30 * kMiB, unpacked = 90 * kMiB;
    const uint64_t estimate = estimate_reservation(kernel, initrd, unpacked, 8 * kGiB);
    EXPECT_GE(estimate, kernel + initrd + unpacked + capture_working_margin_bytes());
}

TEST(Estimate, SaturatesInsteadOfOverflowing) {
    const uint64_t estimate = estimate_reservation(UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX);
    EXPECT_GE(estimate, UINT64_MAX - 16 * kMiB);
}

// ---------------------------------------------------------------------------
// Words for the admin.

TEST(Explain, CrashkernelSizes) {
    EXPECT_EQ(format_crashkernel_size(144 * kMiB), "144M");
    EXPECT_EQ(format_crashkernel_size(144 * kMiB - 1), "144M");
    EXPECT_EQ(format_crashkernel_size(144 * kMiB + 1), "145M");
    EXPECT_EQ(format_crashkernel_size(kGiB), "1G");
    EXPECT_EQ(format_crashkernel_size(1536 * kMiB), "1536M");
    EXPECT_EQ(format_crashkernel_size(0), "0M");
}

TEST(Explain, MissingReservation) {
    const std::string text = explain_missing_reservation(256 * kMiB);
    EXPECT_THAT(text, HasSubstr("No memory is reserved for the capture kernel"));
    EXPECT_THAT(text, HasSubstr("add crashkernel=256M to the kernel command line"));
    EXPECT_THAT(text, HasSubstr("/etc/default/grub"));
    EXPECT_THAT(text, HasSubstr("then reboot."));
    // Nothing below what was ever seen to work.
    EXPECT_THAT(explain_missing_reservation(0), HasSubstr("crashkernel=88M"));
}

TEST(Explain, InsufficientReservation) {
    const std::string text = explain_insufficient_reservation(64 * kMiB, 144 * kMiB);
    EXPECT_THAT(text, HasSubstr("crashkernel=64M is too small for this capture kernel and "
                                "initrd (needs about 144M): set crashkernel=144M"));
    EXPECT_THAT(text, HasSubstr("reboot"));
}

// crashcapturectl setup writes only an estimate that measured the initrd to
// be loaded (issue 23: 96M without it lost the first crash).
TEST(ReservationOffer, RefusesAnEstimateWithoutTheInitrd) {
    const auto need = capture_memory_need(59 * kMiB, 0, 0, kGiB);
    const auto explanation = explain_capture_need(need, {.kernel = "/boot/vmlinuz-6.1.0-57-amd64",
                                                         .kernel_bytes_from_init_size = true,
                                                         .initrd = "",
                                                         .memory_bytes = kGiB});
    const auto offer = reservation_offer(need.recommended_bytes, explanation);
    ASSERT_FALSE(offer);
    EXPECT_THAT(offer.error().message, HasSubstr("leaves the capture initrd out"));
}

TEST(ReservationOffer, RestsOnTheMeasuredInitrd) {
    // The Debian-installer guest of issue 23: a 14.6 MiB gzip dracut initrd.
    const uint64_t initrd = 14 * kMiB + 600 * 1024;
    const auto need = capture_memory_need(59 * kMiB, initrd, 40 * kMiB, kGiB);
    auto explanation =
        explain_capture_need(need, {.kernel = "/boot/vmlinuz-6.1.0-57-amd64",
                                    .kernel_bytes_from_init_size = true,
                                    .initrd = "/var/lib/crashcapture/initrd-6.1.0-57-amd64.img",
                                    .memory_bytes = kGiB});
    const auto offer = reservation_offer(need.recommended_bytes, explanation);
    ASSERT_TRUE(offer) << offer.error().message;
    EXPECT_EQ(offer->bytes, need.recommended_bytes);
    // More than the initrd-less estimate, and more than 128M, which ran
    // out of memory with this initrd.
    EXPECT_GT(offer->bytes, capture_memory_need(59 * kMiB, 0, 0, kGiB).recommended_bytes);
    EXPECT_GT(offer->bytes, 128 * kMiB);
    EXPECT_THAT(offer->based_on, HasSubstr("/var/lib/crashcapture/initrd-6.1.0-57-amd64.img"));
    EXPECT_THAT(offer->based_on, HasSubstr("14.6 MiB"));
    EXPECT_THAT(offer->based_on, HasSubstr("40.0 MiB unpacked"));
    EXPECT_THAT(offer->based_on, HasSubstr("init_size 59.0 MiB"));

    explanation["initrd_unpacked_bytes"] = 0;  // unreadable, not measured
    EXPECT_FALSE(reservation_offer(need.recommended_bytes, explanation));
}

// SetReservation (D-Bus): 0 takes the offer, rounded up to whole MiB.
TEST(ReservationToSet, ZeroTakesTheOfferRoundedUpToWholeMebibytes) {
    const auto need = capture_memory_need(59 * kMiB, 15 * kMiB, 40 * kMiB, 4 * kGiB);
    const auto explanation =
        explain_capture_need(need, {.kernel = "/boot/vmlinuz-6.1.0-57-amd64",
                                    .kernel_bytes_from_init_size = true,
                                    .initrd = "/var/lib/crashcapture/initrd-6.1.0-57-amd64.img",
                                    .memory_bytes = 4 * kGiB});
    const auto mib = reservation_mib_to_set(0, 200 * kMiB + 1, explanation);
    ASSERT_TRUE(mib) << mib.error().message;
    EXPECT_EQ(*mib, 201u);
    // A size asked for is taken as it is, within the bounds.
    EXPECT_EQ(reservation_mib_to_set(320, 200 * kMiB, explanation).value(), 320u);
}

TEST(ReservationToSet, RefusesWhatCannotWork) {
    const auto need = capture_memory_need(59 * kMiB, 0, 0, kGiB);
    const auto no_initrd = explain_capture_need(need, {.kernel = "/boot/vmlinuz-6.1.0-57-amd64",
                                                       .kernel_bytes_from_init_size = true,
                                                       .initrd = "",
                                                       .memory_bytes = kGiB});
    // No measured initrd: no offer, and the reason says so.
    const auto unmeasured = reservation_mib_to_set(0, need.recommended_bytes, no_initrd);
    ASSERT_FALSE(unmeasured);
    EXPECT_THAT(unmeasured.error().message, HasSubstr("leaves the capture initrd out"));
    // Too small for any capture kernel.
    const auto tiny = reservation_mib_to_set(16, 0, no_initrd);
    ASSERT_FALSE(tiny);
    EXPECT_EQ(tiny.error().errno_value, EINVAL);
    EXPECT_THAT(tiny.error().message, HasSubstr("too small"));
    // More than half of the 1 GiB machine.
    const auto greedy = reservation_mib_to_set(513, 0, no_initrd);
    ASSERT_FALSE(greedy);
    EXPECT_THAT(greedy.error().message, HasSubstr("half of this machine's 1024 MiB"));
    EXPECT_TRUE(reservation_mib_to_set(512, 0, no_initrd));
}

TEST(ReservationToSet, TheCommandEndsWithSetupApply) {
    EXPECT_EQ(
        reservation_setup_command({"systemd-run", "--wait", "--", "/usr/bin/crashcapturectl"}, 256),
        (std::vector<std::string>{"systemd-run", "--wait", "--", "/usr/bin/crashcapturectl",
                                  "setup", "--apply", "--json", "--size", "256"}));
}
