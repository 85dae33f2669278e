// The daemon's decisions about the capture kernel, out of its event loop so
// that unit tests reach them (issue 13): whether a change of inputs means a
// rebuild, a load, or nothing; what happens to a reload that arrives while a
// build runs; and putting the last good image back when a load fails.
// daemon/manager.cpp keeps the loop, the builder process and D-Bus.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "kexec-loader.hpp"
#include "result.hpp"

namespace crashcapture {

// What request_reload() found.
struct ArmingFacts {
    bool force = false;            // crashcapturectl rebuild
    bool initrd_override = false;  // Initrd= names a ready-made image: never built
    bool have_previous_manifest = false;
    bool initrd_exists = false;
    std::vector<std::string> changed_inputs{};  // changed_inputs(old, new manifest)
    bool reserved = false;                      // crashkernel= reserved memory
    bool loaded = false;                        // State=loaded and the kernel says loaded
};

enum class ArmingAction {
    build,  // run the builder, then load (or wait for a reservation)
    // The initrd is stale but there, and nothing is loaded (the daemon was
    // restarted, by a package upgrade say): load it now, then build, so the
    // machine is not unprotected for the minutes dracut takes.
    load_previous_then_build,
    load,                  // the initrd is current: load it
    keep,                  // current and loaded already: check the fit, nothing else
    wait_for_reservation,  // current, but nothing reserved: State=unavailable with the size
};

// An initrd is built when there is no record of what went into it, when it
// is gone, when any input changed, or when asked; it is built even when
// nothing is reserved, so that the crashkernel= offered measures it (issue
// 23). A stale one that is there is loaded first when memory is reserved and
// nothing is loaded. A current initrd is loaded when memory is reserved and
// it is not loaded yet.
ArmingAction decide_arming(const ArmingFacts& facts);

// Reloads that arrive while the builder runs: one more pass when it ends
// picks every change up, forced if any of them was.
class BuildQueue {
  public:
    // True: start a build now; false: one is running, a pass is queued.
    bool request(bool force);
    void started();
    // The pass to run now that the build ended (its force flag), if any.
    std::optional<bool> finished();
    bool running() const { return running_; }

  private:
    bool running_ = false;
    bool again_ = false;
    bool force_next_ = false;
};

// The image a load puts into the reservation.
struct CaptureImage {
    std::string kernel, initrd, command_line;
    bool operator==(const CaptureImage&) const = default;
};

// Loads through kexec and remembers the last image that loaded. The kernel
// drops the loaded image before it tries a new one (kernel/kexec_file.c
// kimage_file_alloc_init() runs after the old image is freed), so a bad new
// kernel or initrd would leave the machine unprotected: on failure the last
// good image is loaded again, and the error says so.
class CaptureLoader {
  public:
    explicit CaptureLoader(KexecInterface& kexec) : kexec_(kexec) {}
    Status load(const CaptureImage& image);
    const std::optional<CaptureImage>& last_good() const { return last_good_; }

  private:
    KexecInterface& kexec_;
    std::optional<CaptureImage> last_good_;
};

}  // namespace crashcapture
