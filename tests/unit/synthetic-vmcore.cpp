#include "synthetic-vmcore.hpp"

#include <elf.h>
#include <fcntl.h>
#include <ftw.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <stdexcept>

namespace crashcapture::test {
namespace {

// ELF note framing: n_namesz / n_descsz are exact, the name and the
// descriptor are each padded to 4 bytes (ELF gABI "Note Section"; the kernel's
// append_elf_note() uses the same ALIGN(..., 4) for 64-bit cores).
size_t align4(size_t value) {
    return (value + 3) & ~size_t{3};
}

uint64_t align_up(uint64_t value, uint64_t alignment) {
    return (value + alignment - 1) / alignment * alignment;
}

void append_note(std::vector<std::byte>& blob, const NoteSpec& note) {
    Elf64_Nhdr header{};
    header.n_namesz = static_cast<Elf64_Word>(note.name.size() + 1);
    header.n_descsz = static_cast<Elf64_Word>(note.descriptor.size());
    header.n_type = note.type;
    const auto* raw = reinterpret_cast<const std::byte*>(&header);
    blob.insert(blob.end(), raw, raw + sizeof(header));
    const size_t name_start = blob.size();
    blob.resize(name_start + align4(header.n_namesz));
    std::memcpy(blob.data() + name_start, note.name.data(), note.name.size());
    const size_t descriptor_start = blob.size();
    blob.resize(descriptor_start + align4(note.descriptor.size()));
    std::memcpy(blob.data() + descriptor_start, note.descriptor.data(), note.descriptor.size());
}

int remove_entry(const char* path, const struct stat*, int, struct FTW*) {
    return ::remove(path);
}

}  // namespace

TempDir::TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/crashcapture-test.XXXXXX";
    if (!::mkdtemp(pattern.data())) {
        throw std::runtime_error("mkdtemp failed");
    }
    path_ = pattern;
}

