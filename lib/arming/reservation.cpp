#include "reservation.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <limits>

#include "dump-writer.hpp"
#include "file-util.hpp"
#include "meminfo.hpp"
#include "page-filter.hpp"
#include "text.hpp"
#include "unique-fd.hpp"

namespace crashcapture {
namespace {

constexpr uint64_t kMiB = 1024 * 1024;
constexpr uint64_t kGiB = 1024 * kMiB;
constexpr uint64_t kPageSize = 4096;  // x86_64

uint64_t saturating_add(uint64_t a, uint64_t b) {
    return a > std::numeric_limits<uint64_t>::max() - b ? std::numeric_limits<uint64_t>::max()
                                                        : a + b;
}

uint64_t round_up(uint64_t value, uint64_t unit) {
    const uint64_t remainder = value % unit;
    return remainder == 0 ? value : saturating_add(value, unit - remainder);
}

Result<uint64_t> read_number_file(const std::string& path) {
    auto text = read_kernel_file(path);
    if (!text) {
        return tl::unexpected(text.error());
    }
    const auto value = parse_integer<uint64_t>(trim(*text));
    if (!value) {
        return make_error(EINVAL, "{}: '{}' is not a number", path, trim(*text));
    }
    return *value;
}

template <typename T>
T load_le(const std::array<unsigned char, 0x264>& header, size_t offset) {
    T value = 0;
    for (size_t i = 0; i < sizeof(T); ++i) {
        value |= static_cast<T>(static_cast<T>(header[offset + i]) << (8 * i));
    }
    return value;
}

}  // namespace

uint64_t Reservation::total_bytes() const {
    if (ranges.empty() || addresses_hidden) {
        return size_bytes;
    }
    uint64_t total = 0;
    for (const auto& range : ranges) {
        total = saturating_add(total, range.size_bytes());
    }
    return total;
}

Result<IomemSummary> parse_iomem(std::string_view text) {
    IomemSummary summary;
    bool any_address = false;
    bool any_line = false;
    unsigned line_number = 0;
    while (!text.empty()) {
        const size_t newline = text.find('\n');
        std::string_view line = text.substr(0, newline);
        text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
        ++line_number;
        if (trim(line).empty()) {
            continue;
        }
        // r_show(): "%*s%0*llx-%0*llx : %s\n", depth * 2 spaces of indent.
        const size_t indent = line.find_first_not_of(' ');
        line.remove_prefix(indent);
        const size_t dash = line.find('-');
        const size_t separator = line.find(" : ");
        if (dash == std::string_view::npos || separator == std::string_view::npos ||
            dash > separator) {
            return make_error(EINVAL, "/proc/iomem line {}: '{}' is not 'start-end : name'",
                              line_number, line);
        }
        const auto start = parse_integer<uint64_t>(line.substr(0, dash), 16);
        const auto end = parse_integer<uint64_t>(line.substr(dash + 1, separator - dash - 1), 16);
        if (!start || !end || *start > *end) {
            return make_error(EINVAL, "/proc/iomem line {}: '{}' is not a range", line_number,
                              line);
        }
        const auto name = line.substr(separator + 3);
        any_line = true;
        any_address = any_address || *end != 0;
        const PhysicalMemoryRange range{*start, *end};
        if (name == "Crash kernel") {
            summary.crash_kernel.push_back(range);
        } else if (name == "System RAM" && indent == 0) {
            summary.system_ram_bytes = saturating_add(summary.system_ram_bytes, range.size_bytes());
        }
    }
    summary.addresses_hidden = any_line && !any_address;
    if (summary.addresses_hidden) {
        summary.system_ram_bytes = 0;  // every range read as 0-0: one byte each, meaningless
    }
    std::sort(summary.crash_kernel.begin(), summary.crash_kernel.end(),
              [](const auto& a, const auto& b) { return a.start < b.start; });
    return summary;
}

Result<uint64_t> parse_meminfo_total(std::string_view text) {
    return parse_meminfo_bytes(text, "MemTotal");
}

Result<Reservation> read_reservation(const SystemPaths& paths) {
    Reservation reservation;
    auto size = read_number_file(paths.sys + "/kernel/kexec_crash_size");
    if (!size) {
        return propagate(size.error(), "this kernel cannot load a capture kernel");
    }
    reservation.size_bytes = *size;
    auto loaded = read_number_file(paths.sys + "/kernel/kexec_crash_loaded");
    if (!loaded) {
        return propagate(loaded.error(), "this kernel cannot load a capture kernel");
    }
    reservation.loaded = *loaded != 0;

    auto iomem = read_kernel_file(paths.proc + "/iomem");
    if (!iomem) {
        if (iomem.error().errno_value == ENOENT) {
            return reservation;
        }
        return tl::unexpected(iomem.error());
    }
    auto summary = parse_iomem(*iomem);
    if (!summary) {
        return tl::unexpected(summary.error());
    }
    reservation.ranges = std::move(summary->crash_kernel);
    reservation.addresses_hidden = summary->addresses_hidden;
    return reservation;
}

Result<uint64_t> read_memory_total(const SystemPaths& paths) {
    auto text = read_kernel_file(paths.proc + "/meminfo");
    if (!text) {
        return tl::unexpected(text.error());
    }
    return parse_meminfo_total(*text);
}

Result<uint64_t> read_kernel_load_size(const std::string& path) {
    // Documentation/arch/x86/boot.rst, "The Real-Mode Kernel Header":
    // boot_flag 0xAA55 at 0x1FE, header "HdrS" at 0x202, version at 0x206,
    // init_size at 0x260 (protocol 2.10 and later).
    // Documentation/arch/arm64/booting.rst, "Call the kernel image": the
    // 64-byte arm64 Image header, image_size at 0x10 (the effective size,
    // BSS included; 0 before Linux 3.17), magic "ARM\x64" at 0x38.
    constexpr size_t kArm64HeaderBytes = 0x40;
    std::array<unsigned char, 0x264> header{};
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
    if (!fd) {
        return make_errno_error(errno, "cannot open {}", path);
    }
    size_t done = 0;
    while (done < header.size()) {
        const ssize_t n =
            ::pread(fd.get(), header.data() + done, header.size() - done, static_cast<off_t>(done));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return make_errno_error(errno, "cannot read {}", path);
        }
        if (n == 0) {
            break;
        }
        done += static_cast<size_t>(n);
    }
    if (done >= kArm64HeaderBytes && load_le<uint32_t>(header, 0x38) == 0x644d5241) {  // "ARM\x64"
        const auto image_size = load_le<uint64_t>(header, 0x10);
        if (image_size == 0) {
            return make_error(EINVAL, "{} is an arm64 Image without image_size (before Linux 3.17)",
                              path);
        }
        return image_size;
    }
    if (done < header.size()) {
        return make_error(EINVAL, "{} is too short for a bzImage or an arm64 Image", path);
    }
    if (load_le<uint16_t>(header, 0x1fe) != 0xaa55 ||
        load_le<uint32_t>(header, 0x202) != 0x53726448) {  // "HdrS"
        return make_error(EINVAL, "{} is neither a bzImage nor an arm64 Image (no boot header)",
                          path);
    }
    const auto version = load_le<uint16_t>(header, 0x206);
    if (version < 0x020a) {
        return make_error(EINVAL, "{} uses boot protocol {}.{}, before init_size (2.10)", path,
                          version >> 8, version & 0xff);
    }
    return uint64_t{load_le<uint32_t>(header, 0x260)};
}

