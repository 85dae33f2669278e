#include "vmcore-reader.hpp"

#include <elf.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <thread>

#include "synthetic-vmcore.hpp"

using namespace crashcapture;
using namespace crashcapture::test;
using ::testing::HasSubstr;

namespace {

std::vector<std::byte> read_phys(const VmcoreFile& vmcore, uint64_t addr, size_t size) {
    std::vector<std::byte> out(size, std::byte{0xaa});
    auto s = vmcore.read_physical(addr, out);
    EXPECT_TRUE(s) << (s ? "" : s.error().message);
    return out;
}

bool all_zero(std::span<const std::byte> bytes) {
    return std::all_of(bytes.begin(), bytes.end(), [](std::byte b) { return b == std::byte{0}; });
}

class VmcoreReaderTest : public ::testing::Test {
  protected:
    VmcoreReaderTest() : memory_(64 * kPageSize) {
        for (uint64_t pfn = 0; pfn < memory_.page_count(); ++pfn) {
            memory_.fill_pattern(pfn);
        }
    }
    TempDir dir_;
    PhysicalImage memory_;
};

TEST_F(VmcoreReaderTest, ReadsHeadersNotesAndSegments) {
    // Odd lengths everywhere: "VMCOREINFO" (namesz 11), a 27-byte text, and
    // a note named "ODD" (namesz 4) with a 5-byte descriptor.
    const std::string vmcoreinfo = "OSRELEASE=6.1\nPAGESIZE=4096";
    ASSERT_EQ(vmcoreinfo.size() % 4, 3u);
    VmcoreBuilder builder(memory_);
    builder.add_load({0, 0xffff888000000000ULL, 32 * kPageSize, std::nullopt})
        .add_load(
            {40 * kPageSize, 0xffff888000000000ULL + 40 * kPageSize, 24 * kPageSize, std::nullopt})
        .add_cpu_notes(3)
        .add_note({"ODD", 7, to_bytes("12345")})
        .set_vmcoreinfo(vmcoreinfo)
        .add_note({"LAST", 9, to_bytes("x")});
    builder.write(dir_.file("vmcore"));

    auto vmcore = VmcoreFile::open(dir_.file("vmcore"));
    ASSERT_TRUE(vmcore) << vmcore.error().message;
    EXPECT_EQ(vmcore->elf_machine(), EM_X86_64);
    EXPECT_EQ(vmcore->prstatus_count(), 3);
    ASSERT_EQ(vmcore->notes().size(), 6u);
    EXPECT_EQ(vmcore->notes()[3].name, "ODD");
    EXPECT_EQ(vmcore->notes()[3].type, 7u);
    EXPECT_EQ(vmcore->notes()[3].descriptor_size, 5u);
    EXPECT_EQ(vmcore->vmcoreinfo_text(), vmcoreinfo);
    // The note after two padded ones is still found at the right place.
    const auto& last = vmcore->notes()[5];
    EXPECT_EQ(last.name, "LAST");
    EXPECT_EQ(static_cast<char>(vmcore->note_blob()[last.descriptor_offset]), 'x');
    // The blob is the PT_NOTE byte for byte.
    const auto expected_blob = builder.note_blob();
    ASSERT_EQ(vmcore->note_blob().size(), expected_blob.size());
    EXPECT_TRUE(
        std::equal(expected_blob.begin(), expected_blob.end(), vmcore->note_blob().begin()));

    ASSERT_EQ(vmcore->segments().size(), 2u);
    EXPECT_EQ(vmcore->segments()[1].phys_start, 40 * kPageSize);
    EXPECT_EQ(vmcore->max_physical_address(), 64 * kPageSize);
    EXPECT_FALSE(vmcore->truncated_at());
    EXPECT_TRUE(vmcore->warnings().empty());
}

TEST_F(VmcoreReaderTest, VmcoreinfoNoteNeedsTypeZero) {
    VmcoreBuilder builder(memory_);
    builder.add_load({0, 0, 4 * kPageSize, std::nullopt})
        .add_note({"VMCOREINFO", 1, to_bytes("OSRELEASE=wrong type")});
    builder.write(dir_.file("vmcore"));
    auto vmcore = VmcoreFile::open(dir_.file("vmcore"));
    ASSERT_TRUE(vmcore);
    EXPECT_FALSE(vmcore->vmcoreinfo_note());
    EXPECT_EQ(vmcore->vmcoreinfo_text(), "");
    EXPECT_EQ(vmcore->prstatus_count(), 0);
}

TEST_F(VmcoreReaderTest, ProgramHeadersAtOffset192) {
    VmcoreBuilder builder(memory_);
    builder.set_phdr_offset(192)
        .add_load({0, 0, 16 * kPageSize, std::nullopt})
        .add_cpu_notes(1)
        .set_vmcoreinfo("PAGESIZE=4096\n");
    builder.write(dir_.file("vmcore"));
    auto vmcore = VmcoreFile::open(dir_.file("vmcore"));
    ASSERT_TRUE(vmcore) << vmcore.error().message;
    EXPECT_EQ(vmcore->prstatus_count(), 1);
    EXPECT_EQ(vmcore->vmcoreinfo_text(), "PAGESIZE=4096\n");
    auto page = read_phys(*vmcore, 5 * kPageSize, kPageSize);
    EXPECT_TRUE(std::equal(page.begin(), page.end(), memory_.page(5).begin()));
}

TEST_F(VmcoreReaderTest, ZeroTailOfThePtNoteEndsTheNotes) {
    VmcoreBuilder builder(memory_);
    builder.add_load({0, 0, 4 * kPageSize, std::nullopt})
        .add_cpu_notes(2)
        .set_vmcoreinfo("PAGESIZE=4096\n")
        .set_note_zero_padding(64);
    builder.write(dir_.file("vmcore"));
    auto vmcore = VmcoreFile::open(dir_.file("vmcore"));
    ASSERT_TRUE(vmcore);
    EXPECT_EQ(vmcore->notes().size(), 3u);
    EXPECT_TRUE(vmcore->warnings().empty());
}

TEST_F(VmcoreReaderTest, OverlappingLoadsResolveToDisjointRanges) {
    // kexec_file_load: the kernel image [16, 24) is a PT_LOAD of its own,
    // listed first, inside the direct map's [0, 64).
    VmcoreBuilder builder(memory_);
    builder.add_load({16 * kPageSize, 0xffffffff81000000ULL, 8 * kPageSize, std::nullopt})
        .add_load({0, 0xffff888000000000ULL, 64 * kPageSize, std::nullopt});
    builder.write(dir_.file("vmcore"));
    auto vmcore = VmcoreFile::open(dir_.file("vmcore"));
    ASSERT_TRUE(vmcore);
    const auto& ranges = vmcore->physical_ranges();
    ASSERT_EQ(ranges.size(), 3u);
    EXPECT_EQ(ranges[0].phys_start, 0u);
    EXPECT_EQ(ranges[0].phys_end, 16 * kPageSize);
    EXPECT_EQ(ranges[1].phys_start, 16 * kPageSize);
    EXPECT_EQ(ranges[1].phys_end, 24 * kPageSize);
    EXPECT_EQ(ranges[1].file_offset, vmcore->segments()[0].file_offset);
    EXPECT_EQ(ranges[2].phys_start, 24 * kPageSize);
    EXPECT_EQ(ranges[2].phys_end, 64 * kPageSize);
    EXPECT_EQ(ranges[2].file_offset, vmcore->segments()[1].file_offset + 24 * kPageSize);
    uint64_t covered = 0;
    for (const auto& r : ranges) {
        covered += r.phys_end - r.phys_start;
    }
    EXPECT_EQ(covered, 64 * kPageSize);
    // Reads across the range boundaries give memory as it was.
    auto bytes = read_phys(*vmcore, 15 * kPageSize + 100, 10 * kPageSize);
    const auto truth = memory_.bytes(15 * kPageSize + 100, 10 * kPageSize);
    EXPECT_TRUE(std::equal(bytes.begin(), bytes.end(), truth.begin()));
}

TEST(ResolvePhysicalRanges, PartialOverlapAndDataEnd) {
    std::vector<LoadSegment> segments{
        // phys, virt, file offset, file size, mem size
        {0x10000, 0, 0x1000, 0x8000, 0x10000},   // data ends at 0x18000
        {0x8000, 0, 0x20000, 0x10000, 0x10000},  // [0x8000, 0x18000), overlaps the first
        {0x30000, 0, 0x40000, 0, 0x2000},        // no data at all
        {0x40000, 0, 0x50000, 0, 0},             // empty, ignored
    };
    auto ranges = resolve_physical_ranges(segments);
    ASSERT_EQ(ranges.size(), 3u);
    // The second segment keeps only what the first does not cover.
    EXPECT_EQ(ranges[0].phys_start, 0x8000u);
    EXPECT_EQ(ranges[0].phys_end, 0x10000u);
    EXPECT_EQ(ranges[0].data_end, 0x10000u);
    EXPECT_EQ(ranges[0].file_offset, 0x20000u);
    EXPECT_EQ(ranges[1].phys_start, 0x10000u);
    EXPECT_EQ(ranges[1].phys_end, 0x20000u);
    EXPECT_EQ(ranges[1].data_end, 0x18000u);
    EXPECT_EQ(ranges[1].file_offset, 0x1000u);
    EXPECT_EQ(ranges[2].phys_start, 0x30000u);
    EXPECT_EQ(ranges[2].data_end, 0x30000u);
}

TEST_F(VmcoreReaderTest, TailWithoutFileDataReadsAsZero) {
    VmcoreBuilder builder(memory_);
    builder.add_load({0, 0, 16 * kPageSize, 10 * kPageSize});
    builder.write(dir_.file("vmcore"));
    auto vmcore = VmcoreFile::open(dir_.file("vmcore"));
    ASSERT_TRUE(vmcore);
    auto bytes = read_phys(*vmcore, 9 * kPageSize, 3 * kPageSize);
    EXPECT_TRUE(std::equal(bytes.begin(), bytes.begin() + kPageSize, memory_.page(9).begin()));
    EXPECT_TRUE(all_zero(std::span(bytes).subspan(kPageSize)));
}

TEST_F(VmcoreReaderTest, AddressOutsideEveryLoadIsERANGE) {
    VmcoreBuilder builder(memory_);
    builder.add_load({0, 0, 8 * kPageSize, std::nullopt})
        .add_load({16 * kPageSize, 0, 8 * kPageSize, std::nullopt});
    builder.write(dir_.file("vmcore"));
    auto vmcore = VmcoreFile::open(dir_.file("vmcore"));
    ASSERT_TRUE(vmcore);
    std::vector<std::byte> out(kPageSize);
    auto hole = vmcore->read_physical(10 * kPageSize, out);
    ASSERT_FALSE(hole);
    EXPECT_EQ(hole.error().errno_value, ERANGE);
    // Starting inside a load but running into the hole fails too.
    auto across = vmcore->read_physical(7 * kPageSize, std::span(out).first(kPageSize));
    EXPECT_TRUE(across);
    std::vector<std::byte> two(2 * kPageSize);
    EXPECT_FALSE(vmcore->read_physical(7 * kPageSize, two));
    EXPECT_FALSE(vmcore->read_physical(24 * kPageSize, out));
}

TEST_F(VmcoreReaderTest, TruncatedFileIsDetectedAndReadsPastItFail) {
    VmcoreBuilder builder(memory_);
    builder.add_load({0, 0, 32 * kPageSize, std::nullopt}).add_cpu_notes(1);
    const uint64_t cut = builder.first_load_offset() + 10 * kPageSize + 123;
    builder.truncate_at(cut);
    builder.write(dir_.file("vmcore"));
    auto vmcore = VmcoreFile::open(dir_.file("vmcore"));
    ASSERT_TRUE(vmcore) << vmcore.error().message;
    EXPECT_EQ(vmcore->file_size(), cut);
    EXPECT_EQ(vmcore->truncated_at(), cut);
    read_phys(*vmcore, 0, 10 * kPageSize);
    std::vector<std::byte> out(kPageSize);
    auto past = vmcore->read_physical(10 * kPageSize, out);
    ASSERT_FALSE(past);
    EXPECT_EQ(past.error().errno_value, ENODATA);
    EXPECT_THAT(past.error().message, HasSubstr("truncated"));
}

TEST_F(VmcoreReaderTest, TruncatedLastNoteKeepsTheOthers) {
    VmcoreBuilder builder(memory_);
    builder.add_cpu_notes(2).set_vmcoreinfo("PAGESIZE=4096\n");
    auto blob = builder.note_blob();
    blob.resize(blob.size() - 4);  // the VMCOREINFO descriptor runs past the end
    auto parsed = parse_elf_notes(blob);
    EXPECT_EQ(parsed.notes.size(), 2u);
    ASSERT_TRUE(parsed.warning);
    EXPECT_THAT(*parsed.warning, HasSubstr("runs past the end"));
}

TEST_F(VmcoreReaderTest, NotElfIsRejected) {
    {
        std::ofstream out(dir_.file("text"));
        out << "this is not an ELF file, just text that is long enough to have a header\n";
    }
    auto vmcore = VmcoreFile::open(dir_.file("text"));
    ASSERT_FALSE(vmcore);
    EXPECT_THAT(vmcore.error().message, HasSubstr("not an ELF file"));
}

TEST_F(VmcoreReaderTest, ElfExecutableIsNotACore) {
    VmcoreBuilder builder(memory_);
    builder.add_load({0, 0, 4 * kPageSize, std::nullopt}).set_elf_type(ET_EXEC);
    builder.write(dir_.file("vmlinux"));
    auto vmcore = VmcoreFile::open(dir_.file("vmlinux"));
    ASSERT_FALSE(vmcore);
    EXPECT_THAT(vmcore.error().message, HasSubstr("not a core dump"));
}

TEST_F(VmcoreReaderTest, CoreWithoutLoadsIsRejected) {
    VmcoreBuilder builder(memory_);
    builder.add_cpu_notes(1);
    builder.write(dir_.file("vmcore"));
    auto vmcore = VmcoreFile::open(dir_.file("vmcore"));
    ASSERT_FALSE(vmcore);
    EXPECT_THAT(vmcore.error().message, HasSubstr("no PT_LOAD"));
}

TEST_F(VmcoreReaderTest, FileSizeLargerThanMemSizeIsRejected) {
    VmcoreBuilder builder(memory_);
    builder.add_load({0, 0, 4 * kPageSize, 8 * kPageSize});
    builder.write(dir_.file("vmcore"));
    auto vmcore = VmcoreFile::open(dir_.file("vmcore"));
    ASSERT_FALSE(vmcore);
    EXPECT_THAT(vmcore.error().message, HasSubstr("p_filesz"));
}

TEST_F(VmcoreReaderTest, MissingFileCarriesErrno) {
    auto vmcore = VmcoreFile::open(dir_.file("does-not-exist"));
    ASSERT_FALSE(vmcore);
    EXPECT_EQ(vmcore.error().errno_value, ENOENT);
}

}  // namespace

