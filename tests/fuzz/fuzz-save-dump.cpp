// crashcapture-save end to end on a hostile vmcore: whatever the input,
// save_dump() returns (no exception, no sanitizer report) and leaves a
// status.json that reads back, the promise of issue 19 §0. Files are held to
// 64 MiB (RLIMIT_FSIZE) with SIGXFSZ at its default, so a write past that
// kills the harness: the seeds make dumps of a few KiB, and a dump that
// reaches 64 MiB grew from a header's promise, not from data in the file.
#include <signal.h>
#include <sys/resource.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "dump-record.hpp"
#include "fuzz-support.hpp"
#include "save-dump.hpp"

using namespace crashcapture;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const fuzz::ScratchDirectory scratch;
    static const bool limited = [] {
        const rlimit limit{64ULL << 20, 64ULL << 20};
        ::signal(SIGXFSZ, SIG_DFL);
        return ::setrlimit(RLIMIT_FSIZE, &limit) == 0;
    }();
    (void)limited;
    const fuzz::MemoryFile file(data, size);
    SaveOptions options;
    options.input = file.path();
    options.output_dir = scratch.file("dump");
    options.progress = ProgressMode::never;
    options.tool_version = "fuzz";
    options.write.threads = 1;
    const SaveResult result = save_dump(options);
    if (!result.record_written || !read_dump_record(scratch.file("dump/status.json"))) {
        std::fprintf(stderr, "no readable status.json after: %s\n", result.record.error.c_str());
        std::abort();
    }
    scratch.clear();
    return 0;
}