// ---------------------------------------------------------------------------
// What a capture needs (issue 8).
//
// While the capture kernel unpacks its initrd, the reservation holds at once:
//   1. the kernel, at its load size (init_size: kexec_file_load() reserves
//      that much for it, arch/x86/kernel/kexec-bzimage64.c);
//   2. the initrd archive, which kexec_file_load() copied into the
//      reservation and the kernel frees only once it is unpacked
//      (init/initramfs.c do_populate_rootfs());
//   3. the unpacked initrd in rootfs (tmpfs), for the capture's whole life
//      (measure_initrd(), initrd-size.hpp);
//   4. everything else: the capture kernel's own allocations (its struct
//      pages, slab, page tables, drivers), user space and our saver. That is
//      kCaptureWorkingMarginBytes, measured, not derived (below).
// A reservation below 1 + 2 + 3 + 4 does not capture: the Debian
// guest with crashkernel=112M and a dracut initrd ran out of memory
// unpacking it. Above, it may still fail on hardware whose drivers need
// more than the guests measured (kdump-utils adds 150 MiB on aarch64 for
// mlx5 alone, kdump-lib.sh), which no formula here can know.

namespace {

// Term 4, the one number to update when a new sweep is measured.
//
// From the product's own capture initrd (tests/e2e/test-systemd-guest.sh
// --crash SIZE --no-driver-update; README, "The capture initrd"): a 1 GiB
// Debian 12 guest, Linux 6.1.0-57 (init_size 63.6 MiB), the dracut +
// systemd initrd crashcaptured built in the guest (12.7 MiB zstd, 37.6 MiB
// of files), so 1 + 2 + 3 = 113.9 MiB:
//   112M, 128M and 136M: the capture kernel ran out of memory ("System is
//   deadlocked on memory") two seconds after it started;
//   144M: captured, and so it did in a 4 GiB guest, whose saver needs
//   0.4 MiB more (saver_memory_bytes()).
// So the margin is in (22.1, 29.7] MiB; 29 MiB sits at the top, where a
// reservation that fits by this count captured.
// The earlier busybox sweep (tests/e2e/run-matrix.sh --sweep, a 5.6 MB
// initramfs with no systemd, udevd or journald) needed less: (13.2, 21.2]
// MiB on 6.1, (4.7, 12.7] on 6.12. For such a user space this margin errs
// large by about 10 MiB (a warning at 104M, which captured); crashcaptured
// only ever loads dracut initrds, which is what it is set for.
constexpr uint64_t kCaptureWorkingMarginBytes = 29 * kMiB;

// The same for the initrd crashcapture-build-initrd makes by default since
// issue 17: dracut's squash loader (busybox, loop, squashfs, overlay) and a
// zstd squashfs image of the same files. The kernel keeps the image and
// reads the files through the page cache; the loader is freed at its
// switch_root. Swept the same way (6.1.0-57, 1 GiB, 2026-12-07):
//   loader of busybox: 15.6 MiB archive, unpacked the same, so
//   1 + 2 + 3 = 94.9 MiB; 104M ran out of memory unpacking it; 112M saved
//   the dump, then ran out of memory as the capture ended (a capture that
//   panics is not one to offer); 128M captured;
//   loader of sh, kmod and mount (no busybox): 22.6 MiB, so 108.7 MiB;
//   112M ran out of memory unpacking; 128M captured.
// So the margin is in (17.1, 19.3] MiB: 19 MiB. Smaller than the unpacked
// initrd's because the files the capture runs are counted once, as page
// cache the kernel can reclaim, not as tmpfs plus the processes' pages.
// Swept on x86_64 only: elsewhere (arm64) a squashed initrd keeps the
// unpacked one's margin, which errs large, until it is swept there too.
#if defined(__x86_64__)
constexpr uint64_t kSquashedWorkingMarginBytes = 19 * kMiB;
#else
constexpr uint64_t kSquashedWorkingMarginBytes = kCaptureWorkingMarginBytes;
#endif

// The sweep's guest had 1 GiB; the saver's bitmaps grow with the memory it
// dumps (up to one page filter window), so a larger machine adds the
// difference.
constexpr uint64_t kCalibrationMemoryBytes = 1 * kGiB;

// The smallest reservation that ever captured anything here (6.12, above);
// a recommendation below it is wrong whatever the inputs say.
constexpr uint64_t kMeasuredFloorBytes = 88 * kMiB;

// crashkernel= sizes are written in round numbers, and the x86_64
// reservation starts on a 16 MiB boundary anyway (CRASH_ALIGN).
constexpr uint64_t kRoundingBytes = 16 * kMiB;

// Saver terms (saver_memory_bytes()).
// Two bitmaps (present, dumpable) per window of frames, and two windows
// alive: the writer's and the page filter's cached one (page-selection.hpp,
// page-filter.hpp). A window covers kFilterWindowPages frames at most.
constexpr uint64_t kBitmapsPerWindow = 2;
constexpr uint64_t kWindowsAlive = 2;
// The page filter keeps one mem_map address (8 bytes) per memory section;
// x86_64 sections are 128 MiB (SECTION_SIZE_BITS 27,
// arch/x86/include/asm/sparsemem.h).
constexpr uint64_t kSectionBytes = 128 * kMiB;
constexpr uint64_t kBytesPerSection = 8;
// The kdump writer's batch buffers: read, compressed slots and output data
// (kdump-writer.cpp), each WriteOptions::batch_pages pages per compressing
// thread; saver_memory_bytes() counts one thread, capture_cpu_cost_bytes()
// each further one.
constexpr uint64_t kBatchBuffers = 3;
// A compressor: ZSTD_estimateCCtxSize(1) is 0.56 MiB with Debian 12's
// libzstd 1.5.4; zlib's deflate state at the default windowBits and
// memLevel is 256 KiB plus a few KiB (zconf.h). 1 MiB covers either.
constexpr uint64_t kCompressorBytes = 1 * kMiB;
// The rest of the process: heap of libc and libelf, the vmcore's program
// headers and notes, the page filter's struct page batches (512 x 64 bytes),
// stacks. Code pages are the initrd's files.
constexpr uint64_t kSaverProcessBytes = 2 * kMiB;

// What the capture kernel itself spends on one more CPU. Measured
// (bench/run-capture-cpus.sh m4096-c1 m4096-c2: Debian's 6.1.0-57 as the
// capture kernel in crashkernel=256M, nr_cpus=1 against nr_cpus=2):
//   * MemTotal at /init is 248 KiB lower with two CPUs: the second CPU's
//     per-CPU area, "percpu: Embedded 62 pages/cpu" in its log
//     (mm/percpu.c pcpu_embed_first_chunk() returns the rest of each unit);
//   * the rest is allocated after boot and is below what MemAvailable at the
//     saver's start resolves (it differed by -1.5 MiB, noise from the page
//     cache): the idle, IRQ and exception stacks and five per-CPU threads
//     (cpuhp, migration, ksoftirqd, two kworkers: a 16 KiB stack and a
//     ~10 KiB task_struct each), about 0.25 MiB, and per-CPU slab and
//     page-allocator (pcp) lists, which hold a few hundred KiB at most.
// 1 MiB covers the three with room; the saver's thread is counted apart.
constexpr uint64_t kCaptureKernelPerCpuBytes = 1 * kMiB;

}  // namespace