// Hostile headers (issue 19): each size and offset is checked against the
// file and the machine before it is used, and refused with a reason.
class HostileHeaderTest : public VmcoreReaderTest {
  protected:
    HostileHeaderTest() {
        VmcoreBuilder builder(memory_);
        builder.add_load({0, 0xffff888000000000ULL, 64 * kPageSize, std::nullopt})
            .add_cpu_notes(2)
            .set_vmcoreinfo("PAGESIZE=4096\n");
        builder.write(path_);
    }
    // Program header i of the file (the builder writes the PT_NOTE first,
    // right after the 64-byte Elf64_Ehdr).
    static uint64_t phdr_field(int index, size_t field_offset) {
        return sizeof(Elf64_Ehdr) + index * sizeof(Elf64_Phdr) + field_offset;
    }
    std::string open_error() const {
        auto vmcore = VmcoreFile::open(path_);
        return vmcore ? "" : vmcore.error().message;
    }
    const std::string path_ = dir_.file("vmcore");
};

TEST_F(HostileHeaderTest, TheUnchangedFileOpens) {
    EXPECT_EQ(open_error(), "");
}

TEST_F(HostileHeaderTest, ProgramHeaderEntrySizeOtherThanElf64PhdrIsRefused) {
    for (uint16_t size : {0, 32, 64}) {
        patch_file_int<uint16_t>(path_, offsetof(Elf64_Ehdr, e_phentsize), size);
        EXPECT_THAT(open_error(), HasSubstr(fmt::format("e_phentsize {} is not 56", size)));
    }
}

