#include <fcntl.h>
#include <gelf.h>
#include <gtest/gtest.h>
#include <libelf.h>
#include <unistd.h>

#include <cstring>
#include <memory>

#include "dump-writer.hpp"
#include "synthetic-vmcore.hpp"

using namespace crashcapture;
using namespace crashcapture::test;

namespace {

struct ElfDeleter {
    void operator()(Elf* elf) const { elf_end(elf); }
};

// What gelf sees in our output.
struct ElfCore {
    GElf_Ehdr ehdr{};
    std::vector<GElf_Phdr> phdrs;
    std::vector<std::byte> file;

    // Physical memory as a reader of the core sees it: PT_LOAD data, zeros
    // between p_filesz and p_memsz.
    std::vector<std::byte> read(uint64_t phys, uint64_t size) const {
        for (const auto& p : phdrs) {
            if (p.p_type == PT_LOAD && phys >= p.p_paddr && phys + size <= p.p_paddr + p.p_memsz) {
                std::vector<std::byte> out(size);
                const uint64_t rel = phys - p.p_paddr;
                if (rel < p.p_filesz) {
                    const uint64_t n = std::min(size, p.p_filesz - rel);
                    std::memcpy(out.data(), file.data() + p.p_offset + rel, n);
                }
                return out;
            }
        }
        ADD_FAILURE() << "no PT_LOAD holds " << phys;
        return {};
    }
};

ElfCore read_core(const std::string& path) {
    ElfCore core;
    EXPECT_NE(elf_version(EV_CURRENT), EV_NONE);
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    std::unique_ptr<Elf, ElfDeleter> elf(elf_begin(fd.get(), ELF_C_READ, nullptr));
    EXPECT_TRUE(elf);
    EXPECT_EQ(elf_kind(elf.get()), ELF_K_ELF);
    EXPECT_TRUE(gelf_getehdr(elf.get(), &core.ehdr));
    size_t count = 0;
    EXPECT_EQ(elf_getphdrnum(elf.get(), &count), 0);
    for (size_t i = 0; i < count; ++i) {
        GElf_Phdr phdr;
        EXPECT_TRUE(gelf_getphdr(elf.get(), static_cast<int>(i), &phdr));
        core.phdrs.push_back(phdr);
    }
    core.file = read_whole_file(path);
    return core;
}

class ElfWriterTest : public ::testing::Test {
  protected:
    ElfWriterTest() {
        auto& memory = kernel_.memory();
        for (uint64_t pfn = 0x700; pfn < 0x708; ++pfn) {
            memory.fill_pattern(pfn);
        }
        memory.fill_random(0x710);
        // 0x711..0x7ff stay zero: the last PT_LOAD's tail.
        kernel_.vmcore_builder().write(dir_.file("vmcore"));
        auto vmcore = VmcoreFile::open(dir_.file("vmcore"));
        EXPECT_TRUE(vmcore);
        vmcore_.emplace(std::move(*vmcore));
    }
    WriteOutcome write(int dump_level) {
        WriteOptions options;
        options.dump_level = dump_level;
        options.compression = Compression::none;
        UniqueFd fd(
            ::open(dir_.file("core").c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
        auto sink = make_file_sink(std::move(fd), "core");
        return write_elf(*vmcore_, options, *sink, {});
    }
    TempDir dir_;
    SyntheticKernel kernel_;
    std::optional<VmcoreFile> vmcore_;
};

TEST_F(ElfWriterTest, HeadersAndNotes) {
    auto outcome = write(1);
    ASSERT_FALSE(outcome.error) << outcome.error->message;
    auto core = read_core(dir_.file("core"));
    EXPECT_EQ(core.ehdr.e_type, ET_CORE);
    EXPECT_EQ(core.ehdr.e_machine, EM_X86_64);
    EXPECT_EQ(core.ehdr.e_ident[EI_CLASS], ELFCLASS64);
    ASSERT_EQ(core.phdrs.size(), 1 + vmcore_->segments().size());
    ASSERT_EQ(core.phdrs[0].p_type, PT_NOTE);
    const auto notes = vmcore_->note_blob();
    ASSERT_EQ(core.phdrs[0].p_filesz, notes.size());
    EXPECT_EQ(std::memcmp(core.file.data() + core.phdrs[0].p_offset, notes.data(), notes.size()),
              0);
    for (size_t i = 0; i < vmcore_->segments().size(); ++i) {
        const auto& in = vmcore_->segments()[i];
        const auto& out = core.phdrs[i + 1];
        EXPECT_EQ(out.p_type, PT_LOAD);
        EXPECT_EQ(out.p_paddr, in.phys_start);
        EXPECT_EQ(out.p_vaddr, in.virt_start);
        EXPECT_EQ(out.p_memsz, in.mem_size);
        EXPECT_LE(out.p_filesz, in.file_size);
    }
}

TEST_F(ElfWriterTest, MemoryReadsBackIncludingZeroPages) {
    auto outcome = write(1);
    ASSERT_FALSE(outcome.error);
    auto core = read_core(dir_.file("core"));
    for (uint64_t pfn : {0x100, 0x101, 0x210, 0x240, 0x4ff, 0x500, 0x5ff, 0x700, 0x707, 0x708,
                         0x710, 0x711, 0x7ff}) {
        const auto page = core.read(pfn * kPageSize, kPageSize);
        ASSERT_EQ(page.size(), kPageSize);
        EXPECT_TRUE(std::equal(page.begin(), page.end(), kernel_.memory().page(pfn).begin()))
            << "pfn " << pfn;
    }
}

TEST_F(ElfWriterTest, ZeroTailIsTrimmedFromPFilesz) {
    auto outcome = write(1);
    ASSERT_FALSE(outcome.error);
    auto core = read_core(dir_.file("core"));
    // The last PT_LOAD [7 MiB, 8 MiB): data ends with frame 0x710.
    const auto& last = core.phdrs.back();
    EXPECT_EQ(last.p_paddr, 7 * kMiB);
    EXPECT_EQ(last.p_filesz, (0x711 - 0x700) * kPageSize);
    EXPECT_EQ(last.p_memsz, 1 * kMiB);
    // Frames are counted once, overlap or not.
    EXPECT_EQ(outcome.pages.dumpable, 0x500u + 0x100u);
    EXPECT_EQ(outcome.pages.zero + outcome.pages.written, outcome.pages.dumpable);
}

TEST_F(ElfWriterTest, Level0KeepsEverything) {
    auto outcome = write(0);
    ASSERT_FALSE(outcome.error);
    auto core = read_core(dir_.file("core"));
    for (size_t i = 0; i < vmcore_->segments().size(); ++i) {
        EXPECT_EQ(core.phdrs[i + 1].p_filesz, vmcore_->segments()[i].file_size);
    }
    EXPECT_EQ(outcome.pages.zero, 0u);
    const auto page = core.read(0x7ff * kPageSize, kPageSize);
    EXPECT_TRUE(
        std::all_of(page.begin(), page.end(), [](std::byte b) { return b == std::byte{0}; }));
}

TEST_F(ElfWriterTest, PhdrOffset192InputGivesAStandardOutput) {
    auto builder = kernel_.vmcore_builder();
    builder.set_phdr_offset(192);
    builder.write(dir_.file("vmcore192"));
    auto vmcore = VmcoreFile::open(dir_.file("vmcore192"));
    ASSERT_TRUE(vmcore);
    UniqueFd fd(::open(dir_.file("core").c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    auto sink = make_file_sink(std::move(fd), "core");
    auto outcome = write_elf(*vmcore, WriteOptions{}, *sink, {});
    ASSERT_FALSE(outcome.error);
    auto core = read_core(dir_.file("core"));
    EXPECT_EQ(core.ehdr.e_phoff, sizeof(Elf64_Ehdr));
    const auto page = core.read(0x700 * kPageSize, kPageSize);
    EXPECT_TRUE(std::equal(page.begin(), page.end(), kernel_.memory().page(0x700).begin()));
}

}  // namespace
