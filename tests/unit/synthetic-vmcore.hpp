// Tiny synthetic x86_64 kernels and the ELF vmcores that hold them, in the
// spirit of libkdumpfile's test dumps: physical memory you fill page by page,
// page tables built inside it, a lockless printk ring buffer and a VMCOREINFO
// note that describes them, written out as an ELF core in a temporary
// directory. Every constant cites the kernel struct or spec it imitates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "vmcore-reader.hpp"

namespace crashcapture::test {

inline constexpr uint64_t kPageSize = 4096;  // x86_64 PAGE_SIZE
inline constexpr uint64_t kMiB = 1024 * 1024;

// A directory under $TMPDIR removed (recursively) on destruction.
class TempDir {
  public:
    TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    ~TempDir();
    const std::string& path() const { return path_; }
    std::string file(const std::string& name) const { return path_ + "/" + name; }

  private:
    std::string path_;
};

std::vector<std::byte> to_bytes(std::string_view text);
std::vector<std::byte> read_whole_file(const std::string& path);
std::string read_text_file(const std::string& path);
// Overwrites bytes of an existing file in place (a corrupted header field).
void patch_file(const std::string& path, uint64_t offset, std::span<const std::byte> bytes);
template <typename Int>
void patch_file_int(const std::string& path, uint64_t offset, Int value) {
    patch_file(path, offset, std::as_bytes(std::span(&value, 1)));
}

// ---------------------------------------------------------------------------
// Physical memory of the synthetic machine (all zero to start with). It is a
// PhysicalMemory itself, so address translation can be tested without a file.
class PhysicalImage final : public PhysicalMemory {
  public:
    explicit PhysicalImage(uint64_t size_bytes);

    uint64_t size() const { return bytes_.size(); }
    uint64_t page_count() const { return bytes_.size() / kPageSize; }

    void write(uint64_t phys, std::span<const std::byte> data);
    void write_string(uint64_t phys, std::string_view text);
    void write_u16(uint64_t phys, uint16_t value);
    void write_u32(uint64_t phys, uint32_t value);
    void write_u64(uint64_t phys, uint64_t value);
    uint64_t read_u64(uint64_t phys) const;

    // A non-zero page that compresses well: a repeating text with the pfn in it.
    void fill_pattern(uint64_t pfn);
    // A page of pseudo-random bytes (deterministic per pfn and seed) that no
    // compressor can shrink below the page size.
    void fill_random(uint64_t pfn, uint32_t seed = 1);
    void fill_zero(uint64_t pfn);

    std::span<const std::byte> page(uint64_t pfn) const;
    std::span<const std::byte> bytes(uint64_t phys, uint64_t size) const;

    Status read_physical(uint64_t phys_addr, std::span<std::byte> out) const override;

  private:
    std::vector<std::byte> bytes_;
};

// ---------------------------------------------------------------------------
// x86_64 page tables inside a PhysicalImage (arch/x86/include/asm/pgtable_types.h,
// pgtable_64_types.h). Tables are taken from a bump allocator of page frames.
enum class MappingSize : uint64_t {
    page_4k = 1ULL << 12,  // PTE
    page_2m = 1ULL << 21,  // PMD with _PAGE_PSE
    page_1g = 1ULL << 30,  // PUD with _PAGE_PSE
};

class PageTables {
  public:
    // levels is 4 or 5 (CONFIG_X86_5LEVEL with la57); tables are allocated
    // from [table_area_phys, table_area_phys + table_area_size).
    PageTables(PhysicalImage& memory, int levels, uint64_t table_area_phys,
               uint64_t table_area_size);

    uint64_t top_table_phys() const { return top_; }
    int levels() const { return levels_; }

    // Maps [virt, virt + size) to [phys, phys + size) with pages of one size;
    // all three must be aligned to it. extra_bits are ORed into every entry
    // (e.g. _PAGE_NX, or an SME encryption bit).
    void map(uint64_t virt, uint64_t phys, uint64_t size, MappingSize page_size,
             uint64_t extra_bits = 0);

    // Entry bits (pgtable_types.h).
    static constexpr uint64_t kPresent = 1ULL << 0;   // _PAGE_BIT_PRESENT
    static constexpr uint64_t kWritable = 1ULL << 1;  // _PAGE_BIT_RW
    static constexpr uint64_t kPse = 1ULL << 7;       // _PAGE_BIT_PSE: large page
    static constexpr uint64_t kNx = 1ULL << 63;       // _PAGE_BIT_NX