TEST_F(HostileHeaderTest, NoteSegmentLargerThanTheFileIsRefused) {
    patch_file_int<uint64_t>(path_, phdr_field(0, offsetof(Elf64_Phdr, p_filesz)), 1ULL << 20);
    EXPECT_THAT(open_error(), HasSubstr("PT_NOTE 0"));
    EXPECT_THAT(open_error(), HasSubstr("runs past the end of the"));
}

TEST_F(HostileHeaderTest, AbsurdNoteSizeIsRefusedBeforeAnyAllocation) {
    patch_file_int<uint64_t>(path_, phdr_field(0, offsetof(Elf64_Phdr, p_filesz)),
                             0xfffffffffffff000ULL);
    EXPECT_THAT(open_error(), HasSubstr("more notes than a vmcore holds"));
}

TEST_F(HostileHeaderTest, NoteOffsetPastTheFileIsRefused) {
    patch_file_int<uint64_t>(path_, phdr_field(0, offsetof(Elf64_Phdr, p_offset)),
                             0xffffffffffffff00ULL);
    EXPECT_THAT(open_error(), HasSubstr("runs past the end of the"));
}

TEST_F(HostileHeaderTest, MemorySizeFarBeyondTheDataIsRefused) {
    // 1 TiB of memory described, 256 KiB of it in the file: the dump would
    // be bitmaps and zeros for a machine that does not exist.
    patch_file_int<uint64_t>(path_, phdr_field(1, offsetof(Elf64_Phdr, p_memsz)), 1ULL << 40);
    EXPECT_THAT(open_error(), HasSubstr("holds no data for"));
}

