#include "config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "synthetic-vmcore.hpp"

using namespace crashcapture;
using crashcapture::test::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

namespace {

constexpr uint64_t kKiB = 1024;
constexpr uint64_t kMiB = 1024 * kKiB;
constexpr uint64_t kGiB = 1024 * kMiB;
constexpr uint64_t kSec = 1000 * 1000;

// A fake root with /etc/crashcapture.
class ConfigTree : public ::testing::Test {
  protected:
    ConfigTree() : paths_(SystemPaths::under(root_.path())) {
        for (const auto* dir : {"/etc", "/etc/crashcapture"}) {
            EXPECT_EQ(::mkdir((root_.path() + dir).c_str(), 0755), 0);
        }
    }

    void write(const std::string& path, std::string_view text) {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out << text;
        ASSERT_TRUE(out.good()) << path;
    }
    void write_main(std::string_view text) { write(paths_.config_file(), text); }
    std::string dropin(const std::string& name) {
        ::mkdir(paths_.config_dropin_directory().c_str(), 0755);
        return paths_.config_dropin_directory() + "/" + name;
    }
    void write_dropin(const std::string& name, std::string_view text) { write(dropin(name), text); }

    TempDir root_;
    SystemPaths paths_;
};

LoadedConfig parse(std::string_view text, const std::string& name = "test.conf") {
    return parse_config({ConfigSource{name, std::string(text)}});
}

Config parse_ok(std::string_view text) {
    auto loaded = parse(text);
    for (const auto& error : loaded.errors) {
        ADD_FAILURE() << error.to_string();
    }
    return loaded.config;
}

std::vector<std::string> messages(const LoadedConfig& loaded) {
    std::vector<std::string> out;
    for (const auto& error : loaded.errors) {
        out.push_back(error.to_string());
    }
    return out;
}

}  // namespace

// ---------------------------------------------------------------------------
// Defaults and the files.

TEST(ConfigDefaults, AreWhatTheManPageSays) {
    const Config config;
    EXPECT_EQ(config.target.kind, TargetKind::directory);
    EXPECT_EQ(config.target.path, "/var/crash");
    EXPECT_EQ(config.effective_format(), DumpFormat::kdump);
    EXPECT_EQ(config.dump_level, 31);
    EXPECT_EQ(config.compression, Compression::zstd);
    EXPECT_EQ(config.effective_compression_level(), 1);
    EXPECT_THAT(config.cmdline_append, IsEmpty());
    EXPECT_THAT(config.cmdline_remove, IsEmpty());
    EXPECT_EQ(config.kernel_override, "");
    EXPECT_EQ(config.initrd_override, "");
    EXPECT_EQ(config.failure_action, FailureAction::reboot);
    EXPECT_EQ(config.final_action, FinalAction::reboot);
    EXPECT_EQ(config.timeout_usec, 30 * 60 * kSec);
    EXPECT_EQ(config.retention, RetentionSettings{});
    EXPECT_EQ(config.target_description(), "/var/crash");
}

TEST_F(ConfigTree, MissingFilesAreTheDefaults) {
    const auto loaded = load_config_files(paths_);
    EXPECT_THAT(loaded.errors, IsEmpty());
    EXPECT_THAT(loaded.files, IsEmpty());
    EXPECT_EQ(loaded.config, Config{});
    auto config = load_config(paths_);
    ASSERT_TRUE(config) << config.error().message;
    EXPECT_EQ(*config, Config{});
}

TEST_F(ConfigTree, NoEtcAtAllIsTheDefaults) {
    TempDir empty;
    auto config = load_config(SystemPaths::under(empty.path()));
    ASSERT_TRUE(config) << config.error().message;
    EXPECT_EQ(*config, Config{});
}

TEST_F(ConfigTree, MainFileSetsEveryKey) {
    write_main(
        "# crashcapture.conf\n"
        "[Dump]\n"
        "Target=/srv/crash\n"
        "Format=elf\n"
        "DumpLevel=17\n"
        "Compression=zlib\n"
        "CompressionLevel=6\n"
        "\n"
        "[Capture]\n"
        "KernelCommandLineAppend=console=ttyS0,115200 rd.memdebug=2\n"
        "KernelCommandLineRemove=console rd.luks.*\n"
        "Kernel=/boot/vmlinuz-capture\n"
        "Initrd=/boot/initrd-capture.img\n"
        "FailureAction=shell\n"
        "FinalAction=poweroff\n"
        "TimeoutSec=1h 30min\n"
        "\n"
        "[Retention]\n"
        "MaxUse=20G\n"
        "KeepFree=10%\n"
        "KeepDumps=5\n");
    auto config = load_config(paths_);
    ASSERT_TRUE(config) << config.error().message;
    EXPECT_EQ(config->target, (Target{TargetKind::directory, "/srv/crash", "", "", 0}));
    EXPECT_EQ(config->format, DumpFormat::elf);
    EXPECT_EQ(config->dump_level, 17);
    EXPECT_EQ(config->compression, Compression::zlib);
    EXPECT_EQ(config->compression_level, 6);
    EXPECT_THAT(config->cmdline_append, ElementsAre("console=ttyS0,115200", "rd.memdebug=2"));
    EXPECT_THAT(config->cmdline_remove, ElementsAre("console", "rd.luks.*"));
    EXPECT_EQ(config->kernel_override, "/boot/vmlinuz-capture");
    EXPECT_EQ(config->initrd_override, "/boot/initrd-capture.img");
    EXPECT_EQ(config->failure_action, FailureAction::shell);
    EXPECT_EQ(config->final_action, FinalAction::poweroff);
    EXPECT_EQ(config->timeout_usec, 90 * 60 * kSec);
    EXPECT_EQ(config->retention.max_use, (SizeLimit{false, 20 * kGiB, 0}));
    EXPECT_EQ(config->retention.keep_free, (SizeLimit{true, 0, 10}));
    EXPECT_EQ(config->retention.keep_dumps, 5u);
}

TEST_F(ConfigTree, DropInsApplyInLexicalOrderAfterTheMainFile) {
    write_main("[Dump]\nDumpLevel=1\nCompression=zlib\n");
    write_dropin("20-b.conf", "[Dump]\nDumpLevel=3\n");
    write_dropin("10-a.conf", "[Dump]\nDumpLevel=2\nCompression=none\n");
    write_dropin("30-C.conf", "[Dump]\nDumpLevel=4\n");
    write_dropin("30-c.conf", "[Dump]\nDumpLevel=5\n");  // 'c' sorts after 'C' (byte order)
    const auto loaded = load_config_files(paths_);
    EXPECT_THAT(loaded.errors, IsEmpty());
    EXPECT_THAT(loaded.files,
                ElementsAre(paths_.config_file(), dropin("10-a.conf"), dropin("20-b.conf"),
                            dropin("30-C.conf"), dropin("30-c.conf")));
    EXPECT_EQ(loaded.config.dump_level, 5);
    EXPECT_EQ(loaded.config.compression, Compression::none);
}