TempDir::~TempDir() {
    // Tests chmod things; make sure everything can be removed.
    ::nftw(path_.c_str(), remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

std::vector<std::byte> to_bytes(std::string_view text) {
    const auto* begin = reinterpret_cast<const std::byte*>(text.data());
    return {begin, begin + text.size()};
}

std::vector<std::byte> read_whole_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<std::byte> bytes(chars.size());
    if (!chars.empty()) {  // memcpy's pointers must not be null even for 0 bytes (UBSan)
        std::memcpy(bytes.data(), chars.data(), chars.size());
    }
    return bytes;
}

std::string read_text_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void patch_file(const std::string& path, uint64_t offset, std::span<const std::byte> bytes) {
    std::fstream file(path, std::ios::binary | std::ios::in | std::ios::out);
    file.seekp(static_cast<std::streamoff>(offset));
    file.write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
    if (!file) {
        throw std::runtime_error("cannot patch " + path);
    }
}

// ---------------------------------------------------------------------------

PhysicalImage::PhysicalImage(uint64_t size_bytes) : bytes_(size_bytes) {}

void PhysicalImage::write(uint64_t phys, std::span<const std::byte> data) {
    if (phys + data.size() > bytes_.size()) {
        throw std::out_of_range("PhysicalImage::write past the end of memory");
    }
    std::memcpy(bytes_.data() + phys, data.data(), data.size());
}

void PhysicalImage::write_string(uint64_t phys, std::string_view text) {
    write(phys, to_bytes(text));
}

void PhysicalImage::write_u16(uint64_t phys, uint16_t value) {
    write(phys, std::as_bytes(std::span(&value, 1)));
}
void PhysicalImage::write_u32(uint64_t phys, uint32_t value) {
    write(phys, std::as_bytes(std::span(&value, 1)));
}
void PhysicalImage::write_u64(uint64_t phys, uint64_t value) {
    write(phys, std::as_bytes(std::span(&value, 1)));
}

uint64_t PhysicalImage::read_u64(uint64_t phys) const {
    uint64_t value;
    std::memcpy(&value, bytes_.data() + phys, sizeof(value));
    return value;
}

void PhysicalImage::fill_pattern(uint64_t pfn) {
    std::string text;
    while (text.size() < kPageSize) {
        text += "page frame " + std::to_string(pfn) + " holds a compressible pattern. ";
    }
    write_string(pfn * kPageSize, std::string_view(text).substr(0, kPageSize));
}

void PhysicalImage::fill_random(uint64_t pfn, uint32_t seed) {
    std::mt19937_64 random(pfn * 7919 + seed);
    for (uint64_t i = 0; i < kPageSize; i += 8) {
        write_u64(pfn * kPageSize + i, random());
    }
}

void PhysicalImage::fill_zero(uint64_t pfn) {
    std::memset(bytes_.data() + pfn * kPageSize, 0, kPageSize);
}

std::span<const std::byte> PhysicalImage::page(uint64_t pfn) const {
    return bytes(pfn * kPageSize, kPageSize);
}

std::span<const std::byte> PhysicalImage::bytes(uint64_t phys, uint64_t size) const {
    return std::span(bytes_).subspan(phys, size);
}

Status PhysicalImage::read_physical(uint64_t phys_addr, std::span<std::byte> out) const {
    if (phys_addr > bytes_.size() || out.size() > bytes_.size() - phys_addr) {
        return make_error(ERANGE, "physical address {:#x} is outside the test memory", phys_addr);
    }
    std::memcpy(out.data(), bytes_.data() + phys_addr, out.size());
    return {};
}

// ---------------------------------------------------------------------------

PageTables::PageTables(PhysicalImage& memory, int levels, uint64_t table_area_phys,
                       uint64_t table_area_size)
    : memory_(memory),
      levels_(levels),
      next_free_(table_area_phys),
      area_end_(table_area_phys + table_area_size) {
    top_ = allocate_table();
}

uint64_t PageTables::allocate_table() {
    if (next_free_ + kPageSize > area_end_) {
        throw std::length_error("PageTables: table area exhausted");
    }
    const uint64_t table = next_free_;
    next_free_ += kPageSize;
    for (uint64_t i = 0; i < kPageSize; i += 8) {
        memory_.write_u64(table + i, 0);
    }
    return table;
}

uint64_t PageTables::next_table(uint64_t table, uint64_t index, uint64_t extra_bits) {
    const uint64_t slot = table + index * 8;
    const uint64_t entry = memory_.read_u64(slot);
    if (entry & kPresent) {
        // Address bits 12..51 (the lib's ENTRY_MASK); the extra bits we add
        // are all outside them except an SME bit, which callers keep consistent.
        return entry & 0x000ffffffffff000ULL & ~extra_bits;
    }
    const uint64_t fresh = allocate_table();
    memory_.write_u64(slot, fresh | kPresent | kWritable | extra_bits);
    return fresh;
}

void PageTables::map(uint64_t virt, uint64_t phys, uint64_t size, MappingSize page_size,
                     uint64_t extra_bits) {
    const uint64_t step = static_cast<uint64_t>(page_size);
    if (virt % step || phys % step || size % step) {
        throw std::invalid_argument("PageTables::map: unaligned mapping");
    }
    // Index shifts, top level first (pgtable_64_types.h: PGDIR_SHIFT 48 with
    // 5 levels, P4D_SHIFT/PGDIR_SHIFT 39, PUD_SHIFT 30, PMD_SHIFT 21, PAGE_SHIFT 12).
    const int shifts5[] = {48, 39, 30, 21, 12};
    const int* shifts = levels_ == 5 ? shifts5 : shifts5 + 1;
    const int count = levels_;
    const int leaf_shift = page_size == MappingSize::page_1g   ? 30
                           : page_size == MappingSize::page_2m ? 21
                                                               : 12;
    for (uint64_t done = 0; done < size; done += step) {
        const uint64_t va = virt + done;
        uint64_t table = top_;
        for (int level = 0; level < count; ++level) {
            const uint64_t index = (va >> shifts[level]) & 0x1ff;  // 512 entries
            if (shifts[level] == leaf_shift) {
                uint64_t entry = (phys + done) | kPresent | kWritable | extra_bits;
                if (leaf_shift != 12) {
                    entry |= kPse;
                }
                memory_.write_u64(table + index * 8, entry);
                break;
            }
            table = next_table(table, index, extra_bits);
        }
    }
}

// ---------------------------------------------------------------------------

VmcoreBuilder& VmcoreBuilder::add_load(const LoadSpec& load) {
    loads_.push_back(load);
    return *this;
}

VmcoreBuilder& VmcoreBuilder::add_cpu_notes(int count) {
    for (int cpu = 0; cpu < count; ++cpu) {
        // sizeof(struct elf_prstatus) on x86_64 (include/linux/elfcore.h);
        // pr_pid (offset 32) is what crash shows per CPU.
        std::vector<std::byte> prstatus(336);
        const int32_t pid = 100 + cpu;
        std::memcpy(prstatus.data() + 32, &pid, sizeof(pid));
        add_note(NoteSpec{"CORE", NT_PRSTATUS, std::move(prstatus)});
    }
    return *this;
}

VmcoreBuilder& VmcoreBuilder::set_vmcoreinfo(std::string text) {
    // VMCOREINFO_NOTE_NAME, type 0 (kernel/vmcore_info.c update_vmcoreinfo_note()).
    return add_note(NoteSpec{"VMCOREINFO", 0, to_bytes(text)});
}

VmcoreBuilder& VmcoreBuilder::add_note(NoteSpec note) {
    notes_.push_back(std::move(note));
    return *this;
}

VmcoreBuilder& VmcoreBuilder::set_note_zero_padding(size_t bytes) {
    note_zero_padding_ = bytes;
    return *this;
}

VmcoreBuilder& VmcoreBuilder::set_phdr_offset(uint64_t offset) {
    phdr_offset_ = offset;
    return *this;
}

VmcoreBuilder& VmcoreBuilder::set_elf_type(uint16_t type) {
    elf_type_ = type;
    return *this;
}

VmcoreBuilder& VmcoreBuilder::set_machine(uint16_t machine) {
    machine_ = machine;
    return *this;
}

VmcoreBuilder& VmcoreBuilder::truncate_at(uint64_t file_size) {
    truncate_at_ = file_size;
    return *this;
}

std::vector<std::byte> VmcoreBuilder::note_blob() const {
    std::vector<std::byte> blob;
    for (const auto& note : notes_) {
        append_note(blob, note);
    }
    blob.resize(blob.size() + note_zero_padding_);
    return blob;
}

uint64_t VmcoreBuilder::first_load_offset() const {
    const uint64_t phdrs_end = phdr_offset_ + (loads_.size() + 1) * sizeof(Elf64_Phdr);
    // Memory data starts on a page boundary, as in /proc/vmcore (whose
    // PT_LOAD offsets follow the page-aligned ELF headers and notes).
    return align_up(phdrs_end + note_blob().size(), kPageSize);
}

void VmcoreBuilder::write(const std::string& path) const {
    const auto notes = note_blob();
    const uint64_t phnum = loads_.size() + 1;
    const uint64_t note_offset = phdr_offset_ + phnum * sizeof(Elf64_Phdr);

    Elf64_Ehdr ehdr{};
    std::memcpy(ehdr.e_ident, ELFMAG, SELFMAG);
    ehdr.e_ident[EI_CLASS] = ELFCLASS64;
    ehdr.e_ident[EI_DATA] = ELFDATA2LSB;
    ehdr.e_ident[EI_VERSION] = EV_CURRENT;
    ehdr.e_type = elf_type_;
    ehdr.e_machine = machine_;
    ehdr.e_version = EV_CURRENT;
    ehdr.e_phoff = phdr_offset_;
    ehdr.e_ehsize = sizeof(Elf64_Ehdr);
    ehdr.e_phentsize = sizeof(Elf64_Phdr);
    ehdr.e_phnum = static_cast<Elf64_Half>(phnum);

    std::vector<Elf64_Phdr> phdrs;
    phdrs.push_back(Elf64_Phdr{PT_NOTE, 0, note_offset, 0, 0, notes.size(), notes.size(), 0});
    uint64_t offset = first_load_offset();
    for (const auto& load : loads_) {
        const uint64_t file_size = load.file_size.value_or(load.mem_size);
        phdrs.push_back(Elf64_Phdr{PT_LOAD, PF_R | PF_W | PF_X, offset, load.virt_start,
                                   load.phys_start, file_size, load.mem_size, 0});
        offset = align_up(offset + file_size, kPageSize);
    }

    std::vector<std::byte> file(offset);
    std::memcpy(file.data(), &ehdr, sizeof(ehdr));
    std::memcpy(file.data() + phdr_offset_, phdrs.data(), phdrs.size() * sizeof(Elf64_Phdr));
    // A core with no notes has an empty blob, whose data() may be null:
    // memcpy from null is undefined even for 0 bytes (UBSan: "null pointer
    // passed as argument 2"), so copy only what there is.
    if (!notes.empty()) {
        std::memcpy(file.data() + note_offset, notes.data(), notes.size());
    }
    for (size_t i = 0; i < loads_.size(); ++i) {
        const auto& phdr = phdrs[i + 1];
        const auto data = memory_.bytes(phdr.p_paddr, phdr.p_filesz);
        std::memcpy(file.data() + phdr.p_offset, data.data(), data.size());
    }
    if (truncate_at_ && *truncate_at_ < file.size()) {
        file.resize(*truncate_at_);
    }
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(file.data()),
              static_cast<std::streamsize>(file.size()));
    if (!out) {
        throw std::runtime_error("cannot write " + path);
    }
}

