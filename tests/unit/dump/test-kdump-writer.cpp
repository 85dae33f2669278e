#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <map>

#include "dump-writer.hpp"
#include "kdump-test-reader.hpp"
#include "synthetic-vmcore.hpp"

using namespace crashcapture;
using namespace crashcapture::test;
using ::testing::HasSubstr;

namespace {

// A disk that fills up: every 4 KiB block written for the first time costs
// one block of budget; rewriting blocks already allocated is free (as on a
// real file system, which is what the writer's header rewrite relies on).
// When the budget runs out, a write stores what fits and fails with ENOSPC,
// like a short pwrite() followed by a failing one.
class FullDiskSink final : public DumpSink {
  public:
    explicit FullDiskSink(uint64_t budget_bytes) : budget_blocks_(budget_bytes / kBlock) {}

    Status write_at(uint64_t offset, std::span<const std::byte> data) override {
        ++writes_;
        for (size_t done = 0; done < data.size();) {
            const uint64_t at = offset + done;
            const uint64_t block = at / kBlock;
            if (!allocated_.count(block)) {
                if (budget_blocks_ == 0) {
                    ++failures_;
                    return make_error(ENOSPC, "test disk is full at offset {}", at);
                }
                --budget_blocks_;
                allocated_.insert({block, true});
            }
            const size_t chunk = std::min<uint64_t>(data.size() - done, kBlock - at % kBlock);
            if (file_.size() < at + chunk) {
                file_.resize(at + chunk);
            }
            std::memcpy(file_.data() + at, data.data() + done, chunk);
            done += chunk;
            written_ += chunk;
        }
        return {};
    }
    Status finish() override { return {}; }
    uint64_t bytes_written() const override { return written_; }
    bool is_stream() const override { return false; }

    bool allocated(uint64_t offset, uint64_t size) const {
        for (uint64_t block = offset / kBlock; block <= (offset + size - 1) / kBlock; ++block) {
            if (!allocated_.count(block)) {
                return false;
            }
        }
        return true;
    }
    const std::vector<std::byte>& file() const { return file_; }
    int failures() const { return failures_; }

  private:
    static constexpr uint64_t kBlock = 4096;
    uint64_t budget_blocks_;
    std::map<uint64_t, bool> allocated_;
    std::vector<std::byte> file_;
    uint64_t written_ = 0;
    int writes_ = 0;
    int failures_ = 0;
};

// Frames of the synthetic kernel (8 MiB): 0x100-0x5ff and 0x700-0x7ff are in
// PT_LOADs; 0x200-0x3ff (the kernel image) is in two of them.
constexpr uint64_t kFirstPfn = 0x100;
constexpr uint64_t kHoleStart = 0x600, kHoleEnd = 0x700;
constexpr uint64_t kMaxMapnr = 0x800;
constexpr uint64_t kDumpableFrames = (kHoleStart - kFirstPfn) + (kMaxMapnr - kHoleEnd);

class KdumpWriterTest : public ::testing::Test {
  protected:
    KdumpWriterTest() {
        auto& memory = kernel_.memory();
        for (uint64_t pfn = 0x700; pfn < 0x710; ++pfn) {
            memory.fill_pattern(pfn);
        }
        for (uint64_t pfn = 0x710; pfn < 0x720; ++pfn) {
            memory.fill_random(pfn);
        }
        for (uint64_t pfn = 0x150; pfn < 0x158; ++pfn) {
            memory.fill_pattern(pfn);
        }
        builder_.emplace(kernel_.vmcore_builder());
        builder_->write(dir_.file("vmcore"));
        auto vmcore = VmcoreFile::open(dir_.file("vmcore"));
        EXPECT_TRUE(vmcore) << (vmcore ? "" : vmcore.error().message);
        vmcore_.emplace(std::move(*vmcore));

        identity_.phys_base = kernel_.phys_base();
        identity_.crash_time = SyntheticKernel::kCrashTime;
        identity_.nr_cpus = vmcore_->prstatus_count();
        identity_.page_size = kPageSize;
        const auto uts =
            kernel_.memory().bytes(SyntheticKernel::kImagePhys + SyntheticKernel::kUtsNsOffset +
                                       SyntheticKernel::kUtsNameOffset,
                                   kdump::kUtsnameSize);
        std::memcpy(identity_.utsname.data(), uts.data(), uts.size());
    }

