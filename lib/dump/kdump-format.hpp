// The kdump-compressed ("diskdump") file format as makedumpfile writes it and
// crash / libkdumpfile read it: makedumpfile diskdump_mod.h and
// IMPLEMENTATION, crash diskdump.h. x86_64 (LP64, little-endian) layout;
// field offsets were checked against offsetof() of the C structs.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace crashcapture::kdump {

inline constexpr char kSignature[8] = {'K', 'D', 'U', 'M', 'P', ' ', ' ', ' '};  // KDUMP_SIGNATURE
inline constexpr int32_t kHeaderVersion = 6;  // max_mapnr_64 and friends exist from version 6

// disk_dump_header.status bits (diskdump_mod.h).
inline constexpr uint32_t kStatusIncomplete = 0x8;  // DUMP_DH_COMPRESSED_INCOMPLETE

// struct new_utsname: six char[65] fields (include/uapi/linux/utsname.h).
inline constexpr size_t kUtsFieldLength = 65;
inline constexpr size_t kUtsnameSize = 6 * kUtsFieldLength;

// sizeof(struct disk_dump_header) on x86_64 and the offsets of its fields.
inline constexpr size_t kHeaderSize = 464;
namespace header_offset {
inline constexpr size_t signature = 0;
inline constexpr size_t header_version = 8;
inline constexpr size_t utsname = 12;
inline constexpr size_t timestamp_sec = 408;   // struct timeval: 8-byte aligned after 390 bytes
inline constexpr size_t timestamp_usec = 416;  // kept 0: libkdumpfile probes a 32-bit layout first
inline constexpr size_t status = 424;
inline constexpr size_t block_size = 428;
inline constexpr size_t sub_hdr_size = 432;
inline constexpr size_t bitmap_blocks = 436;
inline constexpr size_t max_mapnr = 440;
inline constexpr size_t total_ram_blocks = 444;
inline constexpr size_t device_blocks = 448;
inline constexpr size_t written_blocks = 452;
inline constexpr size_t current_cpu = 456;
inline constexpr size_t nr_cpus = 460;
}  // namespace header_offset

// sizeof(struct kdump_sub_header) on x86_64 (version 6).
inline constexpr size_t kSubHeaderSize = 104;
namespace sub_header_offset {
inline constexpr size_t phys_base = 0;
inline constexpr size_t dump_level = 8;
inline constexpr size_t split = 12;
inline constexpr size_t start_pfn = 16;
inline constexpr size_t end_pfn = 24;
inline constexpr size_t offset_vmcoreinfo = 32;
inline constexpr size_t size_vmcoreinfo = 40;
inline constexpr size_t offset_note = 48;
inline constexpr size_t size_note = 56;
inline constexpr size_t offset_eraseinfo = 64;
inline constexpr size_t size_eraseinfo = 72;
inline constexpr size_t start_pfn_64 = 80;
inline constexpr size_t end_pfn_64 = 88;
inline constexpr size_t max_mapnr_64 = 96;
}  // namespace sub_header_offset

// struct page_desc: off_t offset, unsigned size, unsigned flags, u64 page_flags.
inline constexpr size_t kPageDescSize = 24;

template <typename T>
void put(std::byte* buffer, size_t offset, T value) {
    std::memcpy(buffer + offset, &value, sizeof(T));
}
template <typename T>
T get(const std::byte* buffer, size_t offset) {
    T value;
    std::memcpy(&value, buffer + offset, sizeof(T));
    return value;
}

// Where everything sits in a file (makedumpfile write_kdump_header() and
// prepare_bitmap2_buffer()).
struct Layout {
    uint64_t block_size = 0;
    uint64_t max_mapnr = 0;
    uint64_t sub_header_blocks = 0;  // sub header + note blob, in blocks
    uint64_t bitmap_bytes = 0;       // one bitmap, padded to whole blocks
    uint64_t bitmap1_offset = 0;
    uint64_t bitmap2_offset = 0;
    uint64_t page_desc_offset = 0;
    uint64_t data_offset = 0;  // after num_dumpable descriptors
};

inline Layout compute_layout(uint64_t block_size, uint64_t max_mapnr, uint64_t note_size,
                             uint64_t num_dumpable) {
    auto divide_up = [](uint64_t a, uint64_t b) { return (a + b - 1) / b; };
    Layout layout;
    layout.block_size = block_size;
    layout.max_mapnr = max_mapnr;
    layout.sub_header_blocks = divide_up(kSubHeaderSize + note_size, block_size);
    layout.bitmap_bytes = divide_up(divide_up(max_mapnr, 8), block_size) * block_size;
    layout.bitmap1_offset = (1 + layout.sub_header_blocks) * block_size;
    layout.bitmap2_offset = layout.bitmap1_offset + layout.bitmap_bytes;
    layout.page_desc_offset = layout.bitmap2_offset + layout.bitmap_bytes;
    layout.data_offset = layout.page_desc_offset + kPageDescSize * num_dumpable;
    return layout;
}

}  // namespace crashcapture::kdump