// ---------------------------------------------------------------------------
// The 6.1 printk ring buffer layout (dump-formats.md §4; kernel
// printk_ringbuffer.h, printk.h). Offsets in bytes.
namespace prb {
constexpr uint64_t kRingSize = 88;      // sizeof(struct printk_ringbuffer)
constexpr uint64_t kDescRing = 0;       // printk_ringbuffer.desc_ring
constexpr uint64_t kTextDataRing = 48;  // printk_ringbuffer.text_data_ring
constexpr uint64_t kFail = 80;          // printk_ringbuffer.fail
constexpr uint64_t kCountBits = 0;      // prb_desc_ring.count_bits (unsigned int)
constexpr uint64_t kDescs = 8;          // prb_desc_ring.descs
constexpr uint64_t kInfos = 16;         // prb_desc_ring.infos
constexpr uint64_t kHeadId = 24;        // prb_desc_ring.head_id (atomic_long_t)
constexpr uint64_t kTailId = 32;        // prb_desc_ring.tail_id
constexpr uint64_t kDescSize = 24;      // sizeof(struct prb_desc)
constexpr uint64_t kStateVar = 0;       // prb_desc.state_var (atomic_long_t)
constexpr uint64_t kTextBlkLpos = 8;    // prb_desc.text_blk_lpos
constexpr uint64_t kLposBegin = 0;      // prb_data_blk_lpos.begin
constexpr uint64_t kLposNext = 8;       // prb_data_blk_lpos.next
constexpr uint64_t kInfoSize = 88;      // sizeof(struct printk_info)
constexpr uint64_t kInfoSeq = 0;        // printk_info.seq
constexpr uint64_t kInfoTsNsec = 8;     // printk_info.ts_nsec
constexpr uint64_t kInfoTextLen = 16;   // printk_info.text_len (u16)
constexpr uint64_t kInfoCallerId = 20;  // printk_info.caller_id (u32)
constexpr uint64_t kSizeBits = 0;       // prb_data_ring.size_bits
constexpr uint64_t kData = 8;           // prb_data_ring.data
constexpr uint64_t kHeadLpos = 16;      // prb_data_ring.head_lpos
constexpr uint64_t kTailLpos = 24;      // prb_data_ring.tail_lpos
constexpr uint64_t kCounter = 0;        // atomic_long_t.counter
constexpr int kDescFlagsShift = 62;     // DESC_FLAGS_SHIFT = DESC_SV_BITS - 2
constexpr uint64_t kNoLpos = 0x3;       // NO_LPOS: a data-less record
}  // namespace prb

