// Dumps written to a raw block device (Target=raw:/dev/...), brought back
// after the reboot. The capture kernel cannot leave a directory on a device
// without a filesystem, so a raw capture is in two parts:
//   * the dump, as makedumpfile's flattened stream from the first byte of
//     the device (so `makedumpfile -R vmcore < /dev/DEVICE` reads it too);
//   * its record, kernel log and capture-kernel log, which the capture
//     initrd copies to the root filesystem, raw_capture_records_directory()
//     /NAME/ (dracut/modules.d/99crashcapture/crashcapture-capture).
// At start, crashcaptured reassembles the stream into /var/crash/NAME/vmcore
// with its record, then clears the stream's header so it is recovered once.
// Nothing is cleared until the copy is on disk: when /var/crash is full the
// dump stays on the device and the next start tries again.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dump-record.hpp"
#include "result.hpp"
#include "system-paths.hpp"

namespace crashcapture {

// Under crashcaptured's state directory, on the root filesystem.
inline constexpr std::string_view kRawCapturesSubdirectory = "/raw-captures";
std::string raw_capture_records_directory(const SystemPaths& paths);

// The capture's kernel log next to the dump (crashcapture-capture).
inline constexpr std::string_view kCaptureKernelLogFileName = "capture-kernel.log";
// Why ssh failed, when it did (crashcapture-capture, an ssh target).
inline constexpr std::string_view kTransferErrorFileName = "transfer-error.txt";

struct RawRecovery {
    std::string dump_id;  // the dump directory's name under the crash directory
    std::string path;
    DumpResult result = DumpResult::failed;
    bool from_device = false;  // false: only a record came back, no stream on the device
};

struct RawRecoveryReport {
    std::vector<RawRecovery> recovered;
    // What went wrong without stopping the rest; each names the file or device.
    std::vector<std::string> problems;
};

// Brings back what raw captures left: the stream on device (when its first
// bytes are a flattened header) paired with the newest record in
// records_directory, and every other record as a dump directory of its own
// (a capture that could not write the device still leaves its record and
// kernel log). An error means nothing was brought back and nothing was
// cleared: the device could not be read, or the copy could not be written
// (a full /var/crash); the next start tries again. now names a dump that
// came back without a record (raw-YYYY-MM-DD-HHMMSS, UTC).
Result<RawRecoveryReport> recover_raw_captures(const std::string& device,
                                               const std::string& records_directory,
                                               const std::string& crash_directory, int64_t now);

// The same for an ssh target, whose dump is on the server: every record in
// records_directory becomes a dump directory under crash_directory, its
// status.json naming the dump's place (remote_dump), failed with the reason
// when ssh failed (kTransferErrorFileName).
Result<RawRecoveryReport> recover_kept_records(const std::string& records_directory,
                                               const std::string& crash_directory, int64_t now);

}  // namespace crashcapture
