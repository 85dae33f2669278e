#include "capture-cmdline.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

using namespace crashcapture;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

namespace {

// Debian 12 on GRUB, with the usual things a capture must not inherit.
constexpr std::string_view kDebianCmdline =
    "BOOT_IMAGE=/boot/vmlinuz-6.1.0-18-amd64 root=UUID=0a1b2c3d-1111-2222-3333-444455556666 ro "
    "quiet splash crashkernel=384M-:256M resume=UUID=9f8e7d6c-aaaa-bbbb-cccc-ddddeeeeffff\n";

constexpr std::string_view kBootId = "3f2a1b4c-5d6e-4f70-8192-a3b4c5d6e7f8";

std::vector<std::string> words_of(const Result<std::string>& line) {
    EXPECT_TRUE(line.has_value()) << line.error().message;
    return line ? split_kernel_command_line(*line) : std::vector<std::string>{};
}

std::vector<std::string> added_words(CaptureArchitecture architecture = running_architecture()) {
    std::vector<std::string> words;
    for (const auto& parameter : kCaptureAddedParameters) {
        if (applies_to(parameter, architecture)) {
            words.emplace_back(parameter.word);
        }
    }
    return words;
}

size_t count_named(const std::vector<std::string>& words, std::string_view name) {
    size_t count = 0;
    for (const auto& word : words) {
        count += kernel_parameter_names_equal(kernel_parameter_name(word), name) ? 1 : 0;
    }
    return count;
}

}  // namespace

// ---------------------------------------------------------------------------
// Splitting and names.

TEST(KernelCommandLine, SplitsOnWhitespace) {
    EXPECT_THAT(split_kernel_command_line("  a b=1\tc\n"), ElementsAre("a", "b=1", "c"));
    EXPECT_THAT(split_kernel_command_line(""), IsEmpty());
    EXPECT_THAT(split_kernel_command_line(" \n"), IsEmpty());
}

TEST(KernelCommandLine, QuotedValuesAreOneWord) {
    EXPECT_THAT(split_kernel_command_line("foo=\"a b\" bar"), ElementsAre("foo=\"a b\"", "bar"));
    EXPECT_THAT(split_kernel_command_line("\"foo=a b\" bar"), ElementsAre("\"foo=a b\"", "bar"));
    EXPECT_THAT(split_kernel_command_line("x=\"a\tb\"c y"), ElementsAre("x=\"a\tb\"c", "y"));
}

TEST(KernelCommandLine, UnterminatedQuoteRunsToTheEnd) {
    // next_arg(): in_quote stays set until the end of the line.
    EXPECT_THAT(split_kernel_command_line("a foo=\"b c d"), ElementsAre("a", "foo=\"b c d"));
}

TEST(KernelCommandLine, ParameterNames) {
    EXPECT_EQ(kernel_parameter_name("quiet"), "quiet");
    EXPECT_EQ(kernel_parameter_name("root=/dev/sda1"), "root");
    EXPECT_EQ(kernel_parameter_name("foo=\"a b\""), "foo");
    EXPECT_EQ(kernel_parameter_name("\"foo=a b\""), "foo");
    EXPECT_EQ(kernel_parameter_name("\"quiet\""), "quiet");
    EXPECT_EQ(kernel_parameter_name("rd.luks.uuid=x=y"), "rd.luks.uuid");
}

TEST(KernelCommandLine, DashesAndUnderscoresAreEqualInNames) {
    EXPECT_TRUE(kernel_parameter_names_equal("nr_cpus", "nr-cpus"));
    EXPECT_TRUE(kernel_parameter_names_equal("udev.children-max", "udev.children_max"));
    EXPECT_FALSE(kernel_parameter_names_equal("nr_cpus", "nr_cpu"));
    EXPECT_FALSE(kernel_parameter_names_equal("panic", "Panic"));
}

