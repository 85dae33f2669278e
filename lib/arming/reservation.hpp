// The memory reserved for the capture kernel (crashkernel=), what is loaded
// into it, and how much a capture needs (ARCHITECTURE.md, "The flow", step 2).
//
// Sources, all read through SystemPaths:
//   /sys/kernel/kexec_crash_size    bytes of the main reservation (kernel/ksysfs.c;
//                                   resource_size(&crashk_res) — not the ",low" part)
//   /sys/kernel/kexec_crash_loaded  "1" when a capture kernel is loaded
//   /proc/iomem                     "Crash kernel" ranges (crashk_res and, with
//                                   crashkernel=…,high, crashk_low_res), nested
//                                   under "System RAM"
//   /proc/meminfo                   MemTotal
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "result.hpp"
#include "system-paths.hpp"

namespace crashcapture {

struct PhysicalMemoryRange {
    uint64_t start = 0;
    uint64_t end = 0;  // inclusive, as /proc/iomem prints it

    uint64_t size_bytes() const { return end - start + 1; }
    bool operator==(const PhysicalMemoryRange&) const = default;
};

struct Reservation {
    uint64_t size_bytes = 0;  // /sys/kernel/kexec_crash_size; 0 = no crashkernel=
    // Every "Crash kernel" range in /proc/iomem, in address order: one, or a
    // low and a high one. Empty if /proc/iomem is missing.
    std::vector<PhysicalMemoryRange> ranges;
    // /proc/iomem shows 0-0 for every range to readers without
    // CAP_SYS_ADMIN (kernel/resource.c r_show()): the ranges exist but their
    // addresses are unknown.
    bool addresses_hidden = false;
    bool loaded = false;  // /sys/kernel/kexec_crash_loaded