TEST_F(ConfigTree, DropInsWithoutAMainFile) {
    write_dropin("50-target.conf", "[Dump]\nTarget=/data/crash\n");
    auto config = load_config(paths_);
    ASSERT_TRUE(config) << config.error().message;
    EXPECT_EQ(config->target.path, "/data/crash");
}

TEST_F(ConfigTree, OnlyConfFilesCount) {
    write_dropin("10-a.conf", "[Dump]\nDumpLevel=2\n");
    write_dropin("20-b.conf.disabled", "[Dump]\nDumpLevel=3\n");
    write_dropin("20-b.conf~", "[Dump]\nDumpLevel=3\n");
    write_dropin(".30-hidden.conf", "[Dump]\nDumpLevel=3\n");
    write_dropin("README", "not a config");
    write_dropin(".conf", "[Dump]\nDumpLevel=3\n");
    ASSERT_EQ(::mkdir(dropin("40-dir.conf").c_str(), 0755), 0);
    auto config = load_config(paths_);
    ASSERT_TRUE(config) << config.error().message;
    EXPECT_EQ(config->dump_level, 2);
}

TEST_F(ConfigTree, SymlinkToDevNullMasksADropIn) {
    write_dropin("10-a.conf", "[Dump]\nDumpLevel=2\n");
    ASSERT_EQ(::symlink("/dev/null", dropin("20-masked.conf").c_str()), 0);
    const auto real = root_.path() + "/elsewhere.conf";
    write(real, "[Dump]\nDumpLevel=7\n");
    ASSERT_EQ(::symlink(real.c_str(), dropin("30-linked.conf").c_str()), 0);
    const auto loaded = load_config_files(paths_);
    EXPECT_THAT(loaded.errors, IsEmpty());
    EXPECT_EQ(loaded.config.dump_level, 7);
    EXPECT_THAT(loaded.files, ElementsAre(dropin("10-a.conf"), dropin("30-linked.conf")));
}

TEST_F(ConfigTree, UnreadableFileIsAnError) {
    // A directory where the file should be: open() works, read() fails.
    ASSERT_EQ(::mkdir(paths_.config_file().c_str(), 0755), 0);
    const auto loaded = load_config_files(paths_);
    ASSERT_THAT(loaded.errors, SizeIs(1));
    EXPECT_EQ(loaded.errors[0].file, paths_.config_file());
    EXPECT_EQ(loaded.errors[0].line, 0u);
    EXPECT_THAT(loaded.errors[0].message, HasSubstr("Is a directory"));
    EXPECT_FALSE(load_config(paths_));
}

TEST_F(ConfigTree, ErrorsComeInFileOrder) {
    write_main("[Dump]\nDumpLevel=99\n");
    // A symlink loop cannot be opened (ELOOP): an error where it sorts.
    ASSERT_EQ(::symlink("15-loop.conf", dropin("15-loop.conf").c_str()), 0);
    write_dropin("20-late.conf", "[Dump]\nFormat=x\n");
    const auto loaded = load_config_files(paths_);
    ASSERT_THAT(loaded.errors, SizeIs(3));
    EXPECT_EQ(loaded.errors[0].file, paths_.config_file());
    EXPECT_EQ(loaded.errors[1].file, dropin("15-loop.conf"));
    EXPECT_THAT(loaded.errors[1].message, HasSubstr("cannot open"));
    EXPECT_EQ(loaded.errors[2].file, dropin("20-late.conf"));
    EXPECT_THAT(loaded.files, ElementsAre(paths_.config_file(), dropin("20-late.conf")));
}

TEST_F(ConfigTree, HugeFileIsAnError) {
    write_main(std::string(2 << 20, '#'));
    const auto loaded = load_config_files(paths_);
    ASSERT_THAT(loaded.errors, SizeIs(1));
    EXPECT_THAT(loaded.errors[0].message, HasSubstr("not a config file"));
}

TEST_F(ConfigTree, ErrorsFromEveryFileAreCollected) {
    write_main(
        "[Dump]\n"
        "Target=/var/crash\n"
        "\n"
        "\n"
        "\n"
        "\n"
        "\n"
        "\n"
        "\n"
        "\n"
        "\n"
        "DumpLevel=40\n"
        "Compression=lz4\n");
    write_dropin("10-net.conf", "[Dump]\nTarget=ssh://\n[Network]\nHost=x\n");
    const auto loaded = load_config_files(paths_);
    const std::string main = paths_.config_file();
    EXPECT_THAT(
        messages(loaded),
        ElementsAre(main + ":12: DumpLevel=40: not a dump level (0-31)",
                    main + ":13: Compression=lz4: not a compression (zstd, lzo, zlib, none)",
                    dropin("10-net.conf") + ":2: Target=ssh://: no remote directory: "
                                            "ssh://[USER@]HOST[:PORT]/DIR",
                    dropin("10-net.conf") +
                        ":3: unknown section [Network] (expected [Dump], [Capture], "
                        "[Retention] or [Metrics]); its keys are ignored"));
    const auto config = load_config(paths_);
    ASSERT_FALSE(config);
    EXPECT_EQ(config.error().errno_value, EINVAL);
    // One line per problem, so the admin sees them all at once.
    EXPECT_EQ(std::count(config.error().message.begin(), config.error().message.end(), '\n'), 3);
    EXPECT_THAT(config.error().message, HasSubstr(main + ":12: DumpLevel=40"));
    EXPECT_THAT(config.error().message, HasSubstr("[Network]"));
}

// ---------------------------------------------------------------------------
// Syntax.

TEST(ConfigSyntax, CommentsBlankLinesAndWhitespace) {
    const auto config = parse_ok(
        "# comment\n"
        "; another\n"
        "   # indented comment\n"
        "\n"
        "  \t\n"
        "  [Dump]  \n"
        "  DumpLevel  =  7  \n"
        "\tCompression=\tnone\t\n");
    EXPECT_EQ(config.dump_level, 7);
    EXPECT_EQ(config.compression, Compression::none);
}

