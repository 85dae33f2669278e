#include "raw-recovery.hpp"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <endian.h>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "dump-sink.hpp"
#include "file-util.hpp"
#include "save-dump.hpp"
#include "synthetic-vmcore.hpp"

using namespace crashcapture;
using namespace crashcapture::test;
using ::testing::HasSubstr;

namespace {

// 2026-12-02 12:00:00 UTC.
constexpr int64_t kNow = 1796212800;

// A device's contents: a flattened stream of a small "dump" followed by
// leftovers of whatever was on the device before.
class RawRecoveryTest : public ::testing::Test {
  protected:
    void SetUp() override {
        std::filesystem::create_directories(records_);
        std::filesystem::create_directories(crash_);
    }

    // Writes the stream to the device file and returns the file it replays.
    std::vector<std::byte> write_stream(uint64_t device_bytes, bool finish = true) {
        {
            UniqueFd fd(::open(device_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
            EXPECT_TRUE(fd);
            EXPECT_EQ(::ftruncate(fd.get(), static_cast<off_t>(device_bytes)), 0);
            // A small buffer, so a stream cut short has records on the device.
            auto sink = make_flattened_sink(std::move(fd), device_, 4096);
            EXPECT_TRUE(sink->write_at(0, to_bytes(std::string(512, 'H'))));
            EXPECT_TRUE(sink->write_at(8192, to_bytes(std::string(20000, 'D'))));
            EXPECT_TRUE(sink->write_at(4096, to_bytes(std::string(64, 'd'))));
            if (finish) {
                EXPECT_TRUE(sink->finish());
            } else {
                // A capture kernel that stopped: buffered records go out with
                // no end marker.
                sink.reset();
            }
        }
        std::vector<std::byte> expected(8192 + 20000, std::byte{0});
        std::memset(expected.data(), 'H', 512);
        std::memset(expected.data() + 4096, 'd', 64);
        std::memset(expected.data() + 8192, 'D', 20000);
        return expected;
    }

    // What the capture initrd copies to the root filesystem.
    void write_record(const std::string& name, DumpResult result, const std::string& error = {}) {
        const std::string directory = records_ + "/" + name;
        std::filesystem::create_directories(directory);
        DumpRecord record;
        record.result = result;
        record.error = error;
        record.format = "flattened";
        record.dump_file = device_;
        record.kernel_release = "6.1.0-test";
        record.boot_id = "11111111-2222-4333-8444-555555555555";
        record.panic_line = "Kernel panic - not syncing: sysrq triggered crash";
        record.dmesg_file = std::string(kDmesgFileName);
        auto fd = open_directory(directory);
        ASSERT_TRUE(fd);
        ASSERT_TRUE(write_dump_record(fd->get(), record));
        std::ofstream(directory + "/" + std::string(kDmesgFileName)) << "the last words\n";
        std::ofstream(directory + "/" + std::string(kCaptureKernelLogFileName))
            << "capture kernel journal\n";
    }

    DumpRecord record_of(const std::string& id) {
        auto record = read_dump_record(crash_ + "/" + id + "/status.json");
        EXPECT_TRUE(record) << (record ? "" : record.error().message);
        return record ? *record : DumpRecord{};
    }

    bool header_cleared() {
        const auto bytes = read_whole_file(device_);
        return !is_flattened_header(std::span<const std::byte>(bytes.data(), kFlatHeaderSize));
    }

    TempDir dir_;
    std::string device_ = dir_.file("device");
    std::string records_ = dir_.file("state/raw-captures");
    std::string crash_ = dir_.file("crash");
};

TEST_F(RawRecoveryTest, StreamAndRecordBecomeADumpDirectoryOnce) {
    const auto expected = write_stream(1 << 20);
    write_record("2026-12-02-115959", DumpResult::complete);

    auto report = recover_raw_captures(device_, records_, crash_, kNow);
    ASSERT_TRUE(report) << report.error().message;
    ASSERT_EQ(report->recovered.size(), 1u);
    EXPECT_TRUE(report->problems.empty());
    const auto& recovered = report->recovered.front();
    EXPECT_EQ(recovered.dump_id, "2026-12-02-115959");
    EXPECT_TRUE(recovered.from_device);
    EXPECT_EQ(recovered.result, DumpResult::complete);

    EXPECT_EQ(read_whole_file(crash_ + "/2026-12-02-115959/vmcore"), expected);
    const auto record = record_of("2026-12-02-115959");
    EXPECT_EQ(record.result, DumpResult::complete);
    EXPECT_EQ(record.format, "kdump");
    EXPECT_EQ(record.dump_file, "vmcore") << record.error;
    EXPECT_EQ(record.recovered_from, device_);
    EXPECT_EQ(record.bytes_out, expected.size());
    EXPECT_EQ(record.panic_line, "Kernel panic - not syncing: sysrq triggered crash");
    EXPECT_EQ(read_text_file(crash_ + "/2026-12-02-115959/vmcore-dmesg.txt"), "the last words\n");
    EXPECT_EQ(read_text_file(crash_ + "/2026-12-02-115959/capture-kernel.log"),
              "capture kernel journal\n");
    struct stat st {};
    ASSERT_EQ(::stat((crash_ + "/2026-12-02-115959/vmcore").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u) << "the dump holds the crashed kernel's memory";
    ASSERT_EQ(::stat((crash_ + "/2026-12-02-115959").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u);

    EXPECT_TRUE(header_cleared());
    EXPECT_FALSE(std::filesystem::exists(records_ + "/2026-12-02-115959"));
    auto again = recover_raw_captures(device_, records_, crash_, kNow + 60);
    ASSERT_TRUE(again);
    EXPECT_TRUE(again->recovered.empty()) << "recovered twice";
}

TEST_F(RawRecoveryTest, StreamWithoutRecordIsNamedByTheTimeItCameBack) {
    const auto expected = write_stream(1 << 20);
    auto report = recover_raw_captures(device_, records_, crash_, kNow);
    ASSERT_TRUE(report) << report.error().message;
    ASSERT_EQ(report->recovered.size(), 1u);
    EXPECT_EQ(report->recovered[0].dump_id, "raw-2026-12-02-120000");
    const auto record = record_of(report->recovered[0].dump_id);
    EXPECT_EQ(record.result, DumpResult::complete);
    EXPECT_EQ(record.dmesg_file, "");
    ASSERT_EQ(record.warnings.size(), 1u);
    EXPECT_THAT(record.warnings[0], HasSubstr("no record of this capture came back"));
    EXPECT_EQ(read_whole_file(crash_ + "/" + report->recovered[0].dump_id + "/vmcore"), expected);
}

TEST_F(RawRecoveryTest, CutShortStreamIsKeptAsIncomplete) {
    write_stream(1 << 20, false);
    write_record("2026-12-02-115959", DumpResult::incomplete,
                 "cannot write /dev/vdb: No space left on device");
    auto report = recover_raw_captures(device_, records_, crash_, kNow);
    ASSERT_TRUE(report) << report.error().message;
    ASSERT_EQ(report->recovered.size(), 1u);
    EXPECT_EQ(report->recovered[0].result, DumpResult::incomplete);
    const auto record = record_of("2026-12-02-115959");
    EXPECT_EQ(record.dump_file, "vmcore.incomplete");
    EXPECT_THAT(record.error, HasSubstr("No space left on device"));
    EXPECT_THAT(record.error, HasSubstr("is cut short"));
    EXPECT_TRUE(std::filesystem::exists(crash_ + "/2026-12-02-115959/vmcore.incomplete"));
    EXPECT_TRUE(header_cleared());
}

TEST_F(RawRecoveryTest, RecordsWithoutAStreamStillComeBack) {
    { std::ofstream(device_) << std::string(8192, '\0'); }
    // The oldest was complete but a later capture overwrote its stream; the
    // newest could not open the device at all.
    write_record("2026-12-01-080000", DumpResult::complete);
    write_record("2026-12-02-115959", DumpResult::failed, "cannot create /dev/vdb: No such device");
    auto report = recover_raw_captures(device_, records_, crash_, kNow);
    ASSERT_TRUE(report) << report.error().message;
    ASSERT_EQ(report->recovered.size(), 2u);
    EXPECT_FALSE(report->recovered[0].from_device);
    const auto overwritten = record_of("2026-12-01-080000");
    EXPECT_EQ(overwritten.result, DumpResult::failed);
    EXPECT_THAT(overwritten.error, HasSubstr("overwritten by a later capture"));
    const auto failed = record_of("2026-12-02-115959");
    EXPECT_EQ(failed.result, DumpResult::failed);
    EXPECT_EQ(failed.error, "cannot create /dev/vdb: No such device");
    EXPECT_EQ(failed.dump_file, "");
    EXPECT_EQ(read_text_file(crash_ + "/2026-12-02-115959/vmcore-dmesg.txt"), "the last words\n");
}

TEST_F(RawRecoveryTest, ExistingDumpOfTheSameNameIsKept) {
    write_stream(1 << 20);
    write_record("2026-12-02-115959", DumpResult::complete);
    std::filesystem::create_directories(crash_ + "/2026-12-02-115959");
    std::ofstream(crash_ + "/2026-12-02-115959/vmcore") << "another dump";
    auto report = recover_raw_captures(device_, records_, crash_, kNow);
    ASSERT_TRUE(report) << report.error().message;
    ASSERT_EQ(report->recovered.size(), 1u);
    EXPECT_EQ(report->recovered[0].dump_id, "2026-12-02-115959-2");
    EXPECT_EQ(read_text_file(crash_ + "/2026-12-02-115959/vmcore"), "another dump");
}

TEST_F(RawRecoveryTest, MisreadOffsetBeyondTheDeviceIsRefused) {
    // A stream header followed by a record claiming a 1 TiB offset: what a
    // cut-short stream followed by an older capture's bytes can look like.
    {
        std::vector<std::byte> bytes(kFlatHeaderSize + 16 + 4096, std::byte{0});
        UniqueFd fd(::open(device_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
        auto sink = make_flattened_sink(std::move(fd), device_);
        ASSERT_TRUE(sink->write_at(0, to_bytes("H")));
        ASSERT_TRUE(sink->finish());
        const auto head = read_whole_file(device_);
        std::memcpy(bytes.data(), head.data(), kFlatHeaderSize);
        const uint64_t offset = htobe64(uint64_t{1} << 40);
        const uint64_t size = htobe64(4096);
        std::memcpy(bytes.data() + kFlatHeaderSize, &offset, 8);
        std::memcpy(bytes.data() + kFlatHeaderSize + 8, &size, 8);
        std::ofstream(device_, std::ios::binary | std::ios::trunc)
            .write(reinterpret_cast<const char*>(bytes.data()),
                   static_cast<std::streamsize>(bytes.size()));
    }
    auto report = recover_raw_captures(device_, records_, crash_, kNow);
    ASSERT_TRUE(report) << report.error().message;
    ASSERT_EQ(report->recovered.size(), 1u);
    const auto record = record_of(report->recovered[0].dump_id);
    EXPECT_EQ(record.result, DumpResult::incomplete);
    EXPECT_THAT(record.error, HasSubstr("the most the stream can hold"));
    struct stat st {};
    ASSERT_EQ(
        ::stat((crash_ + "/" + report->recovered[0].dump_id + "/vmcore.incomplete").c_str(), &st),
        0);
    EXPECT_LT(st.st_size, 1 << 20) << "no sparse terabyte file";
}

// A full /var/crash (RLIMIT_FSIZE makes writes past 8 KiB fail with EFBIG,
// as a full disk fails them with ENOSPC): nothing is cleared, the record
// stays on the root filesystem, no half dump directory is left, and the next
// start, with room, recovers it.
TEST_F(RawRecoveryTest, FullCrashDirectoryLosesNothing) {
    const auto expected = write_stream(1 << 20);
    write_record("2026-12-02-115959", DumpResult::complete);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        std::signal(SIGXFSZ, SIG_IGN);
        const struct rlimit limit = {8192, 8192};
        ::setrlimit(RLIMIT_FSIZE, &limit);
        auto report = recover_raw_captures(device_, records_, crash_, kNow);
        const bool refused =
            !report && report.error().message.find("stays on the device") != std::string::npos;
        ::_exit(refused ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "the recovery did not fail as a full disk makes it";
    EXPECT_FALSE(header_cleared());
    EXPECT_TRUE(std::filesystem::exists(records_ + "/2026-12-02-115959/status.json"));
    EXPECT_TRUE(std::filesystem::is_empty(crash_)) << "a half-made dump directory was left";

    auto report = recover_raw_captures(device_, records_, crash_, kNow);
    ASSERT_TRUE(report) << report.error().message;
    ASSERT_EQ(report->recovered.size(), 1u);
    EXPECT_EQ(read_whole_file(crash_ + "/2026-12-02-115959/vmcore"), expected);
}

TEST_F(RawRecoveryTest, MissingDeviceIsAnError) {
    auto report = recover_raw_captures(dir_.file("no-such-device"), records_, crash_, kNow);
    ASSERT_FALSE(report);
    EXPECT_THAT(report.error().message, HasSubstr("cannot open the raw target"));
}

}  // namespace

// Target=ssh: the dump is on the server; the records the capture kept on the
// root filesystem are reported as they are, failed when ssh failed.
TEST_F(RawRecoveryTest, SshRecordsComeBackWithTheirRemoteDump) {
    const std::string url = "ssh://dump@backup/srv/crash/2026-12-02-110000/vmcore.flat";
    write_record("2026-12-02-110000", DumpResult::complete);
    write_record("2026-12-02-115959", DumpResult::complete);
    for (const auto* name : {"2026-12-02-110000", "2026-12-02-115959"}) {
        auto record = read_dump_record(records_ + "/" + name + "/status.json");
        ASSERT_TRUE(record);
        record->remote_dump = url;
        record->dump_file.clear();
        auto fd = open_directory(records_ + "/" + name);
        ASSERT_TRUE(fd);
        ASSERT_TRUE(write_dump_record(fd->get(), *record));
    }
    // The second one's stream was cut: ssh lost the server.
    std::ofstream(records_ + "/2026-12-02-115959/" + std::string(kTransferErrorFileName))
        << "ssh to dump@backup failed (exit status 255) while sending the dump: Broken pipe\n";

    auto report = recover_kept_records(records_, crash_, kNow);
    ASSERT_TRUE(report) << report.error().message;
    EXPECT_TRUE(report->problems.empty());
    ASSERT_EQ(report->recovered.size(), 2u);
    const auto sent = record_of("2026-12-02-110000");
    EXPECT_EQ(sent.result, DumpResult::complete);
    EXPECT_EQ(sent.remote_dump, url);
    EXPECT_EQ(sent.dump_file, "");
    EXPECT_EQ(sent.recovered_from, "");
    EXPECT_EQ(read_text_file(crash_ + "/2026-12-02-110000/capture-kernel.log"),
              "capture kernel journal\n");
    const auto cut = record_of("2026-12-02-115959");
    EXPECT_EQ(cut.result, DumpResult::failed);
    EXPECT_THAT(cut.error, HasSubstr("Broken pipe"));
    EXPECT_TRUE(std::filesystem::exists(crash_ + "/2026-12-02-115959/" +
                                        std::string(kTransferErrorFileName)));
    // Brought back once: the kept records are gone.
    EXPECT_FALSE(std::filesystem::exists(records_ + "/2026-12-02-110000"));
    auto again = recover_kept_records(records_, crash_, kNow);
    ASSERT_TRUE(again);
    EXPECT_TRUE(again->recovered.empty());
}
