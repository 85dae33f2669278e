#include "save-dump.hpp"

#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include "file-util.hpp"
#include "kernel-address-space.hpp"
#include "meminfo.hpp"
#include "page-filter.hpp"
#include "panic-signature.hpp"
#include "printk-log.hpp"
#include "vmcore-reader.hpp"
#include "vmcoreinfo.hpp"

namespace crashcapture {

namespace {

// Dumps and kernel logs hold the crashed kernel's memory (keys, passwords):
// root only, or root and one group (SaveOptions::group; issue 8). Files are
// created private and opened to the group only once it owns them, so there
// is no moment when they are readable by a wrong group.
constexpr mode_t kPrivateFileMode = kPrivateDumpFileMode;

// init_uts_ns.name as the kdump header wants it; falls back to what
// VMCOREINFO says when the structure cannot be read.
std::array<char, kdump::kUtsnameSize> read_utsname(const KernelAddressSpace* memory,
                                                   const Vmcoreinfo& info, uint16_t elf_machine,
                                                   std::vector<std::string>& warnings) {
    std::array<char, kdump::kUtsnameSize> uts{};
    if (memory) {
        if (auto symbol = info.symbol("init_uts_ns")) {
            const uint64_t address = *symbol + info.offset("uts_namespace.name").value_or(0);
            if (memory->read(address, std::as_writable_bytes(std::span(uts)))) {
                return uts;
            }
        }
    }
    warnings.emplace_back(
        "cannot read init_uts_ns from the crashed kernel; the dump header names only the "
        "release and machine");
    uts.fill(0);
    auto put_field = [&](int index, std::string_view value) {
        std::memcpy(uts.data() + index * kdump::kUtsFieldLength, value.data(),
                    std::min(value.size(), kdump::kUtsFieldLength - 1));
    };
    put_field(0, "Linux");
    put_field(2, info.osrelease());
    // The machine as uname -m names it, from the vmcore's e_machine.
    put_field(4, elf_machine == EM_AARCH64 ? "aarch64" : "x86_64");
    return uts;
}

class Saver {
  public:
    explicit Saver(const SaveOptions& options)
        : options_(options),
          progress_(options.progress_fd, options.progress, "crashcapture-save"),
          memory_(options.meminfo_path) {
        memory_.sample_now();
    }

    SaveResult run();
    // run(), and if anything throws (std::bad_alloc from a size the crashed
    // kernel's memory made up, a bug), the record still says why.
    SaveResult run_guarded();

  private:
    SaveResult finish(DumpResult result, const std::string& error, int exit_code);
    Status write_kernel_log(const Vmcoreinfo& info, const KernelAddressSpace& memory);
    Result<std::unique_ptr<DumpSink>> open_sink(std::string& file_name);
    Status make_dump_directory();
    // Gives a private file (an fd, or a name in the dump directory) to the
    // group, if there is one; a failure is a warning, the file stays private.
    void share_with_group(int fd, const std::string& name);

