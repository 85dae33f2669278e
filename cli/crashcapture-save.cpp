// crashcapture-save: writes a crashed kernel's memory (/proc/vmcore in the
// capture kernel, or any ELF vmcore file) as a dump directory. All logic is
// in libcrashcapture (save-dump.hpp); this is argument parsing and output.
#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <optional>
#include <string_view>
#include <vector>

#include "group.hpp"
#include "save-dump.hpp"

using namespace crashcapture;

namespace {

int run(int argc, char** argv) {
    SaveOptions options;
    options.tool_version = CRASHCAPTURE_VERSION;
    std::string format = "kdump";
    std::string compression = "zstd";
    std::optional<int> level;
    std::string progress = "auto";
    bool json = false;
    std::string group;
    // CRASHCAPTURE_VMCORE_MMAP=0 is --read pread and =1 --read mmap: for a
    // kernel whose mmap() of /proc/vmcore misbehaves, and for A/B timings,
    // without editing the command line of an initrd.
    std::string read_method = "auto";
    if (const char* mmap_env = std::getenv("CRASHCAPTURE_VMCORE_MMAP")) {
        if (std::string_view(mmap_env) == "0") {
            read_method = "pread";
        } else if (std::string_view(mmap_env) == "1") {
            read_method = "mmap";
        }
    }

    CLI::App app{
        "Save a crashed kernel's memory as a dump directory: vmcore-dmesg.txt (the kernel log, "
        "written first), the dump (vmcore) and status.json (what happened).\n"
        "Run by the capture initrd on /proc/vmcore; works on any ELF vmcore file.",
        "crashcapture-save"};
    app.set_version_flag("--version", CRASHCAPTURE_VERSION);
    app.add_option("-i,--input", options.input, "ELF vmcore to read")->default_val("/proc/vmcore");
    app.add_option("-o,--output", options.output_dir,
                   "Dump directory; created (mode 0700) if its parent exists")
        ->required();
    app.add_option("-f,--format", format,
                   "kdump (compressed, for crash/drgn/libkdumpfile), elf (for gdb), or "
                   "flattened (the kdump file as a stream, for ssh and raw devices)")
        ->check(CLI::IsMember({"kdump", "elf", "flattened", "flat"}))
        ->default_val("kdump");
    app.add_option("-c,--compress", compression,
                   "Per-page compression: zstd (smallest), lzo (fastest, as makedumpfile -l), "
                   "zlib (as makedumpfile -c) or none")
        ->check(CLI::IsMember({"zstd", "lzo", "zlib", "none"}))
        ->default_val("zstd");
    app.add_option("--compress-level", level,
                   "Compression level (default: zstd 1, zlib 1; lzo has only 1)");
    app.add_option("-d,--dump-level", options.write.dump_level,
                   "makedumpfile dump level, a sum of: 1 zero pages, 2 page cache, 4 page cache "
                   "with private data, 8 user data, 16 free pages (hwpoisoned and offline pages "
                   "are always left out)")
        ->default_val(31)
        ->check(CLI::Range(0, 31));
    app.add_option("--threads", options.write.threads,
                   "Compressing threads; 0 = every CPU available (a capture kernel with "
                   "nr_cpus=1 has one)")
        ->default_val(0)
        ->check(CLI::Range(0, 1024));
    app.add_option("--read", read_method,
                   "How the vmcore is read: mmap (4 MiB windows, pread where mmap is refused), "
                   "pread, or auto: mmap for /proc/vmcore, pread for a file "
                   "(CRASHCAPTURE_VMCORE_MMAP=0 or 1 makes the default pread or mmap)")
        ->check(CLI::IsMember({"auto", "mmap", "pread"}))
        ->capture_default_str();
    app.add_option("--dump-to", options.dump_to,
                   "Write the dump to this file or block device instead of the directory "
                   "('-' = the flattened stream on standard output)");
    app.add_option("--remote-dump", options.remote_dump,
                   "Where the stream on standard output is stored (ssh://HOST/DIR/ID/"
                   "vmcore.flat), recorded in status.json");
    app.add_option("--boot-id", options.boot_id,
                   "Boot id of the crashed boot, recorded in status.json");
    app.add_option("--group", group,
                   "Group (name or id) that may read the dump: directory 0750, dump and kernel "
                   "log 0640; without it root only (0700, 0600). status.json is 0644");
    app.add_option("--progress", progress,
                   "Progress on stderr: auto (on a terminal), always, never")
        ->check(CLI::IsMember({"auto", "always", "never"}))
        ->default_val("auto");
    app.add_flag("--json", json, "Print the record (status.json) on standard output at the end");
    app.footer(
        "Exit status: 0 complete, 1 failed, 2 usage error, 3 incomplete (a partial dump was "
        "kept and flagged).\nSee crashcapture-save(8).");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int code = app.exit(e);
        return code == 0 ? 0 : kExitUsage;
    }