TEST_F(HostileHeaderTest, FileSizeFarPastTheEndOfTheFileIsRefused) {
    patch_file_int<uint64_t>(path_, phdr_field(1, offsetof(Elf64_Phdr, p_filesz)), 1ULL << 40);
    patch_file_int<uint64_t>(path_, phdr_field(1, offsetof(Elf64_Phdr, p_memsz)), 1ULL << 40);
    EXPECT_THAT(open_error(), HasSubstr("holds no data for"));
}

TEST_F(HostileHeaderTest, MemoryPastWhatX8664AddressesIsRefused) {
    patch_file_int<uint64_t>(path_, phdr_field(1, offsetof(Elf64_Phdr, p_paddr)),
                             0xfffffffffffff000ULL);
    EXPECT_THAT(open_error(), HasSubstr("bytes of physical memory x86_64 can address"));
}

TEST_F(HostileHeaderTest, DataOffsetThatWrapsIsRefused) {
    patch_file_int<uint64_t>(path_, phdr_field(1, offsetof(Elf64_Phdr, p_offset)),
                             0xffffffffffffff00ULL);
    EXPECT_THAT(open_error(), HasSubstr("past 2^64"));
}

TEST_F(HostileHeaderTest, AHugeHoleBelowTheMemoryIsRefused) {
    // 256 KiB of memory at 4 PiB - 1 MiB: bitmaps for 2^40 frames.
    patch_file_int<uint64_t>(path_, phdr_field(1, offsetof(Elf64_Phdr, p_paddr)),
                             (1ULL << 52) - (1ULL << 20));
    EXPECT_THAT(open_error(), HasSubstr("holes larger than"));
}