TEST(ConfigSyntax, CrLfLineEndings) {
    const auto config = parse_ok("[Dump]\r\nDumpLevel=3\r\n[Capture]\r\nFinalAction=halt\r\n");
    EXPECT_EQ(config.dump_level, 3);
    EXPECT_EQ(config.final_action, FinalAction::halt);
}

TEST(ConfigSyntax, NoFinalNewline) {
    EXPECT_EQ(parse_ok("[Dump]\nDumpLevel=3").dump_level, 3);
}

TEST(ConfigSyntax, HashAfterAValueIsPartOfIt) {
    // systemd: comments are whole lines only.
    const auto loaded = parse("[Dump]\nDumpLevel=3 # three\n");
    EXPECT_THAT(messages(loaded),
                ElementsAre("test.conf:2: DumpLevel=3 # three: not a dump level (0-31)"));
}

TEST(ConfigSyntax, BackslashContinuesALine) {
    const auto config = parse_ok(
        "[Capture]\n"
        "KernelCommandLineAppend=console=ttyS0 \\\n"
        "# a comment inside is skipped\n"
        "    rd.memdebug=2\n"
        "FinalAction=halt\n");
    EXPECT_THAT(config.cmdline_append, ElementsAre("console=ttyS0", "rd.memdebug=2"));
    EXPECT_EQ(config.final_action, FinalAction::halt);
}

TEST(ConfigSyntax, ContinuedLineErrorsNameTheFirstLine) {
    const auto loaded = parse("[Dump]\nDumpLevel=\\\n99\n");
    EXPECT_THAT(messages(loaded),
                ElementsAre("test.conf:2: DumpLevel=99: not a dump level (0-31)"));
}

TEST(ConfigSyntax, RepeatedKeyLastWins) {
    const auto config = parse_ok("[Dump]\nDumpLevel=1\nDumpLevel=2\n[Dump]\nDumpLevel=3\n");
    EXPECT_EQ(config.dump_level, 3);
}

TEST(ConfigSyntax, EmptyAssignmentResetsToTheDefault) {
    const auto config = parse_ok(
        "[Dump]\n"
        "Target=/srv\nTarget=\n"
        "Format=elf\nFormat=\n"
        "DumpLevel=1\nDumpLevel=\n"
        "Compression=none\nCompression=\n"
        "CompressionLevel=5\nCompressionLevel=\n"
        "[Capture]\n"
        "KernelCommandLineAppend=a b\nKernelCommandLineAppend=\n"
        "KernelCommandLineRemove=c\nKernelCommandLineRemove=\n"
        "Kernel=/k\nKernel=\n"
        "Initrd=/i\nInitrd=\n"
        "FailureAction=shell\nFailureAction=\n"
        "FinalAction=halt\nFinalAction=\n"
        "TimeoutSec=5s\nTimeoutSec=\n"
        "[Retention]\n"
        "MaxUse=1G\nMaxUse=\n"
        "KeepFree=1%\nKeepFree=\n"
        "KeepDumps=3\nKeepDumps=\n");
    EXPECT_EQ(config, Config{});
}

TEST(ConfigSyntax, ListsAccumulateAndAnEmptyAssignmentClearsThem) {
    const auto loaded = parse_config({
        {"a.conf", "[Capture]\nKernelCommandLineAppend=a\nKernelCommandLineAppend=b c\n"},
        {"b.conf", "[Capture]\nKernelCommandLineAppend=d\nKernelCommandLineRemove=x\n"},
        {"c.conf", "[Capture]\nKernelCommandLineRemove=\nKernelCommandLineRemove=y\n"},
    });
    EXPECT_THAT(loaded.errors, IsEmpty());
    EXPECT_THAT(loaded.config.cmdline_append, ElementsAre("a", "b", "c", "d"));
    EXPECT_THAT(loaded.config.cmdline_remove, ElementsAre("y"));

    const auto cleared = parse_config({
        {"a.conf", "[Capture]\nKernelCommandLineAppend=a b\n"},
        {"b.conf", "[Capture]\nKernelCommandLineAppend=\nKernelCommandLineAppend=z\n"},
    });
    EXPECT_THAT(cleared.config.cmdline_append, ElementsAre("z"));
}

TEST(ConfigSyntax, QuotedCommandLineWordsStayWhole) {
    const auto config =
        parse_ok("[Capture]\nKernelCommandLineAppend=dyndbg=\"module nvme +p\" quiet\n");
    EXPECT_THAT(config.cmdline_append, ElementsAre("dyndbg=\"module nvme +p\"", "quiet"));
}

TEST(ConfigSyntax, BadCommandLineWords) {
    EXPECT_THAT(
        messages(parse("[Capture]\nKernelCommandLineAppend=a b=\"open\n")),
        ElementsAre(
            "test.conf:2: KernelCommandLineAppend=a b=\"open: 'b=\"open': an unterminated quote"));
    EXPECT_THAT(messages(parse("[Capture]\nKernelCommandLineRemove=rd.*.uuid\n")),
                ElementsAre("test.conf:2: KernelCommandLineRemove=rd.*.uuid: 'rd.*.uuid': '*' "
                            "is only allowed at the end of a name"));
    EXPECT_THAT(messages(parse("[Capture]\nKernelCommandLineAppend=-- single\n")),
                ElementsAre(HasSubstr("arguments for init")));
}

TEST(ConfigSyntax, EachFileStartsOutsideAnySection) {
    const auto loaded = parse_config({
        {"a.conf", "[Dump]\nDumpLevel=1\n"},
        {"b.conf", "DumpLevel=2\n"},
    });
    EXPECT_THAT(messages(loaded),
                ElementsAre("b.conf:1: DumpLevel=: outside any section (put it under [Dump], "
                            "[Capture], [Retention] or [Metrics])"));
    EXPECT_EQ(loaded.config.dump_level, 1);
}

TEST(ConfigSyntax, MissingEquals) {
    EXPECT_THAT(messages(parse("[Dump]\nDumpLevel 3\n")),
                ElementsAre("test.conf:2: 'DumpLevel 3': not a Key=value assignment (missing "
                            "'=')"));
}

TEST(ConfigSyntax, EmptyKey) {
    EXPECT_THAT(messages(parse("[Dump]\n=3\n")),
                ElementsAre("test.conf:2: '=3': no key before '='"));
}

