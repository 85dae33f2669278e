#include "vmcore-reader.hpp"

#include <elf.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>

namespace crashcapture {
namespace {

struct ElfDeleter {
    void operator()(Elf* elf) const { elf_end(elf); }
};
using ElfHandle = std::unique_ptr<Elf, ElfDeleter>;

constexpr size_t align4(size_t value) {
    return (value + 3) & ~size_t{3};
}

// Name of the note that carries the per-CPU registers (kernel/crash_core.c
// KEXEC_CORE_NOTE_NAME) and of the VMCOREINFO note (VMCOREINFO_NOTE_NAME).
constexpr std::string_view kCoreNoteName = "CORE";
constexpr std::string_view kVmcoreinfoNoteName = "VMCOREINFO";

// The note segments of a real vmcore are a few hundred bytes per CPU
// (kernel/crash_core.c, one NT_PRSTATUS each; NR_CPUS is at most 8192) plus
// the one-page VMCOREINFO: far below this. A larger PT_NOTE is corrupt, and
// reading it would cost the capture kernel's little memory.
constexpr uint64_t kMaxNoteBytes = 64ULL << 20;

// x86_64 addresses at most 2^52 bytes of physical memory
// (arch/x86/include/asm/sparsemem.h MAX_PHYSMEM_BITS, 52 with 5-level
// paging); a PT_LOAD past that describes no real machine.
constexpr uint64_t kMaxPhysicalAddress = 1ULL << 52;

// Memory the file holds no data for (p_memsz beyond p_filesz, p_filesz
// beyond the end of the file, holes below the highest address) still costs
// the dump bitmap bits, page descriptors and a read of zeros for every page
// frame. /proc/vmcore has none of the first two (the kernel writes p_filesz
// == p_memsz, kernel/crash_core.c crash_prepare_elf64_headers()); holes are
// PCI windows and gaps between NUMA nodes. More of it than this, and more
// than the memory the file does describe, is a corrupt header that would
// make the dump grow without bound.
// Legitimate files do have a lot of both, in proportion to what they hold:
// makedumpfile -E leaves the excluded pages at the end of each PT_LOAD
// without file data (a 4 TiB machine filtered down to 64 GiB has 63 times
// its data without data), and arm64 servers put their memory at high
// addresses (0x80_0000_0000 and up). So the bound is an absolute floor or
// kMaxEmptyToDataRatio times what the file describes, whichever is larger:
// 64 GiB without data is 16 Mi frames read as zeros; 1 TiB of holes is
// 32 MiB of each bitmap. Past that, a capture kernel's memory would not
// hold the bitmaps anyway.
constexpr uint64_t kMaxMemoryWithoutData = 64ULL << 30;
constexpr uint64_t kMaxHoleBytes = 1ULL << 40;
constexpr uint64_t kMaxEmptyToDataRatio = 64;

// Checks what the PT_LOADs promise against the file that holds them and the
// machine they describe: every end computed without overflow, below
// kMaxPhysicalAddress, and memory without data bounded.
Status check_segment_bounds(const std::string& path, const std::vector<LoadSegment>& segments,
                            uint64_t file_size) {
    uint64_t data_in_file = 0;
    uint64_t without_data = 0;
    for (size_t i = 0; i < segments.size(); ++i) {
        const auto& s = segments[i];
        if (s.file_offset > UINT64_MAX - s.file_size) {
            return make_error(0, "{}: PT_LOAD {} has p_offset {:#x} + p_filesz {:#x} past 2^64",
                              path, i, s.file_offset, s.file_size);
        }
        if (s.phys_start > kMaxPhysicalAddress || s.mem_size > kMaxPhysicalAddress - s.phys_start) {
            return make_error(0,
                              "{}: PT_LOAD {} (p_paddr {:#x}, p_memsz {:#x}) ends past the {:#x} "
                              "bytes of physical memory x86_64 can address",
                              path, i, s.phys_start, s.mem_size, kMaxPhysicalAddress);
        }
        uint64_t present = s.file_size;
        if (file_size != 0) {
            present =
                s.file_offset >= file_size ? 0 : std::min(s.file_size, file_size - s.file_offset);
        }
        data_in_file += present;
        without_data += s.mem_size - present;
    }
    // Divided, not multiplied: nothing can overflow.
    if (without_data > kMaxMemoryWithoutData &&
        without_data / kMaxEmptyToDataRatio > data_in_file) {
        return make_error(0,
                          "{}: its PT_LOADs describe {} bytes of memory the file holds no data "
                          "for (p_memsz beyond p_filesz, or data past the end of the {}-byte "
                          "file), more than {} times the {} bytes it holds and than {}: a corrupt "
                          "program header, refused rather than dumped as zeros",
                          path, without_data, file_size, kMaxEmptyToDataRatio, data_in_file,
                          kMaxMemoryWithoutData);
    }
    return {};
}

// Holes between PT_LOADs cost the dump bitmap bits too (its bitmaps cover
// every frame below the highest address).
Status check_holes(const std::string& path, const std::vector<PhysicalRange>& ranges) {
    uint64_t covered = 0;
    uint64_t end = 0;
    for (const auto& range : ranges) {
        covered += range.phys_end - range.phys_start;
        end = std::max(end, range.phys_end);
    }
    const uint64_t holes = end - covered;
    if (holes > kMaxHoleBytes && holes / kMaxEmptyToDataRatio > covered) {
        return make_error(0,
                          "{}: its PT_LOADs cover {} bytes of physical memory spread up to "
                          "address {:#x}: holes larger than {} bytes and than {} times the "
                          "memory itself are a corrupt program header",
                          path, covered, end, kMaxHoleBytes, kMaxEmptyToDataRatio);
    }
    return {};
}

// statfs f_type of procfs (include/uapi/linux/magic.h PROC_SUPER_MAGIC).
constexpr decltype(statfs::f_type) kProcSuperMagic = 0x9fa0;

uint64_t round_down(uint64_t value, uint64_t alignment) {
    return value - value % alignment;
}

}  // namespace

std::string_view to_string(VmcoreReadMethod method) {
    switch (method) {
        case VmcoreReadMethod::automatic:
            return "auto";
        case VmcoreReadMethod::mmap:
            return "mmap";
        case VmcoreReadMethod::pread:
            break;
    }
    return "pread";
}

std::optional<VmcoreReadMethod> parse_vmcore_read_method(std::string_view name) {
    if (name == "auto") {
        return VmcoreReadMethod::automatic;
    }
    if (name == "mmap") {
        return VmcoreReadMethod::mmap;
    }
    if (name == "pread") {
        return VmcoreReadMethod::pread;
    }
    return std::nullopt;
}

// The one mmap() window of the file, [offset, offset + length), and who may
// use it. A mutex, not a window per thread: the dump writers read from one
// thread (the compressing threads only see the batch it read), so the lock
// is never contended there; a second reader (a test, a future caller) takes
// pread() instead of waiting (read_file()).
struct VmcoreFile::MappedWindow {
    std::mutex mutex;
    void* base = MAP_FAILED;
    uint64_t offset = 0;
    size_t length = 0;
    // The page size of the running kernel: mmap() offsets must be multiples.
    uint64_t page_size = 4096;
    // The size the file can be mapped up to: its size when opened, rounded
    // down to a page. mmap_vmcore() refuses a mapping that ends past the
    // vmcore (fs/proc/vmcore.c: "end > vmcore_size" is -EINVAL), and a
    // regular file's mapping past its end faults with SIGBUS; the last
    // partial page is read by pread().
    uint64_t mappable_end = 0;
    // /proc/vmcore cannot change size (vmcore_size is fixed when the capture
    // kernel boots); any other file is fstat()ed again before each window,
    // so a file cut short since open() is read by pread() (and its missing
    // part reported as today) instead of mapped past its end.
    bool size_is_fixed = false;
    bool refused = false;
    std::optional<std::string> refusal;
    std::atomic<uint64_t> bytes_mapped{0};
    std::atomic<uint64_t> windows_mapped{0};

