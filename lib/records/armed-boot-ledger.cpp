#include "armed-boot-ledger.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <set>
#include <tuple>

#include "file-util.hpp"
#include "json-integer.hpp"
#include "printk-log.hpp"
#include "unique-fd.hpp"

namespace crashcapture {
namespace {

constexpr std::string_view kRecordSuffix = ".json";
// A boot record is a few hundred bytes; a pstore record a few KiB (ramoops
// record_size, EFI variables of 1 KiB), an archived dmesg.txt at most the
// whole log buffer. Anything larger is not one of ours.
constexpr size_t kMaxRecordBytes = 1 << 20;
constexpr size_t kMaxPstoreBytes = 4 << 20;
// systemd-pstore archives into /var/lib/systemd/pstore/<id>/…; one level
// of subdirectories, two to be lenient.
constexpr int kPstoreArchiveDepth = 2;
// A capture failure note: "reason: ...", then the capture kernel's journal
// (a few hundred KiB at most in a 30-second capture kernel boot).
constexpr std::string_view kNoteSuffix = ".log";
constexpr std::string_view kNoteReasonPrefix = "reason: ";
constexpr size_t kNoteHeadBytes = 4096;
// A note's whole size when it is copied from a spare filesystem: ten times
// the largest seen, and still small next to any /boot.
constexpr size_t kMaxNoteBytes = 8 << 20;
constexpr size_t kMaxReasonChars = 500;

Result<std::string> read_bounded(const std::string& path, size_t limit) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW));
    if (!fd) {
        return make_errno_error(errno, "cannot open {}", path);
    }
    return read_to_end(fd.get(), path, limit);
}

// The start of a file that may be long (a note's reason line).
Result<std::string> read_first_bytes(const std::string& path, size_t count) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW));
    if (!fd) {
        return make_errno_error(errno, "cannot open {}", path);
    }
    std::string text(count, '\0');
    ssize_t got = 0;
    do {
        got = ::read(fd.get(), text.data(), count);
    } while (got < 0 && errno == EINTR);
    if (got < 0) {
        return make_errno_error(errno, "cannot read {}", path);
    }
    text.resize(static_cast<size_t>(got));
    return text;
}

std::string record_name(std::string_view boot_id) {
    return std::string(boot_id) + std::string(kRecordSuffix);
}

// pstore and printk prefix lines with "<level>" (fs/pstore/platform.c writes
// kmsg_dump_get_buffer() output with syslog levels); find_panic_line() wants
// "[time] text".
std::string without_levels(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    size_t pos = 0;
    while (pos < text.size()) {
        size_t end = text.find('\n', pos);
        if (end == std::string_view::npos) {
            end = text.size();
        }
        std::string_view line = text.substr(pos, end - pos);
        if (line.starts_with('<')) {
            const size_t close = line.find('>');
            if (close != std::string_view::npos && close <= 4) {
                line.remove_prefix(close + 1);
            }
        }
        out.append(line);
        out.push_back('\n');
        pos = end + 1;
    }
    return out;
}

std::optional<PstoreRecord> read_pstore_record(const std::string& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) < 0 || !S_ISREG(st.st_mode)) {
        return std::nullopt;
    }
    PstoreRecord record;
    record.path = path;
    record.time = static_cast<int64_t>(st.st_mtim.tv_sec);
    record.bytes = static_cast<uint64_t>(st.st_size);
    if (auto text = read_bounded(path, kMaxPstoreBytes)) {
        record.bytes = text->size();
        record.panic_line = find_panic_line(without_levels(*text));
        record.signature = panic_signature(*text);
    }
    return record;
}

bool is_pstore_dmesg_name(std::string_view name) {
    // Compressed records (dmesg-…enc.z, from kernels before 6.x that
    // compressed with a backend we do not decompress) are listed too: their
    // existence is news; their text is not readable here.
    return name.starts_with("dmesg-") || name == "dmesg.txt";
}

void scan_pstore_directory(const std::string& path, int depth, std::vector<PstoreRecord>& out) {
    auto directory = open_directory(path);
    if (!directory) {
        return;  // no pstore, or no archive: nothing kept
    }
    auto names = list_directory(directory->get(), path);
    if (!names) {
        return;
    }
    for (const auto& name : *names) {
        const std::string child = path + "/" + name;
        struct stat st {};
        if (::lstat(child.c_str(), &st) < 0) {
            continue;
        }
        if (S_ISDIR(st.st_mode) && depth > 0) {
            scan_pstore_directory(child, depth - 1, out);
        } else if (S_ISREG(st.st_mode) && is_pstore_dmesg_name(name)) {
            if (auto record = read_pstore_record(child)) {
                out.push_back(std::move(*record));
            }
        }
    }
}