    options.format = *parse_dump_format(format);
    options.write.compression = *parse_compression(compression);
    options.write.compression_level =
        level.value_or(default_compression_level(options.write.compression));
    options.progress = *parse_progress_mode(progress);
    options.read.method = *parse_vmcore_read_method(read_method);
    if (json && options.dump_to == "-") {
        std::cerr << "crashcapture-save: --json and --dump-to - both want standard output\n";
        return kExitUsage;
    }

    if (!group.empty()) {
        // An unknown group must not cost the capture: the dump is written
        // private, and the record says why.
        if (const auto gid = resolve_group(group)) {
            options.group = *gid;
        } else {
            options.warnings.push_back("--group " + gid.error().message +
                                       "; the dump is readable by root only");
        }
    }

    // A reader that goes away (ssh cut off mid-stream) must end the capture
    // with EPIPE and a record that says so, not kill it before status.json is
    // completed.
    ::signal(SIGPIPE, SIG_IGN);
    // A file size limit (RLIMIT_FSIZE) reached must fail the write with
    // EFBIG and a record that says so, not kill the process with SIGXFSZ.
    ::signal(SIGXFSZ, SIG_IGN);
    const SaveResult result = save_dump(options);
    const auto& record = result.record;
    for (const auto& warning : record.warnings) {
        std::cerr << "crashcapture-save: warning: " << warning << '\n';
    }
    if (const auto& read = result.read) {
        constexpr double kMiB = 1024.0 * 1024.0;
        if (read->method == VmcoreReadMethod::mmap) {
            std::cerr << fmt::format(
                "crashcapture-save: read {} by mmap in {} KiB windows: {:.1f} MiB mapped, "
                "{:.1f} MiB by pread{}\n",
                options.input, read->window_bytes / 1024,
                static_cast<double>(read->bytes_mapped) / kMiB,
                static_cast<double>(read->bytes_pread) / kMiB,
                read->fallback_reason ? " (" + *read->fallback_reason + ")" : "");
        } else {
            std::cerr << fmt::format("crashcapture-save: read {} by pread: {:.1f} MiB\n",
                                     options.input, static_cast<double>(read->bytes_pread) / kMiB);
        }
    }
    // Where the capture kernel's memory stood (issue 17's map): this
    // process's peak resident set (ru_maxrss, KiB on Linux: getrusage(2))
    // and how close the whole system came to running out.
    struct rusage usage {};
    if (::getrusage(RUSAGE_SELF, &usage) == 0) {
        std::cerr << fmt::format("crashcapture-save: memory: peak resident set {} KiB",
                                 usage.ru_maxrss);
        if (const auto lowest = result.lowest_mem_available_bytes) {
            std::cerr << fmt::format(", lowest MemAvailable during the save {} KiB",
                                     *lowest / 1024);
        }
        std::cerr << '\n';
    }
    if (record.result != DumpResult::complete) {
        std::cerr << "crashcapture-save: " << to_string(record.result) << ": " << record.error
                  << '\n';
    } else if (!json) {
        std::cerr << fmt::format(
            "crashcapture-save: complete: {}/{} ({} pages, {} zero, {:.1f} MiB in {:.1f} s)\n",
            options.output_dir, record.dump_file.empty() ? "-" : record.dump_file,
            record.pages.dumpable, record.pages.zero,
            static_cast<double>(record.bytes_out) / (1024.0 * 1024.0), record.duration_sec);
    }
    if (json) {
        std::cout << dump_record_text(record);
    }
    return result.exit_code;
}

}  // namespace

int main(int argc, char** argv) {
    // save_dump() completes the record whatever happens; this is the last
    // resort for what is left (the options, printing the result).
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        std::cerr << "crashcapture-save: failed: " << e.what() << '\n';
    } catch (...) {
        std::cerr << "crashcapture-save: failed: unknown exception\n";
    }
    return kExitFailed;
}