uint64_t capture_cpu_cost_bytes() {
    // The saver's share: one more compressing thread, with its compressor
    // and batch buffers (kdump-writer.cpp sizes both per thread).
    const uint64_t saver_thread =
        kBatchBuffers * WriteOptions{}.batch_pages * kPageSize + kCompressorBytes;
    return kCaptureKernelPerCpuBytes + saver_thread;
}

CaptureMemoryNeed with_capture_cpus(CaptureMemoryNeed need, uint64_t extra_cpu_bytes) {
    need.cpu_bytes = extra_cpu_bytes;
    need.needed_bytes = saturating_add(need.needed_bytes, extra_cpu_bytes);
    need.recommended_bytes =
        std::max(round_up(need.needed_bytes, kRoundingBytes), kMeasuredFloorBytes);
    return need;
}

uint64_t saver_memory_bytes(uint64_t memory_total_bytes) {
    const uint64_t frames = memory_total_bytes / kPageSize;
    const uint64_t window_frames = round_up(std::min(frames, kFilterWindowPages), 8);
    const uint64_t bitmaps = window_frames / 8 * kBitmapsPerWindow * kWindowsAlive;
    const uint64_t sections =
        (memory_total_bytes / kSectionBytes + 1) * kBytesPerSection;  // + 1: a partial one
    const uint64_t batches = kBatchBuffers * WriteOptions{}.batch_pages * kPageSize;
    return saturating_add(saturating_add(bitmaps, sections),
                          batches + kCompressorBytes + kSaverProcessBytes);
}