std::string format_utc(int64_t seconds) {
    if (seconds <= 0) {
        return "an unknown time";
    }
    const time_t t = static_cast<time_t>(seconds);
    struct tm tm {};
    gmtime_r(&t, &tm);
    char buffer[64];
    strftime(buffer, sizeof(buffer), "%Y-%m-%d %H:%M:%S UTC", &tm);
    return buffer;
}

}  // namespace

std::string_view to_string(BootOutcome outcome) {
    switch (outcome) {
        case BootOutcome::pending:
            return "pending";
        case BootOutcome::orderly:
            return "orderly";
        case BootOutcome::disarmed:
            return "disarmed";
        case BootOutcome::captured:
            return "captured";
        case BootOutcome::lost:
            return "lost";
    }
    return "pending";
}

std::optional<BootOutcome> parse_boot_outcome(std::string_view text) {
    for (const auto outcome : {BootOutcome::pending, BootOutcome::orderly, BootOutcome::disarmed,
                               BootOutcome::captured, BootOutcome::lost}) {
        if (text == to_string(outcome)) {
            return outcome;
        }
    }
    return std::nullopt;
}

nlohmann::json to_json(const ArmedBoot& boot) {
    nlohmann::json pstore = nlohmann::json::array();
    for (const auto& record : boot.pstore) {
        pstore.push_back({{"path", record.path},
                          {"panic_line", record.panic_line},
                          {"signature", record.signature.title},
                          {"signature_hash", record.signature.hash},
                          {"time", record.time},
                          {"bytes", record.bytes}});
    }
    return nlohmann::json{
        {"schema_version", kArmedBootSchemaVersion},
        {"boot_id", boot.boot_id},
        {"kernel_release", boot.kernel_release},
        {"armed_at", boot.armed_at},
        {"last_seen", boot.last_seen},
        {"armed", boot.armed},
        {"orderly_shutdown", boot.orderly_shutdown},
        {"shutdown_at", boot.shutdown_at},
        {"outcome", std::string(to_string(boot.outcome))},
        {"resolved_at", boot.resolved_at},
        {"dump_id", boot.dump_id},
        {"pstore", pstore},
        {"capture_failure", boot.capture_failure},
        {"capture_log", boot.capture_log},
    };
}

Result<ArmedBoot> armed_boot_from_json(const nlohmann::json& json) {
    try {
        const int version = json_integer<int>(json.at("schema_version"), "schema_version");
        if (version > kArmedBootSchemaVersion) {
            return make_error(0, "schema version {} is newer than this tool's {}", version,
                              kArmedBootSchemaVersion);
        }
        ArmedBoot boot;
        boot.boot_id = json.at("boot_id").get<std::string>();
        if (normalize_boot_id(boot.boot_id).empty()) {
            return make_error(0, "\"{}\" is not a boot id", boot.boot_id);
        }
        boot.kernel_release = json.value("kernel_release", "");
        boot.armed_at = json_integer(json, "armed_at", int64_t{0});
        boot.last_seen = json_integer(json, "last_seen", int64_t{0});
        boot.armed = json.value("armed", false);
        boot.orderly_shutdown = json.value("orderly_shutdown", false);
        boot.shutdown_at = json_integer(json, "shutdown_at", int64_t{0});
        const auto outcome = parse_boot_outcome(json.value("outcome", "pending"));
        if (!outcome) {
            return make_error(0, "unknown outcome \"{}\"", json.value("outcome", ""));
        }
        boot.outcome = *outcome;
        boot.resolved_at = json_integer(json, "resolved_at", int64_t{0});
        boot.dump_id = json.value("dump_id", "");
        for (const auto& record : json.value("pstore", nlohmann::json::array())) {
            // Records written before signatures existed have none.
            boot.pstore.push_back(PstoreRecord{
                record.value("path", ""), record.value("panic_line", ""),
                json_integer(record, "time", int64_t{0}),
                json_integer(record, "bytes", uint64_t{0}),
                PanicSignature{record.value("signature", ""), record.value("signature_hash", "")}});
        }
        boot.capture_failure = json.value("capture_failure", "");
        boot.capture_log = json.value("capture_log", "");
        return boot;
    } catch (const std::exception& e) {
        return make_error(0, "malformed boot record: {}", e.what());
    }
}

std::string armed_boots_directory(const SystemPaths& paths) {
    return paths.state + "/boots";
}

