#include "kexec-loader.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <linux/kexec.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <memory>
#include <thread>

#include "synthetic-vmcore.hpp"

using namespace crashcapture;
using namespace crashcapture::test;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

namespace {

void write_file(const std::string& path, std::string_view contents) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << contents;
    ASSERT_TRUE(out.good()) << path;
}

void make_dirs(const std::string& path) {
    std::string partial;
    size_t start = 0;
    while (start <= path.size()) {
        const auto slash = path.find('/', start);
        partial = path.substr(0, slash);
        if (!partial.empty()) {
            ::mkdir(partial.c_str(), 0755);
        }
        if (slash == std::string::npos) {
            break;
        }
        start = slash + 1;
    }
}

// CapEff of a root process (CAP_LAST_CAP 40) and of one without CAP_SYS_BOOT.
constexpr std::string_view kAllCaps = "000001ffffffffff";
constexpr std::string_view kNoSysBoot = "000001ffffbfffff";  // bit 22 clear

// Fake /sys and /proc with the files the loader reads.
class KexecLoader : public ::testing::Test {
  protected:
    void SetUp() override {
        make_dirs(sys() + "/kernel/security");
        make_dirs(proc() + "/sys/kernel");
        make_dirs(proc() + "/self");
        write_file(sys() + "/kernel/kexec_crash_loaded", "0\n");
        write_file(sys() + "/kernel/kexec_crash_size", "268435456\n");
        write_file(sys() + "/kernel/security/lockdown", "[none] integrity confidentiality\n");
        write_file(proc() + "/sys/kernel/kexec_load_disabled", "0\n");
        write_file(proc() + "/sys/kernel/kexec_load_limit_panic", "-1\n");
        set_cap_eff(kAllCaps);
        write_file(kernel(), "MZ fake bzImage");
        write_file(initrd(), "070701 fake cpio");
    }

    void set_cap_eff(std::string_view mask) {
        write_file(proc() + "/self/status",
                   fmt::format("Name:\tcrashcaptured\nCapInh:\t0000000000000000\nCapPrm:\t{0}\n"
                               "CapEff:\t{0}\nCapBnd:\t{0}\n",
                               mask));
    }

    Error explain(int errno_value, uint64_t image_bytes = 0) const {
        return explain_kexec_error(errno_value, "cannot load capture kernel /boot/vmlinuz", sys(),
                                   proc(), image_bytes);
    }

    std::string sys() const { return dir_.file("sys"); }
    std::string proc() const { return dir_.file("proc"); }
    std::string kernel() const { return dir_.file("vmlinuz"); }
    std::string initrd() const { return dir_.file("initrd.img"); }

    TempDir dir_;
};

// ---------------------------------------------------------------------------
// sysfs

TEST_F(KexecLoader, LoadedStateComesFromSysfs) {
    auto loaded = read_crash_kernel_loaded(sys());
    ASSERT_TRUE(loaded) << loaded.error().message;
    EXPECT_FALSE(*loaded);
    write_file(sys() + "/kernel/kexec_crash_loaded", "1\n");
    EXPECT_TRUE(*read_crash_kernel_loaded(sys()));
    EXPECT_TRUE(*SystemKexec(sys(), proc()).crash_kernel_loaded());

    write_file(sys() + "/kernel/kexec_crash_loaded", "yes\n");
    auto garbage = read_crash_kernel_loaded(sys());
    ASSERT_FALSE(garbage);
    EXPECT_THAT(garbage.error().message, HasSubstr("unexpected contents \"yes\""));

    ASSERT_EQ(::unlink((sys() + "/kernel/kexec_crash_loaded").c_str()), 0);
    auto missing = read_crash_kernel_loaded(sys());
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().errno_value, ENOENT);
    EXPECT_THAT(missing.error().message, HasSubstr("no crash dump support"));
}