TEST(ConfigSyntax, UnknownKeyNamesTheSectionAndWhereItBelongs) {
    EXPECT_THAT(messages(parse("[Dump]\nDumpLevle=3\nTimeoutSec=5s\n")),
                ElementsAre("test.conf:2: DumpLevle=: unknown key in section [Dump]",
                            "test.conf:3: TimeoutSec=: unknown key in section [Dump] (it belongs "
                            "in [Capture])"));
}

TEST(ConfigSyntax, KeysAreCaseSensitive) {
    EXPECT_THAT(messages(parse("[Dump]\ndumplevel=3\n")),
                ElementsAre("test.conf:2: dumplevel=: unknown key in section [Dump]"));
    EXPECT_THAT(messages(parse("[dump]\nDumpLevel=3\n")), SizeIs(1));
}

TEST(ConfigSyntax, UnknownSectionIsReportedOnceAndItsKeysIgnored) {
    const auto loaded = parse("[Network]\nHost=a\nPort=2\n[Dump]\nDumpLevel=3\n");
    EXPECT_THAT(messages(loaded),
                ElementsAre("test.conf:1: unknown section [Network] (expected [Dump], [Capture], "
                            "[Retention] or [Metrics]); its keys are ignored"));
    EXPECT_EQ(loaded.config.dump_level, 3);
}

TEST(ConfigSyntax, BrokenSectionHeader) {
    const auto loaded = parse("[Dump\nDumpLevel=3\n[]\nDumpLevel=4\n");
    EXPECT_THAT(messages(loaded), ElementsAre("test.conf:1: '[Dump': not a [Section] header",
                                              "test.conf:3: '[]': not a [Section] header"));
    EXPECT_EQ(loaded.config.dump_level, 31);
}

TEST(ConfigSyntax, ABadValueKeepsThePreviousOne) {
    const auto loaded = parse("[Dump]\nDumpLevel=7\nDumpLevel=x\n");
    EXPECT_THAT(loaded.errors, SizeIs(1));
    EXPECT_EQ(loaded.config.dump_level, 7);
}

// ---------------------------------------------------------------------------
// Values.

TEST(ConfigValues, DumpLevel) {
    EXPECT_EQ(parse_ok("[Dump]\nDumpLevel=0\n").dump_level, 0);
    EXPECT_EQ(parse_ok("[Dump]\nDumpLevel=31\n").dump_level, 31);
    for (const auto* bad : {"32", "-1", "+3", "0x1f", "3.0", "three"}) {
        const auto loaded = parse(fmt::format("[Dump]\nDumpLevel={}\n", bad));
        EXPECT_THAT(
            messages(loaded),
            ElementsAre(fmt::format("test.conf:2: DumpLevel={}: not a dump level (0-31)", bad)));
    }
}

TEST(ConfigValues, FormatAndCompression) {
    EXPECT_EQ(parse_ok("[Dump]\nFormat=kdump\n").format, DumpFormat::kdump);
    EXPECT_EQ(parse_ok("[Dump]\nFormat=flattened\n").format, DumpFormat::flattened);
    EXPECT_THAT(messages(parse("[Dump]\nFormat=lkcd\n")),
                ElementsAre("test.conf:2: Format=lkcd: not a dump format (kdump, elf, flattened)"));
    EXPECT_EQ(parse_ok("[Dump]\nCompression=zstd\n").compression, Compression::zstd);
    EXPECT_THAT(messages(parse("[Dump]\nCompression=ZSTD\n")), SizeIs(1));
}

TEST(ConfigValues, CompressionLevelIsCheckedAgainstTheFinalCompression) {
    // Level and method in different files, in either order.
    auto loaded = parse_config(
        {{"a.conf", "[Dump]\nCompressionLevel=19\n"}, {"b.conf", "[Dump]\nCompression=zstd\n"}});
    EXPECT_THAT(loaded.errors, IsEmpty());
    EXPECT_EQ(loaded.config.effective_compression_level(), 19);

    loaded = parse_config(
        {{"a.conf", "[Dump]\nCompressionLevel=19\n"}, {"b.conf", "[Dump]\nCompression=zlib\n"}});
    EXPECT_THAT(messages(loaded),
                ElementsAre("a.conf:2: CompressionLevel=19: not a zlib level (1-9)"));

    loaded = parse("[Dump]\nCompression=none\nCompressionLevel=3\n");
    EXPECT_THAT(messages(loaded),
                ElementsAre("test.conf:3: CompressionLevel=3: Compression=none has no levels"));

    loaded = parse("[Dump]\nCompressionLevel=99\n");
    EXPECT_THAT(messages(loaded), ElementsAre(HasSubstr("not a zstd level")));

    loaded = parse("[Dump]\nCompression=lzo\nCompressionLevel=3\n");
    EXPECT_THAT(messages(loaded),
                ElementsAre("test.conf:3: CompressionLevel=3: lzo has one level, 1 (lzo1x_1)"));
    EXPECT_EQ(parse_ok("[Dump]\nCompression=lzo\n").effective_compression_level(), 1);

    EXPECT_EQ(parse_ok("[Dump]\nCompressionLevel=-5\n").compression_level, -5);  // zstd fast
    EXPECT_THAT(messages(parse("[Dump]\nCompressionLevel=high\n")),
                ElementsAre("test.conf:2: CompressionLevel=high: not an integer"));
}

TEST(ConfigValues, EffectiveCompressionLevel) {
    Config config;
    config.compression = Compression::zlib;
    EXPECT_EQ(config.effective_compression_level(), 1);  // Z_BEST_SPEED, as makedumpfile
    config.compression = Compression::none;
    config.compression_level = 5;
    EXPECT_EQ(config.effective_compression_level(), 0);
}

TEST(ConfigValues, Actions) {
    EXPECT_EQ(parse_ok("[Capture]\nFailureAction=poweroff\n").failure_action,
              FailureAction::poweroff);
    EXPECT_EQ(parse_ok("[Capture]\nFailureAction=dump-to-rootfs\n").failure_action,
              FailureAction::dump_to_rootfs);
    EXPECT_EQ(parse_ok("[Capture]\nFailureAction=dump_to_rootfs\n").failure_action,
              FailureAction::dump_to_rootfs);
    EXPECT_THAT(messages(parse("[Capture]\nFailureAction=halt\n")),
                ElementsAre("test.conf:2: FailureAction=halt: not a failure action (reboot, "
                            "poweroff, shell, dump-to-rootfs)"));
    EXPECT_EQ(parse_ok("[Capture]\nFinalAction=halt\n").final_action, FinalAction::halt);
    EXPECT_THAT(messages(parse("[Capture]\nFinalAction=shell\n")),
                ElementsAre("test.conf:2: FinalAction=shell: not a final action (reboot, "
                            "poweroff, halt)"));
}