TEST(KernelCommandLine, PatternMatching) {
    EXPECT_TRUE(kernel_parameter_matches("console", "console=ttyS0,115200"));
    EXPECT_TRUE(kernel_parameter_matches("console", "console"));
    EXPECT_FALSE(kernel_parameter_matches("console", "consoleblank=0"));
    EXPECT_TRUE(kernel_parameter_matches("console=tty0", "console=tty0"));
    EXPECT_FALSE(kernel_parameter_matches("console=tty0", "console=ttyS0"));
    EXPECT_FALSE(kernel_parameter_matches("console=tty0", "console"));
    EXPECT_TRUE(kernel_parameter_matches("rd.luks.*", "rd.luks.name=abc=root"));
    EXPECT_TRUE(kernel_parameter_matches("rd.luks.*", "rd.luks.options=discard"));
    EXPECT_FALSE(kernel_parameter_matches("rd.luks.*", "rd.lvm.lv=vg/root"));
    EXPECT_TRUE(kernel_parameter_matches("rd.*", "rd.break"));
    EXPECT_TRUE(kernel_parameter_matches("nr-cpus", "nr_cpus=4"));
    EXPECT_TRUE(kernel_parameter_matches("foo", "\"foo=a b\""));
}

TEST(KernelCommandLine, CheckWords) {
    EXPECT_EQ(check_command_line_word("foo=\"a b\"", false), std::nullopt);
    EXPECT_THAT(check_command_line_word("foo=\"a b", false).value_or(""), HasSubstr("quote"));
    EXPECT_THAT(check_command_line_word("a\x01", false).value_or(""), HasSubstr("control"));
    EXPECT_THAT(check_command_line_word("=x", false).value_or(""), HasSubstr("name"));
    EXPECT_THAT(check_command_line_word("--", false).value_or(""), HasSubstr("init"));
    EXPECT_EQ(check_command_line_word("rd.luks.*", true), std::nullopt);
    EXPECT_THAT(check_command_line_word("rd.*.uuid", true).value_or(""), HasSubstr("end"));
    EXPECT_THAT(check_command_line_word("rd.*", false), std::nullopt);  // only patterns glob
    EXPECT_THAT(check_command_line_word("rd.luks=x*", true).value_or(""), HasSubstr("value"));
}

// ---------------------------------------------------------------------------
// The capture line.

TEST(CaptureCommandLine, DebianLine) {
    const auto line = build_capture_command_line(kDebianCmdline, {});
    ASSERT_TRUE(line) << line.error().message;
    std::string expected = "root=UUID=0a1b2c3d-1111-2222-3333-444455556666 ro";
    for (const auto& word : added_words()) {
        expected += " " + word;
    }
    EXPECT_EQ(*line, expected);
}

TEST(CaptureCommandLine, AddsWhatKdumpUtilsAddsOnX86_64) {
    const auto words = words_of(build_capture_command_line("root=/dev/vda1", {}));
    for (const auto* word :
         {"irqpoll", "nr_cpus=1", "reset_devices", "cgroup_disable=memory", "mce=off", "numa=off",
          "udev.children-max=2", "panic=10", "acpi_no_memhotplug", "transparent_hugepage=never",
          "nokaslr", "hest_disable", "novmcoredd", "cma=0", "hugetlb_cma=0", "pcie_ports=compat",
          "rd.systemd.gpt_auto=no", "noresume"}) {
        EXPECT_THAT(words, Contains(word));
    }
}

TEST(CaptureCommandLine, RemovesEveryBuiltInParameter) {
    std::string running = "root=/dev/vda1";
    for (const auto& parameter : kCaptureRemovedParameters) {
        // append(), not " " + std::string(...): at -O3 GCC 12 inlines that
        // operator+ (an insert at 0) into a bogus -Wrestrict (GCC bug 105651).
        running.append(" ").append(parameter.word).append("=from-the-first-kernel");
        running.append(" ").append(parameter.word);
    }
    const auto words = words_of(build_capture_command_line(running, {}));
    for (const auto& word : words) {
        EXPECT_THAT(word, Not(HasSubstr("from-the-first-kernel")));
    }
    // What we add appears once, the first kernel's copies are gone.
    for (const auto& word : added_words()) {
        EXPECT_EQ(count_named(words, kernel_parameter_name(word)), 1u) << word;
    }
    EXPECT_THAT(words, Contains("root=/dev/vda1"));
}