    void unmap() {
        if (base != MAP_FAILED) {
            ::munmap(base, length);
            base = MAP_FAILED;
            length = 0;
        }
    }
    ~MappedWindow() { unmap(); }
};

VmcoreFile::VmcoreFile() = default;
VmcoreFile::VmcoreFile(VmcoreFile&& other) noexcept
    : path_(std::move(other.path_)),
      fd_(std::move(other.fd_)),
      file_size_(other.file_size_),
      elf_machine_(other.elf_machine_),
      segments_(std::move(other.segments_)),
      ranges_(std::move(other.ranges_)),
      note_blob_(std::move(other.note_blob_)),
      notes_(std::move(other.notes_)),
      truncated_at_(other.truncated_at_),
      warnings_(std::move(other.warnings_)),
      read_options_(other.read_options_),
      window_(std::move(other.window_)),
      bytes_pread_(other.bytes_pread_.load()) {}
VmcoreFile& VmcoreFile::operator=(VmcoreFile&& other) noexcept {
    if (this != &other) {
        path_ = std::move(other.path_);
        fd_ = std::move(other.fd_);
        file_size_ = other.file_size_;
        elf_machine_ = other.elf_machine_;
        segments_ = std::move(other.segments_);
        ranges_ = std::move(other.ranges_);
        note_blob_ = std::move(other.note_blob_);
        notes_ = std::move(other.notes_);
        truncated_at_ = other.truncated_at_;
        warnings_ = std::move(other.warnings_);
        read_options_ = other.read_options_;
        window_ = std::move(other.window_);
        bytes_pread_ = other.bytes_pread_.load();
    }
    return *this;
}
VmcoreFile::~VmcoreFile() = default;

ParsedNotes parse_elf_notes(std::span<const std::byte> blob) {
    ParsedNotes parsed;
    size_t offset = 0;
    while (offset + sizeof(Elf64_Nhdr) <= blob.size()) {
        Elf64_Nhdr header;
        std::memcpy(&header, blob.data() + offset, sizeof(header));
        // /proc/vmcore pads the PT_NOTE with zeros after the last note
        // (fs/proc/vmcore.c merge_note_headers_elf64() keeps real sizes, but
        // QEMU and older kernels leave an all-zero tail): an empty header ends it.
        if (header.n_namesz == 0 && header.n_descsz == 0 && header.n_type == 0) {
            break;
        }
        const size_t name_offset = offset + sizeof(Elf64_Nhdr);
        const size_t descriptor_offset = name_offset + align4(header.n_namesz);
        const size_t next = descriptor_offset + align4(header.n_descsz);
        if (descriptor_offset > blob.size() || descriptor_offset + header.n_descsz > blob.size()) {
            parsed.warning = fmt::format(
                "ELF note at offset {} (namesz {}, descsz {}) runs past the end of the "
                "{}-byte note segment; ignoring it and what follows",
                offset, header.n_namesz, header.n_descsz, blob.size());
            break;
        }
        ElfNote note;
        const auto* name = reinterpret_cast<const char*>(blob.data() + name_offset);
        note.name.assign(name, strnlen(name, header.n_namesz));
        note.type = header.n_type;
        note.descriptor_offset = descriptor_offset;
        note.descriptor_size = header.n_descsz;
        parsed.notes.push_back(std::move(note));
        offset = std::min(next, blob.size());
    }
    return parsed;
}

std::vector<PhysicalRange> resolve_physical_ranges(const std::vector<LoadSegment>& segments) {
    std::vector<PhysicalRange> ranges;
    for (const auto& segment : segments) {
        if (segment.mem_size == 0) {
            continue;
        }
        // Subtract what earlier segments already cover; what is left are
        // pieces of this segment.
        std::vector<std::pair<uint64_t, uint64_t>> pieces{
            {segment.phys_start, segment.phys_start + segment.mem_size}};
        for (const auto& taken : ranges) {
            std::vector<std::pair<uint64_t, uint64_t>> remaining;
            for (auto [start, end] : pieces) {
                if (taken.phys_end <= start || taken.phys_start >= end) {
                    remaining.emplace_back(start, end);
                    continue;
                }
                if (start < taken.phys_start) {
                    remaining.emplace_back(start, taken.phys_start);
                }
                if (end > taken.phys_end) {
                    remaining.emplace_back(taken.phys_end, end);
                }
            }
            pieces = std::move(remaining);
        }
        const uint64_t segment_data_end = segment.phys_start + segment.file_size;
        for (auto [start, end] : pieces) {
            PhysicalRange range;
            range.phys_start = start;
            range.phys_end = end;
            range.data_end = std::clamp(segment_data_end, start, end);
            range.file_offset = segment.file_offset + (start - segment.phys_start);
            ranges.push_back(range);
        }
    }
    std::sort(ranges.begin(), ranges.end(),
              [](const auto& a, const auto& b) { return a.phys_start < b.phys_start; });
    return ranges;
}

Result<VmcoreFile> VmcoreFile::open(const std::string& path, const VmcoreReadOptions& options) {
    VmcoreFile vmcore;
    vmcore.path_ = path;
    vmcore.read_options_ = options;
    vmcore.fd_.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!vmcore.fd_) {
        return make_errno_error(errno, "cannot open {}", path);
    }
    struct stat st {};
    if (fstat(vmcore.fd_.get(), &st) < 0) {
        return make_errno_error(errno, "cannot stat {}", path);
    }
    vmcore.file_size_ = static_cast<uint64_t>(st.st_size);
    struct statfs fs {};
    const bool on_procfs = ::fstatfs(vmcore.fd_.get(), &fs) == 0 && fs.f_type == kProcSuperMagic;
    if (options.method == VmcoreReadMethod::mmap ||
        (options.method == VmcoreReadMethod::automatic && on_procfs)) {
        auto window = std::make_unique<MappedWindow>();
        const long page_size = ::sysconf(_SC_PAGESIZE);
        window->page_size = page_size > 0 ? static_cast<uint64_t>(page_size) : 4096;
        vmcore.read_options_.window_bytes =
            std::max(window->page_size, (options.window_bytes + window->page_size - 1) /
                                            window->page_size * window->page_size);
        window->mappable_end = round_down(vmcore.file_size_, window->page_size);
        window->size_is_fixed = on_procfs;
        vmcore.window_ = std::move(window);
    }