TEST(ConfigValues, KernelAndInitrdAreAbsolutePaths) {
    EXPECT_EQ(parse_ok("[Capture]\nKernel=/boot/my kernel\n").kernel_override, "/boot/my kernel");
    EXPECT_THAT(messages(parse("[Capture]\nKernel=vmlinuz\nInitrd=/boot/../x\n")),
                ElementsAre("test.conf:2: Kernel=vmlinuz: a path must be an absolute path",
                            "test.conf:3: Initrd=/boot/../x: a path must not contain '.' or '..' "
                            "components"));
}

TEST(ConfigValues, TimeoutSec) {
    EXPECT_EQ(parse_ok("[Capture]\nTimeoutSec=90\n").timeout_usec, 90 * kSec);
    EXPECT_EQ(parse_ok("[Capture]\nTimeoutSec=infinity\n").timeout_usec, kInfiniteTimeSpan);
    // systemd: 0 disables the timeout.
    EXPECT_EQ(parse_ok("[Capture]\nTimeoutSec=0\n").timeout_usec, kInfiniteTimeSpan);
    EXPECT_THAT(messages(parse("[Capture]\nTimeoutSec=5 parsecs\n")),
                ElementsAre("test.conf:2: TimeoutSec=5 parsecs: '5 parsecs': unknown time unit "
                            "'parsecs'"));
}

TEST(ConfigValues, Retention) {
    const auto config = parse_ok("[Retention]\nMaxUse=1.5G\nKeepFree=0%\nKeepDumps=0\n");
    EXPECT_EQ(config.retention.max_use, (SizeLimit{false, 3 * kGiB / 2, 0}));
    EXPECT_EQ(config.retention.keep_free, (SizeLimit{true, 0, 0}));
    EXPECT_EQ(config.retention.keep_dumps, 0u);
    EXPECT_THAT(messages(parse("[Retention]\nMaxUse=101%\nKeepFree=lots\nKeepDumps=-1\n")),
                ElementsAre("test.conf:2: MaxUse=101%: '101%' is not a percentage (0%-100%)",
                            "test.conf:3: KeepFree=lots: 'lots' is not a size",
                            "test.conf:4: KeepDumps=-1: not a count (0 = no limit)"));
}

// ---------------------------------------------------------------------------
// Target=.

TEST(Target, Directory) {
    auto target = parse_target("/var/crash/");
    ASSERT_TRUE(target);
    EXPECT_EQ(*target, (Target{TargetKind::directory, "/var/crash", "", "", 0}));
    EXPECT_EQ(to_string(*target), "/var/crash");
    EXPECT_EQ(parse_target("/")->path, "/");
}

TEST(Target, BadDirectories) {
    EXPECT_THAT(parse_target("var/crash").error().message, HasSubstr("not a target"));
    EXPECT_THAT(parse_target("/var/../crash").error().message, HasSubstr("'..'"));
    EXPECT_THAT(parse_target("/var/./crash").error().message, HasSubstr("'.'"));
    EXPECT_THAT(parse_target("/var/my crash").error().message, HasSubstr("whitespace"));
    EXPECT_THAT(parse_target("").error().message, HasSubstr("no target"));
}

TEST(Target, Raw) {
    auto target = parse_target("raw:/dev/disk/by-partlabel/crash");
    ASSERT_TRUE(target) << target.error().message;
    EXPECT_EQ(target->kind, TargetKind::raw);
    EXPECT_EQ(target->path, "/dev/disk/by-partlabel/crash");
    EXPECT_EQ(to_string(*target), "raw:/dev/disk/by-partlabel/crash");
    EXPECT_FALSE(parse_target("raw:/srv/file"));
    EXPECT_FALSE(parse_target("raw:/dev/"));
    EXPECT_FALSE(parse_target("raw:sda3"));
    EXPECT_FALSE(parse_target("raw:/dev/../etc/passwd"));
}

TEST(Target, Ssh) {
    auto target = parse_target("ssh://dump@backup.example.com/srv/crash/");
    ASSERT_TRUE(target) << target.error().message;
    EXPECT_EQ(*target, (Target{TargetKind::ssh, "/srv/crash", "dump", "backup.example.com", 0}));
    EXPECT_EQ(to_string(*target), "ssh://dump@backup.example.com/srv/crash");

    target = parse_target("ssh://10.0.0.2:2222/crash");
    ASSERT_TRUE(target) << target.error().message;
    EXPECT_EQ(*target, (Target{TargetKind::ssh, "/crash", "", "10.0.0.2", 2222}));
    EXPECT_EQ(to_string(*target), "ssh://10.0.0.2:2222/crash");

    target = parse_target("ssh://root@[fd00::1]:22/var/crash");
    ASSERT_TRUE(target) << target.error().message;
    EXPECT_EQ(*target, (Target{TargetKind::ssh, "/var/crash", "root", "fd00::1", 22}));
    EXPECT_EQ(to_string(*target), "ssh://root@[fd00::1]:22/var/crash");

    target = parse_target("ssh://[fd00::1]/x");
    ASSERT_TRUE(target) << target.error().message;
    EXPECT_EQ(target->host, "fd00::1");
    EXPECT_EQ(target->port, 0);
}

TEST(Target, BadSsh) {
    EXPECT_THAT(parse_target("ssh://host").error().message, HasSubstr("no remote directory"));
    EXPECT_THAT(parse_target("ssh://-oProxyCommand=x/crash").error().message,
                HasSubstr("not a host"));
    EXPECT_THAT(parse_target("ssh://-l@host/crash").error().message, HasSubstr("not a user"));
    EXPECT_THAT(parse_target("ssh://@host/crash").error().message, HasSubstr("not a user"));
    EXPECT_THAT(parse_target("ssh://host:0/crash").error().message, HasSubstr("not a port"));
    EXPECT_THAT(parse_target("ssh://host:65536/crash").error().message, HasSubstr("not a port"));
    EXPECT_THAT(parse_target("ssh://host:ssh/crash").error().message, HasSubstr("not a port"));
    EXPECT_THAT(parse_target("ssh://[fd00::zz]/crash").error().message, HasSubstr("IPv6"));
    EXPECT_THAT(parse_target("ssh://ho_st/crash").error().message, HasSubstr("not a host"));
    EXPECT_THAT(parse_target("ssh:///crash").error().message, HasSubstr("not a host"));
    EXPECT_THAT(parse_target("ssh://host/crash;reboot").error().message,
                HasSubstr("may only contain"));
    EXPECT_THAT(parse_target("ssh://host/$(reboot)").error().message,
                HasSubstr("may only contain"));
    EXPECT_THAT(parse_target("ssh://host/../crash").error().message, HasSubstr("'..'"));
    EXPECT_THAT(parse_target(std::string("ssh://") + std::string(64, 'a') + "/x").error().message,
                HasSubstr("not a host"));
}