std::string build_printk_ring(PhysicalImage& memory, const PrintkPlacement& p,
                              const std::vector<PrintkRecord>& records) {
    using namespace prb;
    const uint64_t desc_count = 1ULL << p.count_bits;
    const uint64_t text_size = 1ULL << p.size_bits;
    if (records.size() > desc_count) {
        throw std::invalid_argument("more records than descriptors");
    }
    // prb points at the ring (printk.c: `struct printk_ringbuffer *prb = &printk_rb_static`).
    memory.write_u64(p.prb_pointer_phys, p.ring_virt);

    const uint64_t dr = p.ring_phys + kDescRing;
    const uint64_t tr = p.ring_phys + kTextDataRing;
    memory.write_u32(dr + kCountBits, p.count_bits);
    memory.write_u64(dr + kDescs, p.descs_virt);
    memory.write_u64(dr + kInfos, p.infos_virt);
    memory.write_u32(tr + kSizeBits, p.size_bits);
    memory.write_u64(tr + kData, p.text_virt);
    memory.write_u64(p.ring_phys + kFail, 0);

    // Data blocks follow the kernel's data_alloc()/get_next_lpos(): a block is
    // an unsigned long id followed by the text, its size ALIGN(len, 8) + 8
    // (to_blk_size()); one that would cross the end of the ring is placed at
    // its start instead, the id also written at the old position.
    uint64_t lpos = p.first_lpos;
    for (size_t i = 0; i < records.size(); ++i) {
        const auto& record = records[i];
        const uint64_t id = p.first_id + i;
        uint64_t begin = kNoLpos, next = kNoLpos;
        if (!record.text.empty()) {
            const uint64_t size = align_up(record.text.size(), 8) + 8;
            begin = lpos;
            next = lpos + size;
            uint64_t block = begin % text_size;
            if (begin / text_size != next / text_size) {  // DATA_WRAPS() differ
                if (text_size - block >= 8) {
                    memory.write_u64(p.text_phys + block, id);
                }
                next = (next / text_size) * text_size + size;  // DATA_THIS_WRAP_START_LPOS + size
                block = 0;
            }
            memory.write_u64(p.text_phys + block, id);
            memory.write_string(p.text_phys + block + 8, record.text);
            lpos = next;
        }
        const uint64_t desc = p.descs_phys + (id % desc_count) * kDescSize;
        const uint64_t shown_id = record.stale_id ? id - desc_count : id;
        memory.write_u64(desc + kStateVar + kCounter,
                         (static_cast<uint64_t>(record.state) << kDescFlagsShift) | shown_id);
        memory.write_u64(desc + kTextBlkLpos + kLposBegin, begin);
        memory.write_u64(desc + kTextBlkLpos + kLposNext, next);

        const uint64_t info = p.infos_phys + (id % desc_count) * kInfoSize;
        memory.write_u64(info + kInfoSeq, id);
        memory.write_u64(info + kInfoTsNsec, record.ts_nsec);
        memory.write_u16(info + kInfoTextLen, record.declared_length.value_or(
                                                  static_cast<uint16_t>(record.text.size())));
        memory.write_u32(info + kInfoCallerId, 1);  // task pid 1 (caller_id bit 31 clear)
    }
    memory.write_u64(dr + kTailId + kCounter, p.first_id);
    memory.write_u64(dr + kHeadId + kCounter, p.first_id + records.size() - 1);
    memory.write_u64(tr + kTailLpos + kCounter, p.first_lpos);
    memory.write_u64(tr + kHeadLpos + kCounter, lpos);

    return fmt::format(
        "SYMBOL(prb)={:x}\n"
        "SIZE(printk_ringbuffer)={}\n"
        "OFFSET(printk_ringbuffer.desc_ring)={}\n"
        "OFFSET(printk_ringbuffer.text_data_ring)={}\n"
        "OFFSET(printk_ringbuffer.fail)={}\n"
        "OFFSET(prb_desc_ring.count_bits)={}\n"
        "OFFSET(prb_desc_ring.descs)={}\n"
        "OFFSET(prb_desc_ring.infos)={}\n"
        "OFFSET(prb_desc_ring.head_id)={}\n"
        "OFFSET(prb_desc_ring.tail_id)={}\n"
        "SIZE(prb_desc)={}\n"
        "OFFSET(prb_desc.state_var)={}\n"
        "OFFSET(prb_desc.text_blk_lpos)={}\n"
        "OFFSET(prb_data_blk_lpos.begin)={}\n"
        "OFFSET(prb_data_blk_lpos.next)={}\n"
        "SIZE(printk_info)={}\n"
        "OFFSET(printk_info.seq)={}\n"
        "OFFSET(printk_info.ts_nsec)={}\n"
        "OFFSET(printk_info.text_len)={}\n"
        "OFFSET(printk_info.caller_id)={}\n"
        "OFFSET(prb_data_ring.size_bits)={}\n"
        "OFFSET(prb_data_ring.data)={}\n"
        "SIZE(atomic_long_t)=8\n"
        "OFFSET(atomic_long_t.counter)={}\n",
        p.prb_pointer_virt, kRingSize, kDescRing, kTextDataRing, kFail, kCountBits, kDescs, kInfos,
        kHeadId, kTailId, kDescSize, kStateVar, kTextBlkLpos, kLposBegin, kLposNext, kInfoSize,
        kInfoSeq, kInfoTsNsec, kInfoTextLen, kInfoCallerId, kSizeBits, kData, kCounter);
}

