#include "panic-signature.hpp"
#include "save-dump.hpp"

#include <dirent.h>
#include <elf.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>

#include "kdump-test-reader.hpp"
#include "synthetic-vmcore.hpp"

using namespace crashcapture;
using namespace crashcapture::test;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

namespace {

std::vector<std::string> list_dir(const std::string& path) {
    std::vector<std::string> names;
    DIR* dir = ::opendir(path.c_str());
    if (!dir) {
        return names;
    }
    while (auto* entry = ::readdir(dir)) {
        const std::string name = entry->d_name;
        if (name != "." && name != "..") {
            names.push_back(name);
        }
    }
    ::closedir(dir);
    return names;
}

mode_t mode_of(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return st.st_mode & 07777;
}

bool exists(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
}

class SaveDumpTest : public ::testing::Test {
  protected:
    SaveDumpTest() {
        auto& memory = kernel_.memory();
        for (uint64_t pfn = 0x700; pfn < 0x720; ++pfn) {
            memory.fill_pattern(pfn);
        }
        for (uint64_t pfn = 0x720; pfn < 0x760; ++pfn) {
            memory.fill_random(pfn);
        }
        builder_.emplace(kernel_.vmcore_builder());
        builder_->write(dir_.file("vmcore.elf"));
    }

    SaveOptions options(const std::string& output = "dump") const {
        SaveOptions o;
        o.input = dir_.file("vmcore.elf");
        o.output_dir = dir_.file(output);
        o.progress = ProgressMode::never;
        o.tool_version = "test";
        o.boot_id = "0123456789abcdef0123456789abcdef";
        return o;
    }

    DumpRecord record(const std::string& output = "dump") const {
        auto r = read_dump_record(dir_.file(output) + "/status.json");
        EXPECT_TRUE(r) << (r ? "" : r.error().message);
        return r ? *r : DumpRecord{};
    }

    // The synthetic vmcore with this VMCOREINFO note instead of the kernel's
    // (a later key of the same name overrides an earlier one).
    void write_with_vmcoreinfo(const std::string& text) const {
        VmcoreBuilder builder(kernel_.memory());
        for (const auto& load : kernel_.default_loads()) {
            builder.add_load(load);
        }
        builder.add_cpu_notes(2).set_vmcoreinfo(text);
        builder.write(dir_.file("vmcore.elf"));
    }

