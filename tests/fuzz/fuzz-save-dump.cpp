// crashcapture-save end to end on a hostile vmcore: whatever the input,
// save_dump() returns (no exception, no sanitizer report) and leaves a
// status.json that reads back, the promise of issue 19 §0. Output files are
// held to 64 MiB (fuzz::limit_output_file_size()): a dump that reaches that
// grew from a header's promise, not from data in the file.

#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "dump-record.hpp"
#include "fuzz-support.hpp"
#include "save-dump.hpp"

using namespace crashcapture;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const fuzz::ScratchDirectory scratch;
    fuzz::limit_output_file_size();
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