    if (elf_version(EV_CURRENT) == EV_NONE) {
        return make_error(0, "libelf is too old: {}", elf_errmsg(-1));
    }
    ElfHandle elf(elf_begin(vmcore.fd_.get(), ELF_C_READ, nullptr));
    if (!elf || elf_kind(elf.get()) != ELF_K_ELF) {
        return make_error(0, "{} is not an ELF file", path);
    }
    GElf_Ehdr ehdr;
    if (!gelf_getehdr(elf.get(), &ehdr)) {
        return make_error(0, "{}: unreadable ELF header: {}", path, elf_errmsg(-1));
    }
    if (ehdr.e_type != ET_CORE) {
        return make_error(0, "{} is an ELF file but not a core dump (e_type {})", path,
                          ehdr.e_type);
    }
    if (gelf_getclass(elf.get()) != ELFCLASS64 || ehdr.e_ident[EI_DATA] != ELFDATA2LSB) {
        return make_error(0, "{}: only 64-bit little-endian vmcores are supported", path);
    }
    vmcore.elf_machine_ = ehdr.e_machine;
    // ELF gABI: e_phentsize is the size of one program header entry; for
    // ELFCLASS64 that is sizeof(Elf64_Phdr), 56. Anything else means the
    // table is not what it claims to be (libelf reads it as 56-byte entries
    // regardless).
    if (ehdr.e_phentsize != sizeof(Elf64_Phdr)) {
        return make_error(0, "{}: program header entry size e_phentsize {} is not {} (Elf64_Phdr)",
                          path, ehdr.e_phentsize, sizeof(Elf64_Phdr));
    }
    size_t phdr_count = 0;
    if (elf_getphdrnum(elf.get(), &phdr_count) != 0) {
        return make_error(0, "{}: cannot read program headers: {}", path, elf_errmsg(-1));
    }
    // libelf reports a table cut off by the end of the file as "no headers";
    // say what really happened.
    const uint64_t table_bytes = std::max<uint64_t>(phdr_count, ehdr.e_phnum) * sizeof(Elf64_Phdr);
    if (ehdr.e_phoff > UINT64_MAX - table_bytes) {
        return make_error(0, "{}: program header table at e_phoff {:#x} ends past 2^64", path,
                          ehdr.e_phoff);
    }
    if (const uint64_t table_end = ehdr.e_phoff + table_bytes;
        vmcore.file_size_ != 0 && table_end > vmcore.file_size_) {
        return make_error(
            ENODATA, "{} is truncated: its {} program headers end at byte {}, the file has {}",
            path, std::max<uint64_t>(phdr_count, ehdr.e_phnum), table_end, vmcore.file_size_);
    }
    for (size_t i = 0; i < phdr_count; ++i) {
        GElf_Phdr phdr;
        if (!gelf_getphdr(elf.get(), static_cast<int>(i), &phdr)) {
            return make_error(0, "{}: cannot read program header {} (of {}, at e_phoff {}): {}",
                              path, i, phdr_count, ehdr.e_phoff, elf_errmsg(-1));
        }
        if (phdr.p_type == PT_LOAD) {
            if (phdr.p_filesz > phdr.p_memsz) {
                return make_error(0, "{}: PT_LOAD {} has p_filesz {} > p_memsz {}", path, i,
                                  phdr.p_filesz, phdr.p_memsz);
            }
            vmcore.segments_.push_back(LoadSegment{phdr.p_paddr, phdr.p_vaddr, phdr.p_offset,
                                                   phdr.p_filesz, phdr.p_memsz});
            const uint64_t needed = phdr.p_offset + phdr.p_filesz;
            if (vmcore.file_size_ != 0 && needed > vmcore.file_size_) {
                const uint64_t first_missing = std::max<uint64_t>(phdr.p_offset, vmcore.file_size_);
                if (!vmcore.truncated_at_ || first_missing < *vmcore.truncated_at_) {
                    vmcore.truncated_at_ = first_missing;
                }
            }
        } else if (phdr.p_type == PT_NOTE) {
            if (phdr.p_filesz > kMaxNoteBytes - vmcore.note_blob_.size()) {
                return make_error(0,
                                  "{}: PT_NOTE {} has p_filesz {}, more notes than a vmcore "
                                  "holds ({} bytes at most)",
                                  path, i, phdr.p_filesz, kMaxNoteBytes);
            }
            if (vmcore.file_size_ != 0 && (phdr.p_offset > vmcore.file_size_ ||
                                           phdr.p_filesz > vmcore.file_size_ - phdr.p_offset)) {
                return make_error(ENODATA,
                                  "{} is truncated or corrupt: PT_NOTE {} (p_offset {}, p_filesz "
                                  "{}) runs past the end of the {}-byte file",
                                  path, i, phdr.p_offset, phdr.p_filesz, vmcore.file_size_);
            }
            const size_t old_size = vmcore.note_blob_.size();
            vmcore.note_blob_.resize(old_size + phdr.p_filesz);
            if (auto read =
                    vmcore.read_file(phdr.p_offset, std::span(vmcore.note_blob_).subspan(old_size));
                !read) {
                return propagate(read.error(), "reading the PT_NOTE segment");
            }
        }
    }
    if (vmcore.segments_.empty()) {
        return make_error(0, "{}: no PT_LOAD segments: not a vmcore", path);
    }
    auto parsed = parse_elf_notes(vmcore.note_blob_);
    vmcore.notes_ = std::move(parsed.notes);
    if (parsed.warning) {
        vmcore.warnings_.push_back(*parsed.warning);
    }
    if (auto bounded = check_segment_bounds(path, vmcore.segments_, vmcore.file_size_); !bounded) {
        return tl::unexpected(bounded.error());
    }
    vmcore.ranges_ = resolve_physical_ranges(vmcore.segments_);
    if (auto holes = check_holes(path, vmcore.ranges_); !holes) {
        return tl::unexpected(holes.error());
    }
    return vmcore;
}

