#include "kexec-loader.hpp"

#include <fcntl.h>
#include <linux/kexec.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <charconv>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <thread>

#include "file-util.hpp"
#include "text.hpp"
#include "unique-fd.hpp"

namespace crashcapture {

// The uapi header is the source; the constants in kexec-loader.hpp keep it
// out of our public headers.
static_assert(kKexecFileUnload == KEXEC_FILE_UNLOAD);
static_assert(kKexecFileOnCrash == KEXEC_FILE_ON_CRASH);
static_assert(kKexecFileNoInitramfs == KEXEC_FILE_NO_INITRAMFS);

namespace {

// include/uapi/linux/capability.h: #define CAP_SYS_BOOT 22
constexpr int kCapSysBoot = 22;

constexpr uint64_t kMiB = 1024 * 1024;

std::optional<long> read_sysctl(const std::string& proc_root, const std::string& name) {
    auto text = read_kernel_file(proc_root + "/sys/kernel/" + name);
    return text ? parse_integer<long>(trim(*text)) : std::nullopt;
}

// The CapEff line of /proc/self/status (proc(5)): the effective set in hex.
std::optional<bool> has_cap_sys_boot(const std::string& proc_root) {
    std::ifstream in(proc_root + "/self/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.starts_with("CapEff:")) {
            auto mask = parse_integer<uint64_t>(trim(line.substr(7)), 16);
            if (!mask) {
                return std::nullopt;
            }
            return ((*mask >> kCapSysBoot) & 1) != 0;
        }
    }
    return std::nullopt;
}

// securityfs "lockdown" (security/lockdown/lockdown.c, lockdown_read):
// "none [integrity] confidentiality", the bracketed mode in force.
std::optional<std::string> lockdown_mode(const std::string& sys_root) {
    auto text = read_kernel_file(sys_root + "/kernel/security/lockdown");
    if (!text) {
        return std::nullopt;
    }
    const auto open = text->find('[');
    const auto close = text->find(']', open);
    if (open == std::string::npos || close == std::string::npos) {
        return std::nullopt;
    }
    return text->substr(open + 1, close - open - 1);
}

std::string join_hints(const std::vector<std::string>& hints) {
    std::string out;
    for (const auto& hint : hints) {
        out += out.empty() ? hint : "; " + hint;
    }
    return out;
}

std::vector<std::string> permission_hints(const std::string& sys_root,
                                          const std::string& proc_root) {
    // kernel/kexec_file.c: kexec_load_permitted() checks CAP_SYS_BOOT,
    // kexec_load_disabled and (since Linux 6.6) the per-type load limit.
    std::vector<std::string> hints;
    if (has_cap_sys_boot(proc_root) == false) {
        hints.emplace_back(
            "the process lacks CAP_SYS_BOOT: run as root, and keep CAP_SYS_BOOT in the "
            "unit's CapabilityBoundingSet=");
    }
    if (read_sysctl(proc_root, "kexec_load_disabled").value_or(0) == 1) {
        hints.emplace_back(
            "kexec is disabled (kernel.kexec_load_disabled=1); only a reboot enables it again");
    }
    if (read_sysctl(proc_root, "kexec_load_limit_panic") == 0) {
        hints.emplace_back(
            "no crash kernel loads are left (kernel.kexec_load_limit_panic=0); only a reboot "
            "resets the limit");
    }
    // kimage_validate_signature(): an unverifiable image is refused with EPERM
    // when the kernel is locked down (Secure Boot turns lockdown on in many
    // distributions' kernels).
    if (auto mode = lockdown_mode(sys_root); mode && *mode != "none") {
        hints.push_back(fmt::format(
            "the kernel is locked down (lockdown={}, usually because of Secure Boot): the capture "
            "kernel must carry a signature the running kernel trusts, such as the distribution's "
            "signed kernel",
            *mode));
    }
    if (hints.empty()) {
        hints.emplace_back(
            "not a missing capability, kexec_load_disabled or lockdown: a security module or IMA "
            "policy may have refused it");
    }
    return hints;
}

std::string memory_hint(const std::string& sys_root, uint64_t image_bytes) {
    auto reserved = read_crash_reservation_bytes(sys_root);
    if (!reserved) {
        return "the crash kernel reservation is unknown (" + reserved.error().message + ")";
    }
    if (*reserved == 0) {
        return "no memory is reserved for a crash kernel: boot with crashkernel= (for example "
               "crashkernel=256M) and reboot";
    }
    // kexec_locate_mem_hole() answers EADDRNOTAVAIL when no hole in the
    // reservation fits a segment; control pages come from it too (ENOMEM).
    std::string sizes = image_bytes != 0 ? fmt::format(" for {} MiB of kernel and initrd",
                                                       (image_bytes + kMiB - 1) / kMiB)
                                         : std::string();
    return fmt::format(
        "the crash kernel reservation of {} MiB is too small{}: raise crashkernel= or make the "
        "initrd smaller",
        *reserved / kMiB, sizes);
}

std::string hint_for(int errno_value, const std::string& sys_root, const std::string& proc_root,
                     uint64_t image_bytes) {
    switch (errno_value) {
        case EPERM:
            return join_hints(permission_hints(sys_root, proc_root));
        case ENOMEM:
        case EADDRNOTAVAIL:
            return memory_hint(sys_root, image_bytes);
        // Signature verification (kimage_validate_signature with
        // sig_enforce, CONFIG_KEXEC_SIG_FORCE or kexec_sig_enforced): the
        // PE/PKCS#7 checks answer with any of these.
        case EKEYREJECTED:
        case ENOKEY:
        case EKEYREVOKED:
        case EKEYEXPIRED:
        case EBADMSG:
        case ENODATA:
        case ENOPKG: {
            std::string hint =
                "the capture kernel's signature was not accepted and this kernel enforces kexec "
                "signatures";
            // Why it enforces them: under Secure Boot, x86's IMA arch policy
            // sets kexec_sig_enforced (arch/x86/kernel/ima_arch.c,
            // arch_ima_get_policy), and the kernel is locked down as well;
            // measured in the uefi guest ("kexec_file: Enforced kernel
            // signature verification failed (-129)").
            if (auto mode = lockdown_mode(sys_root); mode && *mode != "none") {
                hint += fmt::format(
                    " (it is locked down, lockdown={}, usually because of Secure Boot)", *mode);
            }
            return hint +
                   ": use a kernel signed by a key the running kernel trusts, such as the "
                   "distribution's signed kernel";
        }
        case ENOEXEC:
            // kexec_image_probe_default(): no loader claimed the image; on
            // x86_64 the only one is the bzImage64 loader
            // (arch/x86/kernel/kexec-bzimage64.c).
            return "not a kernel image kexec can load: x86_64 needs a bzImage with a 64-bit entry "
                   "point (such as /boot/vmlinuz-*), not a vmlinux ELF file";
        case EBUSY:
            return "another kexec load is in progress; try again";
        case EINVAL:
            // arch/x86/kernel/kexec-bzimage64.c, bzImage64_load(): "Kernel
            // command line too long" when cmdline_len exceeds the image
            // header's cmdline_size (Documentation/arch/x86/boot.rst; 2047 on
            // x86_64, COMMAND_LINE_SIZE - 1).
            return "the kernel refused the arguments; a command line longer than the capture "
                   "kernel's limit (the bzImage header's cmdline_size, about 2 KiB on x86_64) "
                   "is the usual cause";
        case ENOSYS:
            return "this kernel has no kexec_file_load (built without CONFIG_KEXEC_FILE)";
        case EFBIG:
            // kernel_read_file_from_fd(…, INT_MAX, …)
            return "the kernel or initrd is larger than the 2 GiB kexec_file_load reads";
        default:
            return {};
    }
}

long kexec_file_load(int kernel_fd, int initrd_fd, unsigned long cmdline_len, const char* cmdline,
                     unsigned long flags) {
#ifdef SYS_kexec_file_load
    return ::syscall(SYS_kexec_file_load, kernel_fd, initrd_fd, cmdline_len, cmdline, flags);
#else
    (void)kernel_fd;
    (void)initrd_fd;
    (void)cmdline_len;
    (void)cmdline;
    (void)flags;
    errno = ENOSYS;
    return -1;
#endif
}

// Opens an image the way the kernel will read it: a regular file.
Result<UniqueFd> open_image(const std::string& path, std::string_view what) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
        return make_errno_error(errno, "cannot open {} {}", what, path);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) < 0) {
        return make_errno_error(errno, "cannot stat {} {}", what, path);
    }
    if (!S_ISREG(st.st_mode)) {
        return make_error(EINVAL, "{} {} is not a regular file", what, path);
    }
    return fd;
}