    TempDir dir_;
    SyntheticKernel kernel_;
    std::optional<VmcoreBuilder> builder_;
};

TEST_F(SaveDumpTest, AGroupMayReadTheDump) {
    // The caller's own group: allowed without root (chown(2)).
    auto o = options();
    o.group = ::getgid();
    auto result = save_dump(o);
    ASSERT_EQ(result.exit_code, kExitComplete) << result.record.error;
    const auto out = dir_.file("dump");
    EXPECT_EQ(mode_of(out), 0750u);
    EXPECT_EQ(mode_of(out + "/vmcore"), 0640u);
    EXPECT_EQ(mode_of(out + "/vmcore-dmesg.txt"), 0640u);
    EXPECT_EQ(mode_of(out + "/status.json"), 0644u);
    for (const auto* name : {"", "/vmcore", "/vmcore-dmesg.txt"}) {
        struct stat st {};
        ASSERT_EQ(::stat((out + name).c_str(), &st), 0);
        EXPECT_EQ(st.st_gid, ::getgid()) << name;
    }
    for (const auto& warning : record().warnings) {
        EXPECT_THAT(warning, ::testing::Not(HasSubstr("group"))) << warning;
    }
}

TEST_F(SaveDumpTest, CallerWarningsAreRecorded) {
    auto o = options();
    o.warnings = {"--group nosuch: no such group; the dump is readable by root only"};
    auto result = save_dump(o);
    ASSERT_EQ(result.exit_code, kExitComplete) << result.record.error;
    EXPECT_THAT(record().warnings, ::testing::Contains(o.warnings[0]));
    EXPECT_EQ(mode_of(dir_.file("dump")), 0700u);
}

TEST_F(SaveDumpTest, ReportsTheLowestMemAvailable) {
    // The capture kernel's /proc/meminfo, faked: sampled as the save starts
    // and ends (and during it), the lowest value is reported.
    auto o = options();
    o.meminfo_path = dir_.file("meminfo");
    std::ofstream(o.meminfo_path) << "MemTotal: 78952 kB\nMemAvailable: 31234 kB\n";
    auto result = save_dump(o);
    ASSERT_EQ(result.exit_code, kExitComplete) << result.record.error;
    EXPECT_EQ(result.lowest_mem_available_bytes, 31234ULL * 1024);

    o.output_dir = dir_.file("dump2");
    o.meminfo_path = dir_.file("nosuch");
    result = save_dump(o);
    ASSERT_EQ(result.exit_code, kExitComplete) << result.record.error;
    EXPECT_FALSE(result.lowest_mem_available_bytes);
}

TEST_F(SaveDumpTest, CompleteKdumpDirectory) {
    auto result = save_dump(options());
    ASSERT_EQ(result.exit_code, kExitComplete) << result.record.error;
    EXPECT_TRUE(result.record_written);
    const auto out = dir_.file("dump");
    EXPECT_THAT(list_dir(out), UnorderedElementsAre("status.json", "vmcore", "vmcore-dmesg.txt"));
    // Dumps and logs hold memory contents: root only; the record does not.
    EXPECT_EQ(mode_of(out), 0700u);
    EXPECT_EQ(mode_of(out + "/vmcore"), 0600u);
    EXPECT_EQ(mode_of(out + "/vmcore-dmesg.txt"), 0600u);
    EXPECT_EQ(mode_of(out + "/status.json"), 0644u);

    EXPECT_EQ(read_text_file(out + "/vmcore-dmesg.txt"), SyntheticKernel::default_records_dmesg());

    const auto r = record();
    EXPECT_EQ(r.result, DumpResult::complete);
    EXPECT_EQ(r.error, "");
    EXPECT_EQ(r.tool_version, "test");
    EXPECT_EQ(r.kernel_release, "6.1.0-synthetic");
    EXPECT_EQ(r.boot_id, "0123456789abcdef0123456789abcdef");
    EXPECT_EQ(r.crash_time, static_cast<int64_t>(SyntheticKernel::kCrashTime));
    EXPECT_EQ(r.panic_line, "Kernel panic - not syncing: sysrq triggered crash");
    // The capture names the crash itself (status.json schema 2).
    EXPECT_EQ(r.schema_version, 2);
    EXPECT_EQ(r.signature, "Kernel panic - not syncing: sysrq triggered crash");
    EXPECT_EQ(r.signature_hash, panic_signature_hash(r.signature));
    EXPECT_EQ(r.input, dir_.file("vmcore.elf"));
    EXPECT_EQ(r.format, "kdump");
    EXPECT_EQ(r.compression, "zstd");
    EXPECT_EQ(r.compression_level, 1);
    EXPECT_EQ(r.dump_level, 1);
    EXPECT_EQ(r.dump_file, "vmcore");
    EXPECT_EQ(r.dmesg_file, "vmcore-dmesg.txt");
    EXPECT_EQ(r.page_size, 4096u);
    EXPECT_EQ(r.pages.dumpable, 0x500u + 0x100u);
    EXPECT_EQ(r.pages.zero + r.pages.written, r.pages.dumpable);
    EXPECT_EQ(r.bytes_in, r.pages.dumpable * 4096);
    struct stat st {};
    ASSERT_EQ(::stat((out + "/vmcore").c_str(), &st), 0);
    // Bytes handed to the file: its size minus the holes the layout leaves
    // (block padding after the notes and the bitmaps).
    EXPECT_LE(r.bytes_out, static_cast<uint64_t>(st.st_size));
    EXPECT_GT(r.bytes_out, static_cast<uint64_t>(st.st_size) - 4 * 4096);
    EXPECT_GT(r.started_at, 0);

    KdumpTestReader dump(read_whole_file(out + "/vmcore"));
    EXPECT_EQ(dump.signature(), "KDUMP   ");
    EXPECT_EQ(dump.status(), 0x20u);
    EXPECT_EQ(dump.header<int32_t>(kdump::header_offset::nr_cpus), 2);
    // utsname comes from init_uts_ns in the crashed kernel's memory.
    EXPECT_STREQ(
        reinterpret_cast<const char*>(dump.bytes().data()) + kdump::header_offset::utsname + 65,
        "synthetic");
    auto page = dump.page(dump.desc(0x705));
    ASSERT_TRUE(page);
    EXPECT_TRUE(std::equal(page->begin(), page->end(), kernel_.memory().page(0x705).begin()));
}

TEST_F(SaveDumpTest, ElfFormat) {
    auto o = options();
    o.format = DumpFormat::elf;
    auto result = save_dump(o);
    ASSERT_EQ(result.exit_code, kExitComplete) << result.record.error;
    const auto out = dir_.file("dump");
    EXPECT_THAT(list_dir(out), UnorderedElementsAre("status.json", "vmcore", "vmcore-dmesg.txt"));
    const auto bytes = read_whole_file(out + "/vmcore");
    ASSERT_GT(bytes.size(), 64u);
    EXPECT_EQ(std::memcmp(bytes.data(), ELFMAG, SELFMAG), 0);
    EXPECT_EQ(record().format, "elf");
    EXPECT_EQ(record().compression, "none");
}

// ELF output is never compressed; the record must not claim a level for it
// (it says compression "none", and 0 is the level recorded for "none").
TEST_F(SaveDumpTest, ElfRecordHasNoCompressionLevel) {
    auto o = options();
    o.format = DumpFormat::elf;
    o.write.compression = Compression::zstd;
    o.write.compression_level = 3;
    ASSERT_EQ(save_dump(o).exit_code, kExitComplete);
    const auto r = record();
    EXPECT_EQ(r.compression, "none");
    EXPECT_EQ(r.compression_level, 0);
}

TEST_F(SaveDumpTest, FlattenedFormatReassembles) {
    auto o = options();
    o.format = DumpFormat::flattened;
    o.write.compression = Compression::zlib;
    auto result = save_dump(o);
    ASSERT_EQ(result.exit_code, kExitComplete) << result.record.error;
    const auto out = dir_.file("dump");
    EXPECT_THAT(list_dir(out),
                UnorderedElementsAre("status.json", "vmcore.flat", "vmcore-dmesg.txt"));
    EXPECT_EQ(record().dump_file, "vmcore.flat");
    UniqueFd in(::open((out + "/vmcore.flat").c_str(), O_RDONLY | O_CLOEXEC));
    UniqueFd file(::open(dir_.file("reassembled").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    ASSERT_TRUE(reassemble_flattened(in.get(), file.get()));
    KdumpTestReader dump(read_whole_file(dir_.file("reassembled")));
    EXPECT_EQ(dump.signature(), "KDUMP   ");
    EXPECT_EQ(dump.status(), 0x1u);  // zlib
}

TEST_F(SaveDumpTest, InputNotElf) {
    {
        std::ofstream out(dir_.file("notes.txt"));
        out << std::string(200, 'x');
    }
    auto o = options();
    o.input = dir_.file("notes.txt");
    auto result = save_dump(o);
    EXPECT_EQ(result.exit_code, kExitFailed);
    EXPECT_TRUE(result.record_written);
    const auto r = record();
    EXPECT_EQ(r.result, DumpResult::failed);
    EXPECT_THAT(r.error, HasSubstr("not an ELF file"));
    EXPECT_THAT(list_dir(dir_.file("dump")), UnorderedElementsAre("status.json"));
}

TEST_F(SaveDumpTest, ElfButNotACore) {
    builder_->set_elf_type(ET_EXEC);
    builder_->write(dir_.file("vmlinux"));
    auto o = options();
    o.input = dir_.file("vmlinux");
    auto result = save_dump(o);
    EXPECT_EQ(result.exit_code, kExitFailed);
    EXPECT_EQ(record().result, DumpResult::failed);
    EXPECT_THAT(record().error, HasSubstr("not a core dump"));
}

TEST_F(SaveDumpTest, TruncatedVmcoreIsIncompleteButKeepsTheLog) {
    // Cut inside the direct map, after the text ring (0x4fff00) and well
    // before the end: the image PT_LOAD comes first in the file.
    builder_->truncate_at(builder_->first_load_offset() + SyntheticKernel::kImageSize +
                          (0x580000 - 0x100000));
    builder_->write(dir_.file("vmcore.elf"));
    auto result = save_dump(options());
    EXPECT_EQ(result.exit_code, kExitIncomplete);
    const auto out = dir_.file("dump");
    EXPECT_THAT(list_dir(out),
                UnorderedElementsAre("status.json", "vmcore.incomplete", "vmcore-dmesg.txt"));
    EXPECT_EQ(read_text_file(out + "/vmcore-dmesg.txt"), SyntheticKernel::default_records_dmesg());
    const auto r = record();
    EXPECT_EQ(r.result, DumpResult::incomplete);
    EXPECT_EQ(r.dump_file, "vmcore.incomplete");
    EXPECT_THAT(r.error, HasSubstr("truncated"));
    EXPECT_TRUE(std::any_of(r.warnings.begin(), r.warnings.end(), [](const auto& w) {
        return w.find("truncated") != std::string::npos;
    }));
    KdumpTestReader dump(read_whole_file(out + "/vmcore.incomplete"));
    EXPECT_EQ(dump.status() & 0x8u, 0x8u);  // DUMP_DH_COMPRESSED_INCOMPLETE
}

// mmap() windows and pread() read the same bytes: the same dump, byte for
// byte, in every format, and the same incomplete dump of a truncated file.
TEST_F(SaveDumpTest, MmapAndPreadGiveTheSameDump) {
    const uint64_t small_window = 2 * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
    for (const bool truncated : {false, true}) {
        if (truncated) {
            builder_->truncate_at(builder_->first_load_offset() + SyntheticKernel::kImageSize +
                                  (0x580000 - 0x100000) + 100);
            builder_->write(dir_.file("vmcore.elf"));
        }
        for (const auto format : {DumpFormat::kdump, DumpFormat::elf, DumpFormat::flattened}) {
            std::vector<std::vector<std::byte>> dumps;
            std::vector<int> exit_codes;
            for (const auto& read :
                 {VmcoreReadOptions{VmcoreReadMethod::pread, 0},
                  VmcoreReadOptions{VmcoreReadMethod::mmap, small_window},
                  VmcoreReadOptions{VmcoreReadMethod::mmap, kDefaultMmapWindowBytes},
                  VmcoreReadOptions{}}) {
                const std::string output =
                    fmt::format("dump-{}-{}-{}", to_string(format), truncated, dumps.size());
                auto o = options(output);
                o.format = format;
                o.read = read;
                auto result = save_dump(o);
                ASSERT_TRUE(result.read);
                // automatic reads a file that is not on procfs by pread().
                const auto method = read.method == VmcoreReadMethod::mmap ? VmcoreReadMethod::mmap
                                                                          : VmcoreReadMethod::pread;
                EXPECT_EQ(result.read->method, method);
                EXPECT_EQ(result.read->bytes_mapped > 0, method == VmcoreReadMethod::mmap);
                EXPECT_FALSE(result.read->fallback_reason);
                exit_codes.push_back(result.exit_code);
                const auto& dump_file = result.record.dump_file;
                ASSERT_FALSE(dump_file.empty()) << output;
                dumps.push_back(read_whole_file(dir_.file(output) + "/" + dump_file));
            }
            EXPECT_EQ(exit_codes[0], truncated ? kExitIncomplete : kExitComplete);
            for (size_t i = 1; i < dumps.size(); ++i) {
                EXPECT_EQ(exit_codes[i], exit_codes[0]);
                EXPECT_TRUE(dumps[i] == dumps[0])
                    << to_string(format) << (truncated ? " truncated" : "") << " reader " << i;
            }
        }
    }
}

TEST_F(SaveDumpTest, NoVmcoreinfoFails) {
    VmcoreBuilder builder(kernel_.memory());
    for (const auto& load : kernel_.default_loads()) {
        builder.add_load(load);
    }
    builder.add_cpu_notes(1);
    builder.write(dir_.file("vmcore.elf"));
    auto result = save_dump(options());
    EXPECT_EQ(result.exit_code, kExitFailed);
    const auto r = record();
    EXPECT_EQ(r.result, DumpResult::failed);
    EXPECT_THAT(r.error, HasSubstr("no VMCOREINFO"));
    EXPECT_THAT(list_dir(dir_.file("dump")), UnorderedElementsAre("status.json"));
}

TEST_F(SaveDumpTest, GarbageKernelStringsStillGiveARecord) {
    // OSRELEASE bytes that are not UTF-8 reach status.json: the record is
    // written with U+FFFD in their place, not lost.
    write_with_vmcoreinfo(kernel_.vmcoreinfo() + "OSRELEASE=6.1\xff\xfe-amd64\n");
    auto result = save_dump(options());
    ASSERT_EQ(result.exit_code, kExitComplete) << result.record.error;
    EXPECT_TRUE(result.record_written);
    EXPECT_EQ(record().kernel_release, "6.1\xef\xbf\xbd\xef\xbf\xbd-amd64");
}

TEST_F(SaveDumpTest, CorruptProgramHeadersFailWithARecord) {
    // The PT_NOTE (program header 0, after the 64-byte ELF header) claims
    // more bytes than any vmcore holds.
    patch_file_int<uint64_t>(dir_.file("vmcore.elf"),
                             sizeof(Elf64_Ehdr) + offsetof(Elf64_Phdr, p_filesz),
                             0x7fffffffffffffffULL);
    auto result = save_dump(options());
    EXPECT_EQ(result.exit_code, kExitFailed);
    EXPECT_TRUE(result.record_written);
    const auto r = record();
    EXPECT_EQ(r.result, DumpResult::failed);
    EXPECT_THAT(r.error, HasSubstr("PT_NOTE 0 has p_filesz 9223372036854775807"));
    EXPECT_THAT(list_dir(dir_.file("dump")), UnorderedElementsAre("status.json"));
}

TEST_F(SaveDumpTest, ImplausiblePageSizeFailsWithARecord) {
    write_with_vmcoreinfo(kernel_.vmcoreinfo() + "PAGESIZE=1099511627776\n");
    auto result = save_dump(options());
    EXPECT_EQ(result.exit_code, kExitFailed);
    EXPECT_THAT(record().error, HasSubstr("PAGESIZE=1099511627776"));
}

TEST_F(SaveDumpTest, OutputParentMissing) {
    auto result = save_dump(options("missing/dump"));
    EXPECT_EQ(result.exit_code, kExitFailed);
    EXPECT_FALSE(result.record_written);
    EXPECT_EQ(result.record.result, DumpResult::failed);
    EXPECT_THAT(result.record.error, HasSubstr(dir_.file("missing/dump")));
    EXPECT_FALSE(exists(dir_.file("missing")));
}

TEST_F(SaveDumpTest, DumpLevelOutsideTheRangeIsAUsageError) {
    auto o = options();
    o.write.dump_level = 32;
    auto result = save_dump(o);
    EXPECT_EQ(result.exit_code, kExitUsage);
    const auto r = record();
    EXPECT_EQ(r.result, DumpResult::failed);
    EXPECT_THAT(r.error, HasSubstr("dump level 32 is outside 0..31"));
    EXPECT_FALSE(exists(dir_.file("dump/vmcore")));
}

TEST_F(SaveDumpTest, DumpLevelNeedingStructPagesFallsBackWithAWarning) {
    // The synthetic kernel exports no mem_section / struct page layout: level
    // 5 (zero + cache) cannot filter cache pages and must say so, not guess.
    auto o = options();
    o.write.dump_level = 5;
    auto result = save_dump(o);
    ASSERT_EQ(result.exit_code, kExitComplete) << result.record.error;
    const auto r = record();
    EXPECT_EQ(r.dump_level, 1);
    EXPECT_TRUE(std::any_of(r.warnings.begin(), r.warnings.end(), [](const auto& w) {
        return w.find("dump level 5 falls back to 1") != std::string::npos;
    })) << ::testing::PrintToString(r.warnings);
    KdumpTestReader dump(read_whole_file(dir_.file("dump/vmcore")));
    EXPECT_EQ(dump.sub_header<int32_t>(kdump::sub_header_offset::dump_level), 1);
}

TEST_F(SaveDumpTest, StandardOutputNeedsTheFlattenedFormat) {
    auto o = options();
    o.dump_to = "-";
    o.format = DumpFormat::kdump;
    auto result = save_dump(o);
    EXPECT_EQ(result.exit_code, kExitUsage);
    EXPECT_THAT(record().error, HasSubstr("only the flattened format"));
    EXPECT_THAT(list_dir(dir_.file("dump")), UnorderedElementsAre("status.json"));
}

TEST_F(SaveDumpTest, DumpToAFileOutsideTheDirectory) {
    auto o = options();
    o.dump_to = dir_.file("elsewhere.kdump");
    auto result = save_dump(o);
    ASSERT_EQ(result.exit_code, kExitComplete) << result.record.error;
    EXPECT_EQ(record().dump_file, dir_.file("elsewhere.kdump"));
    EXPECT_EQ(mode_of(dir_.file("elsewhere.kdump")), 0600u);
    KdumpTestReader dump(read_whole_file(dir_.file("elsewhere.kdump")));
    EXPECT_EQ(dump.signature(), "KDUMP   ");
    EXPECT_THAT(list_dir(dir_.file("dump")),
                UnorderedElementsAre("status.json", "vmcore-dmesg.txt"));
}

// A device's node is not ours to change: `--dump-to /dev/null` once left
// the host's /dev/null 0600. A null device of the test's own (mknod: root;
// skipped otherwise).
TEST_F(SaveDumpTest, DumpToADeviceLeavesItsModeAlone) {
    const std::string null = dir_.file("null");
    if (::mknod(null.c_str(), S_IFCHR | 0666, ::makedev(1, 3)) < 0) {
        GTEST_SKIP() << "cannot make a character device here: " << std::strerror(errno);
    }
    ::chmod(null.c_str(), 0666);  // past the umask
    if (UniqueFd probe(::open(null.c_str(), O_WRONLY | O_CLOEXEC)); !probe) {
        GTEST_SKIP() << "cannot open a device node here (a nodev mount?): " << std::strerror(errno);
    }
    auto o = options();
    o.dump_to = null;
    o.format = DumpFormat::flattened;
    const auto result = save_dump(o);
    ASSERT_EQ(result.exit_code, kExitComplete) << result.record.error;
    EXPECT_EQ(mode_of(null), 0666u);
}

// A real "disk full": RLIMIT_FSIZE in a child makes write() fail with EFBIG
// once a file would grow past the limit (SIGXFSZ ignored), no root needed.
TEST_F(SaveDumpTest, FileSizeLimitGivesAnIncompleteDump) {
    constexpr rlim_t kLimit = 96 * 1024;
    const auto o = options();
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        ::signal(SIGXFSZ, SIG_IGN);
        const struct rlimit limit { kLimit, kLimit };
        if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) {
            ::_exit(100);
        }
        const auto result = save_dump(o);
        ::_exit(result.exit_code);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), kExitIncomplete);

