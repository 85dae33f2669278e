// ELF output (for gdb and tools that want a plain core): the vmcore's own
// PT_NOTE and PT_LOADs, page data copied in one pass. Pages the dump level
// excludes are not written: they become holes of a sparse file inside
// p_filesz (reading as zero, taking no space), and a segment's excluded tail
// is cut from p_filesz (makedumpfile -E does the same with p_filesz <
// p_memsz; drgn and gdb read the difference as zeros).
#include <elf.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "dump-writer.hpp"

namespace crashcapture {
namespace {

bool all_zero(std::span<const std::byte> page) {
    return std::all_of(page.begin(), page.end(), [](std::byte b) { return b == std::byte{0}; });
}

}  // namespace

WriteOutcome write_elf(const VmcoreFile& vmcore, const WriteOptions& options, DumpSink& sink,
                       const ProgressCallback& progress) {
    WriteOutcome outcome;
    if (auto s = validate_dump_level(options.dump_level);
        !s || ((options.dump_level & ~kDumpLevelZero) && !options.filter)) {
        if (s) {
            s = make_error(EINVAL, "dump level {} needs the page filter", options.dump_level);
        }
        outcome.error = s.error();
        return outcome;
    }
    const uint64_t page_size = options.page_size;
    if (page_size == 0 || (page_size & (page_size - 1)) != 0) {
        outcome.error = Error{EINVAL, fmt::format("page size {} is not a power of two", page_size)};
        return outcome;
    }
    const auto& segments = vmcore.segments();
    if (segments.size() + 1 >= PN_XNUM) {
        outcome.error = Error{E2BIG, fmt::format("{} PT_LOADs do not fit an ELF program header "
                                                 "table; use the kdump format",
                                                 segments.size())};
        return outcome;
    }
    const auto notes = vmcore.note_blob();
    const uint64_t phnum = segments.size() + 1;
    const uint64_t note_offset = sizeof(Elf64_Ehdr) + phnum * sizeof(Elf64_Phdr);
    std::vector<Elf64_Phdr> phdrs(phnum);
    phdrs[0] = Elf64_Phdr{PT_NOTE, 0, note_offset, 0, 0, notes.size(), notes.size(), 0};
    uint64_t offset = (note_offset + notes.size() + page_size - 1) & ~(page_size - 1);
    uint64_t total_pages = 0;
    for (size_t i = 0; i < segments.size(); ++i) {
        const auto& seg = segments[i];
        phdrs[i + 1] = Elf64_Phdr{PT_LOAD,        PF_R | PF_W | PF_X, offset,       seg.virt_start,
                                  seg.phys_start, seg.file_size,      seg.mem_size, 0};
        offset += (seg.file_size + page_size - 1) & ~(page_size - 1);
        total_pages += (seg.file_size + page_size - 1) / page_size;
    }
    // Frame counts as in the kdump format (each frame once, however many
    // PT_LOADs map it); written/zero count the frames this file stores.
    DumpableFrames frames(vmcore.physical_ranges(), page_size, options.filter);
    const uint64_t max_mapnr = (vmcore.max_physical_address() + page_size - 1) / page_size;
    outcome.pages = frames.count(max_mapnr);

    Elf64_Ehdr ehdr{};
    std::memcpy(ehdr.e_ident, ELFMAG, SELFMAG);
    ehdr.e_ident[EI_CLASS] = ELFCLASS64;
    ehdr.e_ident[EI_DATA] = ELFDATA2LSB;
    ehdr.e_ident[EI_VERSION] = EV_CURRENT;
    ehdr.e_type = ET_CORE;
    ehdr.e_machine = vmcore.elf_machine();
    ehdr.e_version = EV_CURRENT;
    ehdr.e_phoff = sizeof(Elf64_Ehdr);
    ehdr.e_ehsize = sizeof(Elf64_Ehdr);
    ehdr.e_phentsize = sizeof(Elf64_Phdr);
    ehdr.e_phnum = static_cast<Elf64_Half>(phnum);

    auto write_headers = [&]() -> Status {
        if (auto s = sink.write_at(0, std::as_bytes(std::span(&ehdr, 1))); !s) {
            return s;
        }
        return sink.write_at(sizeof(Elf64_Ehdr), std::as_bytes(std::span(phdrs)));
    };
    auto stop = [&](const Error& error, bool something_written) {
        outcome.error = error;
        outcome.incomplete = something_written;
        outcome.bytes_out = sink.bytes_written();
        return outcome;
    };
    if (auto s = write_headers(); !s) {
        return stop(s.error(), false);
    }
    if (auto s = sink.write_at(note_offset, notes); !s) {
        return stop(s.error(), true);
    }
    std::vector<std::byte> buffer(options.batch_pages * page_size);
    uint64_t pages_done = 0;
    for (size_t i = 0; i < segments.size(); ++i) {
        const auto& seg = segments[i];
        auto& phdr = phdrs[i + 1];
        uint64_t kept_end = 0;  // bytes of this segment up to the last written page
        for (uint64_t pos = 0; pos < seg.file_size; pos += buffer.size()) {
            const uint64_t chunk = std::min<uint64_t>(buffer.size(), seg.file_size - pos);
            auto data = std::span(buffer).first(chunk);
            if (auto s = vmcore.read_file(seg.file_offset + pos, data); !s) {
                return stop(s.error(), true);
            }
            // Write runs of kept pages, skip excluded (zero) ones.
            uint64_t run_start = 0;
            auto emit = [&](uint64_t run_end) -> Status {
                if (run_end > run_start) {
                    if (auto s = sink.write_at(phdr.p_offset + pos + run_start,
                                               data.subspan(run_start, run_end - run_start));
                        !s) {
                        return s;
                    }
                    kept_end = pos + run_end;
                }
                return {};
            };
            for (uint64_t page = 0; page < chunk; page += page_size) {
                auto bytes = data.subspan(page, std::min<uint64_t>(page_size, chunk - page));
                ++pages_done;
                const uint64_t paddr = seg.phys_start + pos + page;
                // The first PT_LOAD mapping a frame owns it for the counts.
                const PhysicalRange* range = vmcore.range_of(paddr);
                const bool owned = range && range->file_offset + (paddr - range->phys_start) ==
                                                seg.file_offset + pos + page;
                const bool filtered = options.filter && !frames.is_dumpable(paddr / page_size);
                if (filtered || ((options.dump_level & kDumpLevelZero) && all_zero(bytes))) {
                    outcome.pages.zero += (owned && !filtered) ? 1 : 0;
                    if (auto s = emit(page); !s) {
                        return stop(s.error(), true);
                    }
                    run_start = page + bytes.size();
                } else {
                    outcome.pages.written += owned ? 1 : 0;
                }
            }
            if (auto s = emit(chunk); !s) {
                return stop(s.error(), true);
            }
            if (progress) {
                progress(pages_done, total_pages, sink.bytes_written());
            }
        }
        phdr.p_filesz = kept_end;
    }
    // Rewrite the program headers with the trimmed p_filesz values.
    if (auto s = write_headers(); !s) {
        return stop(s.error(), true);
    }
    if (auto s = sink.finish(); !s) {
        return stop(s.error(), true);
    }
    outcome.bytes_out = sink.bytes_written();
    return outcome;
}

}  // namespace crashcapture
