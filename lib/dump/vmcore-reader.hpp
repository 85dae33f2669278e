// Reading an ELF vmcore: /proc/vmcore in a capture kernel, or any saved ELF
// core of a kernel (a copy of /proc/vmcore, QEMU dump-guest-memory output).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "result.hpp"
#include "unique-fd.hpp"

namespace crashcapture {

// One PT_LOAD: physical memory [phys_start, phys_start + mem_size) whose first
// file_size bytes are stored at file_offset (the rest reads as zero).
struct LoadSegment {
    uint64_t phys_start = 0;
    uint64_t virt_start = 0;
    uint64_t file_offset = 0;
    uint64_t file_size = 0;
    uint64_t mem_size = 0;
};

// A stretch of physical memory covered by exactly one chosen PT_LOAD; the
// PT_LOADs that overlap physically (the kexec_file_load layout maps the kernel
// image twice) are resolved so every page frame appears once.
struct PhysicalRange {
    uint64_t phys_start = 0;
    uint64_t phys_end = 0;     // exclusive
    uint64_t data_end = 0;     // exclusive: bytes past this have no file data
    uint64_t file_offset = 0;  // of phys_start
};

struct ElfNote {
    std::string name;  // without the terminating NUL
    uint32_t type = 0;
    size_t descriptor_offset = 0;  // within the note blob
    size_t descriptor_size = 0;
};

// Splits an ELF note blob into notes. Tolerates a truncated last note (stops
// there and says so in the error of the second member).
struct ParsedNotes {
    std::vector<ElfNote> notes;
    std::optional<std::string> warning;
};
ParsedNotes parse_elf_notes(std::span<const std::byte> blob);

// Anything physical memory can be read from (a vmcore, or a test fake).
class PhysicalMemory {
  public:
    virtual ~PhysicalMemory() = default;
    virtual Status read_physical(uint64_t phys_addr, std::span<std::byte> out) const = 0;
};

// How the file's bytes are read. /proc/vmcore copies every pread() page by
// page out of the crashed kernel's memory through a temporary mapping
// (fs/proc/vmcore.c read_from_oldmem() -> copy_oldmem_page()); an mmap() of
// it maps a whole range of old memory at once (mmap_vmcore() ->
// remap_oldmem_pfn_range(), Linux 3.11 and later), so a capture reads it
// through mmap() windows, as makedumpfile does (read_with_mmap()). A regular
// file is read faster by pread() (from the page cache, without a fault per
// 16 pages and a mapping that counts in the resident set; README,
// "crashcapture-save"), and a mapping of one could fault with SIGBUS if
// another process truncated it: automatic maps only files on procfs.
enum class VmcoreReadMethod { automatic, mmap, pread };
std::string_view to_string(VmcoreReadMethod method);
std::optional<VmcoreReadMethod> parse_vmcore_read_method(std::string_view name);

// 4 MiB, makedumpfile's window (makedumpfile.h MAP_REGION) and a
// multiple of every page size (4, 16 and 64 KiB): one mmap()/munmap() pair
// per 1024 frames of 4 KiB, few enough to cost nothing, small enough that
// the capture kernel's memory does not notice the mapping.
inline constexpr uint64_t kDefaultMmapWindowBytes = 4ULL << 20;

struct VmcoreReadOptions {
    // mmap falls back to pread() by itself wherever mmap() is refused.
    VmcoreReadMethod method = VmcoreReadMethod::automatic;
    // Rounded up to the page size.
    uint64_t window_bytes = kDefaultMmapWindowBytes;
};

// What reading did, for the log.
struct VmcoreReadStats {
    VmcoreReadMethod method = VmcoreReadMethod::pread;  // mmap or pread, as chosen
    uint64_t window_bytes = 0;                          // 0 for pread
    uint64_t bytes_mapped = 0;                          // copied out of mmap() windows
    uint64_t bytes_pread = 0;                           // read by pread()
    uint64_t windows_mapped = 0;
    // Why mmap() stopped being used, when it was refused.
    std::optional<std::string> fallback_reason;
};

class VmcoreFile final : public PhysicalMemory {
  public:
    static Result<VmcoreFile> open(const std::string& path, const VmcoreReadOptions& options = {});
    VmcoreFile();
    VmcoreFile(VmcoreFile&&) noexcept;
    VmcoreFile& operator=(VmcoreFile&&) noexcept;
    ~VmcoreFile() override;

