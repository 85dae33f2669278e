// Loading the capture kernel into the crashkernel= reservation with
// kexec_file_load(2), behind a small interface so the daemon can be tested
// without root, without a reservation, and with every failure on demand
// (STYLE.md, "Resources and seams").
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "result.hpp"

namespace crashcapture {

// include/uapi/linux/kexec.h
inline constexpr unsigned long kKexecFileUnload = 0x1;       // KEXEC_FILE_UNLOAD
inline constexpr unsigned long kKexecFileOnCrash = 0x2;      // KEXEC_FILE_ON_CRASH
inline constexpr unsigned long kKexecFileNoInitramfs = 0x4;  // KEXEC_FILE_NO_INITRAMFS

class KexecInterface {
  public:
    virtual ~KexecInterface() = default;
    // Loads kernel + initrd (empty: none) to boot on panic with cmdline.
    // Beware: the kernel frees the loaded crash image *before* it loads the
    // new one (kernel/kexec_file.c: "Free any current crash dump kernel
    // before we corrupt it"), so a failed load leaves no crash kernel at all;
    // the caller should fall back to loading the last good pair again.
    virtual Status load_crash_kernel(const std::string& kernel, const std::string& initrd,
                                     const std::string& cmdline) = 0;
    virtual Status unload_crash_kernel() = 0;
    virtual Result<bool> crash_kernel_loaded() = 0;
};

// kexec-tools' kexec(8), for kernels built without kexec_file_load (Debian's
// arm64 kernels: # CONFIG_KEXEC_FILE is not set): it builds what the older
// kexec_load(2) needs (on arm64 the capture kernel's device tree with
// linux,elfcorehdr and linux,usable-memory-range, the ELF core header and
// purgatory), which is why it is used rather than done again here.
class KexecToolsLoader {
  public:
    // kexec: the program (PATH is searched); scratch_dir: where a corrected
    // copy of kallsyms is written when one is needed (below).
    KexecToolsLoader(std::string kexec = "kexec", std::string proc_root = "/proc",
                     std::string sys_root = "/sys", std::string scratch_dir = "/run/crashcapture");

    // kexec --load-panic --kexec-syscall KERNEL [--initrd=INITRD] --command-line=CMDLINE.
    // Where /proc/kallsyms has _stext but no _text (arm64 without
    // CONFIG_KALLSYMS_ALL, Debian's 6.1), kexec-tools 2.0.25 computes the
    // kernel's PT_LOAD from a missing _text and the capture kernel gets a
    // vmcore it cannot read (18 EB, an oops in copy_oldmem_page). kexec then
    // runs in a mount namespace of its own, where a copy of kallsyms with
    // _text added is bind-mounted over /proc/kallsyms: _text is the image's
    // start, 2 MiB-aligned physically (arch/arm64/kernel/head.S), so _stext
    // less the offset of _stext's physical address ("Kernel code" in
    // /proc/iomem) within its 2 MiB.
    Status load(const std::string& kernel, const std::string& initrd, const std::string& cmdline);
    // kexec --unload-panic --kexec-syscall.
    Status unload();

    // The _text line to add to kallsyms, or nullopt when none is needed.
    // Exposed for tests.
    static Result<std::optional<std::string>> missing_text_symbol(const std::string& kallsyms,
                                                                  const std::string& iomem);

  private:
    Result<std::string> kallsyms_with_text(const std::string& what) const;
    // Runs kexec; with `corrected` (a kallsyms copy) in a mount namespace of
    // its own where that copy is /proc/kallsyms.
    Status run(const std::vector<std::string>& arguments, const std::string& what,
               const std::string& corrected);

    std::string kexec_;
    std::string proc_root_;
    std::string sys_root_;
    std::string scratch_dir_;
};

// The real thing. sys_root and proc_root are where sysfs and procfs are
// mounted ("/sys", "/proc"); they are only read, to report the state and to
// explain failures. Where the kernel has no kexec_file_load (ENOSYS), loads
// go through kexec-tools instead (KexecToolsLoader).
class SystemKexec final : public KexecInterface {
  public:
    explicit SystemKexec(std::string sys_root = "/sys", std::string proc_root = "/proc",
                         std::string kexec_tool = "kexec");

