#include "metrics-textfile.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "synthetic-vmcore.hpp"

using namespace crashcapture;
using crashcapture::test::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;

namespace {

MetricsSnapshot armed_machine() {
    MetricsSnapshot s;
    s.state = "loaded";
    s.armed = true;
    s.initrd_current = true;
    s.reserved_bytes = 256ULL << 20;
    s.needed_bytes = 112ULL << 20;
    s.reservation_fits = true;
    s.loaded_timestamp_seconds = 1796000000;
    s.version = "0.1.0";
    return s;
}

}  // namespace

TEST(MetricsTextfile, EveryFamilyHasHelpAndTypeAndTheStatesAreOneHot) {
    MetricsSnapshot s = armed_machine();
    count_dumps(nlohmann::json::array(), s);
    const std::string text = render_metrics(s);
    for (const char* name :
         {"crashcapture_armed", "crashcapture_state", "crashcapture_initrd_current",
          "crashcapture_reserved_bytes", "crashcapture_needed_bytes",
          "crashcapture_reservation_fits", "crashcapture_loaded_timestamp_seconds",
          "crashcapture_dumps", "crashcapture_lost_captures",
          "crashcapture_last_crash_timestamp_seconds", "crashcapture_info"}) {
        EXPECT_THAT(text, HasSubstr(std::string("# HELP ") + name + " ")) << name;
        EXPECT_THAT(text, HasSubstr(std::string("# TYPE ") + name + " gauge\n")) << name;
    }
    EXPECT_THAT(text, HasSubstr("crashcapture_armed 1\n"));
    EXPECT_THAT(text, HasSubstr("crashcapture_state{state=\"loaded\"} 1\n"));
    EXPECT_THAT(text, HasSubstr("crashcapture_state{state=\"failed\"} 0\n"));
    EXPECT_THAT(text, HasSubstr("crashcapture_reserved_bytes 268435456\n"));
    EXPECT_THAT(text, HasSubstr("crashcapture_needed_bytes 117440512\n"));
    EXPECT_THAT(text, HasSubstr("crashcapture_dumps{result=\"lost\"} 0\n"));
    EXPECT_THAT(text, HasSubstr("crashcapture_info{version=\"0.1.0\"} 1\n"));
    // No signature seen: no empty family.
    EXPECT_THAT(text, Not(HasSubstr("crashcapture_signature_dumps")));
    // The format's line grammar: every line is a comment or "name{labels} value".
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
        ASSERT_FALSE(line.empty());
        if (line[0] != '#') {
            EXPECT_NE(line.find(' '), std::string::npos) << line;
            EXPECT_EQ(line.rfind("crashcapture_", 0), 0u) << line;
        }
    }
}

TEST(MetricsTextfile, DumpsAreCountedByResultWithTheNewestCrash) {
    MetricsSnapshot s = armed_machine();
    const auto dumps = nlohmann::json::parse(R"([
        {"id": "2026-11-20-1000-aaaa", "result": "complete", "crash_time": 1795000000,
         "signature": "BUG: kernel NULL pointer dereference in fuse_dev_do_read",
         "signature_hash": "0123456789abcdef"},
        {"id": "2026-11-21-1000-bbbb", "result": "incomplete", "crash_time": 1795100000,
         "signature": "BUG: kernel NULL pointer dereference in fuse_dev_do_read",
         "signature_hash": "0123456789abcdef"},
        {"id": "lost-1111", "result": "lost", "crash_time": 0, "lost": {"last_seen": 1795200000}},
        {"id": "2026-11-19-1000-cccc", "result": "failed", "crash_time": 1794000000,
         "signature": "WARNING in \"quoted\\path\"", "signature_hash": "fedcba9876543210"}
    ])");
    count_dumps(dumps, s);
    EXPECT_EQ(s.dumps_by_result["complete"], 1u);
    EXPECT_EQ(s.dumps_by_result["incomplete"], 1u);
    EXPECT_EQ(s.dumps_by_result["failed"], 1u);
    EXPECT_EQ(s.dumps_by_result["lost"], 1u);
    // The lost capture's last sign of life is the newest crash time.
    EXPECT_EQ(s.last_crash_timestamp_seconds, 1795200000);
    const std::string text = render_metrics(s);
    EXPECT_THAT(text, HasSubstr("crashcapture_lost_captures 1\n"));
    EXPECT_THAT(text, HasSubstr("crashcapture_last_crash_timestamp_seconds 1795200000\n"));
    EXPECT_THAT(text, HasSubstr("crashcapture_signature_dumps{signature_hash=\"0123456789abcdef\","
                                "signature=\"BUG: kernel NULL pointer dereference in "
                                "fuse_dev_do_read\"} 2\n"));
    // Label values escaped as the exposition format asks.
    EXPECT_THAT(text, HasSubstr("signature=\"WARNING in \\\"quoted\\\\path\\\"\"} 1\n"));
}

TEST(MetricsTextfile, NotArmedReadsZero) {
    MetricsSnapshot s;
    s.state = "unavailable";
    count_dumps(nlohmann::json::parse("[]"), s);
    const std::string text = render_metrics(s);
    EXPECT_THAT(text, HasSubstr("crashcapture_armed 0\n"));
    EXPECT_THAT(text, HasSubstr("crashcapture_state{state=\"unavailable\"} 1\n"));
    EXPECT_THAT(text, HasSubstr("crashcapture_state{state=\"loaded\"} 0\n"));
    EXPECT_THAT(text, HasSubstr("crashcapture_reservation_fits 0\n"));
}

TEST(MetricsTextfile, WrittenAtomicallyAndReadableByNodeExporter) {
    TempDir dir;
    const std::string path = dir.file("crashcapture.prom");
    ASSERT_TRUE(write_metrics_textfile(path, "crashcapture_armed 1\n"));
    EXPECT_EQ(test::read_text_file(path), "crashcapture_armed 1\n");
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0644u);  // node_exporter is not root
    EXPECT_NE(::access((path + ".tmp").c_str(), F_OK), 0);
    // No directory (no node_exporter installed): ENOENT, nothing made.
    const auto missing = write_metrics_textfile(dir.file("no-such-dir/crashcapture.prom"), "x");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().errno_value, ENOENT);
}