TEST_F(HostileHeaderTest, AFilteredDumpOfALargeMachineIsStillAccepted) {
    // makedumpfile -E of a big, mostly free machine: 100 GiB of memory
    // behind 2 GiB of data (a sparse file here) is 98 GiB without data,
    // under 64 times the data: accepted. The same tail behind the 256 KiB
    // the file holds otherwise is a corrupt header.
    uint64_t offset = 0;
    const auto file = read_whole_file(path_);
    std::memcpy(&offset, file.data() + phdr_field(1, offsetof(Elf64_Phdr, p_offset)),
                sizeof(offset));
    patch_file_int<uint64_t>(path_, phdr_field(1, offsetof(Elf64_Phdr, p_memsz)), 100ULL << 30);
    EXPECT_THAT(open_error(), HasSubstr("64 times the"));
    patch_file_int<uint64_t>(path_, phdr_field(1, offsetof(Elf64_Phdr, p_filesz)), 2ULL << 30);
    ASSERT_EQ(::truncate(path_.c_str(), static_cast<off_t>(offset + (2ULL << 30))), 0);
    auto vmcore = VmcoreFile::open(path_);
    ASSERT_TRUE(vmcore) << vmcore.error().message;
    EXPECT_EQ(vmcore->max_physical_address(), 100ULL << 30);
}