Status check_cmdline(const std::string& cmdline) {
    // The kernel takes a NUL-terminated string of cmdline_len bytes
    // (kimage_file_prepare_segments: "command line should be a string with
    // last byte null"); an embedded NUL would silently cut it short.
    if (cmdline.find('\0') != std::string::npos) {
        return make_error(EINVAL, "the capture kernel command line contains a NUL byte");
    }
    return {};
}

}  // namespace

Result<bool> read_crash_kernel_loaded(const std::string& sys_root) {
    const std::string path = sys_root + "/kernel/kexec_crash_loaded";
    auto text = read_kernel_file(path);
    if (!text) {
        if (text.error().errno_value == ENOENT) {
            return make_error(ENOENT, "{} does not exist: the kernel has no crash dump support",
                              path);
        }
        return tl::unexpected(text.error());
    }
    auto value = parse_integer<int>(trim(*text));
    if (!value || (*value != 0 && *value != 1)) {
        return make_error(0, "{}: unexpected contents \"{}\"", path, trim(*text));
    }
    return *value == 1;
}

Result<uint64_t> read_crash_reservation_bytes(const std::string& sys_root) {
    const std::string path = sys_root + "/kernel/kexec_crash_size";
    auto text = read_kernel_file(path);
    if (!text) {
        return tl::unexpected(text.error());
    }
    auto value = parse_integer<uint64_t>(trim(*text));
    if (!value) {
        return make_error(0, "{}: unexpected contents \"{}\"", path, trim(*text));
    }
    return *value;
}

