#include "dump-sink.hpp"

#include <endian.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>

#include "synthetic-vmcore.hpp"

using namespace crashcapture;
using namespace crashcapture::test;
using ::testing::HasSubstr;

namespace {

UniqueFd create(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    EXPECT_TRUE(fd);
    return fd;
}

UniqueFd open_read(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    EXPECT_TRUE(fd);
    return fd;
}

int64_t be64_at(const std::vector<std::byte>& bytes, size_t offset) {
    uint64_t value;
    std::memcpy(&value, bytes.data() + offset, sizeof(value));
    return static_cast<int64_t>(be64toh(value));
}

// The same writes, in an order a dump writer uses: header block, data far
// out, descriptors in between, a rewrite of the header (incomplete flag).
void write_sample(DumpSink& sink) {
    const auto header = to_bytes(std::string(464, 'H'));
    const auto data = to_bytes(std::string(10000, 'D'));
    const auto descriptors = to_bytes(std::string(48, 'd'));
    ASSERT_TRUE(sink.write_at(0, header));
    ASSERT_TRUE(sink.write_at(3 * 4096, data));
    ASSERT_TRUE(sink.write_at(2 * 4096, descriptors));
    ASSERT_TRUE(sink.write_at(424, to_bytes(std::string_view("\x08\x00\x00\x00", 4))));
    ASSERT_TRUE(sink.finish());
}

class DumpSinkTest : public ::testing::Test {
  protected:
    TempDir dir_;
};

TEST_F(DumpSinkTest, FileSinkWritesAtOffsets) {
    auto sink = make_file_sink(create(dir_.file("file")), "file");
    EXPECT_FALSE(sink->is_stream());
    write_sample(*sink);
    EXPECT_EQ(sink->bytes_written(), 464u + 10000u + 48u + 4u);
    auto bytes = read_whole_file(dir_.file("file"));
    ASSERT_EQ(bytes.size(), 3 * 4096u + 10000u);
    EXPECT_EQ(static_cast<char>(bytes[423]), 'H');
    EXPECT_EQ(bytes[424], std::byte{8});
    EXPECT_EQ(static_cast<char>(bytes[428]), 'H');
    EXPECT_EQ(bytes[464], std::byte{0});  // a hole
    EXPECT_EQ(static_cast<char>(bytes[2 * 4096]), 'd');
    EXPECT_EQ(static_cast<char>(bytes.back()), 'D');
}

TEST_F(DumpSinkTest, FlattenedStreamLayout) {
    auto sink = make_flattened_sink(create(dir_.file("flat")), "flat", 4096);
    EXPECT_TRUE(sink->is_stream());
    write_sample(*sink);
    auto stream = read_whole_file(dir_.file("flat"));
    EXPECT_EQ(sink->bytes_written(), stream.size());
    ASSERT_GE(stream.size(), kFlatHeaderSize + 16);
    // struct makedumpfile_header: "makedumpfile" NUL padded to 16, then
    // type 1 and version 1 big-endian; the rest of 4096 bytes zero.
    EXPECT_EQ(std::memcmp(stream.data(), "makedumpfile\0\0\0\0", 16), 0);
    EXPECT_EQ(be64_at(stream, 16), 1);
    EXPECT_EQ(be64_at(stream, 24), 1);
    EXPECT_TRUE(std::all_of(stream.begin() + 32, stream.begin() + kFlatHeaderSize,
                            [](std::byte b) { return b == std::byte{0}; }));
    // First record: {offset 0, size 464} (makedumpfile_data_header, big-endian).
    EXPECT_EQ(be64_at(stream, kFlatHeaderSize), 0);
    EXPECT_EQ(be64_at(stream, kFlatHeaderSize + 8), 464);
    // END_FLAG_FLAT_HEADER: offset -1, size -1.
    EXPECT_EQ(be64_at(stream, stream.size() - 16), -1);
    EXPECT_EQ(be64_at(stream, stream.size() - 8), -1);
    // Header + 4 records + end marker.
    EXPECT_EQ(stream.size(), kFlatHeaderSize + 4 * 16 + 464 + 10000 + 48 + 4 + 16);
}

TEST_F(DumpSinkTest, ReassembledStreamEqualsTheFile) {
    for (size_t buffer : {size_t{64}, size_t{4096}, size_t{1} << 20}) {
        auto file_sink = make_file_sink(create(dir_.file("file")), "file");
        write_sample(*file_sink);
        auto flat_sink = make_flattened_sink(create(dir_.file("flat")), "flat", buffer);
        write_sample(*flat_sink);
        auto in = open_read(dir_.file("flat"));
        auto out = create(dir_.file("reassembled"));
        auto s = reassemble_flattened(in.get(), out.get());
        ASSERT_TRUE(s) << s.error().message;
        EXPECT_EQ(read_whole_file(dir_.file("reassembled")), read_whole_file(dir_.file("file")))
            << "buffer " << buffer;
    }
}

TEST_F(DumpSinkTest, FlattenedStreamThroughAPipe) {
    int fds[2];
    ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    UniqueFd read_end(fds[0]);
    {
        auto sink = make_flattened_sink(UniqueFd(fds[1]), "pipe");
        ASSERT_TRUE(sink->write_at(100, to_bytes("hello")));
        // finish() must not fail on a pipe (fsync gives EINVAL there).
        auto s = sink->finish();
        ASSERT_TRUE(s) << s.error().message;
    }
    auto out = create(dir_.file("reassembled"));
    ASSERT_TRUE(reassemble_flattened(read_end.get(), out.get()));
    auto bytes = read_whole_file(dir_.file("reassembled"));
    ASSERT_EQ(bytes.size(), 105u);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(bytes.data()) + 100, 5), "hello");
}

