// /proc/meminfo, read by the daemon (MemTotal, for the reservation's fit) and
// by crashcapture-save in the capture kernel (MemAvailable: how close the save
// came to running the capture kernel out of memory, issue 17's map).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "result.hpp"

namespace crashcapture {

// The value of one field ("MemAvailable:   123456 kB"), in bytes. The kernel
// prints every size field in KiB and calls them kB (fs/proc/meminfo.c,
// show_val_kb()). An error names the field when it is absent, not in kB or
// too large.
Result<uint64_t> parse_meminfo_bytes(std::string_view text, std::string_view field);

// The lowest MemAvailable seen while something runs: sample() is called as
// often as convenient (the dump writer's progress callback, once per batch)
// and reads the file at most once per interval, so a fast save does not pay
// for a read per batch. MemAvailable is the kernel's estimate of what can be
// allocated without swapping (free pages plus the reclaimable part of the
// page cache and slab, si_mem_available()), so its lowest value is the
// closest the capture came to the out-of-memory killer. A file that cannot
// be read or parsed is never an error: the figure is then absent.
class MemAvailableWatch {
  public:
    using Clock = std::function<std::chrono::steady_clock::time_point()>;

    explicit MemAvailableWatch(std::string meminfo_path = "/proc/meminfo",
                               std::chrono::milliseconds interval = std::chrono::milliseconds(200),
                               Clock clock = {});

    void sample();      // reads if the interval passed since the last read
    void sample_now();  // reads now (the first and the last sample)
    std::optional<uint64_t> lowest_bytes() const { return lowest_bytes_; }

  private:
    std::string path_;
    std::chrono::milliseconds interval_;
    Clock clock_;
    std::optional<std::chrono::steady_clock::time_point> last_read_;
    std::optional<uint64_t> lowest_bytes_;
};

}  // namespace crashcapture