int VmcoreFile::prstatus_count() const {
    return static_cast<int>(std::count_if(notes_.begin(), notes_.end(), [](const ElfNote& note) {
        return note.name == kCoreNoteName && note.type == NT_PRSTATUS;
    }));
}

std::optional<ElfNote> VmcoreFile::vmcoreinfo_note() const {
    for (const auto& note : notes_) {
        // The kernel writes type 0 (kernel/vmcore_info.c append_elf_note(...,
        // VMCOREINFO_NOTE_NAME, 0, ...)).
        if (note.name == kVmcoreinfoNoteName && note.type == 0) {
            return note;
        }
    }
    return std::nullopt;
}

std::string VmcoreFile::vmcoreinfo_text() const {
    auto note = vmcoreinfo_note();
    if (!note) {
        return {};
    }
    const auto* begin = reinterpret_cast<const char*>(note_blob_.data() + note->descriptor_offset);
    return std::string(begin, note->descriptor_size);
}

uint64_t VmcoreFile::max_physical_address() const {
    uint64_t max = 0;
    for (const auto& range : ranges_) {
        max = std::max(max, range.phys_end);
    }
    return max;
}

Status VmcoreFile::read_file(uint64_t offset, std::span<std::byte> out) const {
    size_t done = 0;
    if (window_) {
        std::unique_lock lock(window_->mutex, std::try_to_lock);
        if (lock.owns_lock()) {
            done = copy_from_windows(offset, out);
        }
    }
    return pread_file(offset + done, out.subspan(done));
}