TEST_F(KexecLoader, ReservationSizeComesFromSysfs) {
    auto reserved = read_crash_reservation_bytes(sys());
    ASSERT_TRUE(reserved) << reserved.error().message;
    EXPECT_EQ(*reserved, 256 * kMiB);
    write_file(sys() + "/kernel/kexec_crash_size", "0\n");
    EXPECT_EQ(*read_crash_reservation_bytes(sys()), 0u);
    write_file(sys() + "/kernel/kexec_crash_size", "-5\n");
    EXPECT_FALSE(read_crash_reservation_bytes(sys()));
    EXPECT_FALSE(read_crash_reservation_bytes(dir_.file("no-sys")));
}

// ---------------------------------------------------------------------------
// Explaining failures

TEST_F(KexecLoader, EpermWithoutCapSysBoot) {
    set_cap_eff(kNoSysBoot);
    const auto error = explain(EPERM);
    EXPECT_EQ(error.errno_value, EPERM);
    EXPECT_THAT(error.message,
                StartsWith("cannot load capture kernel /boot/vmlinuz: Operation not permitted ("));
    EXPECT_THAT(error.message, HasSubstr("CAP_SYS_BOOT"));
    EXPECT_THAT(error.message, Not(HasSubstr("kexec_load_disabled")));
    EXPECT_THAT(error.message, Not(HasSubstr("locked down")));
}

TEST_F(KexecLoader, EpermWhenKexecIsDisabled) {
    write_file(proc() + "/sys/kernel/kexec_load_disabled", "1\n");
    const auto error = explain(EPERM);
    EXPECT_THAT(error.message, HasSubstr("kernel.kexec_load_disabled=1"));
    EXPECT_THAT(error.message, HasSubstr("reboot"));
    EXPECT_THAT(error.message, Not(HasSubstr("CAP_SYS_BOOT")));
}

TEST_F(KexecLoader, EpermWhenTheLoadLimitIsUsedUp) {
    write_file(proc() + "/sys/kernel/kexec_load_limit_panic", "0\n");
    EXPECT_THAT(explain(EPERM).message, HasSubstr("kernel.kexec_load_limit_panic=0"));
}

TEST_F(KexecLoader, EpermUnderLockdown) {
    write_file(sys() + "/kernel/security/lockdown", "none [integrity] confidentiality\n");
    const auto error = explain(EPERM);
    EXPECT_THAT(error.message, HasSubstr("locked down (lockdown=integrity"));
    EXPECT_THAT(error.message, HasSubstr("signature"));
}

TEST_F(KexecLoader, EpermCausesAreAllNamed) {
    set_cap_eff(kNoSysBoot);
    write_file(proc() + "/sys/kernel/kexec_load_disabled", "1\n");
    write_file(sys() + "/kernel/security/lockdown", "none integrity [confidentiality]\n");
    const auto error = explain(EPERM);
    EXPECT_THAT(error.message, HasSubstr("CAP_SYS_BOOT"));
    EXPECT_THAT(error.message, HasSubstr("kexec_load_disabled=1"));
    EXPECT_THAT(error.message, HasSubstr("lockdown=confidentiality"));
}

TEST_F(KexecLoader, EpermWithNoVisibleCause) {
    EXPECT_THAT(explain(EPERM).message, HasSubstr("security module or IMA"));
    // Files missing altogether (no securityfs, old kernel): still an answer.
    const auto bare =
        explain_kexec_error(EPERM, "cannot load", dir_.file("none"), dir_.file("none"));
    EXPECT_EQ(bare.errno_value, EPERM);
    EXPECT_THAT(bare.message, HasSubstr("security module or IMA"));
}

TEST_F(KexecLoader, NoReservationSaysToBootWithCrashkernel) {
    write_file(sys() + "/kernel/kexec_crash_size", "0\n");
    for (int errno_value : {ENOMEM, EADDRNOTAVAIL}) {
        const auto error = explain(errno_value);
        EXPECT_EQ(error.errno_value, errno_value);
        EXPECT_THAT(error.message, HasSubstr("no memory is reserved"));
        EXPECT_THAT(error.message, HasSubstr("crashkernel="));
    }
}