Error explain_kexec_error(int errno_value, const std::string& what, const std::string& sys_root,
                          const std::string& proc_root, uint64_t image_bytes) {
    std::string message = what + ": " + std::strerror(errno_value);
    const auto hint = hint_for(errno_value, sys_root, proc_root, image_bytes);
    if (!hint.empty()) {
        message += " (" + hint + ")";
    }
    return Error{errno_value, std::move(message)};
}

// ---------------------------------------------------------------------------

SystemKexec::SystemKexec(std::string sys_root, std::string proc_root, std::string kexec_tool)
    : sys_root_(std::move(sys_root)),
      proc_root_(std::move(proc_root)),
      kexec_tools_(std::move(kexec_tool), proc_root_, sys_root_) {}

Status SystemKexec::load_crash_kernel(const std::string& kernel, const std::string& initrd,
                                      const std::string& cmdline) {
    if (auto status = check_cmdline(cmdline); !status) {
        return status;
    }
    auto kernel_fd = open_image(kernel, "capture kernel");
    if (!kernel_fd) {
        return tl::unexpected(kernel_fd.error());
    }
    if (use_kexec_tools_) {
        return kexec_tools_.load(kernel, initrd, cmdline);
    }
    unsigned long flags = kKexecFileOnCrash;
    UniqueFd initrd_fd;
    if (initrd.empty()) {
        flags |= kKexecFileNoInitramfs;
    } else {
        auto opened = open_image(initrd, "capture initrd");
        if (!opened) {
            return tl::unexpected(opened.error());
        }
        initrd_fd = std::move(*opened);
    }
    // cmdline_len counts the terminating NUL (kexec_file_load(2)).
    if (kexec_file_load(kernel_fd->get(), initrd_fd ? initrd_fd.get() : -1, cmdline.size() + 1,
                        cmdline.c_str(), flags) < 0) {
        const int saved = errno;
        if (saved == ENOSYS) {
            // No kexec_file_load in this kernel (CONFIG_KEXEC_FILE unset):
            // kexec_load through kexec-tools, from now on.
            use_kexec_tools_ = true;
            return kexec_tools_.load(kernel, initrd, cmdline);
        }
        uint64_t image_bytes = 0;
        struct stat st {};
        if (::fstat(kernel_fd->get(), &st) == 0) {
            image_bytes += static_cast<uint64_t>(st.st_size);
        }
        if (initrd_fd && ::fstat(initrd_fd.get(), &st) == 0) {
            image_bytes += static_cast<uint64_t>(st.st_size);
        }
        const std::string what =
            initrd.empty()
                ? fmt::format("cannot load capture kernel {}", kernel)
                : fmt::format("cannot load capture kernel {} with initrd {}", kernel, initrd);
        return tl::unexpected(explain_kexec_error(saved, what, sys_root_, proc_root_, image_bytes));
    }
    return {};
}