size_t VmcoreFile::copy_from_windows(uint64_t offset, std::span<std::byte> out) const {
    MappedWindow& window = *window_;
    size_t done = 0;
    while (done < out.size() && !window.refused) {
        const uint64_t position = offset + done;
        if (window.base == MAP_FAILED || position < window.offset ||
            position >= window.offset + window.length) {
            if (out.size() - done < window.page_size) {
                // Less than a page: a page table entry or a kernel variable,
                // read while walking the crashed kernel's structures, at
                // addresses all over memory. One pread() of it is cheaper
                // than mapping (and on /proc/vmcore populating, in
                // remap_oldmem_pfn_range()) a whole window for it.
                break;
            }
            // Windows start at multiples of their size, so a sequential
            // reader maps each part of the file once.
            const uint64_t start = round_down(position, read_options_.window_bytes);
            if (!window.size_is_fixed) {
                struct stat st {};
                if (::fstat(fd_.get(), &st) == 0) {
                    window.mappable_end =
                        std::min(window.mappable_end,
                                 round_down(static_cast<uint64_t>(st.st_size), window.page_size));
                }
            }
            if (position >= window.mappable_end) {
                break;  // the last partial page, or past the end: pread()
            }
            const size_t length = std::min(read_options_.window_bytes, window.mappable_end - start);
            // Unmapped first: at most one window is mapped at any time.
            window.unmap();
            void* base = ::mmap(nullptr, length, PROT_READ, MAP_PRIVATE, fd_.get(),
                                static_cast<off_t>(start));
            if (base == MAP_FAILED) {
                // A kernel or file system without mmap() for this file (ENODEV),
                // or one that refuses this range (EINVAL, EPERM, ENOMEM): read
                // the rest by pread(), which works wherever mmap() does not.
                window.refused = true;
                window.refusal = fmt::format("mmap() of {} bytes at offset {} refused: {}", length,
                                             start, std::strerror(errno));
                break;
            }
            window.base = base;
            window.offset = start;
            window.length = length;
            window.windows_mapped.fetch_add(1, std::memory_order_relaxed);
        }
        const uint64_t in_window = position - window.offset;
        const size_t chunk = std::min<uint64_t>(out.size() - done, window.length - in_window);
        std::memcpy(out.data() + done, static_cast<const std::byte*>(window.base) + in_window,
                    chunk);
        done += chunk;
    }
    window.bytes_mapped.fetch_add(done, std::memory_order_relaxed);
    return done;
}