TEST_F(KexecLoader, SmallReservationSaysHowSmall) {
    const auto error = explain(EADDRNOTAVAIL, 300 * kMiB + 1);
    EXPECT_THAT(error.message,
                HasSubstr("reservation of 256 MiB is too small for 301 MiB of kernel and initrd"));
    EXPECT_THAT(explain(ENOMEM).message, HasSubstr("reservation of 256 MiB is too small:"));
}

TEST_F(KexecLoader, SignatureFailures) {
    for (int errno_value : {EKEYREJECTED, ENOKEY, EKEYREVOKED, EKEYEXPIRED, EBADMSG}) {
        const auto error = explain(errno_value);
        EXPECT_EQ(error.errno_value, errno_value);
        EXPECT_THAT(error.message, HasSubstr("signature was not accepted")) << errno_value;
    }
}

TEST_F(KexecLoader, SignatureFailureUnderLockdownNamesIt) {
    // What Debian's 6.1 said in the uefi guest (Secure Boot) for a kernel
    // with one byte changed: EKEYREJECTED, not lockdown's EPERM.
    EXPECT_THAT(explain(EKEYREJECTED).message, Not(HasSubstr("locked down")));
    write_file(sys() + "/kernel/security/lockdown", "none [integrity] confidentiality\n");
    const auto error = explain(EKEYREJECTED);
    EXPECT_THAT(error.message, HasSubstr("signature was not accepted"));
    EXPECT_THAT(error.message, HasSubstr("locked down, lockdown=integrity"));
}

TEST_F(KexecLoader, OtherErrnosHaveTheirHints) {
    EXPECT_THAT(explain(ENOEXEC).message, HasSubstr("bzImage"));
    EXPECT_THAT(explain(EBUSY).message, HasSubstr("another kexec load"));
    EXPECT_THAT(explain(EINVAL).message, HasSubstr("command line"));
    EXPECT_THAT(explain(ENOSYS).message, HasSubstr("CONFIG_KEXEC_FILE"));
    EXPECT_THAT(explain(EFBIG).message, HasSubstr("2 GiB"));
    // No hint: just the system's words.
    EXPECT_EQ(explain(EIO).message,
              std::string("cannot load capture kernel /boot/vmlinuz: ") + std::strerror(EIO));
}

// ---------------------------------------------------------------------------
// SystemKexec without reaching the system call

TEST_F(KexecLoader, UnopenableFilesFailBeforeTheSystemCall) {
    SystemKexec kexec(sys(), proc());
    auto no_kernel = kexec.load_crash_kernel(dir_.file("missing-vmlinuz"), initrd(), "quiet");
    ASSERT_FALSE(no_kernel);
    EXPECT_EQ(no_kernel.error().errno_value, ENOENT);
    EXPECT_THAT(no_kernel.error().message, HasSubstr("cannot open capture kernel"));

    auto no_initrd = kexec.load_crash_kernel(kernel(), dir_.file("missing-initrd"), "quiet");
    ASSERT_FALSE(no_initrd);
    EXPECT_EQ(no_initrd.error().errno_value, ENOENT);
    EXPECT_THAT(no_initrd.error().message, HasSubstr("cannot open capture initrd"));

    auto directory = kexec.load_crash_kernel(dir_.path(), initrd(), "quiet");
    ASSERT_FALSE(directory);
    EXPECT_THAT(directory.error().message, HasSubstr("not a regular file"));

    auto nul = kexec.load_crash_kernel(kernel(), initrd(), std::string("a\0b", 3));
    ASSERT_FALSE(nul);
    EXPECT_EQ(nul.error().errno_value, EINVAL);
    EXPECT_THAT(nul.error().message, HasSubstr("NUL"));
}