TEST_F(HostileHeaderTest, AModestZeroTailIsStillAccepted) {
    // makedumpfile -E output leaves excluded pages at the end of a PT_LOAD
    // without file data: a tail smaller than the bound reads as zeros.
    patch_file_int<uint64_t>(path_, phdr_field(1, offsetof(Elf64_Phdr, p_memsz)), 1ULL << 30);
    auto vmcore = VmcoreFile::open(path_);
    ASSERT_TRUE(vmcore) << vmcore.error().message;
    EXPECT_EQ(vmcore->max_physical_address(), 1ULL << 30);
}

// Reading through mmap() windows (issue 18): the same bytes and the same
// errors as pread(), whatever the window and wherever a read falls.
class MmapWindowTest : public VmcoreReaderTest {
  protected:
    MmapWindowTest() {
        VmcoreBuilder builder(memory_);
        // A PT_LOAD that starts mid-window and one past a hole, so reads
        // cross window and segment boundaries at different places.
        builder.add_load({0, 0, 20 * kPageSize, std::nullopt})
            .add_load({24 * kPageSize, 0, 40 * kPageSize, std::nullopt})
            .add_cpu_notes(2)
            .set_vmcoreinfo("PAGESIZE=4096\n");
        builder.write(path_);
    }
    // Two pages of the running kernel: small enough that the file spans
    // many windows.
    static VmcoreReadOptions small_windows() {
        return {VmcoreReadMethod::mmap, 2 * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE))};
    }
    static VmcoreReadOptions pread_only() { return {VmcoreReadMethod::pread, 0}; }
    std::vector<std::byte> whole_file(const VmcoreFile& vmcore) const {
        std::vector<std::byte> out(vmcore.file_size());
        auto s = vmcore.read_file(0, out);
        EXPECT_TRUE(s) << (s ? "" : s.error().message);
        return out;
    }
    const std::string path_ = dir_.file("vmcore");
};

TEST_F(MmapWindowTest, WholeFileAndEveryFrameReadTheSameAsPread) {
    auto mapped = VmcoreFile::open(path_, small_windows());
    auto pread = VmcoreFile::open(path_, pread_only());
    ASSERT_TRUE(mapped) << mapped.error().message;
    ASSERT_TRUE(pread) << pread.error().message;
    EXPECT_EQ(whole_file(*mapped), read_whole_file(path_));
    EXPECT_EQ(whole_file(*pread), read_whole_file(path_));
    std::vector<std::byte> frames_mapped(64 * kPageSize), frames_pread(64 * kPageSize);
    ASSERT_TRUE(mapped->read_frames(0, frames_mapped));
    ASSERT_TRUE(pread->read_frames(0, frames_pread));
    EXPECT_EQ(frames_mapped, frames_pread);
    EXPECT_TRUE(std::equal(frames_mapped.begin(), frames_mapped.begin() + kPageSize,
                           memory_.page(0).begin()));
    const auto stats = mapped->read_stats();
    EXPECT_EQ(stats.method, VmcoreReadMethod::mmap);
    EXPECT_EQ(stats.window_bytes, small_windows().window_bytes);
    EXPECT_GT(stats.windows_mapped, 10u);
    EXPECT_GT(stats.bytes_mapped, 64 * kPageSize);
    EXPECT_FALSE(stats.fallback_reason);
    const auto pread_stats = pread->read_stats();
    EXPECT_EQ(pread_stats.bytes_mapped, 0u);
    EXPECT_EQ(pread_stats.window_bytes, 0u);
    EXPECT_GT(pread_stats.bytes_pread, 2 * 60 * kPageSize);  // file and frames
}

TEST_F(MmapWindowTest, ReadsAcrossOneOrManyWindowBoundaries) {
    auto vmcore = VmcoreFile::open(path_, small_windows());
    ASSERT_TRUE(vmcore) << vmcore.error().message;
    const auto file = read_whole_file(path_);
    const uint64_t window = small_windows().window_bytes;
    // Just before a boundary to just after it; two whole windows and a bit
    // more, from inside one; backwards, so every read maps a window again.
    const std::vector<std::pair<uint64_t, size_t>> reads = {
        {window - 100, 300},        {3 * window - 1, 2},     {window + 7, 2 * window + 123},
        {5 * window, window},       {2 * window - 1, 1},     {0, 1},
        {file.size() - 5000, 5000}, {window / 2, 4 * window}};
    for (auto [offset, size] : reads) {
        std::vector<std::byte> out(size);
        auto s = vmcore->read_file(offset, out);
        ASSERT_TRUE(s) << offset << "+" << size << ": " << s.error().message;
        EXPECT_TRUE(
            std::equal(out.begin(), out.end(), file.begin() + static_cast<ptrdiff_t>(offset)))
            << offset << "+" << size;
    }
}