    const std::string& path() const { return path_; }
    // st_size of the file; /proc/vmcore reports its true size too.
    uint64_t file_size() const { return file_size_; }
    uint16_t elf_machine() const { return elf_machine_; }
    const std::vector<LoadSegment>& segments() const { return segments_; }
    const std::vector<PhysicalRange>& physical_ranges() const { return ranges_; }
    // The PT_NOTE contents, byte for byte (several PT_NOTEs are concatenated).
    std::span<const std::byte> note_blob() const { return note_blob_; }
    const std::vector<ElfNote>& notes() const { return notes_; }
    // Number of per-CPU "CORE" NT_PRSTATUS notes (makedumpfile get_pt_note_info()).
    int prstatus_count() const;
    // The VMCOREINFO note's descriptor, if any.
    std::optional<ElfNote> vmcoreinfo_note() const;
    std::string vmcoreinfo_text() const;
    // Highest physical address covered by a PT_LOAD, exclusive.
    uint64_t max_physical_address() const;
    // First file offset the PT_LOADs need that the file does not have, if the
    // file is shorter than its headers promise.
    std::optional<uint64_t> truncated_at() const { return truncated_at_; }
    // Problems that do not stop reading (odd notes, overlaps that disagree).
    const std::vector<std::string>& warnings() const { return warnings_; }

    // Bytes of physical memory; ranges past a PT_LOAD's file data read as
    // zero, addresses outside every PT_LOAD are an error (ERANGE).
    Status read_physical(uint64_t phys_addr, std::span<std::byte> out) const override;
    // Like read_physical, but bytes outside every PT_LOAD read as zero too:
    // a frame at the edge of a PT_LOAD that does not end on a page boundary
    // is dumped with its missing part zero (makedumpfile readpage_elf()).
    Status read_frames(uint64_t phys_addr, std::span<std::byte> out) const;
    // The chosen range that holds a physical address, or null.
    const PhysicalRange* range_of(uint64_t phys_addr) const;
    // Raw bytes of the file; a short read is an error (the file is truncated).
    // Safe to call from several threads: one at a time uses the mmap()
    // window, the others read by pread().
    Status read_file(uint64_t offset, std::span<std::byte> out) const;
    int fd() const { return fd_.get(); }
    VmcoreReadStats read_stats() const;

  private:
    struct MappedWindow;
    // Copies what it can of [offset, offset + out.size()) from mmap()
    // windows, from the start on; returns the bytes copied. Called with
    // window_->mutex held.
    size_t copy_from_windows(uint64_t offset, std::span<std::byte> out) const;
    Status pread_file(uint64_t offset, std::span<std::byte> out) const;

    std::string path_;
    UniqueFd fd_;
    uint64_t file_size_ = 0;
    uint16_t elf_machine_ = 0;
    std::vector<LoadSegment> segments_;
    std::vector<PhysicalRange> ranges_;
    std::vector<std::byte> note_blob_;
    std::vector<ElfNote> notes_;
    std::optional<uint64_t> truncated_at_;
    std::vector<std::string> warnings_;
    VmcoreReadOptions read_options_;
    // Null when reading by pread() only; a pointer so the file stays movable.
    std::unique_ptr<MappedWindow> window_;
    mutable std::atomic<uint64_t> bytes_pread_{0};
};

// Resolves overlapping PT_LOADs into sorted, disjoint ranges; the first
// PT_LOAD in file order wins where two overlap.
std::vector<PhysicalRange> resolve_physical_ranges(const std::vector<LoadSegment>& segments);

}  // namespace crashcapture