  private:
    uint64_t allocate_table();
    uint64_t next_table(uint64_t table, uint64_t index, uint64_t extra_bits);

    PhysicalImage& memory_;
    int levels_;
    uint64_t next_free_;
    uint64_t area_end_;
    uint64_t top_;
};

// ---------------------------------------------------------------------------
// The ELF core file: PT_NOTE + PT_LOADs, like /proc/vmcore
// (fs/proc/vmcore.c) or QEMU dump-guest-memory.
struct LoadSpec {
    uint64_t phys_start = 0;
    uint64_t virt_start = 0;
    uint64_t mem_size = 0;
    // p_filesz; defaults to mem_size. Less than mem_size = a tail without data.
    std::optional<uint64_t> file_size;
};

struct NoteSpec {
    std::string name;  // n_namesz counts the NUL as well
    uint32_t type = 0;
    std::vector<std::byte> descriptor;
};

class VmcoreBuilder {
  public:
    explicit VmcoreBuilder(const PhysicalImage& memory) : memory_(memory) {}

    VmcoreBuilder& add_load(const LoadSpec& load);
    // "CORE" NT_PRSTATUS notes, one per CPU (kernel/crash_core.c crash_save_cpu()).
    VmcoreBuilder& add_cpu_notes(int count);
    // The "VMCOREINFO" note, type 0 (kernel/vmcore_info.c).
    VmcoreBuilder& set_vmcoreinfo(std::string text);
    VmcoreBuilder& add_note(NoteSpec note);
    // Zero bytes after the last note, as QEMU and old kernels leave them.
    VmcoreBuilder& set_note_zero_padding(size_t bytes);
    // ELF allows the program header table anywhere: 64 = right after the
    // 64-byte Elf64_Ehdr (the kernel's /proc/vmcore); 192 is the value the
    // brief gives for QEMU dump-guest-memory output (a 128-byte gap, the
    // size of two Elf64_Shdr, filled with zeros here). Readers must honour
    // e_phoff (ELF gABI) rather than assume 64.
    VmcoreBuilder& set_phdr_offset(uint64_t offset);
    VmcoreBuilder& set_elf_type(uint16_t type);
    VmcoreBuilder& set_machine(uint16_t machine);
    // Cut the written file at this size (a copy of /proc/vmcore that stopped).
    VmcoreBuilder& truncate_at(uint64_t file_size);

    // The PT_NOTE contents exactly as written.
    std::vector<std::byte> note_blob() const;
    // File offset of the first PT_LOAD's data (to pick truncation points).
    uint64_t first_load_offset() const;
    void write(const std::string& path) const;

  private:
    const PhysicalImage& memory_;
    std::vector<LoadSpec> loads_;
    std::vector<NoteSpec> notes_;
    size_t note_zero_padding_ = 0;
    uint64_t phdr_offset_ = 64;
    uint16_t elf_type_ = 4;  // ET_CORE
    uint16_t machine_ = 62;  // EM_X86_64
    std::optional<uint64_t> truncate_at_;
};

// ---------------------------------------------------------------------------
// A lockless printk ring buffer (kernel/printk/printk_ringbuffer.h, 6.1).
enum class DescState : uint64_t {
    reserved = 0,   // desc_reserved: being written, readers skip it
    committed = 1,  // desc_committed
    finalized = 2,  // desc_finalized
    reusable = 3,   // desc_reusable
};

struct PrintkRecord {
    uint64_t ts_nsec = 0;
    std::string text;  // bytes stored in the data block
    DescState state = DescState::finalized;
    // printk_info.text_len; defaults to text.size(). Larger = a record whose
    // text was cut short (the reader must stop at the block's end).
    std::optional<uint16_t> declared_length;
    // Write the descriptor with the id of the previous lap (a stale slot).
    bool stale_id = false;
};

// Where the ring's pieces live: kernel virtual addresses and the physical
// addresses they translate to (the caller maps them).
struct PrintkPlacement {
    uint64_t prb_pointer_virt = 0, prb_pointer_phys = 0;  // the `prb` variable
    uint64_t ring_virt = 0, ring_phys = 0;                // struct printk_ringbuffer
    uint64_t descs_virt = 0, descs_phys = 0;              // struct prb_desc[]
    uint64_t infos_virt = 0, infos_phys = 0;              // struct printk_info[]
    uint64_t text_virt = 0, text_phys = 0;                // the text data ring
    uint32_t count_bits = 4;                              // 16 descriptors
    uint32_t size_bits = 9;                               // 512 bytes of text
    // Logical position of the first record's block and its descriptor id;
    // starting late in a lap makes blocks wrap.
    uint64_t first_lpos = 0;
    uint64_t first_id = 0;
};

// Writes the ring into memory; returns the VMCOREINFO lines
// (log_buf_vmcoreinfo_setup(), kernel/printk/printk.c) describing it.
std::string build_printk_ring(PhysicalImage& memory, const PrintkPlacement& placement,
                              const std::vector<PrintkRecord>& records);

// ---------------------------------------------------------------------------
// A whole synthetic kernel: RAM, page tables, a KASLR-relocated kernel image
// with a negative phys_base, init_uts_ns, a printk ring and VMCOREINFO.
struct SyntheticKernelOptions {
    uint64_t memory_bytes = 8 * kMiB;
    int paging_levels = 4;
    std::vector<PrintkRecord> records;  // empty: default_records()
    // Layout constants for tests that move things around.
    uint32_t text_size_bits = 9;
    uint64_t first_lpos = 0;
    uint64_t first_id = 0;
    // VMCOREINFO lines appended verbatim (e.g. "NUMBER(sme_mask)=...").
    std::string extra_vmcoreinfo;
};

class SyntheticKernel {
  public:
    explicit SyntheticKernel(SyntheticKernelOptions options = {});

