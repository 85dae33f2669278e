#include "initrd-size.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>

#include "initrd-image.hpp"
#include "synthetic-vmcore.hpp"

using namespace crashcapture;
using crashcapture::test::gzip;
using crashcapture::test::newc_entry;
using crashcapture::test::TempDir;
using crashcapture::test::zstd;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

namespace {

constexpr uint32_t kRegular = 0100644;
constexpr uint32_t kDirectory = 040755;
constexpr uint32_t kSymlink = 0120777;

struct Entry {
    std::string name;
    uint32_t mode;
    std::string data;
};

std::string cpio_archive(const std::vector<Entry>& entries) {
    std::string out;
    for (const auto& entry : entries) {
        out += newc_entry(entry.name, entry.mode, entry.data);
    }
    out += newc_entry("TRAILER!!!", 0, "");
    out.append((512 - out.size() % 512) % 512, '\0');  // as cpio -H newc pads
    return out;
}

// Incompressible-ish data of a given size (so streams span many chunks).
std::string noise(size_t size) {
    std::string out(size, '\0');
    uint32_t x = 12345;
    for (auto& c : out) {
        x = x * 1103515245 + 12345;
        c = static_cast<char>(x >> 24);
    }
    return out;
}

const std::vector<Entry> kFiles = {
    {"usr", kDirectory, ""},
    {"usr/one", kRegular, "x"},                      // 1 byte: one page
    {"usr/page", kRegular, std::string(4096, 'p')},  // exactly one page
    {"usr/more", kRegular, std::string(4097, 'm')},  // two pages
    {"bin", kSymlink, "usr/bin"},                    // not a file
};
constexpr uint64_t kFilesUnpacked = 4 * 4096;

}  // namespace

TEST(InitrdSize, UncompressedCpioCountsFilesInWholePages) {
    const auto size = measure_initrd_data(cpio_archive(kFiles));
    ASSERT_TRUE(size) << size.error().message;
    EXPECT_EQ(size->unpacked_bytes, kFilesUnpacked);
    EXPECT_EQ(size->files, 3u);
    EXPECT_EQ(size->entries, 5u);
    EXPECT_THAT(size->segments, ElementsAre("cpio"));
    EXPECT_FALSE(size->estimated);
    EXPECT_EQ(size->note, "");
}

TEST(InitrdSize, EarlyCpioThenGzipLikeAMicrocodeInitrd) {
    const std::string early = cpio_archive(
        {{"kernel/x86/microcode/GenuineIntel.bin", kRegular, std::string(10000, 'u')}});
    const std::string data = early + gzip(cpio_archive(kFiles));
    const auto size = measure_initrd_data(data);
    ASSERT_TRUE(size) << size.error().message;
    EXPECT_THAT(size->segments, ElementsAre("cpio", "gzip"));
    EXPECT_EQ(size->unpacked_bytes, 3 * 4096 + kFilesUnpacked);
    EXPECT_EQ(size->archive_bytes, data.size());
    EXPECT_EQ(size->note, "");
}