TEST(Target, Nfs) {
    auto target = parse_target("nfs:fileserver:/export/crash");
    ASSERT_TRUE(target) << target.error().message;
    EXPECT_EQ(*target, (Target{TargetKind::nfs, "/export/crash", "", "fileserver", 0}));
    EXPECT_EQ(to_string(*target), "nfs:fileserver:/export/crash");

    target = parse_target("nfs:[2001:db8::5]:/export");
    ASSERT_TRUE(target) << target.error().message;
    EXPECT_EQ(target->host, "2001:db8::5");
    EXPECT_EQ(to_string(*target), "nfs:[2001:db8::5]:/export");

    EXPECT_FALSE(parse_target("nfs:fileserver"));
    EXPECT_FALSE(parse_target("nfs:fileserver:export"));
    EXPECT_FALSE(parse_target("nfs::/export"));
    EXPECT_FALSE(parse_target("nfs:[2001:db8::5]/export"));
    EXPECT_FALSE(parse_target("nfs://fileserver/export"));
}

TEST(Target, EveryCanonicalSpellingReadsBack) {
    for (const auto* text :
         {"/var/crash", "raw:/dev/sdb1", "ssh://a@b.c/d", "ssh://b:2/d", "ssh://[::1]/d",
          "ssh://u@[fe80::1]:2022/x/y", "nfs:srv:/e", "nfs:[::1]:/e", "nfs:10.1.2.3:/e"}) {
        auto target = parse_target(text);
        ASSERT_TRUE(target) << text << ": " << target.error().message;
        EXPECT_EQ(to_string(*target), text);
    }
}

TEST(Target, FormatFollowsTheTarget) {
    auto config = parse_ok("[Dump]\nTarget=ssh://dump@backup/crash\n");
    EXPECT_EQ(config.effective_format(), DumpFormat::flattened);
    EXPECT_EQ(config.target_description(), "ssh://dump@backup/crash");
    config = parse_ok("[Dump]\nTarget=raw:/dev/sdb1\n");
    EXPECT_EQ(config.effective_format(), DumpFormat::flattened);
    config = parse_ok("[Dump]\nTarget=nfs:srv:/export\n");
    EXPECT_EQ(config.effective_format(), DumpFormat::kdump);
    config = parse_ok("[Dump]\nTarget=ssh://backup/crash\nFormat=flattened\n");
    EXPECT_EQ(config.effective_format(), DumpFormat::flattened);
}

TEST(Target, StreamTargetsRejectSeekingFormats) {
    auto loaded = parse_config({{"a.conf", "[Dump]\nFormat=kdump\n"},
                                {"b.conf", "[Dump]\nTarget=ssh://dump@backup/crash\n"}});
    EXPECT_THAT(messages(loaded),
                ElementsAre("a.conf:2: Format=kdump: ssh targets take a stream that cannot "
                            "seek back; use Format=flattened or leave Format= unset"));
    loaded = parse("[Dump]\nTarget=raw:/dev/sdb1\nFormat=elf\n");
    EXPECT_THAT(messages(loaded), ElementsAre(HasSubstr("Format=elf: raw targets take a stream")));
}

// ---------------------------------------------------------------------------
// Sizes and time spans.

TEST(Sizes, Parse) {
    EXPECT_EQ(parse_size_bytes("0").value(), 0u);
    EXPECT_EQ(parse_size_bytes("512").value(), 512u);
    EXPECT_EQ(parse_size_bytes("512B").value(), 512u);
    EXPECT_EQ(parse_size_bytes("4K").value(), 4 * kKiB);
    EXPECT_EQ(parse_size_bytes("4k").value(), 4 * kKiB);
    EXPECT_EQ(parse_size_bytes("300M").value(), 300 * kMiB);
    EXPECT_EQ(parse_size_bytes("300MiB").value(), 300 * kMiB);
    EXPECT_EQ(parse_size_bytes("300MB").value(), 300 * kMiB);  // base 1024 regardless
    EXPECT_EQ(parse_size_bytes("2G").value(), 2 * kGiB);
    EXPECT_EQ(parse_size_bytes("1.5G").value(), 3 * kGiB / 2);
    EXPECT_EQ(parse_size_bytes("2 T").value(), 2 * 1024 * kGiB);
    EXPECT_EQ(parse_size_bytes("1P").value(), 1024 * 1024 * kGiB);
    EXPECT_EQ(parse_size_bytes("15E").value(), 15ULL << 60);
}

TEST(Sizes, Rejects) {
    for (const auto* bad : {"", "G", "-1G", "1.5", "1.5B", "1X", "1GG", "1Gib", "1 G B", "1.G",
                            "16E", "18446744073709551616", "0x10"}) {
        EXPECT_FALSE(parse_size_bytes(bad)) << bad;
    }
}

TEST(Sizes, Limits) {
    EXPECT_EQ(parse_size_limit("10%").value(), (SizeLimit{true, 0, 10}));
    EXPECT_EQ(parse_size_limit("100%").value(), (SizeLimit{true, 0, 100}));
    EXPECT_EQ(parse_size_limit("4G").value(), (SizeLimit{false, 4 * kGiB, 0}));
    EXPECT_FALSE(parse_size_limit("101%"));
    EXPECT_FALSE(parse_size_limit("-1%"));
    EXPECT_FALSE(parse_size_limit("1.5%"));
    EXPECT_FALSE(parse_size_limit("%"));
    EXPECT_EQ((SizeLimit{true, 0, 10}).resolve(1000), 100u);
    EXPECT_EQ((SizeLimit{true, 0, 33}).resolve(10), 3u);
    EXPECT_EQ((SizeLimit{true, 0, 100}).resolve(UINT64_MAX), UINT64_MAX);
    EXPECT_EQ((SizeLimit{false, 7, 0}).resolve(1000), 7u);
}