    Status load_crash_kernel(const std::string& kernel, const std::string& initrd,
                             const std::string& cmdline) override;
    Status unload_crash_kernel() override;
    Result<bool> crash_kernel_loaded() override;

  private:
    std::string sys_root_;
    std::string proc_root_;
    KexecToolsLoader kexec_tools_;
    // Set once kexec_file_load said ENOSYS: later loads go to kexec-tools.
    bool use_kexec_tools_ = false;
};

// <sys_root>/kernel/kexec_crash_loaded: "1" while a crash kernel is loaded
// (kernel/ksysfs.c). Missing when the kernel has no CONFIG_CRASH_DUMP.
Result<bool> read_crash_kernel_loaded(const std::string& sys_root);

// <sys_root>/kernel/kexec_crash_size: bytes reserved by crashkernel=, 0 when
// nothing was reserved (kernel/ksysfs.c).
Result<uint64_t> read_crash_reservation_bytes(const std::string& sys_root);

// Turns the errno of a failed kexec_file_load into an error that says what
// to do, reading the fake-able trees for the likely cause: EPERM (no
// CAP_SYS_BOOT, kernel.kexec_load_disabled, kernel.kexec_load_limit_panic
// used up, lockdown), ENOMEM/EADDRNOTAVAIL (reservation missing or too
// small for image_bytes, the kernel and initrd together; 0 if unknown),
// EKEYREJECTED/ENOKEY/… (signature required), ENOEXEC (not a bzImage),
// EBUSY, EINVAL, ENOSYS, EFBIG. `what` starts the message ("cannot load
// capture kernel /boot/vmlinuz-…"); the errno is kept.
Error explain_kexec_error(int errno_value, const std::string& what, const std::string& sys_root,
                          const std::string& proc_root, uint64_t image_bytes = 0);

// For tests: records every call, keeps a loaded flag, fails on request. Like
// the kernel, it opens the kernel and initrd (so a wrong path fails as it
// would for real) and a failed load leaves nothing loaded. When given a
// sys_root it mirrors its state into <sys_root>/kernel/kexec_crash_loaded, so
// code reading sysfs sees what the real kernel would show.
enum class KexecOperation { load, unload, query };

class FakeKexec final : public KexecInterface {
  public:
    struct Call {
        KexecOperation operation = KexecOperation::load;
        std::string kernel;
        std::string initrd;
        std::string cmdline;
    };

    FakeKexec() = default;
    explicit FakeKexec(std::string sys_root);

    Status load_crash_kernel(const std::string& kernel, const std::string& initrd,
                             const std::string& cmdline) override;
    Status unload_crash_kernel() override;
    Result<bool> crash_kernel_loaded() override;

    // Every load of a kernel whose path contains pattern fails as the real
    // syscall fails on an image that is not a bzImage (ENOEXEC), after the
    // old image is dropped: crashcaptured's CRASHCAPTURE_KEXEC_REJECT, so the
    // integration tests can check that the last good image is put back.
    void reject_kernels_containing(std::string pattern);
    // Every load takes this long, after the old image is dropped (the
    // window a real load spends reading and checking the images):
    // crashcaptured's CRASHCAPTURE_KEXEC_FAKE_LOAD_MS, so the integration
    // tests can kill the daemon in the middle of a load.
    void set_load_duration(std::chrono::milliseconds duration);
    // The next call of `operation` fails with error (queued, first in first out).
    void fail_next(KexecOperation operation, Error error);
    // Every call of `operation` fails with error until clear_failures().
    void fail_always(KexecOperation operation, Error error);
    void clear_failures();

    std::vector<Call> calls() const;
    bool loaded() const;
    // The load that is in effect, if any.
    std::optional<Call> loaded_image() const;

  private:
    std::optional<Error> take_failure(KexecOperation operation);
    std::string rejected_kernel_pattern_;
    std::chrono::milliseconds load_duration_{0};
    Status mirror_state();

    mutable std::mutex mutex_;
    std::string sys_root_;
    std::vector<Call> calls_;
    std::optional<Call> loaded_;
    std::deque<std::pair<KexecOperation, Error>> next_failures_;
    std::vector<std::pair<KexecOperation, Error>> permanent_failures_;
};

}  // namespace crashcapture