Status SystemKexec::unload_crash_kernel() {
    // The file descriptors and command line are ignored with KEXEC_FILE_UNLOAD.
    if (use_kexec_tools_) {
        return kexec_tools_.unload();
    }
    if (kexec_file_load(-1, -1, 0, nullptr, kKexecFileUnload | kKexecFileOnCrash) < 0) {
        if (errno == ENOSYS) {
            use_kexec_tools_ = true;
            return kexec_tools_.unload();
        }
        return tl::unexpected(
            explain_kexec_error(errno, "cannot unload the capture kernel", sys_root_, proc_root_));
    }
    return {};
}

Result<bool> SystemKexec::crash_kernel_loaded() {
    return read_crash_kernel_loaded(sys_root_);
}

// ---------------------------------------------------------------------------

KexecToolsLoader::KexecToolsLoader(std::string kexec, std::string proc_root, std::string sys_root,
                                   std::string scratch_dir)
    : kexec_(std::move(kexec)),
      proc_root_(std::move(proc_root)),
      sys_root_(std::move(sys_root)),
      scratch_dir_(std::move(scratch_dir)) {}

Result<std::optional<std::string>> KexecToolsLoader::missing_text_symbol(
    const std::string& kallsyms, const std::string& iomem) {
    // kallsyms(5) lines: "ADDRESS TYPE NAME [MODULE]".
    std::optional<uint64_t> stext;
    std::istringstream symbols(kallsyms);
    for (std::string address, type, name; symbols >> address >> type >> name;) {
        if (name == "_text") {
            return std::optional<std::string>{};
        }
        if (name == "_stext") {
            stext = parse_integer<uint64_t>(address, 16);
        }
        symbols.ignore(std::numeric_limits<std::streamsize>::max(), '\n');  // [module]
    }
    if (!stext) {
        return std::optional<std::string>{};  // not the layout kexec-tools trips on
    }
    if (*stext == 0) {
        return make_error(
            EPERM,
            "/proc/kallsyms shows no addresses to this process (kernel.kptr_restrict, "
            "or no CAP_SYSLOG): kexec-tools cannot place the kernel");
    }
    // "START-END : Kernel code" (arch/arm64/kernel/setup.c: kernel_code
    // starts at __pa_symbol(_stext)).
    std::istringstream resources(iomem);
    for (std::string line; std::getline(resources, line);) {
        const auto colon = line.find(" : ");
        if (colon == std::string::npos ||
            trim(std::string_view(line).substr(colon + 3)) != "Kernel code") {
            continue;
        }
        const auto range = trim(std::string_view(line).substr(0, colon));
        const auto start = parse_integer<uint64_t>(range.substr(0, range.find('-')), 16);
        if (!start || *start == 0) {
            break;
        }
        // The image is placed at a 2 MiB-aligned physical address
        // (Documentation/arch/arm64/booting.rst, text_offset 0 since 5.8).
        constexpr uint64_t kImageAlignment = 2 * kMiB;
        const uint64_t text = *stext - (*start % kImageAlignment);
        return std::optional<std::string>{fmt::format("{:016x} T _text\n", text)};
    }
    return make_error(ENOENT,
                      "/proc/kallsyms has no _text and /proc/iomem no \"Kernel code\" address: "
                      "kexec-tools would build a capture kernel that cannot read the vmcore");
}

// A copy of kallsyms with _text added, where kexec-tools needs one (see
// kexec-loader.hpp): its path, or "" when none is needed. Only a load reads
// kallsyms; an unload does not.
Result<std::string> KexecToolsLoader::kallsyms_with_text(const std::string& what) const {
    std::string corrected;
    auto kallsyms = read_kernel_file(proc_root_ + "/kallsyms");
    if (kallsyms) {
        auto line =
            missing_text_symbol(*kallsyms, read_kernel_file(proc_root_ + "/iomem").value_or(""));
        if (!line) {
            return make_error(line.error().errno_value, "{}: {}", what, line.error().message);
        }
        if (*line) {
            auto directory = open_directory(scratch_dir_);
            if (!directory) {
                return propagate(directory.error(), what);
            }
            if (auto written = write_file_atomically(directory->get(), "kallsyms-with-text",
                                                     **line + *kallsyms, 0600);
                !written) {
                return propagate(written.error(), what);
            }
            corrected = scratch_dir_ + "/kallsyms-with-text";
        }
    }
    return corrected;
}