uint64_t capture_working_margin_bytes(bool squashed_initrd) {
    return squashed_initrd ? kSquashedWorkingMarginBytes : kCaptureWorkingMarginBytes;
}

CaptureMemoryNeed capture_memory_need(uint64_t kernel_image_bytes, uint64_t initrd_bytes,
                                      uint64_t initrd_unpacked_bytes, uint64_t memory_total_bytes,
                                      bool squashed_initrd) {
    CaptureMemoryNeed need;
    need.kernel_bytes = kernel_image_bytes;
    need.initrd_bytes = initrd_bytes;
    need.initrd_unpacked_bytes = initrd_unpacked_bytes;
    const uint64_t saver_now = saver_memory_bytes(memory_total_bytes);
    const uint64_t saver_measured = saver_memory_bytes(kCalibrationMemoryBytes);
    need.margin_bytes = capture_working_margin_bytes(squashed_initrd) +
                        (saver_now > saver_measured ? saver_now - saver_measured : 0);
    uint64_t needed = kernel_image_bytes;
    needed = saturating_add(needed, initrd_bytes);
    needed = saturating_add(needed, initrd_unpacked_bytes);
    needed = saturating_add(needed, need.margin_bytes);
    need.needed_bytes = needed;
    need.recommended_bytes = std::max(round_up(needed, kRoundingBytes), kMeasuredFloorBytes);
    return need;
}