    // Physical layout (all inside memory_bytes).
    static constexpr uint64_t kImagePhys = 0x200000;  // kernel image, 2 MiB, 2 MiB aligned
    static constexpr uint64_t kImageSize = 0x200000;
    // KASLR slide: the image is linked at __START_KERNEL = 0xffffffff81000000
    // (__START_KERNEL_map + CONFIG_PHYSICAL_START 16 MiB) and moved up by it.
    static constexpr uint64_t kKernelOffset = 0x2c000000;
    static constexpr uint64_t kImageVirt = 0xffffffff81000000ULL + kKernelOffset;
    // page_offset_base under KASLR (a 1 GiB aligned direct-map base, as on
    // the 6.1 test machine in dump-formats.md §3.3).
    static constexpr uint64_t kPageOffset4 = 0xffff8f3a00000000ULL;
    // __PAGE_OFFSET_BASE_L5 (arch/x86/include/asm/page_64_types.h).
    static constexpr uint64_t kPageOffset5 = 0xff11000000000000ULL;
    // Inside the image (offsets from kImagePhys / kImageVirt).
    // init_top_pgt, followed by 15 more page-table pages (64 KiB in all).
    static constexpr uint64_t kTopTableOffset = 0x10000;
    static constexpr uint64_t kUtsNsOffset = 0x30000;       // init_uts_ns
    static constexpr uint64_t kUtsNameOffset = 4;           // OFFSET(uts_namespace.name)
    static constexpr uint64_t kPrbPointerOffset = 0x40000;  // prb
    static constexpr uint64_t kRingOffset = 0x40100;        // printk_rb_static
    static constexpr uint64_t kDescsOffset = 0x41000;       // _printk_rb_static_descs
    static constexpr uint64_t kInfosOffset = 0x42000;       // _printk_rb_static_infos
    // The text ring: a dynamic buffer in the direct map, mapped with 4 KiB
    // pages and straddling a page boundary (0x500000).
    static constexpr uint64_t kTextPhys = 0x4fff00;
    static constexpr uint64_t kCrashTime = 1795508256;

    int64_t phys_base() const;
    uint64_t page_offset() const;
    uint64_t direct_map(uint64_t phys) const { return page_offset() + phys; }
    uint64_t image_virt(uint64_t image_offset) const { return kImageVirt + image_offset; }

    PhysicalImage& memory() { return memory_; }
    const PhysicalImage& memory() const { return memory_; }
    PageTables& page_tables() { return tables_; }
    const std::string& vmcoreinfo() const { return vmcoreinfo_; }

    // The kexec_file_load layout: the kernel image PT_LOAD first (it aliases
    // the direct-map one physically), then the direct map in two pieces with
    // a hole at [6 MiB, 7 MiB), nothing below 1 MiB (crash_exclude_mem_range()).
    std::vector<LoadSpec> default_loads() const;
    // A builder with default_loads(), 2 CPUs and the VMCOREINFO note.
    VmcoreBuilder vmcore_builder() const;

    static std::vector<PrintkRecord> default_records();
    // What makedumpfile --dump-dmesg prints for default_records().
    static std::string default_records_dmesg();

  private:
    SyntheticKernelOptions options_;
    PhysicalImage memory_;
    PageTables tables_;
    std::string vmcoreinfo_;
};

}  // namespace crashcapture::test