Status KexecToolsLoader::run(const std::vector<std::string>& arguments, const std::string& what,
                             const std::string& corrected) {
    // The kallsyms correction, if any, goes to the child only.
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) < 0) {
        return make_errno_error(errno, "{}: pipe", what);
    }
    UniqueFd read_end(pipe_fds[0]);
    UniqueFd write_end(pipe_fds[1]);
    std::vector<char*> argv;
    for (const auto& argument : arguments) {
        argv.push_back(const_cast<char*>(argument.c_str()));
    }
    argv.push_back(nullptr);
    const std::string kallsyms_path = proc_root_ + "/kallsyms";
    const pid_t pid = ::fork();
    if (pid < 0) {
        return make_errno_error(errno, "{}: fork", what);
    }
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        ::dup2(write_end.get(), STDOUT_FILENO);
        ::dup2(write_end.get(), STDERR_FILENO);
        if (!corrected.empty()) {
            // A mount namespace of its own (CAP_SYS_ADMIN; the unit allows
            // RestrictNamespaces=mnt), private so nothing propagates back.
            if (::unshare(CLONE_NEWNS) < 0 ||
                ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0 ||
                ::mount(corrected.c_str(), kallsyms_path.c_str(), nullptr, MS_BIND, nullptr) < 0) {
                const std::string message =
                    fmt::format("cannot put a kallsyms with _text in place for kexec: {}\n",
                                std::strerror(errno));
                (void)!::write(STDERR_FILENO, message.data(), message.size());
                ::_exit(126);
            }
        }
        ::execvp(argv[0], argv.data());
        const std::string message =
            fmt::format("cannot run {}: {}\n", arguments[0], std::strerror(errno));
        (void)!::write(STDERR_FILENO, message.data(), message.size());
        ::_exit(errno == ENOENT ? 127 : 126);
    }
    write_end.reset();
    std::string output;
    char buffer[4096];
    for (;;) {
        const ssize_t got = ::read(read_end.get(), buffer, sizeof(buffer));
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got <= 0) {
            break;
        }
        output.append(buffer, static_cast<size_t>(got));
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!corrected.empty()) {
        ::unlink(corrected.c_str());
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        return {};
    }
    const std::string said =
        trim(output).empty() ? std::string("no message") : std::string(trim(output));
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
        return make_error(ENOENT,
                          "{}: this kernel has no kexec_file_load, and kexec-tools' kexec, which "
                          "loads through kexec_load instead, is not installed ({})",
                          what, said);
    }
    // kexec-tools reports the system call's failure as "kexec_load failed:
    // STRERROR"; EPERM is the one with a cause to explain (lockdown refuses
    // kexec_load outright: security/lockdown, LOCKDOWN_KEXEC).
    if (said.find("Operation not permitted") != std::string::npos) {
        return tl::unexpected(explain_kexec_error(
            EPERM, fmt::format("{} (kexec-tools: {})", what, said), sys_root_, proc_root_));
    }
    return make_error(EIO, "{}: kexec-tools failed ({}): {}", what,
                      WIFEXITED(status) ? fmt::format("exit status {}", WEXITSTATUS(status))
                                        : fmt::format("signal {}", WTERMSIG(status)),
                      said);
}

Status KexecToolsLoader::load(const std::string& kernel, const std::string& initrd,
                              const std::string& cmdline) {
    std::vector<std::string> arguments{kexec_, "--load-panic", "--kexec-syscall", kernel};
    if (!initrd.empty()) {
        arguments.push_back("--initrd=" + initrd);
    }
    arguments.push_back("--command-line=" + cmdline);
    const std::string what =
        initrd.empty()
            ? fmt::format("cannot load capture kernel {}", kernel)
            : fmt::format("cannot load capture kernel {} with initrd {}", kernel, initrd);
    auto corrected = kallsyms_with_text(what);
    if (!corrected) {
        return tl::unexpected(corrected.error());
    }
    return run(arguments, what, *corrected);
}

Status KexecToolsLoader::unload() {
    return run({kexec_, "--unload-panic", "--kexec-syscall"}, "cannot unload the capture kernel",
               "");
}

// ---------------------------------------------------------------------------

FakeKexec::FakeKexec(std::string sys_root) : sys_root_(std::move(sys_root)) {}