Status VmcoreFile::pread_file(uint64_t offset, std::span<std::byte> out) const {
    size_t done = 0;
    while (done < out.size()) {
        const ssize_t n = ::pread(fd_.get(), out.data() + done, out.size() - done,
                                  static_cast<off_t>(offset + done));
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return make_errno_error(errno, "cannot read {} at offset {}", path_, offset + done);
        }
        if (n == 0) {
            return make_error(ENODATA, "{} is truncated: no data at offset {} (file size {})",
                              path_, offset + done, file_size_);
        }
        done += static_cast<size_t>(n);
    }
    bytes_pread_.fetch_add(done, std::memory_order_relaxed);
    return {};
}

VmcoreReadStats VmcoreFile::read_stats() const {
    VmcoreReadStats stats;
    stats.method = window_ ? VmcoreReadMethod::mmap : VmcoreReadMethod::pread;
    stats.bytes_pread = bytes_pread_.load(std::memory_order_relaxed);
    if (window_) {
        std::lock_guard lock(window_->mutex);
        stats.window_bytes = read_options_.window_bytes;
        stats.bytes_mapped = window_->bytes_mapped.load(std::memory_order_relaxed);
        stats.windows_mapped = window_->windows_mapped.load(std::memory_order_relaxed);
        stats.fallback_reason = window_->refusal;
    }
    return stats;
}

