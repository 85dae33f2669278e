#include "printk-log.hpp"

#include <array>
#include <cstring>
#include <vector>

namespace crashcapture {
namespace {

// Descriptor state lives in the top two bits of state_var
// (kernel/printk/printk_ringbuffer.h DESC_SV_BITS, DESC_FLAGS_SHIFT).
constexpr int kDescFlagsShift = 62;
constexpr uint64_t kDescIdMask = ~(3ULL << kDescFlagsShift);
constexpr uint64_t kDescCommitted = 1;  // desc_committed
constexpr uint64_t kDescFinalized = 2;  // desc_finalized

// Upper bounds that no real kernel reaches; they stop a corrupt ring from
// making us allocate gigabytes (CONFIG_LOG_BUF_SHIFT max is 25, and
// log_buf_len= is capped far below 2^31).
constexpr uint32_t kMaxRingBits = 31;
// The ring's structures are tens of bytes (struct printk_ringbuffer 88,
// prb_desc 24, printk_info 88 on 6.1); a SIZE() beyond a page is corrupt and
// would multiply into gigabytes below.
constexpr uint64_t kMaxStructBytes = 4096;
// What the descriptor and info arrays may take together: 2^kMaxRingBits
// entries would not fit a capture kernel, and real rings have 2^12-2^20.
constexpr uint64_t kMaxArrayBytes = 256ULL << 20;

struct Layout {
    uint64_t prb_symbol, prb_size;
    uint64_t desc_ring, text_data_ring;
    uint64_t count_bits, descs, infos, head_id, tail_id;
    uint64_t desc_size, state_var, text_blk_lpos, lpos_begin, lpos_next;
    uint64_t info_size, ts_nsec, text_len;
    uint64_t size_bits, data;
    uint64_t counter;
};

Result<Layout> read_layout(const Vmcoreinfo& info) {
    Layout layout{};
    std::vector<std::string> missing;
    auto need = [&](std::optional<uint64_t> value, const char* what) -> uint64_t {
        if (!value) {
            missing.emplace_back(what);
            return 0;
        }
        return *value;
    };
    layout.prb_symbol = need(info.symbol("prb"), "SYMBOL(prb)");
    layout.prb_size = need(info.size("printk_ringbuffer"), "SIZE(printk_ringbuffer)");
    layout.desc_ring =
        need(info.offset("printk_ringbuffer.desc_ring"), "OFFSET(printk_ringbuffer.desc_ring)");
    layout.text_data_ring = need(info.offset("printk_ringbuffer.text_data_ring"),
                                 "OFFSET(printk_ringbuffer.text_data_ring)");
    layout.count_bits =
        need(info.offset("prb_desc_ring.count_bits"), "OFFSET(prb_desc_ring.count_bits)");
    layout.descs = need(info.offset("prb_desc_ring.descs"), "OFFSET(prb_desc_ring.descs)");
    layout.infos = need(info.offset("prb_desc_ring.infos"), "OFFSET(prb_desc_ring.infos)");
    layout.head_id = need(info.offset("prb_desc_ring.head_id"), "OFFSET(prb_desc_ring.head_id)");
    layout.tail_id = need(info.offset("prb_desc_ring.tail_id"), "OFFSET(prb_desc_ring.tail_id)");
    layout.desc_size = need(info.size("prb_desc"), "SIZE(prb_desc)");
    layout.state_var = need(info.offset("prb_desc.state_var"), "OFFSET(prb_desc.state_var)");
    layout.text_blk_lpos =
        need(info.offset("prb_desc.text_blk_lpos"), "OFFSET(prb_desc.text_blk_lpos)");
    layout.lpos_begin =
        need(info.offset("prb_data_blk_lpos.begin"), "OFFSET(prb_data_blk_lpos.begin)");
    layout.lpos_next =
        need(info.offset("prb_data_blk_lpos.next"), "OFFSET(prb_data_blk_lpos.next)");
    layout.info_size = need(info.size("printk_info"), "SIZE(printk_info)");
    layout.ts_nsec = need(info.offset("printk_info.ts_nsec"), "OFFSET(printk_info.ts_nsec)");
    layout.text_len = need(info.offset("printk_info.text_len"), "OFFSET(printk_info.text_len)");
    layout.size_bits =
        need(info.offset("prb_data_ring.size_bits"), "OFFSET(prb_data_ring.size_bits)");
    layout.data = need(info.offset("prb_data_ring.data"), "OFFSET(prb_data_ring.data)");
    layout.counter = need(info.offset("atomic_long_t.counter"), "OFFSET(atomic_long_t.counter)");
    if (missing.empty()) {
        // Each field must lie inside its structure: the offsets index buffers
        // of those sizes (a huge OFFSET() must not reach past them).
        struct Field {
            uint64_t offset, size, within;
            const char* name;
        };
        const std::array<Field, 5> sizes{{
            {0, layout.prb_size, kMaxStructBytes, "SIZE(printk_ringbuffer)"},
            {0, layout.desc_size, kMaxStructBytes, "SIZE(prb_desc)"},
            {0, layout.info_size, kMaxStructBytes, "SIZE(printk_info)"},
            {layout.ts_nsec, sizeof(uint64_t), layout.info_size, "OFFSET(printk_info.ts_nsec)"},
            {layout.text_len, sizeof(uint16_t), layout.info_size, "OFFSET(printk_info.text_len)"},
        }};
        for (const auto& field : sizes) {
            if (field.size == 0 || field.offset > field.within ||
                field.size > field.within - field.offset) {
                return make_error(0, "VMCOREINFO {}={} is implausible (beyond {} bytes)",
                                  field.name, field.offset ? field.offset : field.size,
                                  field.within);
            }
        }
    }
    if (!missing.empty()) {
        std::string list;
        for (const auto& name : missing) {
            list += (list.empty() ? "" : ", ") + name;
        }
        if (!info.symbol("prb") && (info.symbol("log_buf") || info.symbol("log_first_idx"))) {
            return make_error(0,
                              "this kernel ({}) predates the lockless printk ring buffer "
                              "(Linux 5.10); its log format is not supported",
                              info.osrelease());
        }
        return make_error(0, "VMCOREINFO lacks the printk ring buffer layout: {}", list);
    }
    return layout;
}

// Offsets come from VMCOREINFO and may be sums of two: out of range (or
// wrapping past 2^64) reads as zero, never outside the buffer.
template <typename T>
T load(const std::vector<std::byte>& buffer, uint64_t offset) {
    T value{};
    if (offset <= buffer.size() && buffer.size() - offset >= sizeof(T)) {
        std::memcpy(&value, buffer.data() + offset, sizeof(T));
    }
    return value;
}

Result<std::vector<std::byte>> read_block(const KernelAddressSpace& memory, uint64_t address,
                                          uint64_t size, const char* what) {
    if (size > kMaxArrayBytes) {
        return make_error(0, "the printk {} would take {} bytes: its layout is corrupt", what,
                          size);
    }
    std::vector<std::byte> buffer(size);
    if (auto read = memory.read(address, buffer); !read) {
        return propagate(read.error(), fmt::format("reading the printk {}", what));
    }
    return buffer;
}

// makedumpfile dump_record(): text bytes are copied when isprint() or
// isspace() in the C locale; a newline is followed by spaces as wide as the
// timestamp prefix; anything else is printed with sprintf("\\x%02x", *p)
// where *p is a signed char, so bytes >= 0x80 come out as "\xffffffNN".
void append_record(std::string& out, uint64_t ts_nsec, std::string_view text) {
    const auto prefix =
        fmt::format("[{:5d}.{:06d}] ", ts_nsec / 1000000000ULL, (ts_nsec % 1000000000ULL) / 1000);
    out += prefix;
    for (char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (c == '\n') {
            out += '\n';
            out.append(prefix.size(), ' ');
        } else if ((byte >= 0x20 && byte <= 0x7e) || c == '\t' || c == '\v' || c == '\f' ||
                   c == '\r') {
            out += c;
        } else {
            out += fmt::format(
                "\\x{:02x}", static_cast<unsigned>(static_cast<int>(static_cast<signed char>(c))));
        }
    }
    out += '\n';
}

}  // namespace

Result<KernelLog> extract_kernel_log(const KernelAddressSpace& memory,
                                     const Vmcoreinfo& vmcoreinfo) {
    auto layout_or = read_layout(vmcoreinfo);
    if (!layout_or) {
        return tl::unexpected(layout_or.error());
    }
    const Layout& l = *layout_or;

    // SYMBOL(prb) is a pointer to the ring in use (printk_rb_static, or the
    // dynamic one after log_buf_len=).
    auto prb_address = memory.read_u64(l.prb_symbol);
    if (!prb_address) {
        return propagate(prb_address.error(), "reading the prb pointer");
    }
    auto prb = read_block(memory, *prb_address, l.prb_size, "ring buffer");
    if (!prb) {
        return tl::unexpected(prb.error());
    }
    const uint64_t desc_ring = l.desc_ring;
    const uint32_t count_bits = load<uint32_t>(*prb, desc_ring + l.count_bits);
    const uint64_t text_ring = l.text_data_ring;
    const uint32_t size_bits = load<uint32_t>(*prb, text_ring + l.size_bits);
    if (count_bits > kMaxRingBits || size_bits > kMaxRingBits) {
        return make_error(0,
                          "printk ring buffer sizes are implausible (2^{} descriptors, 2^{} bytes)",
                          count_bits, size_bits);
    }
    const uint64_t desc_count = 1ULL << count_bits;
    const uint64_t text_size = 1ULL << size_bits;

    auto descs = read_block(memory, load<uint64_t>(*prb, desc_ring + l.descs),
                            desc_count * l.desc_size, "descriptors");
    if (!descs) {
        return tl::unexpected(descs.error());
    }
    auto infos = read_block(memory, load<uint64_t>(*prb, desc_ring + l.infos),
                            desc_count * l.info_size, "record infos");
    if (!infos) {
        return tl::unexpected(infos.error());
    }
    auto text =
        read_block(memory, load<uint64_t>(*prb, text_ring + l.data), text_size, "text ring");
    if (!text) {
        return tl::unexpected(text.error());
    }

    const uint64_t tail_id = load<uint64_t>(*prb, desc_ring + l.tail_id + l.counter);
    const uint64_t head_id = load<uint64_t>(*prb, desc_ring + l.head_id + l.counter);

    KernelLog log;
    auto dump_record = [&](uint64_t id) {
        const uint64_t desc = (id % desc_count) * l.desc_size;
        const uint64_t state_var = load<uint64_t>(*descs, desc + l.state_var + l.counter);
        const uint64_t state = (state_var >> kDescFlagsShift) & 3;
        if ((state_var & kDescIdMask) != id ||
            (state != kDescCommitted && state != kDescFinalized)) {
            return;
        }
        uint64_t begin = load<uint64_t>(*descs, desc + l.text_blk_lpos + l.lpos_begin) % text_size;
        const uint64_t next =
            load<uint64_t>(*descs, desc + l.text_blk_lpos + l.lpos_next) % text_size;
        if (begin == next) {
            return;  // a record without text
        }
        const uint64_t info = (id % desc_count) * l.info_size;
        uint64_t text_len = load<uint16_t>(*infos, info + l.text_len);
        if (begin > next) {
            begin = 0;  // the block wrapped: its text starts at the ring's start
        }
        begin += sizeof(uint64_t);  // each data block starts with its descriptor id
        // makedumpfile compares as unsigned long: a corrupt next < begin gives
        // a huge difference and keeps text_len; bound it by the ring instead.
        if (next - begin < text_len) {
            text_len = next - begin;
        }
        if (begin >= text_size) {
            return;
        }
        text_len = std::min<uint64_t>(text_len, text_size - begin);
        const std::string_view record(reinterpret_cast<const char*>(text->data() + begin),
                                      text_len);
        append_record(log.text, load<uint64_t>(*infos, info + l.ts_nsec), record);
        ++log.record_count;
    };
    // Bound the walk by the ring size so a corrupt head/tail cannot loop forever.
    uint64_t id = tail_id;
    for (uint64_t steps = 0; id != head_id && steps < desc_count * 2; ++steps) {
        dump_record(id);
        id = (id + 1) & kDescIdMask;
    }
    dump_record(id);
    return log;
}

std::string find_panic_line(std::string_view log_text) {
    auto strip_timestamp = [](std::string_view line) {
        if (line.starts_with('[')) {
            if (auto close = line.find("] "); close != std::string_view::npos) {
                line.remove_prefix(close + 2);
            }
        }
        return std::string(line);
    };
    std::string first_oops;
    size_t pos = 0;
    while (pos < log_text.size()) {
        auto end = log_text.find('\n', pos);
        if (end == std::string_view::npos) {
            end = log_text.size();
        }
        const auto line = log_text.substr(pos, end - pos);
        pos = end + 1;
        if (line.find("Kernel panic - not syncing") != std::string_view::npos) {
            return strip_timestamp(line);
        }
        if (first_oops.empty()) {
            for (const char* marker : {"BUG:", "Oops:", "general protection fault", "kernel BUG at",
                                       "sysrq: Trigger a crash"}) {
                if (line.find(marker) != std::string_view::npos) {
                    first_oops = strip_timestamp(line);
                    break;
                }
            }
        }
    }
    return first_oops;
}

}  // namespace crashcapture