TEST(CaptureCommandLine, RemovesTheDocumentedWords) {
    const auto words = words_of(build_capture_command_line(
        "BOOT_IMAGE=(hd0,gpt2)/vmlinuz initrd=\\EFI\\debian\\initrd.img quiet splash rhgb "
        "hugepages=512 hugepagesz=2M default_hugepagesz=1G nr_cpus=8 maxcpus=4 possible_cpus=8 "
        "panic=0 resume=/dev/sda2 resume_offset=34816 systemd.unit=rescue.target "
        "rd.lvm.lv=vg/root rd.luks.uuid=luks-1 rd.md.uuid=1 rd.dm.uuid=2 panic_on_warn=1 "
        "slub_debug=FZ log_buf_len=16M swiotlb=65536 cma=64M mem=4G init=/sbin/init "
        "rdinit=/process_api keep=me",
        {}));
    EXPECT_THAT(words, Contains("keep=me"));
    for (const auto* name : {"BOOT_IMAGE",   "initrd",        "quiet",        "splash",
                             "rhgb",         "hugepages",     "hugepagesz",   "default_hugepagesz",
                             "maxcpus",      "possible_cpus", "resume",       "resume_offset",
                             "systemd.unit", "rd.lvm.lv",     "rd.luks.uuid", "rd.md.uuid",
                             "rd.dm.uuid",   "panic_on_warn", "slub_debug",   "log_buf_len",
                             "swiotlb",      "mem",           "init",         "rdinit"}) {
        EXPECT_EQ(count_named(words, name), 0u) << name;
    }
    EXPECT_EQ(count_named(words, "nr_cpus"), 1u);
    EXPECT_THAT(words, Contains("nr_cpus=1"));
    EXPECT_THAT(words, Contains("panic=10"));
    EXPECT_THAT(words, Contains("cma=0"));
}

TEST(CaptureCommandLine, NamesMatchWithDashesOrUnderscores) {
    const auto words = words_of(build_capture_command_line("nr-cpus=16 udev.children_max=64", {}));
    EXPECT_EQ(count_named(words, "nr_cpus"), 1u);
    EXPECT_EQ(count_named(words, "udev.children-max"), 1u);
    EXPECT_THAT(words, Contains("udev.children-max=2"));
}

TEST(CaptureCommandLine, KeepsRootAndConsoles) {
    const auto words = words_of(build_capture_command_line(
        "root=/dev/mapper/vg-root rootflags=subvol=@ ro console=tty0 console=ttyS0,115200n8", {}));
    EXPECT_THAT(words, Contains("root=/dev/mapper/vg-root"));
    EXPECT_THAT(words, Contains("rootflags=subvol=@"));
    EXPECT_THAT(words, Contains("ro"));
    EXPECT_THAT(words, Contains("console=tty0"));
    EXPECT_THAT(words, Contains("console=ttyS0,115200n8"));
}

TEST(CaptureCommandLine, QuotedWordsSurviveWhole) {
    const auto words = words_of(build_capture_command_line(
        "root=/dev/vda1 dyndbg=\"file drivers/foo.c +p\" \"quiet\" \"crashkernel=256M\"", {}));
    EXPECT_THAT(words, Contains("dyndbg=\"file drivers/foo.c +p\""));
    EXPECT_EQ(count_named(words, "quiet"), 0u);
    EXPECT_EQ(count_named(words, "crashkernel"), 0u);
}

TEST(CaptureCommandLine, DropsInitArgumentsAfterDashes) {
    const auto line = build_capture_command_line("root=/dev/vda1 -- emergency single", {});
    ASSERT_TRUE(line);
    EXPECT_THAT(*line, Not(HasSubstr("emergency")));
    EXPECT_THAT(*line, Not(HasSubstr("--")));
    EXPECT_THAT(*line, HasSubstr("panic=10"));  // our words are kernel parameters, not init's
}