std::string normalize_boot_id(std::string_view text) {
    std::string id;
    for (const char c : text) {
        if (c == '-') {
            continue;
        }
        if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) {
            id.push_back(c);
        } else if (c >= 'A' && c <= 'F') {
            id.push_back(static_cast<char>(c - 'A' + 'a'));
        } else {
            return {};
        }
    }
    return id.size() == 32 ? id : std::string();
}

std::string lost_capture_id(const ArmedBoot& boot) {
    return std::string(kLostIdPrefix) + boot.boot_id;
}

std::string boot_id_of_lost_capture(std::string_view id) {
    if (!id.starts_with(kLostIdPrefix)) {
        return {};
    }
    const auto boot_id = id.substr(kLostIdPrefix.size());
    return normalize_boot_id(boot_id).empty() ? std::string() : std::string(boot_id);
}

Result<ArmedBootList> read_armed_boots(const std::string& directory) {
    ArmedBootList list;
    UniqueFd fd(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT) {
            return list;
        }
        return make_errno_error(errno, "cannot open {}", directory);
    }
    auto names = list_directory(fd.get(), directory);
    if (!names) {
        return tl::unexpected(names.error());
    }
    for (const auto& name : *names) {
        if (!name.ends_with(kRecordSuffix) || name.front() == '.') {
            continue;  // temporary files of an atomic write, and strangers
        }
        const std::string path = directory + "/" + name;
        auto text = read_bounded(path, kMaxRecordBytes);
        if (!text) {
            list.problems.push_back(text.error().message);
            continue;
        }
        nlohmann::json json;
        try {
            json = nlohmann::json::parse(*text);
        } catch (const std::exception& e) {
            list.problems.push_back(fmt::format("{}: not JSON: {}", path, e.what()));
            continue;
        }
        auto boot = armed_boot_from_json(json);
        if (!boot) {
            list.problems.push_back(path + ": " + boot.error().message);
            continue;
        }
        if (record_name(boot->boot_id) != name) {
            list.problems.push_back(
                fmt::format("{}: holds boot {}, not the one its name says", path, boot->boot_id));
            continue;
        }
        list.boots.push_back(std::move(*boot));
    }
    std::sort(list.boots.begin(), list.boots.end(), [](const ArmedBoot& a, const ArmedBoot& b) {
        return std::tie(a.armed_at, a.boot_id) < std::tie(b.armed_at, b.boot_id);
    });
    return list;
}

Result<ArmedBoot> read_armed_boot(const std::string& directory, std::string_view boot_id) {
    if (normalize_boot_id(boot_id).empty()) {
        return make_error(EINVAL, "\"{}\" is not a boot id", boot_id);
    }
    const std::string path = directory + "/" + record_name(boot_id);
    auto text = read_bounded(path, kMaxRecordBytes);
    if (!text) {
        return tl::unexpected(text.error());
    }
    try {
        auto boot = armed_boot_from_json(nlohmann::json::parse(*text));
        if (!boot) {
            return propagate(boot.error(), path);
        }
        return boot;
    } catch (const std::exception& e) {
        return make_error(0, "{}: not JSON: {}", path, e.what());
    }
}

Status write_armed_boot(const std::string& directory, const ArmedBoot& boot) {
    if (normalize_boot_id(boot.boot_id).empty()) {
        return make_error(EINVAL, "\"{}\" is not a boot id", boot.boot_id);
    }
    if (auto s = make_directory(directory, 0700); !s) {
        return s;
    }
    auto fd = open_directory(directory);
    if (!fd) {
        return tl::unexpected(fd.error());
    }
    // Strings from the kernel (release, pstore text) may be any bytes:
    // replace what is not UTF-8 rather than throw.
    const std::string text =
        to_json(boot).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    return write_file_atomically(fd->get(), record_name(boot.boot_id), text, 0644);
}

Status remove_armed_boot(const std::string& directory, std::string_view boot_id) {
    if (normalize_boot_id(boot_id).empty()) {
        return make_error(EINVAL, "\"{}\" is not a boot id", boot_id);
    }
    const std::string path = directory + "/" + record_name(boot_id);
    if (::unlink(path.c_str()) < 0) {
        return make_errno_error(errno, "cannot remove {}", path);
    }
    if (auto fd = open_directory(directory)) {
        (void)fsync_directory(fd->get(), directory);
    }
    return {};
}