TEST_F(DumpSinkTest, TruncatedStreamIsAnError) {
    auto sink = make_flattened_sink(create(dir_.file("flat")), "flat");
    write_sample(*sink);
    const auto stream = read_whole_file(dir_.file("flat"));
    struct Cut {
        size_t size;
        const char* what;
    };
    for (const auto& cut :
         {Cut{stream.size() - 16, "no end marker"}, Cut{stream.size() - 20, "middle of a record"},
          Cut{kFlatHeaderSize + 16 + 100, "middle of a record"},
          Cut{kFlatHeaderSize + 8, "middle of a record"}, Cut{1000, "middle of a record"}}) {
        {
            auto fd = create(dir_.file("cut"));
            ASSERT_EQ(::write(fd.get(), stream.data(), cut.size), static_cast<ssize_t>(cut.size));
        }
        auto in = open_read(dir_.file("cut"));
        auto out = create(dir_.file("out"));
        auto s = reassemble_flattened(in.get(), out.get());
        ASSERT_FALSE(s) << "cut at " << cut.size;
        EXPECT_THAT(s.error().message, HasSubstr(cut.what)) << "cut at " << cut.size;
    }
}

TEST_F(DumpSinkTest, NotAFlattenedStream) {
    {
        auto fd = create(dir_.file("kdump"));
        std::vector<char> block(8192, 0);
        std::memcpy(block.data(), "KDUMP   ", 8);
        ASSERT_EQ(::write(fd.get(), block.data(), block.size()), 8192);
    }
    auto in = open_read(dir_.file("kdump"));
    auto out = create(dir_.file("out"));
    auto s = reassemble_flattened(in.get(), out.get());
    ASSERT_FALSE(s);
    EXPECT_THAT(s.error().message, HasSubstr("not a flattened dump"));
}

TEST_F(DumpSinkTest, CorruptRecordHeader) {
    auto sink = make_flattened_sink(create(dir_.file("flat")), "flat");
    ASSERT_TRUE(sink->write_at(0, to_bytes("abc")));
    ASSERT_TRUE(sink->finish());
    auto stream = read_whole_file(dir_.file("flat"));
    // Make the first record's size negative (but not the end marker).
    const uint64_t bad = htobe64(static_cast<uint64_t>(-5));
    std::memcpy(stream.data() + kFlatHeaderSize + 8, &bad, 8);
    {
        auto fd = create(dir_.file("bad"));
        ASSERT_EQ(::write(fd.get(), stream.data(), stream.size()),
                  static_cast<ssize_t>(stream.size()));
    }
    auto in = open_read(dir_.file("bad"));
    auto out = create(dir_.file("out"));
    auto s = reassemble_flattened(in.get(), out.get());
    ASSERT_FALSE(s);
    EXPECT_THAT(s.error().message, HasSubstr("corrupt flattened record"));
}

TEST_F(DumpSinkTest, WriteErrorsCarryErrno) {
    // A read-only fd: pwrite fails with EBADF.
    { auto fd = create(dir_.file("ro")); }
    auto sink = make_file_sink(open_read(dir_.file("ro")), "ro");
    auto s = sink->write_at(0, to_bytes("x"));
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().errno_value, EBADF);
    EXPECT_THAT(s.error().message, HasSubstr("ro"));
}

}  // namespace