void FakeKexec::reject_kernels_containing(std::string pattern) {
    std::lock_guard lock(mutex_);
    rejected_kernel_pattern_ = std::move(pattern);
}

void FakeKexec::set_load_duration(std::chrono::milliseconds duration) {
    std::lock_guard lock(mutex_);
    load_duration_ = duration;
}

std::optional<Error> FakeKexec::take_failure(KexecOperation operation) {
    for (auto it = next_failures_.begin(); it != next_failures_.end(); ++it) {
        if (it->first == operation) {
            Error error = it->second;
            next_failures_.erase(it);
            return error;
        }
    }
    for (const auto& [failing, error] : permanent_failures_) {
        if (failing == operation) {
            return error;
        }
    }
    return std::nullopt;
}

Status FakeKexec::mirror_state() {
    if (sys_root_.empty()) {
        return {};
    }
    const std::string path = sys_root_ + "/kernel/kexec_crash_loaded";
    std::ofstream out(path, std::ios::trunc);
    out << (loaded_ ? "1\n" : "0\n");
    out.close();
    if (!out) {
        return make_error(EIO, "fake kexec: cannot write {}", path);
    }
    return {};
}

Status FakeKexec::load_crash_kernel(const std::string& kernel, const std::string& initrd,
                                    const std::string& cmdline) {
    std::unique_lock lock(mutex_);
    calls_.push_back(Call{KexecOperation::load, kernel, initrd, cmdline});
    const Call call = calls_.back();
    if (auto status = check_cmdline(cmdline); !status) {
        return status;
    }
    auto kernel_fd = open_image(kernel, "capture kernel");
    if (!kernel_fd) {
        return tl::unexpected(kernel_fd.error());
    }
    if (!initrd.empty()) {
        if (auto initrd_fd = open_image(initrd, "capture initrd"); !initrd_fd) {
            return tl::unexpected(initrd_fd.error());
        }
    }
    // From here on the kernel has already dropped the old crash image.
    loaded_.reset();
    if (load_duration_.count() > 0) {
        (void)mirror_state();
        // Not holding the lock: a query meanwhile sees what the kernel
        // shows during a load, no crash image.
        const auto duration = load_duration_;
        lock.unlock();
        std::this_thread::sleep_for(duration);
        lock.lock();
    }
    if (!rejected_kernel_pattern_.empty() &&
        kernel.find(rejected_kernel_pattern_) != std::string::npos) {
        (void)mirror_state();
        return make_error(ENOEXEC, "kexec_file_load {}: not a bzImage (Exec format error)", kernel);
    }
    if (auto failure = take_failure(KexecOperation::load)) {
        (void)mirror_state();
        return tl::unexpected(*failure);
    }
    loaded_ = call;
    return mirror_state();
}

Status FakeKexec::unload_crash_kernel() {
    std::lock_guard lock(mutex_);
    calls_.push_back(Call{KexecOperation::unload, {}, {}, {}});
    if (auto failure = take_failure(KexecOperation::unload)) {
        return tl::unexpected(*failure);
    }
    loaded_.reset();
    return mirror_state();
}

Result<bool> FakeKexec::crash_kernel_loaded() {
    std::lock_guard lock(mutex_);
    calls_.push_back(Call{KexecOperation::query, {}, {}, {}});
    if (auto failure = take_failure(KexecOperation::query)) {
        return tl::unexpected(*failure);
    }
    return loaded_.has_value();
}

void FakeKexec::fail_next(KexecOperation operation, Error error) {
    std::lock_guard lock(mutex_);
    next_failures_.emplace_back(operation, std::move(error));
}

void FakeKexec::fail_always(KexecOperation operation, Error error) {
    std::lock_guard lock(mutex_);
    permanent_failures_.emplace_back(operation, std::move(error));
}

void FakeKexec::clear_failures() {
    std::lock_guard lock(mutex_);
    next_failures_.clear();
    permanent_failures_.clear();
}

std::vector<FakeKexec::Call> FakeKexec::calls() const {
    std::lock_guard lock(mutex_);
    return calls_;
}

bool FakeKexec::loaded() const {
    std::lock_guard lock(mutex_);
    return loaded_.has_value();
}

std::optional<FakeKexec::Call> FakeKexec::loaded_image() const {
    std::lock_guard lock(mutex_);
    return loaded_;
}

}  // namespace crashcapture