TEST(CaptureCommandLine, ConfigRemoveAppliesToTheRunningLineAndOurWords) {
    CaptureCommandLineOptions options;
    options.remove = {"console=tty0", "irqpoll", "rd.break*", "foo"};
    const auto words = words_of(build_capture_command_line(
        "root=/dev/vda1 console=tty0 console=ttyS0 rd.break=pre-mount foo=1 foo", options));
    EXPECT_THAT(words, Not(Contains("console=tty0")));
    EXPECT_THAT(words, Contains("console=ttyS0"));
    EXPECT_THAT(words, Not(Contains("irqpoll")));  // e.g. kdump-utils' AWS aarch64 workaround
    EXPECT_EQ(count_named(words, "rd.break"), 0u);
    EXPECT_EQ(count_named(words, "foo"), 0u);
}

TEST(CaptureCommandLine, ConfigRemoveDoesNotTouchAppend) {
    CaptureCommandLineOptions options;
    options.remove = {"console"};
    options.append = {"console=ttyS1"};
    const auto words = words_of(build_capture_command_line("console=tty0", options));
    EXPECT_THAT(words, Not(Contains("console=tty0")));
    EXPECT_EQ(words.back(), "console=ttyS1");
}

TEST(CaptureCommandLine, AppendComesLastAndReplacesOurDefaults) {
    CaptureCommandLineOptions options;
    options.append = {"nr_cpus=2", "panic=30", "rd.memdebug=3", "x=\"a b\""};
    const auto words = words_of(build_capture_command_line("root=/dev/vda1", options));
    ASSERT_GE(words.size(), 4u);
    EXPECT_THAT(std::vector<std::string>(words.end() - 4, words.end()),
                ElementsAre("nr_cpus=2", "panic=30", "rd.memdebug=3", "x=\"a b\""));
    EXPECT_EQ(count_named(words, "nr_cpus"), 1u);
    EXPECT_EQ(count_named(words, "panic"), 1u);
    EXPECT_THAT(words, Contains("irqpoll"));
}

TEST(CaptureCommandLine, ChosenCpusBecomeNrCpus) {
    CaptureCommandLineOptions options;
    options.capture_cpus = 4;
    const auto words = words_of(build_capture_command_line("root=/dev/vda1 nr_cpus=64", options));
    EXPECT_EQ(count_named(words, "nr_cpus"), 1u);
    EXPECT_THAT(words, Contains("nr_cpus=4"));
    // KernelCommandLineAppend= still wins.
    options.append = {"nr_cpus=2"};
    const auto appended = words_of(build_capture_command_line("root=/dev/vda1", options));
    EXPECT_EQ(count_named(appended, "nr_cpus"), 1u);
    EXPECT_EQ(appended.back(), "nr_cpus=2");
    // Through the config, as the daemon calls it.
    Config config;
    const auto derived = derive_capture_command_line("root=/dev/vda1", config, "", std::nullopt, 3);
    ASSERT_TRUE(derived);
    EXPECT_THAT(*derived, HasSubstr(" nr_cpus=3 "));
    // No CPU at all is a caller's mistake.
    options.capture_cpus = 0;
    EXPECT_FALSE(build_capture_command_line("root=/dev/vda1", options));
}

TEST(CaptureCommandLine, AppendDoesNotDropTheRunningLinesWords) {
    // Several console= are legitimate: appending one adds it.
    CaptureCommandLineOptions options;
    options.append = {"console=ttyS1"};
    const auto words = words_of(build_capture_command_line("console=tty0", options));
    EXPECT_THAT(words, Contains("console=tty0"));
    EXPECT_THAT(words, Contains("console=ttyS1"));
}

TEST(CaptureCommandLine, BootIdAndApicId) {
    CaptureCommandLineOptions options;
    options.boot_id = std::string(kBootId) + "\n";
    options.boot_cpu_apicid = 2;
    const auto words = words_of(build_capture_command_line(
        "root=/dev/vda1 crashcapture.boot_id=old disable_cpu_apicid=9", options));
    EXPECT_THAT(words, Contains("crashcapture.boot_id=" + std::string(kBootId)));
    EXPECT_THAT(words, Contains("disable_cpu_apicid=2"));
    EXPECT_EQ(count_named(words, "crashcapture.boot_id"), 1u);
    EXPECT_EQ(count_named(words, "disable_cpu_apicid"), 1u);
}