TEST_F(MmapWindowTest, PreadMethodMapsNothing) {
    auto vmcore = VmcoreFile::open(path_, pread_only());
    ASSERT_TRUE(vmcore);
    EXPECT_EQ(whole_file(*vmcore), read_whole_file(path_));
    EXPECT_EQ(vmcore->read_stats().windows_mapped, 0u);
    EXPECT_EQ(vmcore->read_stats().method, VmcoreReadMethod::pread);
}

TEST_F(MmapWindowTest, AutomaticMapsProcfsOnlyAndReadsAFileByPread) {
    auto file = VmcoreFile::open(path_);
    ASSERT_TRUE(file);
    EXPECT_EQ(file->read_stats().method, VmcoreReadMethod::pread);
    EXPECT_EQ(whole_file(*file), read_whole_file(path_));
    EXPECT_EQ(file->read_stats().bytes_mapped, 0u);
    EXPECT_EQ(to_string(VmcoreReadMethod::automatic), "auto");
    EXPECT_EQ(parse_vmcore_read_method("auto"), VmcoreReadMethod::automatic);
    EXPECT_EQ(parse_vmcore_read_method("mmap"), VmcoreReadMethod::mmap);
    EXPECT_EQ(parse_vmcore_read_method("pread"), VmcoreReadMethod::pread);
    EXPECT_EQ(parse_vmcore_read_method("read"), std::nullopt);
}

TEST_F(MmapWindowTest, ReadsSmallerThanAPageOutsideTheWindowArePread) {
    // A page table walk reads 8 bytes here and there: no window for each.
    auto vmcore = VmcoreFile::open(path_, small_windows());
    ASSERT_TRUE(vmcore);
    const auto file = read_whole_file(path_);
    const auto before = vmcore->read_stats();
    std::array<std::byte, 8> entry{};
    const uint64_t far = file.size() - 3 * kPageSize;
    ASSERT_TRUE(vmcore->read_file(far, entry));
    EXPECT_TRUE(std::equal(entry.begin(), entry.end(), file.begin() + far));
    const auto after = vmcore->read_stats();
    EXPECT_EQ(after.windows_mapped, before.windows_mapped);
    EXPECT_EQ(after.bytes_pread, before.bytes_pread + entry.size());
}

TEST_F(MmapWindowTest, WindowIsRoundedUpToThePageSize) {
    auto vmcore = VmcoreFile::open(path_, {VmcoreReadMethod::mmap, 1000});
    ASSERT_TRUE(vmcore);
    EXPECT_EQ(vmcore->read_stats().window_bytes, static_cast<uint64_t>(::sysconf(_SC_PAGESIZE)));
    EXPECT_EQ(whole_file(*vmcore), read_whole_file(path_));
}

TEST_F(MmapWindowTest, TruncatedFileFailsAtTheSamePlaceAsWithPread) {
    VmcoreBuilder builder(memory_);
    builder.add_load({0, 0, 32 * kPageSize, std::nullopt}).add_cpu_notes(1);
    // Mid-page: the last partial page cannot be mapped and is read by pread().
    const uint64_t cut = builder.first_load_offset() + 10 * kPageSize + 123;
    builder.truncate_at(cut);
    builder.write(path_);
    for (const auto& options : {small_windows(), pread_only()}) {
        auto vmcore = VmcoreFile::open(path_, options);
        ASSERT_TRUE(vmcore) << vmcore.error().message;
        EXPECT_EQ(vmcore->truncated_at(), cut);
        read_phys(*vmcore, 0, 10 * kPageSize);
        std::vector<std::byte> out(kPageSize);
        auto past = vmcore->read_physical(10 * kPageSize, out);
        ASSERT_FALSE(past);
        EXPECT_EQ(past.error().errno_value, ENODATA);
        EXPECT_THAT(past.error().message,
                    HasSubstr(fmt::format("truncated: no data at offset {}", cut)));
        // The 123 bytes before the cut still read.
        auto last = vmcore->read_file(cut - 123, std::span(out).first(123));
        EXPECT_TRUE(last);
    }
}