// The real system call, made harmless: without CAP_SYS_BOOT the kernel
// answers EPERM before it looks at anything (kexec_load_permitted() is the
// first check in kexec_file_load), so this runs everywhere, root included:
// a child process drops the capability first.
TEST(SystemKexecReal, WithoutCapSysBootTheKernelRefusesAndWeSayWhy) {
    TempDir dir;
    {
        std::ofstream out(dir.file("vmlinuz"));
        out << "not even a kernel";
    }
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
        __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
        if (::syscall(SYS_capget, &header, data) != 0) {
            ::_exit(10);
        }
        data[CAP_TO_INDEX(CAP_SYS_BOOT)].effective &= ~CAP_TO_MASK(CAP_SYS_BOOT);
        if (::syscall(SYS_capset, &header, data) != 0) {
            ::_exit(11);
        }
        // No kexec-tools fallback: a kernel without kexec_file_load (ENOSYS)
        // then says so through the missing kexec, and the test skips.
        auto status = SystemKexec("/sys", "/proc", dir.file("no-kexec"))
                          .load_crash_kernel(dir.file("vmlinuz"), "", "console=ttyS0");
        if (status) {
            ::_exit(12);
        }
        if (status.error().errno_value == ENOSYS ||
            status.error().message.find("no kexec_file_load") != std::string::npos) {
            ::_exit(77);
        }
        if (status.error().errno_value != EPERM) {
            ::_exit(13);
        }
        if (status.error().message.find("CAP_SYS_BOOT") == std::string::npos) {
            ::_exit(14);
        }
        ::_exit(0);
    }
    int wait_status = 0;
    ASSERT_EQ(::waitpid(pid, &wait_status, 0), pid);
    ASSERT_TRUE(WIFEXITED(wait_status));
    if (WEXITSTATUS(wait_status) == 77) {
        GTEST_SKIP() << "this kernel has no kexec_file_load";
    }
    EXPECT_EQ(WEXITSTATUS(wait_status), 0)
        << "10/11: capget/capset failed, 12: loaded, 13: not EPERM, 14: no CAP_SYS_BOOT hint";
}

// The real system call. It replaces whatever crash kernel is loaded, so it
// runs only where that is expected: as root, with a crashkernel= reservation
// and no crash kernel loaded yet (the QEMU tests).
TEST(SystemKexecReal, LoadsAndUnloadsTheRunningKernel) {
    if (::geteuid() != 0) {
        GTEST_SKIP() << "kexec_file_load needs root (CAP_SYS_BOOT)";
    }
    auto reserved = read_crash_reservation_bytes("/sys");
    if (!reserved || *reserved == 0) {
        GTEST_SKIP() << "no crashkernel= reservation (/sys/kernel/kexec_crash_size is "
                     << (reserved ? "0" : "missing") << ")";
    }
    SystemKexec kexec;
    auto before = kexec.crash_kernel_loaded();
    ASSERT_TRUE(before) << before.error().message;
    if (*before) {
        GTEST_SKIP() << "a crash kernel is already loaded; this test would replace it";
    }

    // Not a kernel: refused with ENOEXEC, nothing loaded.
    TempDir dir;
    {
        std::ofstream out(dir.file("not-a-kernel"));
        out << std::string(8192, 'x');
    }
    auto garbage = kexec.load_crash_kernel(dir.file("not-a-kernel"), "", "console=ttyS0");
    ASSERT_FALSE(garbage);
    EXPECT_EQ(garbage.error().errno_value, ENOEXEC) << garbage.error().message;
    EXPECT_FALSE(*kexec.crash_kernel_loaded());

    struct utsname uts {};
    ASSERT_EQ(::uname(&uts), 0);
    const std::string running = std::string("/boot/vmlinuz-") + uts.release;
    if (::access(running.c_str(), R_OK) != 0) {
        GTEST_SKIP() << running << " is not readable; cannot try a real load";
    }
    auto load = kexec.load_crash_kernel(running, "", "console=ttyS0 reset_devices");
    if (!load && load.error().errno_value == EPERM) {
        GTEST_SKIP() << "refused by policy: " << load.error().message;
    }
    ASSERT_TRUE(load) << load.error().message;
    EXPECT_TRUE(*kexec.crash_kernel_loaded());
    ASSERT_TRUE(kexec.unload_crash_kernel());
    EXPECT_FALSE(*kexec.crash_kernel_loaded());
}