TEST(CaptureCommandLine, NoBootIdNoApicIdByDefault) {
    const auto words = words_of(build_capture_command_line("root=/dev/vda1", {}));
    EXPECT_EQ(count_named(words, "crashcapture.boot_id"), 0u);
    EXPECT_EQ(count_named(words, "disable_cpu_apicid"), 0u);
}

TEST(CaptureCommandLine, RejectsABadBootId) {
    CaptureCommandLineOptions options;
    options.boot_id = "not-a-uuid; reboot";
    const auto line = build_capture_command_line("root=/dev/vda1", options);
    ASSERT_FALSE(line);
    EXPECT_EQ(line.error().errno_value, EINVAL);
    EXPECT_THAT(line.error().message, HasSubstr("boot id"));
    options.boot_id = "3F2A1B4C-5D6E-4F70-8192-A3B4C5D6E7F8";  // the kernel prints lower case
    EXPECT_FALSE(build_capture_command_line("", options));
}

TEST(CaptureCommandLine, RejectsUnusableConfigWords) {
    CaptureCommandLineOptions append;
    append.append = {"foo=\"unterminated"};
    auto line = build_capture_command_line("", append);
    ASSERT_FALSE(line);
    EXPECT_THAT(line.error().message, HasSubstr("KernelCommandLineAppend=foo=\"unterminated"));

    CaptureCommandLineOptions remove;
    remove.remove = {"a*b"};
    line = build_capture_command_line("", remove);
    ASSERT_FALSE(line);
    EXPECT_THAT(line.error().message, HasSubstr("KernelCommandLineRemove=a*b"));
}

TEST(CaptureCommandLine, TooLongForKexec) {
    std::string running = "root=/dev/vda1";
    while (running.size() < kMaxCaptureCommandLineBytes) {
        running += " option.with.a.long.name=0123456789";
    }
    const auto line = build_capture_command_line(running, {});
    ASSERT_FALSE(line);
    EXPECT_EQ(line.error().errno_value, E2BIG);
    EXPECT_THAT(line.error().message, HasSubstr("KernelCommandLineRemove="));

    // Removing the noise makes it fit.
    CaptureCommandLineOptions options;
    options.remove = {"option.*"};
    EXPECT_TRUE(build_capture_command_line(running, options));
}

TEST(CaptureCommandLine, ExactlyAtTheLimitFits) {
    const auto base = build_capture_command_line("", {});
    ASSERT_TRUE(base);
    CaptureCommandLineOptions options;
    const size_t room = kMaxCaptureCommandLineBytes - base->size() - 1;  // one space
    options.append = {"x=" + std::string(room - 2, 'a')};
    const auto line = build_capture_command_line("", options);
    ASSERT_TRUE(line) << line.error().message;
    EXPECT_EQ(line->size(), kMaxCaptureCommandLineBytes);
    options.append = {"x=" + std::string(room - 1, 'a')};
    EXPECT_FALSE(build_capture_command_line("", options));
}

TEST(CaptureCommandLine, DeterministicAndIdempotentOnItsOwnOutput) {
    // Deriving again from a capture line (the daemon running inside a capture
    // kernel, or a reload) changes nothing.
    CaptureCommandLineOptions options;
    options.boot_id = std::string(kBootId);
    const auto once = build_capture_command_line(kDebianCmdline, options);
    ASSERT_TRUE(once);
    const auto twice = build_capture_command_line(*once, options);
    ASSERT_TRUE(twice);
    EXPECT_EQ(*once, *twice);
}

