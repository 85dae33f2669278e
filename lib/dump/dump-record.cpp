#include "dump-record.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>

#include "file-util.hpp"
#include "json-integer.hpp"

namespace crashcapture {

std::string_view to_string(DumpResult result) {
    switch (result) {
        case DumpResult::complete:
            return "complete";
        case DumpResult::incomplete:
            return "incomplete";
        case DumpResult::failed:
            return "failed";
    }
    return "failed";
}

std::optional<DumpResult> parse_dump_result(std::string_view text) {
    for (auto result : {DumpResult::complete, DumpResult::incomplete, DumpResult::failed}) {
        if (to_string(result) == text) {
            return result;
        }
    }
    return std::nullopt;
}

nlohmann::json to_json(const DumpRecord& r) {
    return nlohmann::json{
        {"schema_version", r.schema_version},
        {"result", to_string(r.result)},
        {"error", r.error},
        {"warnings", r.warnings},
        {"tool_version", r.tool_version},
        {"kernel_release", r.kernel_release},
        {"boot_id", r.boot_id},
        {"crash_time", r.crash_time},
        {"panic_line", r.panic_line},
        {"signature", r.signature},
        {"signature_hash", r.signature_hash},
        {"input", r.input},
        {"format", r.format},
        {"compression", r.compression},
        {"compression_level", r.compression_level},
        {"dump_level", r.dump_level},
        {"dump_file", r.dump_file},
        {"dmesg_file", r.dmesg_file},
        {"recovered_from", r.recovered_from},
        {"remote_dump", r.remote_dump},
        {"page_size", r.page_size},
        {"pages",
         {{"total", r.pages.total},
          {"excluded_nodata", r.pages.excluded_nodata},
          {"excluded_cache", r.pages.excluded_cache},
          {"excluded_cache_private", r.pages.excluded_cache_private},
          {"excluded_user", r.pages.excluded_user},
          {"excluded_free", r.pages.excluded_free},
          {"excluded_hwpoison", r.pages.excluded_hwpoison},
          {"excluded_offline", r.pages.excluded_offline},
          {"unreadable_struct_page_batches", r.pages.unreadable_struct_page_batches},
          {"dumpable", r.pages.dumpable},
          {"zero", r.pages.zero},
          {"written", r.pages.written},
          {"compressed", r.pages.compressed}}},
        {"bytes_in", r.bytes_in},
        {"bytes_out", r.bytes_out},
        {"started_at", r.started_at},
        {"duration_sec", r.duration_sec},
    };
}

Result<DumpRecord> dump_record_from_json(const nlohmann::json& json) {
    try {
        DumpRecord r;
        r.schema_version = json_integer<int>(json.at("schema_version"), "schema_version");
        if (r.schema_version > kDumpRecordSchemaVersion) {
            return make_error(0, "record schema version {} is newer than this tool's {}",
                              r.schema_version, kDumpRecordSchemaVersion);
        }
        const auto result = parse_dump_result(json.at("result").get<std::string>());
        if (!result) {
            return make_error(0, "unknown result \"{}\"", json.at("result").get<std::string>());
        }
        r.result = *result;
        r.error = json.value("error", "");
        r.warnings = json.value("warnings", std::vector<std::string>{});
        r.tool_version = json.value("tool_version", "");
        r.kernel_release = json.value("kernel_release", "");
        r.boot_id = json.value("boot_id", "");
        r.crash_time = json_integer(json, "crash_time", int64_t{0});
        r.panic_line = json.value("panic_line", "");
        r.signature = json.value("signature", "");
        r.signature_hash = json.value("signature_hash", "");
        r.input = json.value("input", "");
        r.format = json.value("format", "");
        r.compression = json.value("compression", "");
        r.compression_level = json_integer(json, "compression_level", 0);
        r.dump_level = json_integer(json, "dump_level", 0);
        r.dump_file = json.value("dump_file", "");
        r.dmesg_file = json.value("dmesg_file", "");
        r.recovered_from = json.value("recovered_from", "");
        r.remote_dump = json.value("remote_dump", "");
        r.page_size = json_integer(json, "page_size", uint64_t{0});
        if (json.contains("pages")) {
            const auto& p = json.at("pages");
            r.pages.total = json_integer(p, "total", uint64_t{0});
            r.pages.excluded_nodata = json_integer(p, "excluded_nodata", uint64_t{0});
            r.pages.excluded_cache = json_integer(p, "excluded_cache", uint64_t{0});
            r.pages.excluded_cache_private = json_integer(p, "excluded_cache_private", uint64_t{0});
            r.pages.excluded_user = json_integer(p, "excluded_user", uint64_t{0});
            r.pages.excluded_free = json_integer(p, "excluded_free", uint64_t{0});
            r.pages.excluded_hwpoison = json_integer(p, "excluded_hwpoison", uint64_t{0});
            r.pages.excluded_offline = json_integer(p, "excluded_offline", uint64_t{0});
            r.pages.unreadable_struct_page_batches =
                json_integer(p, "unreadable_struct_page_batches", uint64_t{0});
            r.pages.dumpable = json_integer(p, "dumpable", uint64_t{0});
            r.pages.zero = json_integer(p, "zero", uint64_t{0});
            r.pages.written = json_integer(p, "written", uint64_t{0});
            r.pages.compressed = json_integer(p, "compressed", uint64_t{0});
        }
        r.bytes_in = json_integer(json, "bytes_in", uint64_t{0});
        r.bytes_out = json_integer(json, "bytes_out", uint64_t{0});
        r.started_at = json_integer(json, "started_at", int64_t{0});
        r.duration_sec = json.value("duration_sec", 0.0);
        return r;
    } catch (const std::exception& e) {
        return make_error(0, "malformed dump record: {}", e.what());
    }
}

std::string dump_record_text(const DumpRecord& record) {
    // The record carries the crashed kernel's own strings (OSRELEASE, the
    // panic line, VMCOREINFO warnings): garbage bytes that are not UTF-8 are
    // written as U+FFFD rather than make dump() throw (type_error 316) and
    // lose the record.
    return to_json(record).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

Status write_dump_record(int directory_fd, const DumpRecord& record, const std::string& file_name) {
    // The record holds no memory contents: readable by everyone (issue 8).
    return write_file_atomically(directory_fd, file_name, dump_record_text(record), 0644);
}

Status write_dump_record_reserved(int directory_fd, const DumpRecord& record,
                                  const std::string& file_name) {
    auto text = dump_record_text(record);
    // JSON allows trailing whitespace: the padding keeps blocks allocated.
    if (text.size() < kRecordReserveBytes) {
        text.append(kRecordReserveBytes - text.size() - 1, ' ');
        text += '\n';
    }
    return write_file_atomically(directory_fd, file_name, text, 0644);
}

bool record_overwrites_in_place(int errno_value) {
    return errno_value == ENOSPC || errno_value == EDQUOT || errno_value == EIO;
}

Status finalize_dump_record(int directory_fd, const DumpRecord& record,
                            const std::string& file_name) {
    auto atomic = write_dump_record(directory_fd, record, file_name);
    if (atomic || !record_overwrites_in_place(atomic.error().errno_value)) {
        return atomic;
    }
    // The disk is full or failing: overwrite the reserved record's blocks in place.
    const auto text = dump_record_text(record);
    UniqueFd fd(::openat(directory_fd, file_name.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd) {
        return make_errno_error(errno, "cannot open {} to overwrite it", file_name);
    }
    size_t done = 0;
    while (done < text.size()) {
        const ssize_t n =
            ::pwrite(fd.get(), text.data() + done, text.size() - done, static_cast<off_t>(done));
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return make_errno_error(errno, "cannot overwrite {} in place", file_name);
        }
        done += static_cast<size_t>(n);
    }
    if (::ftruncate(fd.get(), static_cast<off_t>(text.size())) < 0 || ::fsync(fd.get()) < 0) {
        return make_errno_error(errno, "cannot finish {} in place", file_name);
    }
    return {};
}

Result<DumpRecord> read_dump_record(const std::string& path) {
    std::ifstream in(path);
    if (!in) {
        return make_errno_error(errno, "cannot open {}", path);
    }
    try {
        auto json = nlohmann::json::parse(in);
        auto record = dump_record_from_json(json);
        if (!record) {
            return propagate(record.error(), path);
        }
        return record;
    } catch (const std::exception& e) {
        return make_error(0, "{}: not valid JSON: {}", path, e.what());
    }
}

}  // namespace crashcapture