// ---------------------------------------------------------------------------
// FakeKexec

TEST_F(KexecLoader, FakeRecordsCallsAndKeepsState) {
    FakeKexec fake;
    KexecInterface& kexec = fake;  // used through the interface, as the daemon will
    EXPECT_FALSE(*kexec.crash_kernel_loaded());
    ASSERT_TRUE(kexec.load_crash_kernel(kernel(), initrd(), "irqpoll nr_cpus=1"));
    EXPECT_TRUE(*kexec.crash_kernel_loaded());
    ASSERT_TRUE(fake.loaded_image());
    EXPECT_EQ(fake.loaded_image()->kernel, kernel());
    EXPECT_EQ(fake.loaded_image()->initrd, initrd());
    EXPECT_EQ(fake.loaded_image()->cmdline, "irqpoll nr_cpus=1");
    ASSERT_TRUE(kexec.unload_crash_kernel());
    EXPECT_FALSE(fake.loaded());
    EXPECT_FALSE(fake.loaded_image());

    const auto calls = fake.calls();
    ASSERT_EQ(calls.size(), 4u);
    EXPECT_EQ(calls[0].operation, KexecOperation::query);
    EXPECT_EQ(calls[1].operation, KexecOperation::load);
    EXPECT_EQ(calls[1].cmdline, "irqpoll nr_cpus=1");
    EXPECT_EQ(calls[2].operation, KexecOperation::query);
    EXPECT_EQ(calls[3].operation, KexecOperation::unload);
}

TEST_F(KexecLoader, FakeLoadsWithoutInitrd) {
    FakeKexec fake;
    ASSERT_TRUE(fake.load_crash_kernel(kernel(), "", ""));
    EXPECT_TRUE(fake.loaded());
    EXPECT_EQ(fake.loaded_image()->initrd, "");
}

// A slow fake load (CRASHCAPTURE_KEXEC_FAKE_LOAD_MS) does not hold its lock
// while it waits: a query meanwhile answers at once, and sees what the
// kernel shows during a load, no crash image.
TEST_F(KexecLoader, FakeSlowLoadLetsQueriesThroughAndShowsNoImageMeanwhile) {
    FakeKexec fake;
    ASSERT_TRUE(fake.load_crash_kernel(kernel(), initrd(), "first"));
    fake.set_load_duration(std::chrono::milliseconds(2000));
    std::thread loader([&] { EXPECT_TRUE(fake.load_crash_kernel(kernel(), initrd(), "second")); });
    // Wait for the load to have started (its call recorded).
    while (fake.calls().size() < 2) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    const auto asked = std::chrono::steady_clock::now();
    const auto loaded = fake.crash_kernel_loaded();
    const auto answered = std::chrono::steady_clock::now() - asked;
    loader.join();
    ASSERT_TRUE(loaded);
    EXPECT_FALSE(*loaded);
    EXPECT_LT(answered, std::chrono::milliseconds(1000));
    ASSERT_TRUE(fake.loaded_image());
    EXPECT_EQ(fake.loaded_image()->cmdline, "second");
}

