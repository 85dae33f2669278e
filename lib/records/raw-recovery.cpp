#include "raw-recovery.hpp"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <algorithm>
#include <array>
#include <cerrno>
#include <ctime>
#include <filesystem>

#include "dump-catalog.hpp"
#include "dump-sink.hpp"
#include "file-util.hpp"
#include "save-dump.hpp"

namespace crashcapture {

namespace {

// What a dump directory keeps besides status.json and the dump itself.
constexpr std::array<std::string_view, 3> kLogFileNames = {
    kDmesgFileName, kCaptureKernelLogFileName, kTransferErrorFileName};

// A staging directory's prefix: a leading '.' is never a dump id
// (check_dump_id()), so listings skip a recovery cut short.
constexpr std::string_view kStagingPrefix = ".recovering-";

Result<uint64_t> size_of(int fd, const std::string& path) {
    struct stat st {};
    if (::fstat(fd, &st) < 0) {
        return make_errno_error(errno, "cannot stat {}", path);
    }
    if (S_ISBLK(st.st_mode)) {
        uint64_t bytes = 0;
        // BLKGETSIZE64 (linux/fs.h): a block device's size in bytes.
        if (::ioctl(fd, BLKGETSIZE64, &bytes) < 0) {
            return make_errno_error(errno, "cannot read the size of {}", path);
        }
        return bytes;
    }
    return static_cast<uint64_t>(st.st_size);
}

// Copies a small file (a kernel log) between directories, keeping its mode.
// A missing source is not an error; *output_failed tells a failure to
// write the copy (a full disk: worth another try) from one to read it.
Status copy_file(int from_directory, int to_directory, std::string_view name,
                 const std::string& from_path, bool* output_failed) {
    const std::string file(name);
    UniqueFd in(::openat(from_directory, file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!in) {
        return errno == ENOENT ? Status{} : make_errno_error(errno, "cannot open {}", from_path);
    }
    struct stat st {};
    if (::fstat(in.get(), &st) < 0) {
        return make_errno_error(errno, "cannot stat {}", from_path);
    }
    auto contents = read_to_end(in.get(), from_path);
    if (!contents) {
        return tl::unexpected(contents.error());
    }
    if (auto s = write_file_atomically(to_directory, file, *contents, st.st_mode & 0777); !s) {
        *output_failed = true;
        return propagate(s.error(), "cannot copy " + from_path);
    }
    return {};
}

// The record directories the capture left, oldest first (their names are
// the capture time, YYYY-MM-DD-HHMMSS, so the order of names is the order of
// captures).
std::vector<std::string> record_names(const std::string& records_directory,
                                      std::vector<std::string>& problems) {
    auto directory = open_directory(records_directory);
    if (!directory) {
        if (directory.error().errno_value != ENOENT) {
            problems.push_back(directory.error().message);
        }
        return {};
    }
    auto names = list_directory(directory->get(), records_directory);
    if (!names) {
        problems.push_back(names.error().message);
        return {};
    }
    std::vector<std::string> records;
    for (auto& name : *names) {
        struct stat st {};
        if (is_valid_dump_id(name) &&
            ::fstatat(directory->get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISDIR(st.st_mode)) {
            records.push_back(std::move(name));
        }
    }
    std::sort(records.begin(), records.end());
    return records;
}

// A dump id not taken yet under crash_directory: name, name-2, name-3, ...
std::string free_dump_id(int crash_fd, const std::string& name) {
    std::string id = name;
    struct stat st {};
    for (int serial = 2; ::fstatat(crash_fd, id.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0; ++serial) {
        id = fmt::format("{}-{}", name, serial);
    }
    return id;
}

class Recovery {
  public:
    Recovery(std::string device, std::string records_directory, std::string crash_directory)
        : device_(std::move(device)),
          records_directory_(std::move(records_directory)),
          crash_directory_(std::move(crash_directory)) {}

    Result<RawRecoveryReport> run(int64_t now);

  private:
    // Builds crash_directory/.recovering-ID and renames it to ID; with
    // device_fd >= 0 the stream is reassembled into it.
    Result<RawRecovery> bring_back(const std::string& record_name, int device_fd,
                                   uint64_t device_bytes, int64_t now);
    void clear_stream_header(RawRecoveryReport& report);
    // Each record as a dump directory without a dump of its own.
    void bring_back_records(const std::vector<std::string>& records, RawRecoveryReport& report,
                            int64_t now);

    std::string device_;
    std::string records_directory_;
    std::string crash_directory_;
    UniqueFd crash_fd_;
};

Result<RawRecoveryReport> Recovery::run(int64_t now) {
    RawRecoveryReport report;
    auto crash_fd = open_directory(crash_directory_);
    if (!crash_fd) {
        return propagate(crash_fd.error(), "recovering raw captures");
    }
    crash_fd_ = std::move(*crash_fd);

    auto records = record_names(records_directory_, report.problems);
    if (device_.empty()) {  // an ssh target: the records are all there is here
        bring_back_records(records, report, now);
        return report;
    }
    UniqueFd device_fd(::open(device_.c_str(), O_RDONLY | O_CLOEXEC));
    if (!device_fd) {
        return make_errno_error(errno, "cannot open the raw target {}", device_);
    }
    std::array<std::byte, kFlatHeaderSize> head{};
    const ssize_t head_bytes = ::pread(device_fd.get(), head.data(), head.size(), 0);
    if (head_bytes < 0) {
        return make_errno_error(errno, "cannot read the raw target {}", device_);
    }
    const bool has_stream = is_flattened_header(
        std::span<const std::byte>(head.data(), static_cast<size_t>(head_bytes)));
    auto device_bytes = size_of(device_fd.get(), device_);
    if (!device_bytes) {
        return tl::unexpected(device_bytes.error());
    }

    // The stream belongs to the newest capture: each capture overwrites the
    // device from its first byte, and every recovery clears the header.
    if (has_stream) {
        const std::string record = records.empty() ? std::string() : records.back();
        auto recovered = bring_back(record, device_fd.get(), *device_bytes, now);
        if (!recovered) {
            return tl::unexpected(recovered.error());
        }
        report.recovered.push_back(std::move(*recovered));
        if (!records.empty()) {
            records.pop_back();
        }
        clear_stream_header(report);
    }
    bring_back_records(records, report, now);
    return report;
}

void Recovery::bring_back_records(const std::vector<std::string>& records,
                                  RawRecoveryReport& report, int64_t now) {
    for (const auto& record : records) {
        auto recovered = bring_back(record, -1, 0, now);
        if (!recovered) {
            report.problems.push_back(recovered.error().message);
            continue;
        }
        report.recovered.push_back(std::move(*recovered));
    }
}

Result<RawRecovery> Recovery::bring_back(const std::string& record_name, int device_fd,
                                         uint64_t device_bytes, int64_t now) {
    const std::string record_path = records_directory_ + "/" + record_name;
    DumpRecord record;
    bool have_record = false;
    std::string record_problem;  // why the capture's record could not be read
    UniqueFd record_fd;
    if (!record_name.empty()) {
        if (auto opened = open_directory(record_path)) {
            record_fd = std::move(*opened);
        } else {
            return tl::unexpected(opened.error());
        }
        if (auto read = read_dump_record(record_path + "/" + std::string(kRecordFileName))) {
            record = std::move(*read);
            have_record = true;
        } else {
            record_problem = read.error().message;
        }
    }

    const std::string name =
        !record_name.empty()
            ? record_name
            : fmt::format("raw-{:%Y-%m-%d-%H%M%S}", fmt::gmtime(static_cast<std::time_t>(now)));
    RawRecovery recovery;
    recovery.dump_id = free_dump_id(crash_fd_.get(), name);
    recovery.path = crash_directory_ + "/" + recovery.dump_id;
    recovery.from_device = device_fd >= 0;
    const std::string staging_name = std::string(kStagingPrefix) + recovery.dump_id;
    const std::string staging_path = crash_directory_ + "/" + staging_name;
    std::error_code ignored;
    std::filesystem::remove_all(staging_path, ignored);  // a recovery cut short
    if (::mkdirat(crash_fd_.get(), staging_name.c_str(), 0700) < 0) {
        return make_errno_error(errno, "cannot create {}", staging_path);
    }
    const auto fail = [&](const Error& error) -> Result<RawRecovery> {
        std::filesystem::remove_all(staging_path, ignored);
        return tl::unexpected(error);
    };
    auto staging = open_directory(staging_path);
    if (!staging) {
        return fail(staging.error());
    }

    bool output_failed = false;
    if (record_fd) {
        for (const auto file : kLogFileNames) {
            if (auto s = copy_file(record_fd.get(), staging->get(), file,
                                   record_path + "/" + std::string(file), &output_failed);
                !s) {
                if (output_failed) {
                    return fail(s.error());
                }
                record.warnings.push_back(s.error().message);
            }
        }
    }
    struct stat st {};
    const bool have_dmesg =
        ::fstatat(staging->get(), std::string(kDmesgFileName).c_str(), &st, 0) == 0;
    record.dmesg_file = have_dmesg ? std::string(kDmesgFileName) : std::string();

    if (!have_record) {
        record.result = DumpResult::failed;
        const std::string missing =
            record_name.empty()
                ? fmt::format(
                      "no record of this capture came back to {} (the capture could not "
                      "reach the root filesystem)",
                      records_directory_)
                : fmt::format("the capture's record in {} cannot be read ({})", record_path,
                              record_problem);
        record.warnings.push_back(missing);
        record.started_at = now;
    }

    if (device_fd >= 0) {
        const std::string incomplete_name = dump_file_name(DumpFormat::kdump, /*complete=*/false);
        UniqueFd out(::openat(staging->get(), incomplete_name.c_str(),
                              O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
        if (!out) {
            return fail(
                make_errno_error(errno, "cannot create {}/{}", staging_path, incomplete_name)
                    .value());
        }
        if (::lseek(device_fd, 0, SEEK_SET) < 0) {
            return fail(make_errno_error(errno, "cannot read {}", device_).value());
        }
        const auto reassembled =
            reassemble_flattened(device_fd, out.get(), device_bytes, &output_failed);
        if (!reassembled && output_failed) {
            return fail(make_error(reassembled.error().errno_value,
                                   "cannot copy the dump off {} into {}: {}; it stays on the "
                                   "device until there is room",
                                   device_, crash_directory_, reassembled.error().message)
                            .value());
        }
        if (::fsync(out.get()) < 0) {
            return fail(make_errno_error(errno, "cannot write {}/{}", staging_path, incomplete_name)
                            .value());
        }
        record.format = std::string(to_string(DumpFormat::kdump));
        record.recovered_from = device_;
        if (::fstat(out.get(), &st) == 0) {
            record.bytes_out = static_cast<uint64_t>(st.st_size);
        }
        if (reassembled) {
            const std::string complete_name = dump_file_name(DumpFormat::kdump, /*complete=*/true);
            if (::renameat(staging->get(), incomplete_name.c_str(), staging->get(),
                           complete_name.c_str()) < 0) {
                return fail(
                    make_errno_error(errno, "cannot rename {}/{}", staging_path, incomplete_name)
                        .value());
            }
            record.dump_file = complete_name;
            if (!have_record) {
                record.result = DumpResult::complete;
            }
        } else {
            // The stream was cut short (the device too small, the capture
            // kernel stopped): what came before the cut is kept, flagged.
            record.dump_file = incomplete_name;
            const std::string why = fmt::format("the dump on {} is cut short: {}", device_,
                                                reassembled.error().message);
            record.result = DumpResult::incomplete;
            record.error = record.error.empty() ? why : record.error + "; " + why;
        }
    } else if (device_.empty()) {
        // An ssh capture: the dump is on the server (record.remote_dump).
        // When ssh failed, the capture said why in a file of its own:
        // crashcapture-save may have finished writing into a pipe whose
        // other end then failed.
        record.dump_file.clear();
        const auto transfer_error =
            read_kernel_file(staging_path + "/" + std::string(kTransferErrorFileName));
        if (transfer_error && !transfer_error->empty()) {
            std::string why = *transfer_error;
            while (!why.empty() && why.back() == '\n') {
                why.pop_back();
            }
            if (record.result == DumpResult::complete) {
                record.result = DumpResult::failed;
            }
            record.error = record.error.empty() ? why : record.error + "; " + why;
        }
    } else {
        record.dump_file.clear();
        if (have_record && record.result == DumpResult::complete) {
            // Its stream was overwritten by a later capture before crashcaptured
            // could copy it.
            record.result = DumpResult::failed;
            record.error = fmt::format(
                "the dump this capture wrote to {} was overwritten by a later capture", device_);
        } else if (record.error.empty()) {
            record.error = fmt::format("no dump on {}", device_);
        }
    }
    recovery.result = record.result;
    if (auto s = write_dump_record(staging->get(), record); !s) {
        return fail(s.error());
    }
    if (auto s = fsync_directory(staging->get(), staging_path); !s) {
        return fail(s.error());
    }
    if (::renameat(crash_fd_.get(), staging_name.c_str(), crash_fd_.get(),
                   recovery.dump_id.c_str()) < 0) {
        return fail(
            make_errno_error(errno, "cannot rename {} to {}", staging_path, recovery.path).value());
    }
    if (auto s = fsync_directory(crash_fd_.get(), crash_directory_); !s) {
        return tl::unexpected(s.error());
    }
    if (!record_name.empty()) {
        std::filesystem::remove_all(record_path, ignored);
    }
    return recovery;
}

void Recovery::clear_stream_header(RawRecoveryReport& report) {
    UniqueFd device(::open(device_.c_str(), O_WRONLY | O_CLOEXEC));
    const std::array<std::byte, kFlatHeaderSize> zeros{};
    if (!device ||
        ::pwrite(device.get(), zeros.data(), zeros.size(), 0) !=
            static_cast<ssize_t>(zeros.size()) ||
        ::fsync(device.get()) < 0) {
        report.problems.push_back(fmt::format(
            "cannot clear the dump's header on {} ({}): it will be copied again at the next "
            "start",
            device_, std::strerror(errno)));
    }
}

}  // namespace

std::string raw_capture_records_directory(const SystemPaths& paths) {
    return paths.state + std::string(kRawCapturesSubdirectory);
}

Result<RawRecoveryReport> recover_raw_captures(const std::string& device,
                                               const std::string& records_directory,
                                               const std::string& crash_directory, int64_t now) {
    return Recovery(device, records_directory, crash_directory).run(now);
}

Result<RawRecoveryReport> recover_kept_records(const std::string& records_directory,
                                               const std::string& crash_directory, int64_t now) {
    return Recovery(std::string(), records_directory, crash_directory).run(now);
}

}  // namespace crashcapture