TEST(CaptureCommandLine, FromConfig) {
    Config config;
    config.cmdline_remove = {"console"};
    config.cmdline_append = {"console=ttyS0,115200", "rd.memdebug=2"};
    const auto line =
        derive_capture_command_line("root=/dev/vda1 console=tty0 quiet", config, kBootId, 0);
    ASSERT_TRUE(line) << line.error().message;
    const auto words = split_kernel_command_line(*line);
    EXPECT_EQ(words.front(), "root=/dev/vda1");
    EXPECT_THAT(words, Not(Contains("console=tty0")));
    EXPECT_THAT(words, Not(Contains("quiet")));
    EXPECT_THAT(words, Contains("disable_cpu_apicid=0"));
    EXPECT_THAT(words, Contains("crashcapture.boot_id=" + std::string(kBootId)));
    EXPECT_THAT(std::vector<std::string>(words.end() - 2, words.end()),
                ElementsAre("console=ttyS0,115200", "rd.memdebug=2"));
}

TEST(CaptureCommandLine, EachArchitectureGetsItsOwnWords) {
    CaptureCommandLineOptions options;
    options.architecture = CaptureArchitecture::arm64;
    const auto arm64 = words_of(
        build_capture_command_line("root=/dev/vda2 console=ttyAMA0 swiotlb=65536", options));
    EXPECT_EQ(std::vector<std::string>(arm64.begin() + 2, arm64.end()),
              added_words(CaptureArchitecture::arm64));
    EXPECT_EQ(count_named(arm64, "swiotlb"), 1u) << "the running swiotlb= is replaced";
    for (const char* x86_only : {"mce", "numa", "acpi_no_memhotplug", "hest_disable", "pcie_ports",
                                 "nokaslr", "transparent_hugepage"}) {
        EXPECT_EQ(count_named(arm64, x86_only), 0u) << x86_only;
    }
    options.architecture = CaptureArchitecture::x86_64;
    const auto x86 = words_of(build_capture_command_line("root=/dev/vda2 swiotlb=65536", options));
    EXPECT_EQ(count_named(x86, "mce"), 1u);
    EXPECT_EQ(count_named(x86, "swiotlb"), 0u) << "removed, and only arm64 adds one";
}

TEST(CaptureCommandLine, EveryParameterHasAReason) {
    std::set<std::string> seen;
    for (const auto& parameter : kCaptureRemovedParameters) {
        EXPECT_FALSE(parameter.reason.empty()) << parameter.word;
        EXPECT_TRUE(seen.insert(std::string(parameter.word)).second) << parameter.word;
    }
    for (const auto& parameter : kCaptureAddedParameters) {
        EXPECT_FALSE(parameter.reason.empty()) << parameter.word;
        // Each added parameter's name is also removed from the running line.
        EXPECT_TRUE(seen.count(std::string(kernel_parameter_name(parameter.word))))
            << parameter.word;
    }
}

// ---------------------------------------------------------------------------

TEST(BootCpuApicId, PrefersTheInitialApicIdOfProcessorZero) {
    constexpr std::string_view cpuinfo =
        "processor\t: 0\n"
        "vendor_id\t: GenuineIntel\n"
        "apicid\t\t: 4\n"
        "initial apicid\t: 6\n"
        "\n"
        "processor\t: 1\n"
        "apicid\t\t: 0\n"
        "initial apicid\t: 0\n";
    EXPECT_EQ(parse_boot_cpu_apicid(cpuinfo), 6u);
}

TEST(BootCpuApicId, FallsBackToApicId) {
    EXPECT_EQ(parse_boot_cpu_apicid("processor\t: 0\napicid\t\t: 3\n"), 3u);
}

TEST(BootCpuApicId, OnlyProcessorZero) {
    EXPECT_EQ(parse_boot_cpu_apicid("processor\t: 1\napicid\t\t: 3\n"), std::nullopt);
}

TEST(BootCpuApicId, NothingOnOtherArchitectures) {
    // arm64's /proc/cpuinfo has no apicid.
    EXPECT_EQ(parse_boot_cpu_apicid("processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd\n"),
              std::nullopt);
    EXPECT_EQ(parse_boot_cpu_apicid(""), std::nullopt);
}