    const SaveOptions& options_;
    ProgressReporter progress_;
    MemAvailableWatch memory_;
    DumpRecord record_;
    // The vmcore being read, while run() has it open: finish() reports how
    // it was read.
    const VmcoreFile* vmcore_ = nullptr;
    UniqueFd directory_;
    bool group_usable_ = true;
    std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

Status Saver::make_dump_directory() {
    if (auto s = make_directory(options_.output_dir, kPrivateDumpDirectoryMode); !s) {
        return s;
    }
    if (!options_.group) {
        return {};
    }
    if (::chown(options_.output_dir.c_str(), static_cast<uid_t>(-1), *options_.group) < 0 ||
        ::chmod(options_.output_dir.c_str(), kGroupDumpDirectoryMode) < 0) {
        record_.warnings.push_back(
            make_errno_error(errno,
                             "cannot give group {} the dump directory {}; the dump stays "
                             "readable by root only",
                             *options_.group, options_.output_dir)
                .value()
                .message);
        group_usable_ = false;
    }
    return {};
}

void Saver::share_with_group(int fd, const std::string& name) {
    if (!options_.group || !group_usable_) {
        return;
    }
    const gid_t gid = *options_.group;
    const uid_t unchanged = static_cast<uid_t>(-1);
    const bool shared =
        fd >= 0 ? ::fchown(fd, unchanged, gid) == 0 && ::fchmod(fd, kGroupDumpFileMode) == 0
                : ::fchownat(directory_.get(), name.c_str(), unchanged, gid, AT_SYMLINK_NOFOLLOW) ==
                          0 &&
                      ::fchmodat(directory_.get(), name.c_str(), kGroupDumpFileMode, 0) == 0;
    if (!shared) {
        record_.warnings.push_back(
            make_errno_error(errno, "cannot give group {} {}; it stays readable by root only", gid,
                             name)
                .value()
                .message);
    }
}

SaveResult Saver::finish(DumpResult result, const std::string& error, int exit_code) {
    record_.result = result;
    record_.error = error;
    record_.duration_sec =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    SaveResult out;
    out.exit_code = exit_code;
    memory_.sample_now();
    out.lowest_mem_available_bytes = memory_.lowest_bytes();
    if (vmcore_) {
        out.read = vmcore_->read_stats();
    }
    if (directory_) {
        if (auto s = finalize_dump_record(directory_.get(), record_, std::string(kRecordFileName));
            s) {
            out.record_written = true;
        } else {
            record_.warnings.push_back("cannot write the record: " + s.error().message);
        }
    }
    out.record = record_;
    return out;
}

Status Saver::write_kernel_log(const Vmcoreinfo& info, const KernelAddressSpace& memory) {
    auto log = extract_kernel_log(memory, info);
    if (!log) {
        return tl::unexpected(log.error());
    }
    record_.panic_line = find_panic_line(log->text);
    const auto signature = panic_signature(log->text);
    record_.signature = signature.title;
    record_.signature_hash = signature.hash;
    if (auto s = write_file_atomically(directory_.get(), std::string(kDmesgFileName), log->text,
                                       kPrivateFileMode);
        !s) {
        return s;
    }
    share_with_group(-1, std::string(kDmesgFileName));
    record_.dmesg_file = std::string(kDmesgFileName);
    return {};
}

Result<std::unique_ptr<DumpSink>> Saver::open_sink(std::string& file_name) {
    const bool flattened = options_.format == DumpFormat::flattened;
    if (options_.dump_to == "-") {
        UniqueFd out(::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3));
        if (!out) {
            return make_errno_error(errno, "cannot use standard output");
        }
        file_name.clear();
        return make_flattened_sink(std::move(out), "standard output");
    }
    UniqueFd fd;
    std::string name;
    if (options_.dump_to.empty()) {
        file_name = dump_file_name(options_.format, false);
        name = options_.output_dir + "/" + file_name;
        fd.reset(::openat(directory_.get(), file_name.c_str(),
                          O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, kPrivateFileMode));
    } else {
        // A raw device or a file named by the caller; not renamed afterwards.
        file_name = options_.dump_to;
        name = options_.dump_to;
        fd.reset(::open(name.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, kPrivateFileMode));
    }
    if (!fd) {
        return make_errno_error(errno, "cannot create {}", name);
    }
    // A file of ours is private; a device's node keeps the mode the system
    // gave it (a raw target's, or /dev/null, which must stay 0666).
    struct stat st {};
    if (::fstat(fd.get(), &st) == 0 && S_ISREG(st.st_mode)) {
        (void)::fchmod(fd.get(), kPrivateFileMode);
    }
    if (options_.dump_to.empty()) {
        share_with_group(fd.get(), file_name);
        // The partial dump's name on the disk before its first byte: a
        // capture cut short (power, reset, hang) leaves vmcore.incomplete,
        // which the catalog lists as incomplete, not a directory whose
        // first record says only that the capture began.
        if (auto s = fsync_directory(directory_.get(), options_.output_dir); !s) {
            record_.warnings.push_back(s.error().message);
        }
    }
    if (flattened) {
        return make_flattened_sink(std::move(fd), name);
    }
    return make_file_sink(std::move(fd), name);
}

SaveResult Saver::run_guarded() {
    std::string error;
    try {
        return run();
    } catch (const std::bad_alloc&) {
        error =
            "out of memory while saving the dump (a size in the vmcore is corrupt, or the "
            "capture kernel has too little memory)";
    } catch (const std::exception& e) {
        error = std::string("internal error while saving the dump: ") + e.what();
    }
    try {
        return finish(DumpResult::failed, error, kExitFailed);
    } catch (const std::exception&) {
        // Even the record could not be written; the caller still gets the cause.
        SaveResult out;
        out.exit_code = kExitFailed;
        out.record.result = DumpResult::failed;
        out.record.error = error;
        return out;
    }
}

SaveResult Saver::run() {
    record_.tool_version = options_.tool_version;
    record_.input = options_.input;
    record_.format = std::string(to_string(options_.format));
    record_.compression = options_.format == DumpFormat::elf
                              ? "none"
                              : std::string(to_string(options_.write.compression));
    record_.compression_level =
        options_.format == DumpFormat::elf || options_.write.compression == Compression::none
            ? 0
            : options_.write.compression_level;
    record_.dump_level = options_.write.dump_level;
    record_.boot_id = options_.boot_id;
    record_.remote_dump = options_.remote_dump;
    record_.warnings = options_.warnings;
    record_.started_at = std::chrono::duration_cast<std::chrono::seconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();

    if (auto s = make_dump_directory(); !s) {
        return finish(DumpResult::failed, s.error().message, kExitFailed);
    }
    if (auto dir = open_directory(options_.output_dir); dir) {
        directory_ = std::move(*dir);
    } else {
        return finish(DumpResult::failed, dir.error().message, kExitFailed);
    }
    // A record exists from the start: if the capture kernel dies mid-way, the
    // record says the capture began and did not finish.
    record_.result = DumpResult::failed;
    record_.error = std::string(kCaptureInterruptedError);
    if (auto s =
            write_dump_record_reserved(directory_.get(), record_, std::string(kRecordFileName));
        !s) {
        return finish(DumpResult::failed, s.error().message, kExitFailed);
    }
    if (options_.dump_to == "-" && options_.format != DumpFormat::flattened) {
        return finish(DumpResult::failed,
                      "only the flattened format can be written to standard output", kExitUsage);
    }
    if (auto s = validate_dump_level(options_.write.dump_level); !s) {
        return finish(DumpResult::failed, s.error().message, kExitUsage);
    }

    auto vmcore = VmcoreFile::open(options_.input, options_.read);
    if (!vmcore) {
        return finish(DumpResult::failed, vmcore.error().message, kExitFailed);
    }
    vmcore_ = &*vmcore;
    // Forgotten when run() returns or throws, before the vmcore is closed.
    const std::unique_ptr<const VmcoreFile*, void (*)(const VmcoreFile**)> forget_vmcore(
        &vmcore_, [](const VmcoreFile** reading) { *reading = nullptr; });
    for (const auto& warning : vmcore->warnings()) {
        record_.warnings.push_back(options_.input + ": " + warning);
    }
    if (auto at = vmcore->truncated_at()) {
        record_.warnings.push_back(fmt::format(
            "{} is truncated: its PT_LOADs need data past byte {} of {}; the dump stops there",
            options_.input, *at, vmcore->file_size()));
    }
    if (vmcore->elf_machine() != EM_X86_64 && vmcore->elf_machine() != EM_AARCH64) {
        return finish(DumpResult::failed,
                      fmt::format("{}: ELF machine {} is neither x86_64 nor aarch64, the "
                                  "architectures supported so far",
                                  options_.input, vmcore->elf_machine()),
                      kExitFailed);
    }

    std::optional<Vmcoreinfo> info;
    if (auto text = vmcore->vmcoreinfo_text(); !text.empty()) {
        if (auto parsed = Vmcoreinfo::parse(text)) {
            info = std::move(*parsed);
            for (const auto& warning : info->warnings()) {
                record_.warnings.push_back("VMCOREINFO " + warning);
            }
        }
    }
    if (!info && options_.format != DumpFormat::elf) {
        return finish(DumpResult::failed,
                      fmt::format("{} has no VMCOREINFO note: the crashed kernel cannot be "
                                  "identified (--format elf copies it anyway)",
                                  options_.input),
                      kExitFailed);
    }

    KernelIdentity kernel;
    kernel.nr_cpus = vmcore->prstatus_count();
    std::optional<KernelAddressSpace> memory;
    if (info) {
        record_.kernel_release = info->osrelease();
        record_.crash_time = info->crash_time().value_or(0);
        kernel.crash_time = record_.crash_time;
        const uint64_t page_size = info->page_size().value_or(4096);
        // 64 KiB is the largest page any Linux architecture has (arm64 and
        // powerpc CONFIG_PAGE_SIZE_64KB); page buffers are sized by it.
        if (page_size < 4096 || page_size > 65536 || (page_size & (page_size - 1)) != 0) {
            return finish(DumpResult::failed,
                          fmt::format("VMCOREINFO PAGESIZE={} is not a power of two from 4096 "
                                      "to 65536",
                                      page_size),
                          kExitFailed);
        }
        kernel.page_size = page_size;
        if (auto space = KernelAddressSpace::create(*vmcore, *info, vmcore->segments(),
                                                    vmcore->elf_machine())) {
            memory.emplace(std::move(*space));
            kernel.phys_base = memory->phys_base();
        } else {
            record_.warnings.push_back(space.error().message);
            kernel.phys_base = info->phys_base().value_or(0);
        }
        kernel.utsname = read_utsname(memory ? &*memory : nullptr, *info, vmcore->elf_machine(),
                                      record_.warnings);
        // The panic log first: small, and the most valuable thing we save.
        if (!memory) {
            record_.warnings.push_back("kernel log not saved: no address translation");
        } else if (auto s = write_kernel_log(*info, *memory); !s) {
            record_.warnings.push_back("kernel log not saved: " + s.error().message);
        }
    }
    record_.page_size = kernel.page_size;

    // The page filter: dump level bits 2-16, and hwpoison/offline pages at
    // every level (makedumpfile create_2nd_bitmap() runs it whenever
    // PG_hwpoison is known). A kernel it cannot read falls back to the
    // levels that need no struct pages, with a warning: never a wrong dump.
    WriteOptions write = options_.write;
    std::optional<PageFilter> filter;
    {
        const uint64_t max_mapnr =
            (vmcore->max_physical_address() + kernel.page_size - 1) / kernel.page_size;
        auto created = memory ? PageFilter::create(*memory, *info, max_mapnr, write.dump_level)
                              : Result<PageFilter>(tl::unexpected(
                                    Error{0, "no address translation for the crashed kernel"}));
        if (created) {
            filter.emplace(std::move(*created));
            for (const auto& warning : filter->warnings()) {
                record_.warnings.push_back(warning);
            }
            write.dump_level = filter->effective_dump_level();
            write.filter = &*filter;
        } else if (write.dump_level & ~kDumpLevelZero) {
            record_.warnings.push_back(fmt::format(
                "page filter unavailable ({}): dump level {} falls back to {}",
                created.error().message, write.dump_level, write.dump_level & kDumpLevelZero));
            write.dump_level &= kDumpLevelZero;
        } else {
            record_.warnings.push_back("page filter unavailable (" + created.error().message +
                                       "): hwpoisoned and offline pages are not excluded");
        }
    }
    record_.dump_level = write.dump_level;

    std::string file_name;
    auto sink = open_sink(file_name);
    if (!sink) {
        return finish(DumpResult::failed, sink.error().message, kExitFailed);
    }
    const uint64_t page_size = kernel.page_size;
    write.page_size = page_size;
    auto on_progress = [&](uint64_t done, uint64_t total, uint64_t) {
        progress_.update(done * page_size, total * page_size);
        memory_.sample();
    };
    const WriteOutcome outcome = options_.format == DumpFormat::elf
                                     ? write_elf(*vmcore, write, **sink, on_progress)
                                     : write_kdump(*vmcore, kernel, write, **sink, on_progress);
    const uint64_t pages_read = outcome.pages.written + outcome.pages.zero;
    progress_.finish(pages_read * page_size, outcome.pages.dumpable * page_size);
    record_.pages = outcome.pages;
    if (outcome.pages.unreadable_struct_page_batches > 0) {
        record_.warnings.push_back(fmt::format(
            "{} batches of struct pages could not be read (a corrupt mem_map or page table); "
            "their frames were kept, not excluded",
            outcome.pages.unreadable_struct_page_batches));
    }
    record_.bytes_in = pages_read * page_size;
    record_.bytes_out = outcome.bytes_out;
    record_.dump_file = file_name;
    sink->reset();

    if (outcome.error) {
        if (!outcome.incomplete && options_.dump_to.empty()) {
            ::unlinkat(directory_.get(), file_name.c_str(), 0);
            record_.dump_file.clear();
        }
        return finish(outcome.incomplete ? DumpResult::incomplete : DumpResult::failed,
                      outcome.error->message, outcome.incomplete ? kExitIncomplete : kExitFailed);
    }
    if (options_.dump_to.empty()) {
        const auto final_name = dump_file_name(options_.format, true);
        if (::renameat(directory_.get(), file_name.c_str(), directory_.get(), final_name.c_str()) <
            0) {
            return finish(DumpResult::incomplete,
                          fmt::format("cannot rename {} to {}: {}", file_name, final_name,
                                      std::strerror(errno)),
                          kExitIncomplete);
        }
        record_.dump_file = final_name;
        if (auto s = fsync_directory(directory_.get(), options_.output_dir); !s) {
            record_.warnings.push_back(s.error().message);
        }
    }
    return finish(DumpResult::complete, "", kExitComplete);
}

}  // namespace

SaveResult save_dump(const SaveOptions& options) {
    Saver saver(options);
    return saver.run_guarded();
}

}  // namespace crashcapture