uint64_t estimate_reservation(uint64_t kernel_image_bytes, uint64_t initrd_bytes,
                              uint64_t initrd_unpacked_bytes, uint64_t memory_total_bytes) {
    return capture_memory_need(kernel_image_bytes, initrd_bytes, initrd_unpacked_bytes,
                               memory_total_bytes)
        .recommended_bytes;
}

std::string format_crashkernel_size(uint64_t bytes) {
    const uint64_t mib = round_up(bytes, kMiB) / kMiB;
    if (mib != 0 && mib % 1024 == 0) {
        return fmt::format("{}G", mib / 1024);
    }
    return fmt::format("{}M", mib);
}

std::string explain_missing_reservation(uint64_t recommended_bytes) {
    const std::string size =
        format_crashkernel_size(std::max(recommended_bytes, kMeasuredFloorBytes));
    return fmt::format(
        "No memory is reserved for the capture kernel, so a kernel crash cannot be saved: add "
        "crashkernel={} to the kernel command line (crashcapturectl setup --apply does it: "
        "with GRUB, to GRUB_CMDLINE_LINUX in /etc/default/grub.d/crashcapture.cfg, then "
        "update-grub, or with grubby; with systemd-boot: to /etc/kernel/cmdline, then reinstall "
        "the kernel with kernel-install), then reboot.",
        size);
}

std::string explain_insufficient_reservation(uint64_t reserved_bytes, uint64_t recommended_bytes) {
    const std::string recommended = format_crashkernel_size(recommended_bytes);
    return fmt::format(
        "crashkernel={} is too small for this capture kernel and initrd (needs about {}): set "
        "crashkernel={} on the kernel command line, then reboot; until then a crash is likely "
        "lost (the capture kernel runs out of memory)",
        format_crashkernel_size(reserved_bytes), recommended, recommended);
}

std::string check_reservation_fit(uint64_t reserved_bytes, const CaptureMemoryNeed& need) {
    if (reserved_bytes == 0 || reserved_bytes >= need.needed_bytes) {
        return {};
    }
    return explain_insufficient_reservation(reserved_bytes, need.recommended_bytes);
}

namespace {

std::string mebibytes(uint64_t bytes) {
    return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / static_cast<double>(kMiB));
}

}  // namespace

