#include "page-selection.hpp"

#include <algorithm>

namespace crashcapture {
namespace {

void set_bits(std::vector<uint8_t>& bitmap, uint64_t first, uint64_t last) {
    for (uint64_t bit = first; bit < last;) {
        if (bit % 8 == 0 && last - bit >= 8) {
            const uint64_t whole = (last - bit) / 8;
            std::fill_n(bitmap.begin() + static_cast<ptrdiff_t>(bit / 8), whole, uint8_t{0xff});
            bit += whole * 8;
        } else {
            bitmap[bit / 8] |= static_cast<uint8_t>(1u << (bit % 8));
            ++bit;
        }
    }
}

// Frames [first, last) a byte range touches.
std::pair<uint64_t, uint64_t> frames_touching(uint64_t start, uint64_t end, uint64_t page_size) {
    return {start / page_size, (end + page_size - 1) / page_size};
}
// Frames whose first byte lies in [start, end).
std::pair<uint64_t, uint64_t> frames_starting_in(uint64_t start, uint64_t end, uint64_t page_size) {
    return {(start + page_size - 1) / page_size, (end + page_size - 1) / page_size};
}

}  // namespace

Status validate_dump_level(int dump_level) {
    if (dump_level < 0 || dump_level > kDumpLevelMax) {
        return make_error(EINVAL, "dump level {} is outside 0..{}", dump_level, kDumpLevelMax);
    }
    return {};
}

void select_pages(const std::vector<PhysicalRange>& ranges, uint64_t page_size,
                  PageWindow& window) {
    const uint64_t bytes = (window.end_pfn - window.start_pfn + 7) / 8;
    window.present.assign(bytes, 0);
    window.dumpable.assign(bytes, 0);
    for (const auto& range : ranges) {
        auto [first, last] = frames_touching(range.phys_start, range.phys_end, page_size);
        first = std::max(first, window.start_pfn);
        last = std::min(last, window.end_pfn);
        if (first < last) {
            set_bits(window.present, first - window.start_pfn, last - window.start_pfn);
        }
        auto [data_first, data_last] =
            frames_starting_in(range.phys_start, range.data_end, page_size);
        // A range that starts mid-frame still dumps that frame (its start has data).
        if (range.data_end > range.phys_start) {
            data_first = std::min(data_first, range.phys_start / page_size);
        }
        data_first = std::max(data_first, window.start_pfn);
        data_last = std::min(data_last, window.end_pfn);
        if (data_first < data_last) {
            set_bits(window.dumpable, data_first - window.start_pfn, data_last - window.start_pfn);
        }
    }
}

PageCounts count_pages(const std::vector<PhysicalRange>& ranges, uint64_t page_size) {
    // Ranges are disjoint but can share a frame at their edges; count frames,
    // not bytes, by merging the frame intervals.
    PageCounts counts;
    auto count_union = [&](auto frames_of) {
        uint64_t total = 0, covered_until = 0;
        for (const auto& range : ranges) {
            auto [first, last] = frames_of(range);
            first = std::max(first, covered_until);
            if (first < last) {
                total += last - first;
                covered_until = last;
            }
        }
        return total;
    };
    counts.total = count_union([&](const PhysicalRange& r) {
        return frames_touching(r.phys_start, r.phys_end, page_size);
    });
    counts.dumpable = count_union([&](const PhysicalRange& r) -> std::pair<uint64_t, uint64_t> {
        if (r.data_end <= r.phys_start) {
            return {0, 0};
        }
        auto [first, last] = frames_starting_in(r.phys_start, r.data_end, page_size);
        return {std::min(first, r.phys_start / page_size), last};
    });
    counts.excluded_nodata = counts.total - counts.dumpable;
    return counts;
}

}  // namespace crashcapture
