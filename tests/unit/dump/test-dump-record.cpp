#include "dump-record.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cerrno>
#include <fstream>

#include "file-util.hpp"
#include "synthetic-vmcore.hpp"

using namespace crashcapture;
using namespace crashcapture::test;
using ::testing::HasSubstr;

namespace {

DumpRecord sample() {
    DumpRecord r;
    r.result = DumpResult::incomplete;
    r.error = "cannot write vmcore: No space left on device";
    r.warnings = {"first", "second \"quoted\" \xc3\xa9"};
    r.tool_version = "0.1.0";
    r.kernel_release = "6.1.0-56-amd64";
    r.boot_id = "0123456789abcdef0123456789abcdef";
    r.crash_time = 1795508256;
    r.panic_line = "Kernel panic - not syncing: sysrq triggered crash";
    r.signature = "Kernel panic - not syncing: sysrq triggered crash";
    r.signature_hash = "544ba0ae6b2cd5d0";
    r.input = "/proc/vmcore";
    r.format = "kdump";
    r.compression = "zstd";
    r.compression_level = 3;
    r.dump_level = 31;
    r.dump_file = "vmcore.incomplete";
    r.dmesg_file = "vmcore-dmesg.txt";
    r.pages.total = 262109;
    r.pages.excluded_nodata = 7;
    r.pages.dumpable = 196317;
    r.pages.zero = 6539;
    r.pages.written = 1000;
    r.pages.compressed = 900;
    r.page_size = 4096;
    r.bytes_in = 1ULL << 40;
    r.bytes_out = 123456789012ULL;
    r.started_at = 1795508260;
    r.duration_sec = 12.5;
    return r;
}

void expect_equal(const DumpRecord& a, const DumpRecord& b) {
    EXPECT_EQ(a.schema_version, b.schema_version);
    EXPECT_EQ(a.result, b.result);
    EXPECT_EQ(a.error, b.error);
    EXPECT_EQ(a.warnings, b.warnings);
    EXPECT_EQ(a.tool_version, b.tool_version);
    EXPECT_EQ(a.kernel_release, b.kernel_release);
    EXPECT_EQ(a.boot_id, b.boot_id);
    EXPECT_EQ(a.crash_time, b.crash_time);
    EXPECT_EQ(a.panic_line, b.panic_line);
    EXPECT_EQ(a.signature, b.signature);
    EXPECT_EQ(a.signature_hash, b.signature_hash);
    EXPECT_EQ(a.input, b.input);
    EXPECT_EQ(a.format, b.format);
    EXPECT_EQ(a.compression, b.compression);
    EXPECT_EQ(a.compression_level, b.compression_level);
    EXPECT_EQ(a.dump_level, b.dump_level);
    EXPECT_EQ(a.dump_file, b.dump_file);
    EXPECT_EQ(a.dmesg_file, b.dmesg_file);
    EXPECT_EQ(a.pages.total, b.pages.total);
    EXPECT_EQ(a.pages.excluded_nodata, b.pages.excluded_nodata);
    EXPECT_EQ(a.pages.dumpable, b.pages.dumpable);
    EXPECT_EQ(a.pages.zero, b.pages.zero);
    EXPECT_EQ(a.pages.written, b.pages.written);
    EXPECT_EQ(a.pages.compressed, b.pages.compressed);
    EXPECT_EQ(a.page_size, b.page_size);
    EXPECT_EQ(a.bytes_in, b.bytes_in);
    EXPECT_EQ(a.bytes_out, b.bytes_out);
    EXPECT_EQ(a.started_at, b.started_at);
    EXPECT_DOUBLE_EQ(a.duration_sec, b.duration_sec);
}

std::vector<std::string> list_dir(const std::string& path) {
    std::vector<std::string> names;
    DIR* dir = ::opendir(path.c_str());
    while (auto* entry = ::readdir(dir)) {
        const std::string name = entry->d_name;
        if (name != "." && name != "..") {
            names.push_back(name);
        }
    }
    ::closedir(dir);
    return names;
}

TEST(DumpRecord, JsonRoundTrip) {
    const auto record = sample();
    const auto json = to_json(record);
    EXPECT_EQ(json.at("result"), "incomplete");
    EXPECT_EQ(json.at("pages").at("dumpable"), 196317u);
    auto back = dump_record_from_json(nlohmann::json::parse(json.dump()));
    ASSERT_TRUE(back) << back.error().message;
    expect_equal(*back, record);
}

TEST(DumpRecord, ResultNames) {
    for (auto result : {DumpResult::complete, DumpResult::incomplete, DumpResult::failed}) {
        EXPECT_EQ(parse_dump_result(to_string(result)), result);
    }
    EXPECT_FALSE(parse_dump_result("partial"));
}

TEST(DumpRecord, AtomicWriteLeavesNoTemporary) {
    TempDir dir;
    auto fd = open_directory(dir.path());
    ASSERT_TRUE(fd);
    ASSERT_TRUE(write_dump_record(fd->get(), sample()));
    EXPECT_EQ(list_dir(dir.path()), std::vector<std::string>{"status.json"});
    struct stat st {};
    ASSERT_EQ(::stat(dir.file("status.json").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0644u);
    auto back = read_dump_record(dir.file("status.json"));
    ASSERT_TRUE(back) << back.error().message;
    expect_equal(*back, sample());
    // Rewriting replaces it, still without a leftover.
    auto second = sample();
    second.result = DumpResult::complete;
    ASSERT_TRUE(write_dump_record(fd->get(), second));
    EXPECT_EQ(list_dir(dir.path()), std::vector<std::string>{"status.json"});
    EXPECT_EQ(read_dump_record(dir.file("status.json"))->result, DumpResult::complete);
}

TEST(DumpRecord, ReservedRecordIsPaddedAndStillValidJson) {
    TempDir dir;
    auto fd = open_directory(dir.path());
    ASSERT_TRUE(fd);
    ASSERT_TRUE(write_dump_record_reserved(fd->get(), sample()));
    struct stat st {};
    ASSERT_EQ(::stat(dir.file("status.json").c_str(), &st), 0);
    EXPECT_GE(static_cast<size_t>(st.st_size), kRecordReserveBytes);
    auto back = read_dump_record(dir.file("status.json"));
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(back->result, DumpResult::incomplete);
    auto final_record = sample();
    final_record.result = DumpResult::complete;
    ASSERT_TRUE(finalize_dump_record(fd->get(), final_record));
    EXPECT_EQ(read_dump_record(dir.file("status.json"))->result, DumpResult::complete);
    EXPECT_EQ(list_dir(dir.path()), std::vector<std::string>{"status.json"});
}

TEST(DumpRecord, FullOrFailingDiskOverwritesTheReservedRecordInPlace) {
    EXPECT_TRUE(record_overwrites_in_place(ENOSPC));
    EXPECT_TRUE(record_overwrites_in_place(EDQUOT));
    EXPECT_TRUE(record_overwrites_in_place(EIO));
    // Anything else is not about the disk's blocks: reported as it is.
    EXPECT_FALSE(record_overwrites_in_place(EACCES));
    EXPECT_FALSE(record_overwrites_in_place(EROFS));
    EXPECT_FALSE(record_overwrites_in_place(0));
}

TEST(DumpRecord, BytesThatAreNotUtf8AreWrittenAsReplacementCharacters) {
    // The crashed kernel's strings (OSRELEASE, the panic line) may be garbage.
    TempDir dir;
    UniqueFd fd(::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    DumpRecord r = sample();
    r.kernel_release = "6.1\xff\xc3";
    r.panic_line = "Kernel panic \xed\xa0\x80";  // a UTF-16 surrogate: not UTF-8
    ASSERT_TRUE(write_dump_record(fd.get(), r, "status.json"));
    auto back = read_dump_record(dir.file("status.json"));
    ASSERT_TRUE(back) << back.error().message;
    const std::string replacement = "\xef\xbf\xbd";  // U+FFFD
    EXPECT_EQ(back->kernel_release, "6.1" + replacement + replacement);
    EXPECT_THAT(back->panic_line, HasSubstr("Kernel panic " + replacement));
    EXPECT_EQ(back->error, r.error);
}

TEST(DumpRecord, MalformedJsonIsAnError) {
    TempDir dir;
    {
        std::ofstream out(dir.file("status.json"));
        out << "{\"schema_version\": 1, \"result\": ";
    }
    auto record = read_dump_record(dir.file("status.json"));
    ASSERT_FALSE(record);
    EXPECT_THAT(record.error().message, HasSubstr("not valid JSON"));
}

TEST(DumpRecord, WrongShapesAreErrors) {
    auto missing = dump_record_from_json(nlohmann::json{{"schema_version", 1}});
    ASSERT_FALSE(missing);
    EXPECT_THAT(missing.error().message, HasSubstr("malformed dump record"));
    auto wrong_type =
        dump_record_from_json(nlohmann::json{{"schema_version", "one"}, {"result", "complete"}});
    EXPECT_FALSE(wrong_type);
    auto unknown = dump_record_from_json(nlohmann::json{{"schema_version", 1}, {"result", "odd"}});
    ASSERT_FALSE(unknown);
    EXPECT_THAT(unknown.error().message, HasSubstr("unknown result"));
    auto newer =
        dump_record_from_json(nlohmann::json{{"schema_version", 99}, {"result", "complete"}});
    ASSERT_FALSE(newer);
    EXPECT_THAT(newer.error().message, HasSubstr("newer"));
    // A level no int holds is an error, not a float-to-int cast (undefined
    // behaviour: json.value("dump_level", 0) did that).
    for (const char* level : {"dump_level", "compression_level"}) {
        auto huge = dump_record_from_json(
            nlohmann::json{{"schema_version", 1}, {"result", "complete"}, {level, 4e96}});
        ASSERT_FALSE(huge) << level;
        EXPECT_THAT(huge.error().message, HasSubstr(level));
    }
    // Optional fields may be missing.
    auto minimal =
        dump_record_from_json(nlohmann::json{{"schema_version", 1}, {"result", "failed"}});
    ASSERT_TRUE(minimal);
    EXPECT_EQ(minimal->pages.total, 0u);
}

TEST(DumpRecord, MissingFileIsAnErrnoError) {
    auto record = read_dump_record("/nonexistent/status.json");
    ASSERT_FALSE(record);
    EXPECT_EQ(record.error().errno_value, ENOENT);
}

}  // namespace

// Schema 2 added the signature; a version 1 record (an older saver) still
// reads, with none.
TEST(DumpRecord, AVersionOneRecordReadsWithoutASignature) {
    auto v1 = dump_record_from_json(
        nlohmann::json{{"schema_version", 1},
                       {"result", "complete"},
                       {"panic_line", "Kernel panic - not syncing: sysrq triggered crash"}});
    ASSERT_TRUE(v1) << v1.error().message;
    EXPECT_EQ(v1->schema_version, 1);
    EXPECT_EQ(v1->signature, "");
    EXPECT_EQ(v1->signature_hash, "");
    const auto written = to_json(sample());
    EXPECT_EQ(written.at("schema_version"), 2);
    EXPECT_EQ(written.at("signature_hash"), "544ba0ae6b2cd5d0");
}