    // All ranges together (the low range included), or size_bytes when the
    // ranges are unknown.
    uint64_t total_bytes() const;
};

struct IomemSummary {
    std::vector<PhysicalMemoryRange> crash_kernel;  // "Crash kernel", any depth
    uint64_t system_ram_bytes = 0;                  // top-level "System RAM" ranges
    bool addresses_hidden = false;
};

// Parses /proc/iomem: "%0*llx-%0*llx : name", two spaces of indentation per
// nesting level (r_show()). Malformed lines are an error: the file is the
// kernel's, so a line we cannot read means we read the wrong file.
Result<IomemSummary> parse_iomem(std::string_view text);

// MemTotal from /proc/meminfo ("MemTotal:  8024812 kB", kB = 1024 bytes,
// fs/proc/meminfo.c), in bytes.
Result<uint64_t> parse_meminfo_total(std::string_view text);

// /sys/kernel/kexec_crash_size and kexec_crash_loaded (both required: a
// kernel without them cannot load a capture kernel), and /proc/iomem
// (optional: missing = no ranges).
Result<Reservation> read_reservation(const SystemPaths& paths);

Result<uint64_t> read_memory_total(const SystemPaths& paths);

// Memory a bzImage occupies while it boots: the setup header's init_size
// (Documentation/arch/x86/boot.rst, offset 0x260, protocol 2.10+), which
// kexec_file_load() reserves for the kernel in the crash region
// (arch/x86/kernel/kexec-bzimage64.c: kbuf.memsz = PAGE_ALIGN(init_size)).
// Debian's 6.1 kernel: an 8 MB file, init_size 64 MiB. For an arm64 Image
// (Debian's arm64 vmlinuz, an uncompressed Image with the EFI stub), its
// header's image_size, BSS included (Documentation/arch/arm64/booting.rst;
// 6.1.0-57-arm64: a 31.4 MiB file, image_size 32.1 MiB). An error for
// anything else.
Result<uint64_t> read_kernel_load_size(const std::string& path);

// The saver's own memory in the capture kernel for a machine of
// memory_total_bytes: page bitmaps (bounded by the page filter's window),
// batch buffers, the compressor. A few MiB whatever the machine.
uint64_t saver_memory_bytes(uint64_t memory_total_bytes);

// What the capture kernel needs in its reservation while it unpacks its
// initrd; the formula and every constant are in reservation.cpp.
struct CaptureMemoryNeed {
    uint64_t kernel_bytes = 0;           // the kernel's load size (init_size)
    uint64_t initrd_bytes = 0;           // the initrd archive
    uint64_t initrd_unpacked_bytes = 0;  // its files in rootfs (measure_initrd())
    uint64_t margin_bytes = 0;           // the measured working margin (+ saver growth)
    // The capture's CPUs past the first (with_capture_cpus()); 0 = one CPU.
    uint64_t cpu_bytes = 0;
    // The sum: a reservation below it does not capture.
    uint64_t needed_bytes = 0;
    // needed_bytes as a crashkernel= size: rounded up to 16 MiB, at least
    // the smallest reservation ever seen to capture.
    uint64_t recommended_bytes = 0;
};

// kernel_image_bytes is the kernel's memory at load (read_kernel_load_size());
// a caller that only knows the file size passes that, and the result is too
// small by the kernel's expansion (about 56 MiB for Debian's): use the load
// size. memory_total_bytes is the machine's (the saver's bitmaps grow with it).
// squashed_initrd: the initrd is dracut's squash loader and image
// (InitrdSize::squashed), whose working margin is measured apart.
CaptureMemoryNeed capture_memory_need(uint64_t kernel_image_bytes, uint64_t initrd_bytes,
                                      uint64_t initrd_unpacked_bytes, uint64_t memory_total_bytes,
                                      bool squashed_initrd = false);

// What each capture-kernel CPU past the first costs in the reservation:
// the kernel's per-CPU memory (measured, reservation.cpp) plus the saver's
// further compressing thread (its compressor and batch buffers).
uint64_t capture_cpu_cost_bytes();

// need (for one CPU) plus extra_cpu_bytes for more CPUs
// (CaptureCpuChoice::extra_bytes): needed_bytes and recommended_bytes grow
// by it, cpu_bytes records it.
CaptureMemoryNeed with_capture_cpus(CaptureMemoryNeed need, uint64_t extra_cpu_bytes);

// The measured working margin alone (kCaptureWorkingMarginBytes).
uint64_t capture_working_margin_bytes(bool squashed_initrd = false);

// capture_memory_need(...).recommended_bytes: the crashkernel= size to
// recommend (crashcapturectl estimate, EstimateReservation).
uint64_t estimate_reservation(uint64_t kernel_image_bytes, uint64_t initrd_bytes,
                              uint64_t initrd_unpacked_bytes, uint64_t memory_total_bytes);

// "144M", "1G": bytes rounded up to MiB, the way crashkernel= is written.
std::string format_crashkernel_size(uint64_t bytes);

// What to tell an admin when nothing is reserved, in plain words:
// "No memory is reserved for the capture kernel: add crashkernel=256M to the
// kernel command line (…), then reboot."
std::string explain_missing_reservation(uint64_t recommended_bytes);

// When a reservation exists but is smaller than needed: "crashkernel=96M is
// too small for this capture kernel and initrd (needs about 112M): set
// crashkernel=112M …".
std::string explain_insufficient_reservation(uint64_t reserved_bytes, uint64_t recommended_bytes);

// The warning for an admin when reserved_bytes (Reservation::total_bytes())
// is below need.needed_bytes; empty when it fits, or when nothing is
// reserved (explain_missing_reservation() says that).
std::string check_reservation_fit(uint64_t reserved_bytes, const CaptureMemoryNeed& need);

// The estimate's figures as EstimateReservation's JSON explanation: the
// daemon writes it, crashcapturectl reads it (reservation_offer()).
struct CaptureNeedSources {
    std::string kernel;                // the capture kernel's path
    bool kernel_bytes_from_init_size;  // false: the file's size (unreadable header)
    std::string initrd;                // the capture initrd's path; empty: none yet
    uint64_t memory_bytes = 0;         // MemTotal
};
nlohmann::json explain_capture_need(const CaptureMemoryNeed& need,
                                    const CaptureNeedSources& sources);

// What crashcapturectl setup may write: the daemon's estimate
// (EstimateReservation's bytes and its JSON explanation) and the sentence
// that says what it rests on. An estimate that left the capture initrd out
// (none built yet, or unreadable) is refused: a fresh machine given such a
// number (96M) lost its first crash (issue 23).
struct ReservationOffer {
    uint64_t bytes = 0;
    std::string based_on;  // "kernel 6.1.0-57-amd64 (init_size 58.9 MiB), capture initrd ..."
};
Result<ReservationOffer> reservation_offer(uint64_t recommended_bytes,
                                           const nlohmann::json& explanation);

// The crashkernel= size in MiB that SetReservation (D-Bus) sets: the one
// asked for, or with 0 the daemon's offer (reservation_offer()) rounded up
// to whole MiB. A size below kSmallestReservationMib cannot hold any capture
// kernel (the smallest that captured here was 80M, a busybox initramfs on
// arm64), and one above half the machine's memory leaves the running
// system too little: both are refused (EINVAL) with the reason.
inline constexpr uint64_t kSmallestReservationMib = 64;
Result<uint64_t> reservation_mib_to_set(uint64_t requested_mib, uint64_t offered_bytes,
                                        const nlohmann::json& explanation);

// The command SetReservation runs: runner (the program that carries it out
// of the daemon's sandbox, "systemd-run --wait ... --", then
// crashcapturectl; or crashcapturectl alone in tests) followed by
// "setup --apply --json --size MIB".
std::vector<std::string> reservation_setup_command(std::vector<std::string> runner,
                                                   uint64_t size_mib);

}  // namespace crashcapture