TEST(Sizes, Format) {
    EXPECT_EQ(format_size(0), "0");
    EXPECT_EQ(format_size(1000), "1000");
    EXPECT_EQ(format_size(1536), "1536");
    EXPECT_EQ(format_size(2048), "2K");
    EXPECT_EQ(format_size(3 * kGiB / 2), "1536M");
    EXPECT_EQ(format_size(4 * kGiB), "4G");
    EXPECT_EQ(format_size(15ULL << 60), "15E");
    EXPECT_EQ(to_string(SizeLimit{true, 0, 15}), "15%");
    for (const uint64_t bytes : {uint64_t{0}, uint64_t{1}, 1536 * kMiB, 4 * kGiB, UINT64_MAX}) {
        EXPECT_EQ(parse_size_bytes(format_size(bytes)).value(), bytes);
    }
}

TEST(TimeSpans, Parse) {
    EXPECT_EQ(parse_timespan_usec("90").value(), 90 * kSec);
    EXPECT_EQ(parse_timespan_usec("90s").value(), 90 * kSec);
    EXPECT_EQ(parse_timespan_usec("30min").value(), 1800 * kSec);
    EXPECT_EQ(parse_timespan_usec("30m").value(), 1800 * kSec);
    EXPECT_EQ(parse_timespan_usec("1h").value(), 3600 * kSec);
    EXPECT_EQ(parse_timespan_usec("1h 30min").value(), 5400 * kSec);
    EXPECT_EQ(parse_timespan_usec("1h30min").value(), 5400 * kSec);
    EXPECT_EQ(parse_timespan_usec("2.5h").value(), 9000 * kSec);
    EXPECT_EQ(parse_timespan_usec("5 min").value(), 300 * kSec);
    EXPECT_EQ(parse_timespan_usec("1d").value(), 86400 * kSec);
    EXPECT_EQ(parse_timespan_usec("1w").value(), 7 * 86400 * kSec);
    EXPECT_EQ(parse_timespan_usec("1M").value(), 2629800 * kSec);  // a month, not a minute
    EXPECT_EQ(parse_timespan_usec("1y").value(), 31557600 * kSec);
    EXPECT_EQ(parse_timespan_usec("250ms").value(), 250000u);
    EXPECT_EQ(parse_timespan_usec("7us").value(), 7u);
    EXPECT_EQ(parse_timespan_usec("7\xc2\xb5s").value(), 7u);
    EXPECT_EQ(parse_timespan_usec("2 hours 3 minutes 4 seconds").value(), 7384 * kSec);
    EXPECT_EQ(parse_timespan_usec("0").value(), 0u);
    EXPECT_EQ(parse_timespan_usec("infinity").value(), kInfiniteTimeSpan);
}

TEST(TimeSpans, Rejects) {
    for (const auto* bad :
         {"", "min", "-5s", "5 parsecs", "1h -5min", "1.s", "infinite", "1h,30min", "600000y"}) {
        EXPECT_FALSE(parse_timespan_usec(bad)) << bad;
    }
}

TEST(TimeSpans, Format) {
    EXPECT_EQ(format_timespan(0), "0");
    EXPECT_EQ(format_timespan(1800 * kSec), "30min");
    EXPECT_EQ(format_timespan(90 * kSec), "1min 30s");
    EXPECT_EQ(format_timespan(5400 * kSec), "1h 30min");
    EXPECT_EQ(format_timespan(1500 * 1000), "1s 500ms");
    EXPECT_EQ(format_timespan(7), "7us");
    EXPECT_EQ(format_timespan(kInfiniteTimeSpan), "infinity");
    for (const uint64_t usec : {uint64_t{1}, 1800 * kSec, uint64_t{123456789012},
                                400 * 86400 * kSec, kInfiniteTimeSpan}) {
        EXPECT_EQ(parse_timespan_usec(format_timespan(usec)).value(), usec) << usec;
    }
}

TEST(ConfigCapture, Cpus) {
    EXPECT_EQ(Config{}.capture_cpus, std::nullopt);
    EXPECT_EQ(parse_ok("[Capture]\nCPUs=4\n").capture_cpus, 4u);
    EXPECT_EQ(parse_ok("[Capture]\nCPUs=8192\n").capture_cpus, 8192u);
    EXPECT_EQ(parse_ok("[Capture]\nCPUs=4\nCPUs=auto\n").capture_cpus, std::nullopt);
    // An empty assignment resets to the default, auto.
    EXPECT_EQ(parse_ok("[Capture]\nCPUs=4\nCPUs=\n").capture_cpus, std::nullopt);
    EXPECT_EQ(to_json(parse_ok("[Capture]\nCPUs=2\n"))["Capture"]["CPUs"], 2);
    for (const auto* bad : {"0", "-1", "8193", "two", "1.5", "all"}) {
        const auto loaded = parse(fmt::format("[Capture]\nCPUs={}\n", bad));
        ASSERT_EQ(loaded.errors.size(), 1u) << bad;
        EXPECT_THAT(loaded.errors[0].message, HasSubstr("not a CPU count (auto, or 1-8192)"));
    }
}

// ---------------------------------------------------------------------------
// describe() and JSON.

TEST(ConfigDescribe, DefaultsListEveryKey) {
    const std::string text = Config{}.describe();
    for (const auto* key :
         {"[Dump]", "Target=/var/crash", "Format=", "DumpLevel=31", "Compression=zstd",
          "CompressionLevel=", "Group=", "[Capture]", "KernelCommandLineAppend=",
          "KernelCommandLineRemove=", "Kernel=", "Initrd=", "FailureAction=reboot",
          "FinalAction=reboot", "TimeoutSec=30min", "[Retention]",
          "MaxUse=", "KeepFree=", "KeepDumps=0"}) {
        EXPECT_THAT(text, HasSubstr(key));
    }
    EXPECT_THAT(text, HasSubstr("\nCPUs=auto\n"));
    EXPECT_THAT(text, HasSubstr("# Format= is unset: kdump for this target"));
    EXPECT_THAT(text, HasSubstr("# CompressionLevel= is unset: 1, the default for zstd"));
    EXPECT_THAT(text, HasSubstr("# Group= is unset: dumps readable by root only"));
}