BootResolution resolve_earlier_boot(const ArmedBoot& boot, const std::vector<DumpEntry>& dumps) {
    // A dump first: whatever the ledger says, a capture that happened is
    // the news (a crash during an orderly shutdown is captured and marked
    // orderly at once, the ledger cannot tell which came last).
    const std::string id = normalize_boot_id(boot.boot_id);
    for (const auto& dump : dumps) {
        const bool named = normalize_boot_id(dump.record.boot_id) == id ||
                           (!id.empty() && (dump.id.find(id) != std::string::npos ||
                                            dump.id.find(boot.boot_id) != std::string::npos));
        if (named) {
            return {BootOutcome::captured, dump.id};
        }
    }
    if (boot.orderly_shutdown) {
        return {BootOutcome::orderly, {}};
    }
    if (!boot.armed) {
        return {BootOutcome::disarmed, {}};
    }
    return {BootOutcome::lost, {}};
}

std::vector<std::string> armed_boots_to_forget(const std::vector<ArmedBoot>& boots,
                                               std::string_view current_boot_id, size_t keep) {
    std::vector<const ArmedBoot*> candidates;
    for (const auto& boot : boots) {
        if (boot.outcome != BootOutcome::lost && boot.boot_id != current_boot_id) {
            candidates.push_back(&boot);
        }
    }
    std::sort(candidates.begin(), candidates.end(), [](const ArmedBoot* a, const ArmedBoot* b) {
        return std::tie(a->armed_at, a->boot_id) < std::tie(b->armed_at, b->boot_id);
    });
    std::vector<std::string> forget;
    for (size_t i = 0; i + keep < candidates.size(); ++i) {
        forget.push_back(candidates[i]->boot_id);
    }
    return forget;
}

std::vector<PstoreRecord> find_pstore_records(const SystemPaths& paths) {
    std::vector<PstoreRecord> records;
    scan_pstore_directory(paths.sys + "/fs/pstore", 0, records);
    scan_pstore_directory(paths.resolve("/var/lib/systemd/pstore"), kPstoreArchiveDepth, records);
    std::sort(records.begin(), records.end(), [](const PstoreRecord& a, const PstoreRecord& b) {
        return std::tie(a.time, a.path) < std::tie(b.time, b.path);
    });
    return records;
}

void attribute_pstore_records(std::vector<ArmedBoot*>& lost_boots,
                              const std::vector<PstoreRecord>& records) {
    for (const auto& record : records) {
        ArmedBoot* owner = nullptr;
        for (ArmedBoot* boot : lost_boots) {
            if (boot->armed_at <= record.time) {
                owner = boot;  // the latest one armed before the record
            }
        }
        if (owner) {
            owner->pstore.push_back(record);
        }
    }
}

std::string capture_failure_notes_directory(const SystemPaths& paths) {
    return paths.state + std::string(kCaptureFailuresSubdirectory);
}

std::string spare_capture_failure_notes_directory(const SystemPaths& paths) {
    return paths.resolve(std::string(kSpareCaptureFailuresDirectory));
}

std::vector<std::string> adopt_capture_failure_notes(const std::string& from,
                                                     const std::string& into) {
    std::vector<std::string> problems;
    auto from_fd = open_directory(from);
    if (!from_fd) {
        if (from_fd.error().errno_value != ENOENT) {
            problems.push_back(from_fd.error().message);
        }
        return problems;
    }
    auto names = list_directory(from_fd->get(), from);
    if (!names) {
        problems.push_back(names.error().message);
        return problems;
    }
    bool made = false;
    for (const auto& name : *names) {
        if (!name.ends_with(kNoteSuffix) || normalize_boot_id(std::string_view(name).substr(
                                                0, name.size() - kNoteSuffix.size())) == "") {
            continue;  // not one of ours
        }
        if (!made) {
            if (auto s = make_directory(into, 0700); !s) {
                problems.push_back(s.error().message);
                return problems;
            }
            made = true;
        }
        const std::string source = from + "/" + name;
        const std::string destination = into + "/" + name;
        struct stat existing {};
        if (::lstat(destination.c_str(), &existing) != 0) {
            if (::rename(source.c_str(), destination.c_str()) == 0) {
                continue;
            }
            if (errno != EXDEV) {
                problems.push_back(fmt::format("cannot move {} to {}: {}", source, destination,
                                               std::strerror(errno)));
                continue;
            }
            auto text = read_bounded(source, kMaxNoteBytes);
            if (!text) {
                problems.push_back(text.error().message);
                continue;
            }
            auto into_fd = open_directory(into);
            if (!into_fd) {
                problems.push_back(into_fd.error().message);
                continue;
            }
            if (auto s = write_file_atomically(into_fd->get(), name, *text, 0600); !s) {
                problems.push_back(s.error().message);
                continue;
            }
        }
        if (::unlink(source.c_str()) != 0) {
            problems.push_back(fmt::format("cannot remove {}: {}", source, std::strerror(errno)));
        }
    }
    return problems;
}