TEST(InitrdSize, ZstdSegmentWithLargeFilesAcrossChunks) {
    const std::vector<Entry> files = {{"a", kRegular, noise(300'000)},
                                      {"b", kRegular, noise(70'001)}};
    const auto size = measure_initrd_data(zstd(cpio_archive(files)));
    ASSERT_TRUE(size) << size.error().message;
    EXPECT_THAT(size->segments, ElementsAre("zstd"));
    EXPECT_EQ(size->unpacked_bytes, 300'000 / 4096 * 4096 + 4096 + 73'728);
    EXPECT_EQ(size->files, 2u);
}

TEST(InitrdSize, ListsRegularFilesOfEverySegmentWhenAsked) {
    // A name longer than the 16 bytes kept for the trailer check, a
    // directory and a symlink (not listed), in an early cpio and a zstd one.
    const std::string early = cpio_archive(
        {{"kernel", kDirectory, ""}, {"kernel/x86/microcode/GenuineIntel.bin", kRegular, "ucode"}});
    const std::string main =
        zstd(cpio_archive({{"usr", kDirectory, ""},
                           {"usr/lib/x86_64-linux-gnu/libc.so.6", kRegular, noise(5000)},
                           {"bin", kSymlink, "usr/bin"},
                           {"usr/bin/ssh", kRegular, "ssh"}}));
    const auto listed = measure_initrd_data(early + main, /*list_files=*/true);
    ASSERT_TRUE(listed) << listed.error().message;
    EXPECT_THAT(listed->file_names,
                ElementsAre("kernel/x86/microcode/GenuineIntel.bin",
                            "usr/lib/x86_64-linux-gnu/libc.so.6", "usr/bin/ssh"));
    // The symlink in a list of its own.
    EXPECT_THAT(listed->link_names, ElementsAre("bin"));
    const auto counted = measure_initrd_data(early + main);
    ASSERT_TRUE(counted);
    EXPECT_TRUE(counted->file_names.empty());
    EXPECT_TRUE(counted->link_names.empty());
    EXPECT_EQ(counted->unpacked_bytes, listed->unpacked_bytes);
}

TEST(InitrdSize, KeepsTheSquashImageOnlyWhenListing) {
    // Across zstd's output chunks, between two other files; a file of the
    // same name elsewhere is not it.
    const std::string image = noise(200'003);
    const std::string data = zstd(cpio_archive({{"init", kRegular, "#!/bin/sh"},
                                                {"squash-root.img", kRegular, image},
                                                {"usr/squash-root.img", kRegular, "no"},
                                                {"usr/bin/mount", kRegular, noise(5000)}}));
    const auto listed = measure_initrd_data(data, /*list_files=*/true);
    ASSERT_TRUE(listed) << listed.error().message;
    EXPECT_EQ(listed->squash_image.size(), image.size());
    EXPECT_TRUE(listed->squash_image == image);
    EXPECT_EQ(listed->files, 4u);
    EXPECT_TRUE(listed->squashed);
    const auto counted = measure_initrd_data(data);
    ASSERT_TRUE(counted);
    EXPECT_TRUE(counted->squash_image.empty());
    // Seen without listing too: the daemon's fit check uses it.
    EXPECT_TRUE(counted->squashed);
    // Not at the top, or a longer name: not dracut's image.
    for (const char* name : {"usr/squash-root.img", "squash-root.img.old"}) {
        const auto other = measure_initrd_data(cpio_archive({{name, kRegular, "x"}}));
        ASSERT_TRUE(other);
        EXPECT_FALSE(other->squashed) << name;
    }
}

TEST(InitrdSize, SquashListingKeepsRegularFilesOnly) {
    // unsquashfs -llc -d "" (squashfs-tools 4.5.1), as in a dracut image.
    constexpr std::string_view kListing =
        "lrwxrwxrwx root/root                 7 2026-12-07 00:07 /bin -> usr/bin\n"
        "drwxr-xr-x root/root                 3 2026-12-07 00:07 /dev\n"
        "-rw-r--r-- root/root               139 2026-12-07 00:07 /etc/ld.so.cache\n"
        "-rwxr-xr-x root/root           1265648 2026-12-07 00:07 /usr/bin/bash\n"
        "-rw-r--r-- root/root                 0 2026-12-07 00:07 /usr/lib/a file\n"
        "crw-r--r-- root/root             5,  1 2026-12-07 00:07 /dev/console\n";
    EXPECT_THAT(squash_listing_files(kListing),
                ElementsAre("etc/ld.so.cache", "usr/bin/bash", "usr/lib/a file"));
    EXPECT_TRUE(squash_listing_files("").empty());
    // The links, without their targets: thin-provisioning-tools' programs
    // are links to pdata_tools (the target-thin guest's image was refused
    // for want of thin_check while it held the link).
    EXPECT_THAT(squash_listing_links(kListing), ElementsAre("bin"));
    constexpr std::string_view kThinCheck =
        "lrwxrwxrwx root/root                11 2026-12-07 00:07 /usr/sbin/thin_check -> "
        "pdata_tools\n"
        "-rwxr-xr-x root/root           1370408 2026-12-07 00:07 /usr/sbin/pdata_tools\n";
    EXPECT_THAT(squash_listing_links(kThinCheck), ElementsAre("usr/sbin/thin_check"));
    EXPECT_THAT(squash_listing_files(kThinCheck), ElementsAre("usr/sbin/pdata_tools"));
}

TEST(InitrdSize, ListsTheFilesInsideARealSquashImage) {
    if (std::system("command -v mksquashfs >/dev/null && command -v unsquashfs >/dev/null") != 0) {
        GTEST_SKIP() << "no mksquashfs/unsquashfs (squashfs-tools)";
    }
    TempDir dir;
    const std::string tree = dir.file("tree");
    ASSERT_EQ(std::system(("mkdir -p " + tree + "/usr/bin " + tree + "/etc && echo x > " + tree +
                           "/usr/bin/ssh && echo y > " + tree + "/etc/passwd && ln -s usr/bin " +
                           tree + "/bin")
                              .c_str()),
              0);
    const std::string squashfs = dir.file("root.sqsh");
    ASSERT_EQ(std::system(("mksquashfs " + tree + " " + squashfs +
                           " -comp zstd -no-progress -quiet >/dev/null")
                              .c_str()),
              0);
    std::ifstream in(squashfs, std::ios::binary);
    const std::string image((std::istreambuf_iterator<char>(in)), {});
    const std::string initrd = dir.file("initrd.img");
    std::ofstream(initrd, std::ios::binary)
        << cpio_archive({{"init", kRegular, "#!/bin/sh"}, {"squash-root.img", kRegular, image}});
    const auto listed = list_initrd(initrd);
    ASSERT_TRUE(listed) << listed.error().message;
    EXPECT_THAT(listed->file_names,
                ElementsAre("init", "squash-root.img", "etc/passwd", "usr/bin/ssh"));
    EXPECT_THAT(listed->link_names, ElementsAre("bin"));
    EXPECT_TRUE(listed->squashed);
    EXPECT_TRUE(listed->squash_image.empty());  // released once listed

    // A damaged image is an error, not a short list.
    std::ofstream(initrd, std::ios::binary)
        << cpio_archive({{"init", kRegular, "#!/bin/sh"},
                         {"squash-root.img", kRegular, image.substr(0, 96) + noise(900)}});
    EXPECT_FALSE(list_initrd(initrd));
    // No squash image: the cpio's files, no unsquashfs run.
    std::ofstream(initrd, std::ios::binary) << zstd(cpio_archive(kFiles));
    const auto plain = list_initrd(initrd);
    ASSERT_TRUE(plain) << plain.error().message;
    EXPECT_THAT(plain->file_names, ElementsAre("usr/one", "usr/page", "usr/more"));
    EXPECT_FALSE(plain->squashed);
}

TEST(InitrdSize, SeveralArchivesInOneStreamAndSeveralStreams) {
    const std::string two = cpio_archive(kFiles) + cpio_archive({{"c", kRegular, "c"}});
    const std::string data = gzip(two) + std::string(7, '\0') + zstd(cpio_archive(kFiles));
    const auto size = measure_initrd_data(data);
    ASSERT_TRUE(size) << size.error().message;
    EXPECT_THAT(size->segments, ElementsAre("gzip", "zstd"));
    EXPECT_EQ(size->unpacked_bytes, 2 * kFilesUnpacked + 4096);
}

TEST(InitrdSize, UnknownCompressionIsEstimatedAndSaysSo) {
    std::string xz("\xfd\x37\x7a\x58\x5a\x00", 6);
    xz += std::string(994, 'z');
    const auto size = measure_initrd_data(cpio_archive(kFiles) + xz);
    ASSERT_TRUE(size) << size.error().message;
    EXPECT_THAT(size->segments, ElementsAre("cpio", "xz"));
    EXPECT_TRUE(size->estimated);
    EXPECT_EQ(size->unpacked_bytes, kFilesUnpacked + 1000 * kUnknownCompressionFactor);
    EXPECT_THAT(size->note, HasSubstr("xz-compressed, not read here"));
    EXPECT_THAT(size->note, HasSubstr("4 times"));
}

TEST(InitrdSize, NotAnInitrdIsAnError) {
    const auto size = measure_initrd_data("#!/bin/sh\necho hello\n");
    ASSERT_FALSE(size);
    EXPECT_THAT(size.error().message, HasSubstr("not an initrd"));
    EXPECT_FALSE(measure_initrd_data("070701 shorter than the 110 bytes of a header"));
    EXPECT_FALSE(measure_initrd_data("070701" + std::string(104, 'g')));  // not hex
}

TEST(InitrdSize, TruncatedStreamCountsWhatWasReadAndSaysSo) {
    const std::vector<Entry> files = {{"a", kRegular, noise(100'000)},
                                      {"b", kRegular, noise(100'000)}};
    const std::string whole = gzip(cpio_archive(files));
    const auto size = measure_initrd_data(whole.substr(0, whole.size() * 3 / 4));
    ASSERT_TRUE(size) << size.error().message;
    EXPECT_THAT(size->note, HasSubstr("gzip segment is truncated"));
    EXPECT_GE(size->unpacked_bytes, 4096u * 25);  // the first file at least
    EXPECT_LE(size->unpacked_bytes, 2 * 4096u * 25);
}

TEST(InitrdSize, CorruptCpioInsideAStreamStopsWithANote) {
    std::string archive = cpio_archive(kFiles);
    archive[newc_entry("usr", kDirectory, "").size()] = 'X';  // the second header's magic
    const auto size = measure_initrd_data(gzip(archive));
    ASSERT_TRUE(size) << size.error().message;
    EXPECT_THAT(size->note, HasSubstr("not a cpio header"));
    EXPECT_EQ(size->entries, 1u);
}

TEST(InitrdSize, FromAFile) {
    TempDir dir;
    const std::string path = dir.file("initrd.img");
    const std::string data = zstd(cpio_archive(kFiles));
    std::ofstream(path, std::ios::binary) << data;
    const auto size = measure_initrd(path);
    ASSERT_TRUE(size) << size.error().message;
    EXPECT_EQ(size->archive_bytes, data.size());
    EXPECT_EQ(size->unpacked_bytes, kFilesUnpacked);
    EXPECT_EQ(measure_initrd(dir.file("missing")).error().errno_value, ENOENT);
    std::ofstream(dir.file("empty"));
    EXPECT_THAT(measure_initrd(dir.file("empty")).error().message, HasSubstr("is empty"));
}

TEST(InitrdSizeCache, WalksAFileOnceUntilItChanges) {
    TempDir dir;
    const std::string path = dir.file("initrd.img");
    std::ofstream(path, std::ios::binary) << zstd(cpio_archive(kFiles));
    InitrdSizeCache cache;
    EXPECT_EQ(cache.measure(dir.file("missing")).error().errno_value, ENOENT);
    EXPECT_EQ(cache.walks(), 0U);
    for (int query = 0; query < 3; ++query) {
        const auto measured = cache.measure(path);
        ASSERT_TRUE(measured) << measured.error().message;
        ASSERT_TRUE(measured->size);
        EXPECT_EQ(measured->size->unpacked_bytes, kFilesUnpacked);
    }
    EXPECT_EQ(cache.walks(), 1U);
    // Rebuilt (a new file renamed over it, as the daemon does): walked again.
    const std::string rebuilt = dir.file("initrd.img.building");
    std::ofstream(rebuilt, std::ios::binary)
        << zstd(cpio_archive({{"bin/one", 0100755, std::string(5000, 'x')}}));
    ASSERT_EQ(std::rename(rebuilt.c_str(), path.c_str()), 0);
    const auto after = cache.measure(path);
    ASSERT_TRUE(after && after->size);
    EXPECT_EQ(after->size->unpacked_bytes, 8192U);  // 5000 bytes in two 4 KiB pages
    EXPECT_EQ(cache.walks(), 2U);
    // Not an initrd: the file's size, and the walker's error.
    std::ofstream(path, std::ios::binary | std::ios::trunc) << "not an initrd at all";
    const auto garbage = cache.measure(path);
    ASSERT_TRUE(garbage);
    EXPECT_EQ(garbage->file_bytes, 20U);
    EXPECT_FALSE(garbage->size);
}