TEST_F(KexecLoader, FakeFailsOnceOnRequestAndDropsTheOldImageLikeTheKernel) {
    FakeKexec fake;
    ASSERT_TRUE(fake.load_crash_kernel(kernel(), initrd(), "first"));
    fake.fail_next(KexecOperation::load, explain(EADDRNOTAVAIL));
    auto failed = fake.load_crash_kernel(kernel(), initrd(), "second");
    ASSERT_FALSE(failed);
    EXPECT_EQ(failed.error().errno_value, EADDRNOTAVAIL);
    EXPECT_THAT(failed.error().message, HasSubstr("too small"));
    // The kernel frees the loaded crash image before loading the new one.
    EXPECT_FALSE(fake.loaded());
    // Only once.
    ASSERT_TRUE(fake.load_crash_kernel(kernel(), initrd(), "third"));
    EXPECT_EQ(fake.loaded_image()->cmdline, "third");
}

TEST_F(KexecLoader, FakeQueuedFailuresComeInOrder) {
    FakeKexec fake;
    fake.fail_next(KexecOperation::load, Error{EPERM, "first"});
    fake.fail_next(KexecOperation::unload, Error{EBUSY, "unload"});
    fake.fail_next(KexecOperation::load, Error{ENOMEM, "second"});
    EXPECT_EQ(fake.load_crash_kernel(kernel(), initrd(), "").error().message, "first");
    EXPECT_EQ(fake.unload_crash_kernel().error().errno_value, EBUSY);
    EXPECT_EQ(fake.load_crash_kernel(kernel(), initrd(), "").error().message, "second");
    EXPECT_TRUE(fake.load_crash_kernel(kernel(), initrd(), ""));
}

TEST_F(KexecLoader, FakeFailsAlwaysUntilCleared) {
    FakeKexec fake;
    fake.fail_always(KexecOperation::query, Error{EIO, "sysfs unreadable"});
    fake.fail_always(KexecOperation::unload, Error{EPERM, "no"});
    for (int i = 0; i < 3; ++i) {
        EXPECT_FALSE(fake.crash_kernel_loaded());
        EXPECT_FALSE(fake.unload_crash_kernel());
    }
    ASSERT_TRUE(fake.load_crash_kernel(kernel(), initrd(), ""));
    fake.clear_failures();
    EXPECT_TRUE(*fake.crash_kernel_loaded());
    EXPECT_TRUE(fake.unload_crash_kernel());
}

TEST_F(KexecLoader, FakeChecksFilesLikeTheRealLoader) {
    FakeKexec fake;
    ASSERT_TRUE(fake.load_crash_kernel(kernel(), initrd(), "keep"));
    auto missing = fake.load_crash_kernel(kernel(), dir_.file("stale-initrd"), "");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().errno_value, ENOENT);
    EXPECT_THAT(missing.error().message, HasSubstr("cannot open capture initrd"));
    // Failing before the system call leaves the loaded image alone.
    ASSERT_TRUE(fake.loaded());
    EXPECT_EQ(fake.loaded_image()->cmdline, "keep");
    EXPECT_EQ(fake.calls().size(), 2u);
}

TEST_F(KexecLoader, FakeMirrorsItsStateIntoAFakeSysfs) {
    FakeKexec fake(sys());
    SystemKexec reader(sys(), proc());
    ASSERT_TRUE(fake.load_crash_kernel(kernel(), initrd(), ""));
    EXPECT_EQ(read_text_file(sys() + "/kernel/kexec_crash_loaded"), "1\n");
    EXPECT_TRUE(*reader.crash_kernel_loaded());
    ASSERT_TRUE(fake.unload_crash_kernel());
    EXPECT_FALSE(*reader.crash_kernel_loaded());
    ASSERT_TRUE(fake.load_crash_kernel(kernel(), initrd(), ""));
    fake.fail_next(KexecOperation::load, Error{ENOEXEC, "not a bzImage"});
    EXPECT_FALSE(fake.load_crash_kernel(kernel(), initrd(), ""));
    EXPECT_FALSE(*reader.crash_kernel_loaded());
}