Status VmcoreFile::read_frames(uint64_t phys_addr, std::span<std::byte> out) const {
    size_t done = 0;
    while (done < out.size()) {
        const uint64_t addr = phys_addr + done;
        auto next =
            std::upper_bound(ranges_.begin(), ranges_.end(), addr,
                             [](uint64_t a, const PhysicalRange& r) { return a < r.phys_start; });
        const PhysicalRange* inside = range_of(addr);
        if (!inside) {
            // A hole: zeros up to the next range (or the end of the request).
            const uint64_t hole_end = next == ranges_.end() ? UINT64_MAX : next->phys_start;
            const size_t chunk = std::min<uint64_t>(out.size() - done, hole_end - addr);
            if (chunk == 0) {
                // Only ranges that wrap past 2^64 could lead here (open()
                // refuses them); without this the loop would never end.
                return make_error(ERANGE, "physical address {:#x} of {} is in no consistent range",
                                  addr, path_);
            }
            std::fill_n(out.begin() + static_cast<ptrdiff_t>(done), chunk, std::byte{0});
            done += chunk;
            continue;
        }
        const size_t chunk = std::min<uint64_t>(out.size() - done, inside->phys_end - addr);
        if (auto read = read_physical(addr, out.subspan(done, chunk)); !read) {
            return read;
        }
        done += chunk;
    }
    return {};
}

const PhysicalRange* VmcoreFile::range_of(uint64_t phys_addr) const {
    auto it = std::upper_bound(ranges_.begin(), ranges_.end(), phys_addr,
                               [](uint64_t a, const PhysicalRange& r) { return a < r.phys_start; });
    if (it == ranges_.begin() || (--it, phys_addr >= it->phys_end)) {
        return nullptr;
    }
    return &*it;
}

Status VmcoreFile::read_physical(uint64_t phys_addr, std::span<std::byte> out) const {
    size_t done = 0;
    while (done < out.size()) {
        const uint64_t addr = phys_addr + done;
        const PhysicalRange* it = range_of(addr);
        if (!it) {
            return make_error(ERANGE, "physical address {:#x} is not in {}", addr, path_);
        }
        const size_t chunk = std::min<uint64_t>(out.size() - done, it->phys_end - addr);
        auto piece = out.subspan(done, chunk);
        if (addr >= it->data_end) {
            std::fill(piece.begin(), piece.end(), std::byte{0});
        } else {
            const size_t with_data = std::min<uint64_t>(chunk, it->data_end - addr);
            if (auto read =
                    read_file(it->file_offset + (addr - it->phys_start), piece.first(with_data));
                !read) {
                return read;
            }
            std::fill(piece.begin() + static_cast<ptrdiff_t>(with_data), piece.end(), std::byte{0});
        }
        done += chunk;
    }
    return {};
}

}  // namespace crashcapture