nlohmann::json explain_capture_need(const CaptureMemoryNeed& need,
                                    const CaptureNeedSources& sources) {
    return nlohmann::json{
        {"kernel", sources.kernel},
        {"kernel_bytes", need.kernel_bytes},
        {"kernel_bytes_from", sources.kernel_bytes_from_init_size ? "init_size" : "file size"},
        {"initrd", sources.initrd},
        {"initrd_bytes", need.initrd_bytes},
        {"initrd_unpacked_bytes", need.initrd_unpacked_bytes},
        {"margin_bytes", need.margin_bytes},
        {"cpu_bytes", need.cpu_bytes},
        {"memory_bytes", sources.memory_bytes},
        {"needed_bytes", need.needed_bytes},
        {"recommended_bytes", need.recommended_bytes},
    };
}

Result<ReservationOffer> reservation_offer(uint64_t recommended_bytes,
                                           const nlohmann::json& explanation) {
    const auto number = [&](const char* key) -> uint64_t {
        const auto it = explanation.find(key);
        return it != explanation.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
    };
    const auto text = [&](const char* key) -> std::string {
        const auto it = explanation.find(key);
        return it != explanation.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    const uint64_t initrd_bytes = number("initrd_bytes");
    const uint64_t unpacked_bytes = number("initrd_unpacked_bytes");
    if (initrd_bytes == 0 || unpacked_bytes == 0) {
        const std::string why = text("note");
        return make_error(ENOENT,
                          "the estimate leaves the capture initrd out ({}), so it would be too "
                          "small: crashcaptured builds the initrd first, then it can be measured",
                          why.empty() ? "no initrd measured" : why);
    }
    const uint64_t kernel_bytes = number("kernel_bytes");
    if (kernel_bytes == 0) {
        return make_error(ENOENT, "the estimate has no capture kernel size ({})",
                          text("kernel").empty() ? "no kernel" : text("kernel"));
    }
    ReservationOffer offer;
    offer.bytes = recommended_bytes;
    offer.based_on = fmt::format(
        "kernel {} ({} {}) + capture initrd {} ({}, {} unpacked) + working margin {}{}",
        text("kernel"), text("kernel_bytes_from"), mebibytes(kernel_bytes), text("initrd"),
        mebibytes(initrd_bytes), mebibytes(unpacked_bytes), mebibytes(number("margin_bytes")),
        recommended_bytes > number("needed_bytes") ? ", rounded up" : "");
    return offer;
}

Result<uint64_t> reservation_mib_to_set(uint64_t requested_mib, uint64_t offered_bytes,
                                        const nlohmann::json& explanation) {
    uint64_t mib = requested_mib;
    if (mib == 0) {
        auto offer = reservation_offer(offered_bytes, explanation);
        if (!offer) {
            return make_error(offer.error().errno_value, "cannot choose a crashkernel= size: {}",
                              offer.error().message);
        }
        constexpr uint64_t kMebibyte = 1ULL << 20;
        mib = (offer->bytes + kMebibyte - 1) / kMebibyte;
    }
    if (mib < kSmallestReservationMib) {
        return make_error(EINVAL,
                          "crashkernel={}M is too small for any capture kernel (at least {}M)", mib,
                          kSmallestReservationMib);
    }
    const auto memory = explanation.find("memory_bytes");
    if (memory != explanation.end() && memory->is_number_unsigned()) {
        const uint64_t memory_mib = memory->get<uint64_t>() >> 20;
        if (memory_mib != 0 && mib > memory_mib / 2) {
            return make_error(EINVAL,
                              "crashkernel={}M would take more than half of this machine's {} MiB "
                              "of memory",
                              mib, memory_mib);
        }
    }
    return mib;
}

std::vector<std::string> reservation_setup_command(std::vector<std::string> runner,
                                                   uint64_t size_mib) {
    for (const char* word : {"setup", "--apply", "--json", "--size"}) {
        runner.emplace_back(word);
    }
    runner.push_back(std::to_string(size_mib));
    return runner;
}

}  // namespace crashcapture