TEST(KexecFlags, MatchTheKernelUapi) {
    // include/uapi/linux/kexec.h
    EXPECT_EQ(kKexecFileUnload, 0x1u);
    EXPECT_EQ(kKexecFileOnCrash, 0x2u);
    EXPECT_EQ(kKexecFileNoInitramfs, 0x4u);
    EXPECT_EQ(kKexecFileOnCrash, static_cast<unsigned long>(KEXEC_FILE_ON_CRASH));
}

}  // namespace

TEST(FakeKexecRejecting, RefusesMatchingKernelsAfterDroppingTheOldImage) {
    TempDir dir;
    std::ofstream(dir.file("vmlinuz-good")) << "good";
    std::ofstream(dir.file("vmlinuz-broken")) << "broken";
    FakeKexec kexec;
    kexec.reject_kernels_containing("vmlinuz-broken");
    ASSERT_TRUE(kexec.load_crash_kernel(dir.file("vmlinuz-good"), "", ""));
    const auto refused = kexec.load_crash_kernel(dir.file("vmlinuz-broken"), "", "");
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().errno_value, ENOEXEC);
    // As the kernel does: the old image is gone before the new one fails.
    EXPECT_FALSE(kexec.loaded());
}

// ---------------------------------------------------------------------------
// kexec-tools, for kernels without kexec_file_load (Debian arm64)

namespace {

// Debian 6.1 arm64's /proc/kallsyms: _stext, no _text (KALLSYMS_ALL unset);
// "Kernel code" starts at __pa_symbol(_stext), 64 KiB into a 2 MiB-aligned
// image.
constexpr std::string_view kArm64Kallsyms =
    "ffffb2aec9610000 T _stext\nffffb2aec9610000 t __efistub__stext\n"
    "ffffb2aec9620000 T do_one_initcall\nffffb2aecb2e8750 D prb\tsome_module\n";
constexpr std::string_view kArm64Iomem =
    "40000000-7fffffff : System RAM\n  40210000-40fdffff : Kernel code\n"
    "  6ac00000-7abfffff : Crash kernel\n";

}  // namespace

TEST(KexecToolsText, TheMissingTextSymbolIsTheImageStart) {
    auto line = KexecToolsLoader::missing_text_symbol(std::string(kArm64Kallsyms),
                                                      std::string(kArm64Iomem));
    ASSERT_TRUE(line) << line.error().message;
    ASSERT_TRUE(*line);
    // _stext - (0x40210000 mod 2 MiB) = _stext - 0x10000.
    EXPECT_EQ(**line, "ffffb2aec9600000 T _text\n");
}

TEST(KexecToolsText, NothingToAddWhereTextIsThereOrTheLayoutIsAnother) {
    auto with_text = KexecToolsLoader::missing_text_symbol(
        "ffffb2aec9600000 T _text\n" + std::string(kArm64Kallsyms), std::string(kArm64Iomem));
    ASSERT_TRUE(with_text);
    EXPECT_FALSE(*with_text);
    auto no_stext = KexecToolsLoader::missing_text_symbol("ffffffff81000000 T startup_64\n", "");
    ASSERT_TRUE(no_stext);
    EXPECT_FALSE(*no_stext);
}

TEST(KexecToolsText, HiddenAddressesOrNoKernelCodeAreErrorsNotABrokenLoad) {
    auto hidden = KexecToolsLoader::missing_text_symbol("0000000000000000 T _stext\n",
                                                        std::string(kArm64Iomem));
    ASSERT_FALSE(hidden);
    EXPECT_EQ(hidden.error().errno_value, EPERM);
    EXPECT_THAT(hidden.error().message, HasSubstr("CAP_SYSLOG"));
    auto no_code = KexecToolsLoader::missing_text_symbol(std::string(kArm64Kallsyms),
                                                         "40000000-7fffffff : System RAM\n");
    ASSERT_FALSE(no_code);
    EXPECT_THAT(no_code.error().message, HasSubstr("Kernel code"));
}