    const auto out = dir_.file("dump");
    const auto r = record();
    EXPECT_EQ(r.result, DumpResult::incomplete);
    EXPECT_EQ(r.error.find("File too large") != std::string::npos ||
                  r.error.find("EFBIG") != std::string::npos,
              true)
        << r.error;
    EXPECT_EQ(r.dump_file, "vmcore.incomplete");
    EXPECT_EQ(read_text_file(out + "/vmcore-dmesg.txt"), SyntheticKernel::default_records_dmesg());
    const auto bytes = read_whole_file(out + "/vmcore.incomplete");
    EXPECT_LE(bytes.size(), kLimit);
    KdumpTestReader dump(bytes);
    EXPECT_EQ(dump.status(), 0x20u | 0x8u);
    // Every descriptor that made it to disk points at data that did too.
    uint64_t good = 0, index = 0;
    for (uint64_t pfn = 0; pfn < 0x800; ++pfn) {
        if (!dump.dumpable(pfn)) {
            continue;
        }
        const auto d = dump.desc_at(index++);
        if (d.offset == 0) {
            continue;
        }
        auto page = dump.page(d);
        ASSERT_TRUE(page) << pfn;
        ASSERT_TRUE(std::equal(page->begin(), page->end(), kernel_.memory().page(pfn).begin()))
            << pfn;
        ++good;
    }
    EXPECT_GT(good, 0u);
    EXPECT_LT(good, 0x600u);
}

TEST(SaveDumpNames, FormatsAndFileNames) {
    EXPECT_EQ(parse_dump_format("kdump"), DumpFormat::kdump);
    EXPECT_EQ(parse_dump_format("elf"), DumpFormat::elf);
    EXPECT_EQ(parse_dump_format("flat"), DumpFormat::flattened);
    EXPECT_EQ(parse_dump_format("flattened"), DumpFormat::flattened);
    EXPECT_FALSE(parse_dump_format("lkcd"));
    EXPECT_EQ(dump_file_name(DumpFormat::kdump, true), "vmcore");
    EXPECT_EQ(dump_file_name(DumpFormat::elf, false), "vmcore.incomplete");
    EXPECT_EQ(dump_file_name(DumpFormat::flattened, true), "vmcore.flat");
}

}  // namespace