void attach_capture_failure_notes(std::vector<ArmedBoot*>& lost_boots,
                                  const std::string& directory) {
    auto directory_fd = open_directory(directory);
    if (!directory_fd) {
        return;  // no capture kernel ever left a note
    }
    auto names = list_directory(directory_fd->get(), directory);
    if (!names) {
        return;
    }
    for (ArmedBoot* boot : lost_boots) {
        if (!boot->capture_log.empty()) {
            continue;
        }
        const std::string id = normalize_boot_id(boot->boot_id);
        for (const auto& name : *names) {
            if (!name.ends_with(kNoteSuffix) || normalize_boot_id(std::string_view(name).substr(
                                                    0, name.size() - kNoteSuffix.size())) != id) {
                continue;
            }
            const std::string path = directory + "/" + name;
            auto text = read_first_bytes(path, kNoteHeadBytes);
            if (!text) {
                continue;
            }
            std::string_view first_line(*text);
            first_line = first_line.substr(0, first_line.find('\n'));
            if (first_line.starts_with(kNoteReasonPrefix)) {
                first_line.remove_prefix(kNoteReasonPrefix.size());
            }
            boot->capture_failure = std::string(first_line.substr(0, kMaxReasonChars));
            boot->capture_log = path;
            break;
        }
    }
}

std::vector<ArmedBoot*> resolve_pending_boots(
    std::vector<ArmedBoot>& boots, std::string_view current_boot_id,
    const std::vector<DumpEntry>& dumps,
    const std::function<std::vector<PstoreRecord>()>& find_pstore,
    const std::string& notes_directory, int64_t now) {
    std::vector<ArmedBoot*> decided;
    std::vector<ArmedBoot*> lost;
    for (auto& boot : boots) {
        if (boot.boot_id == current_boot_id || boot.outcome != BootOutcome::pending) {
            continue;
        }
        const auto resolution = resolve_earlier_boot(boot, dumps);
        boot.outcome = resolution.outcome;
        boot.dump_id = resolution.dump_id;
        boot.resolved_at = now;
        decided.push_back(&boot);
        if (boot.outcome == BootOutcome::lost) {
            lost.push_back(&boot);
        }
    }
    if (!lost.empty()) {
        attribute_pstore_records(lost, find_pstore());
        attach_capture_failure_notes(lost, notes_directory);
    }
    return decided;
}

std::string describe_lost_capture(const ArmedBoot& boot) {
    std::string text = fmt::format(
        "Kernel crash or reset not captured: boot {} (kernel {}) ended without an orderly "
        "shutdown and left no dump; the capture kernel was armed, the system was last seen "
        "alive at {}",
        boot.boot_id, boot.kernel_release.empty() ? "unknown" : boot.kernel_release,
        format_utc(boot.last_seen));
    if (!boot.capture_failure.empty()) {
        text +=
            fmt::format("; the capture kernel ran but could not save the dump: {} (its log: {})",
                        boot.capture_failure, boot.capture_log);
    }
    for (const auto& record : boot.pstore) {
        if (!record.panic_line.empty()) {
            return text +
                   fmt::format("; pstore kept the panic: {} ({})", record.panic_line, record.path);
        }
    }
    if (!boot.pstore.empty()) {
        return text + fmt::format("; pstore kept a kernel log: {}", boot.pstore.front().path);
    }
    return text + "; no pstore record of it";
}

nlohmann::json lost_capture_json(const ArmedBoot& boot) {
    std::string panic_line;
    for (const auto& record : boot.pstore) {
        if (!record.panic_line.empty()) {
            panic_line = record.panic_line;
            break;
        }
    }
    PanicSignature signature;
    for (const auto& record : boot.pstore) {
        if (!record.signature.empty()) {
            signature = record.signature;
            break;
        }
    }
    auto ledger = to_json(boot);
    ledger.erase("schema_version");
    return nlohmann::json{
        {"id", lost_capture_id(boot)},
        {"path", ""},
        {"result", "lost"},
        {"crash_time", boot.last_seen},
        {"disk_bytes", 0},
        {"record_error", ""},
        {"signature", signature.title},
        {"signature_hash", signature.hash},
        {"record",
         {{"result", "lost"},
          {"error", describe_lost_capture(boot)},
          {"kernel_release", boot.kernel_release},
          {"boot_id", boot.boot_id},
          {"crash_time", 0},
          {"panic_line", panic_line},
          {"dump_file", ""},
          {"dmesg_file", ""}}},
        {"lost", ledger},
    };
}

}  // namespace crashcapture