class KexecTools : public KexecLoader {
  protected:
    // A kexec that records its arguments and the kallsyms it sees, and
    // exits with `exit_status` after printing `says`.
    std::string fake_kexec(int exit_status = 0, std::string_view says = "") {
        const std::string path = dir_.file("kexec");
        write_file(path, fmt::format("#!/bin/sh\nprintf '%s\\n' \"$@\" > '{0}'\n"
                                     "cat '{1}/kallsyms' > '{2}' 2>/dev/null\n"
                                     "printf '%s' '{3}' >&2\nexit {4}\n",
                                     arguments_file(), proc(), seen_kallsyms(), says, exit_status));
        ::chmod(path.c_str(), 0755);
        return path;
    }
    std::string arguments_file() const { return dir_.file("kexec-arguments"); }
    std::string seen_kallsyms() const { return dir_.file("kexec-kallsyms"); }
    KexecToolsLoader loader(const std::string& kexec) const {
        return KexecToolsLoader(kexec, proc(), sys(), dir_.path());
    }
    static std::string slurp(const std::string& path) {
        std::ifstream in(path);
        return {std::istreambuf_iterator<char>(in), {}};
    }
};

TEST_F(KexecTools, LoadsThroughKexecLoadWithTheCommandLine) {
    auto status = loader(fake_kexec()).load(kernel(), initrd(), "console=ttyAMA0 nr_cpus=1");
    ASSERT_TRUE(status) << status.error().message;
    EXPECT_EQ(slurp(arguments_file()),
              fmt::format("--load-panic\n--kexec-syscall\n{}\n--initrd={}\n"
                          "--command-line=console=ttyAMA0 nr_cpus=1\n",
                          kernel(), initrd()));
    ASSERT_TRUE(loader(fake_kexec()).unload());
    EXPECT_EQ(slurp(arguments_file()), "--unload-panic\n--kexec-syscall\n");
}

TEST_F(KexecTools, ItsRefusalIsExplainedAndAMissingKexecNamed) {
    write_file(sys() + "/kernel/security/lockdown", "none [integrity] confidentiality\n");
    auto refused = loader(fake_kexec(255, "kexec_load failed: Operation not permitted"))
                       .load(kernel(), "", "quiet");
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().errno_value, EPERM);
    EXPECT_THAT(refused.error().message, HasSubstr("kexec_load failed"));
    EXPECT_THAT(refused.error().message, HasSubstr("lockdown"));

    auto other =
        loader(fake_kexec(1, "Could not find a free area of memory")).load(kernel(), "", "quiet");
    ASSERT_FALSE(other);
    EXPECT_THAT(other.error().message, HasSubstr("exit status 1"));
    EXPECT_THAT(other.error().message, HasSubstr("free area"));

    auto missing = loader(dir_.file("no-such-kexec")).load(kernel(), "", "quiet");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().errno_value, ENOENT);
    EXPECT_THAT(missing.error().message, HasSubstr("not installed"));
}

TEST_F(KexecTools, KexecSeesAKallsymsWithTextAndNobodyElseDoes) {
    if (::geteuid() != 0) {
        GTEST_SKIP() << "a mount namespace of its own needs root (CAP_SYS_ADMIN)";
    }
    write_file(proc() + "/kallsyms", kArm64Kallsyms);
    write_file(proc() + "/iomem", kArm64Iomem);
    auto status = loader(fake_kexec()).load(kernel(), initrd(), "quiet");
    ASSERT_TRUE(status) << status.error().message;
    EXPECT_EQ(slurp(seen_kallsyms()), "ffffb2aec9600000 T _text\n" + std::string(kArm64Kallsyms));
    // Outside kexec's namespace the file is as it was, and the copy is gone.
    EXPECT_EQ(slurp(proc() + "/kallsyms"), kArm64Kallsyms);
    EXPECT_NE(::access(dir_.file("kallsyms-with-text").c_str(), F_OK), 0);
}