// ---------------------------------------------------------------------------

SyntheticKernel::SyntheticKernel(SyntheticKernelOptions options)
    : options_(std::move(options)),
      memory_(options_.memory_bytes),
      tables_(memory_, options_.paging_levels, kImagePhys + kTopTableOffset,
              0x10000 /* 16 page-table pages */) {
    if (options_.records.empty()) {
        options_.records = default_records();
    }
    // Direct map of all RAM: 2 MiB pages below 4 MiB, 4 KiB pages above (so
    // the text ring near 5 MiB is reached through PTEs). NX on the
    // data mappings as the kernel sets it (the walk must ignore bit 63).
    tables_.map(page_offset(), 0, 4 * kMiB, MappingSize::page_2m, PageTables::kNx);
    tables_.map(page_offset() + 4 * kMiB, 4 * kMiB, options_.memory_bytes - 4 * kMiB,
                MappingSize::page_4k, PageTables::kNx);
    // The kernel image at its KASLR address (one 2 MiB page, as the
    // kernel's level2_kernel_pgt does).
    tables_.map(kImageVirt, kImagePhys, kImageSize, MappingSize::page_2m);

    // init_uts_ns.name: six char[65] (struct new_utsname).
    const char* uts[] = {"Linux",           "synthetic",
                         "6.1.0-synthetic", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.0-0",
                         "x86_64",          "(none)"};
    for (int i = 0; i < 6; ++i) {
        memory_.write_string(kImagePhys + kUtsNsOffset + kUtsNameOffset + i * 65, uts[i]);
    }

    PrintkPlacement placement;
    placement.prb_pointer_virt = image_virt(kPrbPointerOffset);
    placement.prb_pointer_phys = kImagePhys + kPrbPointerOffset;
    placement.ring_virt = image_virt(kRingOffset);
    placement.ring_phys = kImagePhys + kRingOffset;
    placement.descs_virt = image_virt(kDescsOffset);
    placement.descs_phys = kImagePhys + kDescsOffset;
    placement.infos_virt = image_virt(kInfosOffset);
    placement.infos_phys = kImagePhys + kInfosOffset;
    placement.text_virt = direct_map(kTextPhys);
    placement.text_phys = kTextPhys;
    placement.count_bits = 4;
    placement.size_bits = options_.text_size_bits;
    const uint64_t text_size = 1ULL << options_.text_size_bits;
    // Defaults: two laps done and 112 bytes before the end of the ring, so
    // the third record wraps; ids in their fourth lap of 16 descriptors.
    placement.first_lpos =
        options_.first_lpos ? options_.first_lpos : 2 * text_size + text_size - 112;
    placement.first_id = options_.first_id ? options_.first_id : 3 * 16 + 13;
    const auto printk_lines = build_printk_ring(memory_, placement, options_.records);

    const int64_t base = phys_base();
    vmcoreinfo_ = fmt::format(
        "OSRELEASE=6.1.0-synthetic\n"
        "BUILD-ID=0123456789abcdef0123456789abcdef01234567\n"
        "PAGESIZE={}\n"
        "SYMBOL(init_uts_ns)={:x}\n"
        "OFFSET(uts_namespace.name)={}\n"
        "SYMBOL(swapper_pg_dir)={:x}\n"
        "SYMBOL(init_top_pgt)={:x}\n"
        "NUMBER(phys_base)={}\n"
        "NUMBER(pgtable_l5_enabled)={}\n"
        "NUMBER(sme_mask)=0\n"
        "NUMBER(KERNEL_IMAGE_SIZE)=1073741824\n"
        "{}"
        "{}"
        "KERNELOFFSET={:x}\n"
        "CRASHTIME={}\n",
        kPageSize, image_virt(kUtsNsOffset), kUtsNameOffset, image_virt(kTopTableOffset),
        image_virt(kTopTableOffset), base, options_.paging_levels == 5 ? 1 : 0, printk_lines,
        options_.extra_vmcoreinfo, kKernelOffset, kCrashTime);
}