TEST_F(MmapWindowTest, AFileCutShortAfterOpenIsReadByPreadNotMappedPastItsEnd) {
    // Mapping past the end of a regular file faults with SIGBUS; the reader
    // measures the file again before each window and reads the rest by
    // pread(), which reports the missing data as an error.
    auto vmcore = VmcoreFile::open(path_, small_windows());
    ASSERT_TRUE(vmcore);
    const uint64_t cut = vmcore->file_size() / 2 + 5;
    ASSERT_EQ(::truncate(path_.c_str(), static_cast<off_t>(cut)), 0);
    std::vector<std::byte> out(vmcore->file_size());
    auto read = vmcore->read_file(0, out);
    ASSERT_FALSE(read);
    EXPECT_EQ(read.error().errno_value, ENODATA);
    EXPECT_THAT(read.error().message,
                HasSubstr(fmt::format("truncated: no data at offset {}", cut)));
}

// Run in a child: reads the whole file with RLIMIT_AS 1 MiB below what the
// process uses, so no window can be mapped again (even after the last is
// unmapped); 0 when it still read every byte,
// by pread(), and said why.
int read_with_no_room_to_map(const std::string& path, VmcoreReadOptions options,
                             const std::vector<std::byte>& expected) {
    auto vmcore = VmcoreFile::open(path, options);
    std::vector<std::byte> out(expected.size());
    std::ifstream status("/proc/self/status");
    std::string line;
    uint64_t vm_size_kib = 0;
    while (std::getline(status, line)) {
        if (line.rfind("VmSize:", 0) == 0) {
            vm_size_kib = std::stoull(line.substr(7));
        }
    }
    status.close();
    const rlim_t below_use = (vm_size_kib - 1024) * 1024;
    const struct rlimit limit { below_use, below_use };
    if (!vmcore || vm_size_kib < 2048 || ::setrlimit(RLIMIT_AS, &limit) != 0) {
        return 2;
    }
    const uint64_t windows_before = vmcore->read_stats().windows_mapped;
    const bool read = static_cast<bool>(vmcore->read_file(0, out));
    const auto stats = vmcore->read_stats();
    return read && out == expected && stats.fallback_reason &&
                   stats.windows_mapped == windows_before &&
                   stats.bytes_pread + stats.bytes_mapped > expected.size()
               ? 0
               : 1;
}

TEST_F(MmapWindowTest, ARefusedMmapFallsBackToPread) {
    if (std::getenv("CRASHCAPTURE_UNDER_QEMU_USER")) {
        // qemu-user applies RLIMIT_AS to itself: the emulator runs out of
        // room, not the emulated program's mmap().
        GTEST_SKIP() << "RLIMIT_AS limits qemu-user itself under emulation, not the test's mmap()";
    }
    // mmap() fails with ENOMEM once the address space limit is reached.
    const auto expected = read_whole_file(path_);
    EXPECT_EXIT(::_exit(read_with_no_room_to_map(path_, small_windows(), expected)),
                ::testing::ExitedWithCode(0), "");
}

TEST_F(MmapWindowTest, ThreadsReadingAtOnceAllGetTheirBytes) {
    // One thread at a time uses the window, the others pread(): the same
    // bytes for each, whoever wins.
    auto vmcore = VmcoreFile::open(path_, small_windows());
    ASSERT_TRUE(vmcore);
    const auto expected = read_whole_file(path_);
    std::vector<std::vector<std::byte>> results(4);
    std::vector<std::thread> threads;
    for (size_t t = 0; t < results.size(); ++t) {
        threads.emplace_back([&, t] {
            auto& out = results[t];
            out.resize(expected.size());
            for (int round = 0; round < 20; ++round) {
                // Page-sized pieces, each thread from its own start.
                for (size_t i = 0; i < expected.size(); i += kPageSize) {
                    const size_t at = (i + t * 7 * kPageSize) % expected.size();
                    const size_t size = std::min<size_t>(kPageSize, expected.size() - at);
                    if (!vmcore->read_file(at, std::span(out).subspan(at, size))) {
                        return;
                    }
                }
            }
        });
    }
    for (auto& thread : threads) {
        thread.join();
    }
    for (const auto& out : results) {
        EXPECT_EQ(out, expected);
    }
}