    WriteOutcome write_to_file(const WriteOptions& options, const std::string& name,
                               const ProgressCallback& progress = {}) {
        UniqueFd fd(::open(dir_.file(name).c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
        EXPECT_TRUE(fd);
        auto sink = make_file_sink(std::move(fd), name);
        return write_kdump(*vmcore_, identity_, options, *sink, progress);
    }

    KdumpTestReader write_and_read(const WriteOptions& options, WriteOutcome* outcome = nullptr) {
        auto result = write_to_file(options, "dump");
        EXPECT_FALSE(result.error) << result.error->message;
        if (outcome) {
            *outcome = result;
        }
        return KdumpTestReader(read_whole_file(dir_.file("dump")));
    }

    std::span<const std::byte> source_page(uint64_t pfn) const {
        return kernel_.memory().page(pfn);
    }

    TempDir dir_;
    SyntheticKernel kernel_;
    std::optional<VmcoreBuilder> builder_;
    std::optional<VmcoreFile> vmcore_;
    KernelIdentity identity_;
};

TEST_F(KdumpWriterTest, HeaderFields) {
    WriteOptions options;
    auto dump = write_and_read(options);
    using namespace kdump::header_offset;
    EXPECT_EQ(dump.signature(), "KDUMP   ");
    EXPECT_EQ(dump.header<int32_t>(header_version), 6);
    const auto uts = std::string(reinterpret_cast<const char*>(dump.bytes().data()) + utsname,
                                 kdump::kUtsnameSize);
    EXPECT_EQ(std::string(uts.c_str()), "Linux");
    EXPECT_EQ(std::string(uts.c_str() + 2 * 65), "6.1.0-synthetic");
    EXPECT_EQ(std::string(uts.c_str() + 4 * 65), "x86_64");
    EXPECT_EQ(dump.header<int64_t>(timestamp_sec),
              static_cast<int64_t>(SyntheticKernel::kCrashTime));
    // tv_usec 0 keeps libkdumpfile's 32-bit header probe from matching.
    EXPECT_EQ(dump.header<int64_t>(timestamp_usec), 0);
    EXPECT_EQ(dump.status(), 0x20u);  // DUMP_DH_COMPRESSED_ZSTD, complete
    EXPECT_EQ(dump.block_size(), 4096u);
    const uint64_t note_size = vmcore_->note_blob().size();
    EXPECT_EQ(dump.sub_hdr_size(), (104 + note_size + 4095) / 4096);
    // One 4 KiB block per bitmap holds 32768 frames: 2 blocks in all.
    EXPECT_EQ(dump.bitmap_blocks(), 2u);
    EXPECT_EQ(dump.header<uint32_t>(max_mapnr), kMaxMapnr);
    EXPECT_EQ(dump.header<uint32_t>(total_ram_blocks), 0u);
    EXPECT_EQ(dump.header<uint32_t>(current_cpu), 0u);
    EXPECT_EQ(dump.header<int32_t>(nr_cpus), 2);
    // The rest of block 0 is zero.
    for (size_t i = kdump::kHeaderSize; i < 4096; ++i) {
        ASSERT_EQ(dump.bytes()[i], std::byte{0}) << i;
    }
}

TEST_F(KdumpWriterTest, SubHeaderAndNotes) {
    WriteOptions options;
    options.dump_level = 1;
    auto dump = write_and_read(options);
    using namespace kdump::sub_header_offset;
    // Two's complement of the negative KASLR phys_base.
    EXPECT_EQ(dump.sub_header<int64_t>(phys_base), kernel_.phys_base());
    EXPECT_LT(dump.sub_header<int64_t>(phys_base), 0);
    EXPECT_EQ(dump.sub_header<int32_t>(dump_level), 1);
    EXPECT_EQ(dump.sub_header<int32_t>(split), 0);
    EXPECT_EQ(dump.sub_header<uint64_t>(offset_note), 4096u + 104u);
    const auto notes = vmcore_->note_blob();
    ASSERT_EQ(dump.sub_header<uint64_t>(size_note), notes.size());
    EXPECT_EQ(std::memcmp(dump.bytes().data() + 4096 + 104, notes.data(), notes.size()), 0);
    // offset_vmcoreinfo points at the descriptor text inside the copied notes.
    const auto vmcoreinfo_offset = dump.sub_header<uint64_t>(offset_vmcoreinfo);
    const auto vmcoreinfo_size = dump.sub_header<uint64_t>(size_vmcoreinfo);
    EXPECT_EQ(vmcoreinfo_size, kernel_.vmcoreinfo().size());
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(dump.bytes().data()) + vmcoreinfo_offset,
                          vmcoreinfo_size),
              kernel_.vmcoreinfo());
    EXPECT_EQ(dump.sub_header<uint64_t>(max_mapnr_64), kMaxMapnr);
    EXPECT_EQ(dump.sub_header<uint64_t>(offset_eraseinfo), 0u);
}

TEST_F(KdumpWriterTest, BitmapsCountOverlappingLoadsOnce) {
    WriteOutcome outcome;
    auto dump = write_and_read(WriteOptions{}, &outcome);
    for (uint64_t pfn = 0; pfn < kMaxMapnr; ++pfn) {
        const bool in_load = pfn >= kFirstPfn && (pfn < kHoleStart || pfn >= kHoleEnd);
        ASSERT_EQ(dump.present(pfn), in_load) << pfn;
        ASSERT_EQ(dump.dumpable(pfn), in_load) << pfn;
    }
    // Bits past max_mapnr, to the end of the bitmap block, are clear.
    for (uint64_t pfn = kMaxMapnr; pfn < 4096 * 8; ++pfn) {
        ASSERT_FALSE(dump.present(pfn)) << pfn;
        ASSERT_FALSE(dump.dumpable(pfn)) << pfn;
    }
    EXPECT_EQ(dump.count_dumpable(), kDumpableFrames);
    EXPECT_EQ(outcome.pages.total, kDumpableFrames);
    EXPECT_EQ(outcome.pages.dumpable, kDumpableFrames);
    EXPECT_EQ(outcome.pages.zero + outcome.pages.written, kDumpableFrames);
    EXPECT_FALSE(outcome.incomplete);
}

// Every dumpable frame, via its descriptor, reads back as the source page.
void expect_all_pages_match(const KdumpTestReader& dump, const PhysicalImage& memory) {
    uint64_t index = 0;
    for (uint64_t pfn = 0; pfn < kMaxMapnr; ++pfn) {
        if (!dump.dumpable(pfn)) {
            continue;
        }
        const auto d = dump.desc_at(index++);
        std::string why;
        auto page = dump.page(d, &why);
        ASSERT_TRUE(page) << "pfn " << pfn << ": " << why;
        ASSERT_TRUE(std::equal(page->begin(), page->end(), memory.page(pfn).begin()))
            << "pfn " << pfn;
        EXPECT_EQ(d.page_flags, 0u);
    }
}

class KdumpWriterCodecs : public KdumpWriterTest,
                          public ::testing::WithParamInterface<Compression> {};

TEST_P(KdumpWriterCodecs, PagesDecompressToTheSource) {
    WriteOptions options;
    options.compression = GetParam();
    options.compression_level = default_compression_level(GetParam());
    WriteOutcome outcome;
    auto dump = write_and_read(options, &outcome);
    expect_all_pages_match(dump, kernel_.memory());
    EXPECT_EQ(dump.status(), kdump_compression_flag(GetParam()));

    const uint32_t flag = kdump_compression_flag(GetParam());
    // Patterned pages are compressed with the file's method.
    const auto patterned = dump.desc(0x705);
    if (GetParam() == Compression::none) {
        EXPECT_EQ(patterned.flags, 0u);
        EXPECT_EQ(patterned.size, 4096u);
        EXPECT_EQ(outcome.pages.compressed, 0u);
    } else {
        EXPECT_EQ(patterned.flags, flag);
        EXPECT_LT(patterned.size, 4096u);
        EXPECT_GT(outcome.pages.compressed, 0u);
    }
    // Random pages are stored raw: flags 0, size == block size.
    for (uint64_t pfn = 0x710; pfn < 0x720; ++pfn) {
        const auto d = dump.desc(pfn);
        EXPECT_EQ(d.flags, 0u) << pfn;
        EXPECT_EQ(d.size, 4096u) << pfn;
    }
}

// --threads: four compressing threads, each with its own compressor of the
// file's method, make the file one thread makes, byte for byte. Batches of
// 8 pages per thread split the synthetic kernel's runs into many batches,
// some shorter than the thread count, so the pool hands over work often:
// ThreadSanitizer runs this (tests/run-sanitizers.sh).
TEST_P(KdumpWriterCodecs, FourThreadsWriteTheFileOneThreadWrites) {
    WriteOptions options;
    options.compression = GetParam();
    options.compression_level = default_compression_level(GetParam());
    options.batch_pages = 8;
    options.threads = 1;
    ASSERT_FALSE(write_to_file(options, "one").error);
    options.threads = 4;
    WriteOutcome four = write_to_file(options, "four");
    ASSERT_FALSE(four.error) << four.error->message;
    const auto one = read_whole_file(dir_.file("one"));
    EXPECT_EQ(read_whole_file(dir_.file("four")), one);
    expect_all_pages_match(KdumpTestReader(one), kernel_.memory());
    EXPECT_EQ(four.pages.written + four.pages.zero, kDumpableFrames);
}

INSTANTIATE_TEST_SUITE_P(Codecs, KdumpWriterCodecs,
                         ::testing::Values(Compression::zstd, Compression::zlib, Compression::lzo,
                                           Compression::none),
                         [](const auto& param_info) {
                             return std::string(to_string(param_info.param));
                         });

TEST_F(KdumpWriterTest, ZeroPagesShareOneDescriptorAtLevel1) {
    WriteOptions options;
    options.dump_level = 1;
    WriteOutcome outcome;
    auto dump = write_and_read(options, &outcome);
    // makedumpfile pd_zero: one zero page first in the data area.
    const uint64_t data_start = dump.desc_offset() + kDumpableFrames * kdump::kPageDescSize;
    const PageDesc zero{static_cast<int64_t>(data_start), 4096, 0, 0};
    EXPECT_EQ(dump.desc(0x100), zero);  // frame 0x100 is all zero
    EXPECT_EQ(dump.desc(0x7ff), zero);
    EXPECT_NE(dump.desc(0x700), zero);
    for (uint64_t i = 0; i < 4096; ++i) {
        ASSERT_EQ(dump.bytes()[data_start + i], std::byte{0});
    }
    EXPECT_GT(outcome.pages.zero, 1000u);
    // Non-zero pages are stored after it, in frame order, packed.
    uint64_t expected_next = data_start + 4096;
    uint64_t index = 0;
    for (uint64_t pfn = 0; pfn < kMaxMapnr; ++pfn) {
        if (!dump.dumpable(pfn)) {
            continue;
        }
        const auto d = dump.desc_at(index++);
        if (d == zero) {
            continue;
        }
        ASSERT_EQ(static_cast<uint64_t>(d.offset), expected_next) << pfn;
        expected_next += d.size;
    }
    // Nothing after the last page's data.
    EXPECT_EQ(dump.bytes().size(), expected_next);
}

TEST_F(KdumpWriterTest, Level0StoresEveryZeroPageItself) {
    WriteOptions options;
    options.dump_level = 0;
    WriteOutcome outcome;
    auto dump = write_and_read(options, &outcome);
    EXPECT_EQ(dump.sub_header<int32_t>(kdump::sub_header_offset::dump_level), 0);
    expect_all_pages_match(dump, kernel_.memory());
    EXPECT_EQ(outcome.pages.zero, 0u);
    EXPECT_EQ(outcome.pages.written, kDumpableFrames);
    // No shared zero page: the first frame's data starts right after the
    // descriptors, and two zero frames have different offsets.
    const uint64_t data_start = dump.desc_offset() + kDumpableFrames * kdump::kPageDescSize;
    EXPECT_EQ(dump.desc(0x100).offset, static_cast<int64_t>(data_start));
    EXPECT_NE(dump.desc(0x100).offset, dump.desc(0x101).offset);
    EXPECT_EQ(dump.desc(0x101).flags, 0x20u);
}

TEST_F(KdumpWriterTest, FlattenedStreamReassemblesToTheSameFile) {
    WriteOptions options;
    write_and_read(options);
    const auto direct = read_whole_file(dir_.file("dump"));
    {
        UniqueFd fd(
            ::open(dir_.file("flat").c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
        auto sink = make_flattened_sink(std::move(fd), "flat", 8192);
        auto outcome = write_kdump(*vmcore_, identity_, options, *sink, {});
        ASSERT_FALSE(outcome.error) << outcome.error->message;
    }
    UniqueFd in(::open(dir_.file("flat").c_str(), O_RDONLY | O_CLOEXEC));
    UniqueFd out(
        ::open(dir_.file("reassembled").c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    ASSERT_TRUE(reassemble_flattened(in.get(), out.get()));
    EXPECT_EQ(read_whole_file(dir_.file("reassembled")), direct);
}

TEST_F(KdumpWriterTest, ThreadCountDoesNotChangeTheFile) {
    WriteOptions options;
    options.batch_pages = 8;
    options.threads = 1;
    ASSERT_FALSE(write_to_file(options, "one").error);
    options.threads = 3;
    ASSERT_FALSE(write_to_file(options, "three").error);
    const auto one = read_whole_file(dir_.file("one"));
    EXPECT_EQ(read_whole_file(dir_.file("three")), one);
    expect_all_pages_match(KdumpTestReader(one), kernel_.memory());
}

TEST_F(KdumpWriterTest, ProgressReachesTheTotal) {
    WriteOptions options;
    options.batch_pages = 64;
    uint64_t calls = 0, last_done = 0, last_total = 0;
    bool monotonic = true;
    auto outcome = write_to_file(options, "dump", [&](uint64_t done, uint64_t total, uint64_t) {
        monotonic = monotonic && done >= last_done && done <= total;
        last_done = done;
        last_total = total;
        ++calls;
    });
    ASSERT_FALSE(outcome.error);
    EXPECT_GT(calls, 5u);
    EXPECT_TRUE(monotonic);
    EXPECT_EQ(last_total, kDumpableFrames);
    EXPECT_EQ(last_done, kDumpableFrames);
}

TEST_F(KdumpWriterTest, DiskFullLeavesAConsistentIncompleteDump) {
    WriteOptions options;
    options.batch_pages = 16;
    const auto complete = write_to_file(options, "dump");
    ASSERT_FALSE(complete.error);
    const uint64_t full_size = read_whole_file(dir_.file("dump")).size();

    FullDiskSink sink(full_size / 2);
    auto outcome = write_kdump(*vmcore_, identity_, options, sink, {});
    ASSERT_TRUE(outcome.error);
    EXPECT_EQ(outcome.error->errno_value, ENOSPC);
    EXPECT_TRUE(outcome.incomplete);
    EXPECT_GT(sink.failures(), 0);

    KdumpTestReader dump(sink.file());
    // DUMP_DH_COMPRESSED_INCOMPLETE with the method still recorded.
    EXPECT_EQ(dump.status(), 0x20u | 0x8u);
    uint64_t good = 0, lost = 0, index = 0;
    for (uint64_t pfn = 0; pfn < kMaxMapnr; ++pfn) {
        if (!dump.dumpable(pfn)) {
            continue;
        }
        const auto d = dump.desc_at(index++);
        if (d.offset == 0) {  // crash: "descriptor never written" (PAGE_INCOMPLETE)
            ++lost;
            continue;
        }
        // A written descriptor never points at data that is not there.
        ASSERT_TRUE(sink.allocated(static_cast<uint64_t>(d.offset), d.size)) << pfn;
        std::string why;
        auto page = dump.page(d, &why);
        ASSERT_TRUE(page) << pfn << ": " << why;
        ASSERT_TRUE(std::equal(page->begin(), page->end(), source_page(pfn).begin())) << pfn;
        ++good;
    }
    EXPECT_GT(good, 0u);
    EXPECT_GT(lost, 0u);
    EXPECT_EQ(good + lost, kDumpableFrames);
}

TEST_F(KdumpWriterTest, DiskFullBeforeThePagesIsNotIncomplete) {
    // Only one block: the header fits, the sub header does not.
    FullDiskSink sink(4096);
    auto outcome = write_kdump(*vmcore_, identity_, WriteOptions{}, sink, {});
    ASSERT_TRUE(outcome.error);
    EXPECT_EQ(outcome.error->errno_value, ENOSPC);
    EXPECT_FALSE(outcome.incomplete);
}

TEST_F(KdumpWriterTest, TruncatedVmcoreGivesAnIncompleteDump) {
    // Cut the vmcore inside the direct-map PT_LOAD (after the image one).
    builder_->truncate_at(builder_->first_load_offset() + SyntheticKernel::kImageSize + 3 * kMiB +
                          100);
    builder_->write(dir_.file("vmcore.cut"));
    auto cut = VmcoreFile::open(dir_.file("vmcore.cut"));
    ASSERT_TRUE(cut) << cut.error().message;
    ASSERT_TRUE(cut->truncated_at());
    UniqueFd fd(::open(dir_.file("dump").c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    auto sink = make_file_sink(std::move(fd), "dump");
    auto outcome = write_kdump(*cut, identity_, WriteOptions{}, *sink, {});
    ASSERT_TRUE(outcome.error);
    EXPECT_TRUE(outcome.incomplete);
    EXPECT_THAT(outcome.error->message, HasSubstr("truncated"));
    KdumpTestReader dump(read_whole_file(dir_.file("dump")));
    EXPECT_EQ(dump.status() & 0x8u, 0x8u);
    // Frames before the cut are all there.
    for (uint64_t pfn = kFirstPfn; pfn < 0x300; ++pfn) {
        auto page = dump.page(dump.desc(pfn));
        ASSERT_TRUE(page) << pfn;
        ASSERT_TRUE(std::equal(page->begin(), page->end(), source_page(pfn).begin())) << pfn;
    }
}

TEST_F(KdumpWriterTest, InvalidOptionsWriteNothing) {
    FullDiskSink sink(1 << 20);
    WriteOptions options;
    options.dump_level = 32;
    auto outcome = write_kdump(*vmcore_, identity_, options, sink, {});
    ASSERT_TRUE(outcome.error);
    EXPECT_THAT(outcome.error->message, HasSubstr("dump level"));
    options.dump_level = 1;
    options.compression = Compression::zlib;
    options.compression_level = 12;
    outcome = write_kdump(*vmcore_, identity_, options, sink, {});
    ASSERT_TRUE(outcome.error);
    EXPECT_THAT(outcome.error->message, HasSubstr("zlib level"));
    EXPECT_TRUE(sink.file().empty());
}

// PT_LOADs need not end on a page boundary: the e820 map of a PC has
// "0x1000-0x9fbff usable", and kexec-tools / older kernels put that range
// into /proc/vmcore as is. The frame holding the end (0x9f) is present and
// dumpable; its bytes past the PT_LOAD read as zero (makedumpfile
// readpage_elf() zero-fills the part of a page outside every PT_LOAD).
TEST(KdumpWriterEdges, LoadEndingMidFrame) {
    TempDir dir;
    PhysicalImage memory(2 * kMiB);
    for (uint64_t pfn = 0; pfn < memory.page_count(); ++pfn) {
        memory.fill_pattern(pfn);
    }
    VmcoreBuilder builder(memory);
    builder.add_load({0x1000, 0xffff888000001000ULL, 0x9fc00 - 0x1000, std::nullopt})
        .add_load({0x100000, 0xffff888000100000ULL, 0x100000, std::nullopt})
        .add_cpu_notes(1)
        .set_vmcoreinfo("PAGESIZE=4096\n");
    builder.write(dir.file("vmcore"));
    auto vmcore = VmcoreFile::open(dir.file("vmcore"));
    ASSERT_TRUE(vmcore);
    UniqueFd fd(::open(dir.file("dump").c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    auto sink = make_file_sink(std::move(fd), "dump");
    KernelIdentity identity;
    identity.nr_cpus = 1;
    auto outcome = write_kdump(*vmcore, identity, WriteOptions{}, *sink, {});
    ASSERT_FALSE(outcome.error) << outcome.error->message;
    EXPECT_FALSE(outcome.incomplete);
    KdumpTestReader dump(read_whole_file(dir.file("dump")));
    ASSERT_TRUE(dump.dumpable(0x9f));
    auto page = dump.page(dump.desc(0x9f));
    ASSERT_TRUE(page);
    EXPECT_TRUE(std::equal(page->begin(), page->begin() + 0xc00, memory.page(0x9f).begin()));
    EXPECT_TRUE(std::all_of(page->begin() + 0xc00, page->end(),
                            [](std::byte b) { return b == std::byte{0}; }));
    auto after = dump.page(dump.desc(0x100));
    ASSERT_TRUE(after);
    EXPECT_TRUE(std::equal(after->begin(), after->end(), memory.page(0x100).begin()));
}

}  // namespace