int64_t SyntheticKernel::phys_base() const {
    // phys_base = physical address - (image address - __START_KERNEL_map);
    // with a KASLR slide larger than the physical address it is negative.
    return static_cast<int64_t>(kImagePhys) -
           static_cast<int64_t>(kImageVirt - 0xffffffff80000000ULL);
}

uint64_t SyntheticKernel::page_offset() const {
    return options_.paging_levels == 5 ? kPageOffset5 : kPageOffset4;
}

std::vector<LoadSpec> SyntheticKernel::default_loads() const {
    return {
        LoadSpec{kImagePhys, kImageVirt, kImageSize, std::nullopt},
        LoadSpec{1 * kMiB, direct_map(1 * kMiB), 5 * kMiB, std::nullopt},
        LoadSpec{7 * kMiB, direct_map(7 * kMiB), options_.memory_bytes - 7 * kMiB, std::nullopt},
    };
}

VmcoreBuilder SyntheticKernel::vmcore_builder() const {
    VmcoreBuilder builder(memory_);
    for (const auto& load : default_loads()) {
        builder.add_load(load);
    }
    builder.add_cpu_notes(2);
    builder.set_vmcoreinfo(vmcoreinfo_);
    return builder;
}

std::vector<PrintkRecord> SyntheticKernel::default_records() {
    auto make = [](uint64_t ts_nsec, std::string text, DescState state = DescState::finalized,
                   std::optional<uint16_t> declared_length = std::nullopt, bool stale_id = false) {
        PrintkRecord record;
        record.ts_nsec = ts_nsec;
        record.text = std::move(text);
        record.state = state;
        record.declared_length = declared_length;
        record.stale_id = stale_id;
        return record;
    };
    return {
        make(0, "Linux version 6.1.0-synthetic (test@builder)"),
        make(1'500'000'000, "Command line: console=ttyS0"),
        // Crosses the end of the ring: stored at its start (wrapped block).
        make(2'250'000'000, "sysrq: Trigger a crash"),
        // Reserved by a writer that never committed: skipped.
        make(2'500'000'000, "being written", DescState::reserved),
        // Newline, bytes >= 0x80 and 0x7f (DEL).
        make(3'000'001'000, "line one\nline two \xff\x80 del\x7f end"),
        // text_len says 200 but the block holds 16 bytes.
        make(4'000'000'000, "truncated record", DescState::finalized, 200),
        // A slot still holding the previous lap's descriptor: skipped.
        make(4'500'000'000, "stale slot", DescState::finalized, std::nullopt, true),
        make(5'000'000'000, "Kernel panic - not syncing: sysrq triggered crash",
             DescState::committed),
        // Data-less (NO_LPOS): skipped.
        make(5'500'000'000, ""),
        make(6'000'000'999, "final line\twith a tab"),
    };
}

std::string SyntheticKernel::default_records_dmesg() {
    return "[    0.000000] Linux version 6.1.0-synthetic (test@builder)\n"
           "[    1.500000] Command line: console=ttyS0\n"
           "[    2.250000] sysrq: Trigger a crash\n"
           "[    3.000001] line one\n"
           "               line two \\xffffffff\\xffffff80 del\\x7f end\n"
           "[    4.000000] truncated record\n"
           "[    5.000000] Kernel panic - not syncing: sysrq triggered crash\n"
           "[    6.000000] final line\twith a tab\n";
}

}  // namespace crashcapture::test
