// The dumps under the crash directory, as the daemon lists them after a
// reboot, and the "reported" ledger that makes it log each new dump once
// (ARCHITECTURE.md, "The flow", step 5). Each dump is a directory
// <crash dir>/<id>/ written by crashcapture-save (save-dump.hpp): status.json,
// vmcore-dmesg.txt, vmcore or vmcore.incomplete (vmcore.flat for the
// flattened format).
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "dump-record.hpp"
#include "panic-signature.hpp"
#include "result.hpp"

namespace crashcapture {

// A dump id is the name of its directory. Ids arrive over D-Bus (GetDump,
// RemoveDump), so they are checked before they touch a path: one non-empty
// path component (no '/', no NUL), no leading '.' (".", "..", and the hidden
// names used for removals in progress), no "..", no control characters,
// valid UTF-8 (D-Bus strings must be), at most NAME_MAX bytes.
bool is_valid_dump_id(std::string_view id);
// The same, as an EINVAL error that says what is wrong with the id.
Status check_dump_id(std::string_view id);

// Disk space really used by a file tree: the sum of st_blocks * 512 (stat(2):
// st_blocks counts 512-byte units whatever the filesystem block size), not of
// st_size, since dumps are sparse. Symlinks are not followed, files with
// several hard links inside the tree are counted once.
Result<uint64_t> disk_usage_bytes(const std::string& path);

struct DumpEntry {
    std::string id;
    std::string path;  // <crash dir>/<id>
    // status.json when it could be read. Otherwise a record made up from
    // what the directory holds: result incomplete when a dump file exists
    // (the data may be fine but was never confirmed), failed when not;
    // error says why there is no record; dump_file and dmesg_file name what
    // exists, so the dump can still be opened.
    DumpRecord record;
    std::string record_error;  // empty when status.json was read
    // The sort key: record.crash_time, else record.started_at, else the
    // directory's mtime (seconds since the epoch).
    int64_t crash_time = 0;
    uint64_t disk_bytes = 0;

    bool has_record() const { return record_error.empty(); }
};

// The crash's signature: status.json's when the saver wrote one (schema 2),
// else (panic-signature.hpp) from the dump's kernel log,
// record.dmesg_file under path: its last kMaxSignatureLogBytes, where the
// crash is. Empty when there is no log, it cannot be read, or it holds no
// crash the parser knows. Computed when asked, not by scan_dumps(): the log
// is read only for the listings that show it (ListDumps, GetDump, the
// journal entry), not for retention's scans.
inline constexpr size_t kMaxSignatureLogBytes = 16 << 20;
PanicSignature dump_signature(const DumpEntry& entry);

// dump_signature() for the daemon, which lists the same dumps again and again
// (ListDumps, GetDump, the metrics file on every change and every 5
// minutes): a log whose device, inode, size and modification time are those
// it read last time is not read again (up to 16 MiB each for records
// older than schema 2). Holds at most kEntries logs; past that it starts
// over.
class DumpSignatureCache {
  public:
    static constexpr size_t kEntries = 1024;
    PanicSignature get(const DumpEntry& entry);
    // How many logs get() has read: what the cache saved, for tests.
    size_t logs_read() const { return logs_read_; }

  private:
    struct LogIdentity {
        uint64_t device = 0;
        uint64_t inode = 0;
        int64_t size = 0;
        int64_t modified_ns = 0;
        bool operator==(const LogIdentity&) const = default;
    };
    std::map<std::string, std::pair<LogIdentity, PanicSignature>> by_path_;
    size_t logs_read_ = 0;
};

// Every dump under crash_dir, oldest first (crash_time, then id). A
// subdirectory is a dump when its name is a valid id and it holds status.json
// or a file crashcapture-save writes; anything else in the directory (other
// tools' dumps, an admin's notes, symlinks) is not ours and is left out, so
// retention can never remove it. A crash directory that does not exist yet
// holds no dumps.
Result<std::vector<DumpEntry>> scan_dumps(const std::string& crash_dir);

// One dump by id (D-Bus GetDump): EINVAL for an invalid id, ENOENT when there
// is no such dump.
Result<DumpEntry> load_dump(const std::string& crash_dir, const std::string& id);

// The dumps of several crash directories, in order of precedence: Target=
// first, then /var/crash, where FailureAction=dump-to-rootfs saves and where
// dumps went before Target= changed. An id found twice is the first
// directory's. The first directory's errors are errors; a later one that
// cannot be read is left out (problems says why). Oldest first.
struct DumpScan {
    std::vector<DumpEntry> dumps;
    std::vector<std::string> problems;
};
Result<DumpScan> scan_dump_directories(const std::vector<std::string>& crash_dirs);
// The first directory that has the dump; its own errors when none has it.
Result<DumpEntry> load_dump_from(const std::vector<std::string>& crash_dirs, const std::string& id);

// ---------------------------------------------------------------------------
// The ledger of dumps already reported (logged to the journal, signalled on
// D-Bus), kept in the state directory so a restart of the daemon does not
// report them again.
inline constexpr std::string_view kLedgerFileName = "reported.json";
inline constexpr int kLedgerSchemaVersion = 1;

struct Ledger {
    std::set<std::string> reported;
};

// A missing ledger is an empty one (first start: every dump present is new).
// A corrupt one is an error; the daemon should log it, ignore it and start
// from an empty ledger (reporting dumps twice beats never reporting them).
Result<Ledger> read_ledger(const std::string& state_dir);
// Written atomically (write_file_atomically): old ledger or new, never half.
Status write_ledger(const std::string& state_dir, const Ledger& ledger);

// The entries whose ids the ledger does not hold, in their order.
std::vector<DumpEntry> unreported(const std::vector<DumpEntry>& entries, const Ledger& ledger);

// Adds ids to the ledger and writes it. The in-memory ledger changes only if
// the write succeeded, so a failure leaves both in step.
Status mark_reported(const std::string& state_dir, Ledger& ledger,
                     const std::vector<std::string>& ids);

// Forgets ids that are no longer in the crash directory, so the ledger does
// not grow forever; returns whether anything was dropped. Persisted by the
// next write_ledger/mark_reported.
bool prune_ledger(Ledger& ledger, const std::vector<DumpEntry>& present);

}  // namespace crashcapture