TEST(ConfigDescribe, ReadsBackToAnEqualConfig) {
    const auto defaults = parse_ok(Config{}.describe());
    EXPECT_EQ(defaults, Config{});

    const auto config = parse_ok(
        "[Dump]\nTarget=ssh://dump@[fd00::2]:2222/srv/crash\nFormat=flattened\nDumpLevel=0\n"
        "Compression=zlib\nCompressionLevel=9\nGroup=crash-readers\n"
        "[Capture]\nKernelCommandLineAppend=x=\"a b\" y\nKernelCommandLineRemove=rd.luks.* z\n"
        "Kernel=/boot/k\nInitrd=/boot/i\nFailureAction=dump-to-rootfs\nFinalAction=halt\n"
        "TimeoutSec=infinity\nCPUs=4\n"
        "[Retention]\nMaxUse=1536M\nKeepFree=5%\nKeepDumps=3\n");
    const auto again = parse_ok(config.describe());
    EXPECT_EQ(again, config);
}

TEST(ConfigJson, EffectiveValues) {
    const auto json = to_json(Config{});
    EXPECT_EQ(json["Dump"]["Target"], "/var/crash");
    EXPECT_EQ(json["Dump"]["TargetParts"]["kind"], "directory");
    EXPECT_EQ(json["Dump"]["Format"], "kdump");
    EXPECT_EQ(json["Dump"]["DumpLevel"], 31);
    EXPECT_EQ(json["Dump"]["Compression"], "zstd");
    EXPECT_EQ(json["Dump"]["CompressionLevel"], 1);
    EXPECT_TRUE(json["Capture"]["KernelCommandLineAppend"].empty());
    EXPECT_TRUE(json["Capture"]["Kernel"].is_null());
    EXPECT_EQ(json["Capture"]["FailureAction"], "reboot");
    EXPECT_EQ(json["Capture"]["TimeoutSec"], "30min");
    EXPECT_EQ(json["Capture"]["TimeoutUSec"], 1800 * kSec);
    EXPECT_EQ(json["Capture"]["CPUs"], "auto");
    EXPECT_TRUE(json["Retention"]["MaxUse"].is_null());
    EXPECT_EQ(json["Retention"]["KeepDumps"], 0);
    EXPECT_TRUE(json["Dump"]["Group"].is_null());
}

TEST(ConfigJson, SetValues) {
    const auto json = to_json(parse_ok(
        "[Dump]\nTarget=ssh://dump@backup:2222/crash\n[Capture]\nKernelCommandLineAppend=a b\n"
        "TimeoutSec=infinity\nKernel=/k\n[Retention]\nMaxUse=2G\nKeepFree=10%\n"));
    EXPECT_EQ(json["Dump"]["Format"], "flattened");
    EXPECT_EQ(json["Dump"]["TargetParts"]["kind"], "ssh");
    EXPECT_EQ(json["Dump"]["TargetParts"]["user"], "dump");
    EXPECT_EQ(json["Dump"]["TargetParts"]["host"], "backup");
    EXPECT_EQ(json["Dump"]["TargetParts"]["port"], 2222);
    EXPECT_EQ(json["Dump"]["TargetParts"]["path"], "/crash");
    EXPECT_EQ(json["Capture"]["KernelCommandLineAppend"], nlohmann::json({"a", "b"}));
    EXPECT_EQ(json["Capture"]["Kernel"], "/k");
    EXPECT_TRUE(json["Capture"]["TimeoutUSec"].is_null());
    EXPECT_EQ(json["Capture"]["TimeoutSec"], "infinity");
    EXPECT_EQ(json["Retention"]["MaxUse"]["bytes"], 2 * kGiB);
    EXPECT_EQ(json["Retention"]["KeepFree"]["percent"], 10);
}

TEST(ConfigGroup, NamesAndIdsAreAcceptedAndAnEmptyValueResets) {
    EXPECT_EQ(parse_ok("[Dump]\nGroup=adm\n").group, "adm");
    EXPECT_EQ(parse_ok("[Dump]\nGroup=crash-readers\n").group, "crash-readers");
    EXPECT_EQ(parse_ok("[Dump]\nGroup=Domain_Users.x\n").group, "Domain_Users.x");
    EXPECT_EQ(parse_ok("[Dump]\nGroup=machine$\n").group, "machine$");
    EXPECT_EQ(parse_ok("[Dump]\nGroup=4\n").group, "4");
    EXPECT_EQ(parse_ok("[Dump]\nGroup=adm\nGroup=\n").group, "");
    EXPECT_EQ(to_json(parse_ok("[Dump]\nGroup=adm\n"))["Dump"]["Group"], "adm");
}

TEST(ConfigGroup, BadGroupsNameLineAndWhy) {
    for (const auto* bad : {"-adm", "a b", "a/b", "4294967295", "99999999999",
                            "a-very-long-group-name-longer-than-32"}) {
        const auto loaded = parse(fmt::format("[Dump]\nGroup={}\n", bad));
        ASSERT_EQ(loaded.errors.size(), 1u) << bad;
        EXPECT_THAT(messages(loaded)[0],
                    HasSubstr(fmt::format("test.conf:2: Group={}: not a", bad)));
    }
    EXPECT_THAT(messages(parse("[Capture]\nGroup=adm\n"))[0], HasSubstr("it belongs in [Dump]"));
}

TEST(ConfigDiagnostic, Format) {
    EXPECT_EQ(
        (ConfigDiagnostic{"/etc/x.conf", 12, "DumpLevel=40: not a dump level (0-31)"}).to_string(),
        "/etc/x.conf:12: DumpLevel=40: not a dump level (0-31)");
    EXPECT_EQ((ConfigDiagnostic{"/etc/x.conf", 0, "cannot read"}).to_string(),
              "/etc/x.conf: cannot read");
}

TEST(Config, MetricsTextfile) {
    EXPECT_EQ(parse_ok("").metrics_textfile, "/var/lib/prometheus/node-exporter/crashcapture.prom");
    EXPECT_EQ(parse_ok("[Metrics]\nTextfile=/run/metrics/crash.prom\n").metrics_textfile,
              "/run/metrics/crash.prom");
    EXPECT_EQ(parse_ok("[Metrics]\nTextfile=none\n").metrics_textfile, "");
    // An empty value goes back to the default.
    EXPECT_EQ(parse_ok("[Metrics]\nTextfile=none\nTextfile=\n").metrics_textfile,
              "/var/lib/prometheus/node-exporter/crashcapture.prom");
    EXPECT_THAT(
        messages(parse("[Metrics]\nTextfile=relative.prom\nTextfile=/var/x.txt\n")),
        ElementsAre(HasSubstr("not an absolute file path"), HasSubstr("must end in .prom")));
    // describe() reads back to the same value.
    const auto off = parse_ok("[Metrics]\nTextfile=none\n");
    EXPECT_EQ(parse_ok(off.describe()), off);
}
