// How many CPUs the capture kernel brings up (its nr_cpus=), issue 18 §2.
//
// crashcapture-save compresses on every CPU it has (--threads 0), so more
// CPUs save faster; but each one costs memory inside the reservation: the
// kernel's per-CPU areas, idle and interrupt stacks and per-CPU threads, and
// the saver's compression context and batch buffers
// (capture_cpu_cost_bytes(), reservation.cpp). The choice is pure, so it is
// unit-tested; the daemon feeds it the reservation, the capture's need with
// one CPU (capture_memory_need()), the machine's CPUs and the config.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace crashcapture {

// CPUs=auto brings up at most this many: the range the capture model in
// bench/capture-model.py covers (1 to 64). An admin who wants more sets
// CPUs=N.
inline constexpr unsigned kAutoCaptureCpusLimit = 64;

struct CaptureCpuInputs {
    // Reservation::total_bytes(); 0 = nothing reserved.
    uint64_t reserved_bytes = 0;
    // CaptureMemoryNeed::needed_bytes for a capture kernel with one CPU.
    uint64_t needed_one_cpu_bytes = 0;
    // This machine's online CPUs (sysconf(_SC_NPROCESSORS_ONLN)): the
    // capture kernel cannot bring up more than the machine has.
    unsigned online_cpus = 1;
    // What one more CPU costs in the capture (capture_cpu_cost_bytes()).
    uint64_t per_cpu_bytes = 0;
    // CPUs=N; nullopt = auto.
    std::optional<unsigned> configured;
    // nr_cpus= in KernelCommandLineAppend=, which wins over both (the
    // command line builder lets an appended word replace ours).
    std::optional<unsigned> appended;
};

struct CaptureCpuChoice {
    unsigned cpus = 1;
    // What the CPUs past the first add to the capture's need:
    // (cpus - 1) * per_cpu_bytes.
    uint64_t extra_bytes = 0;
    // needed_one_cpu_bytes + extra_bytes: what the fit check compares with
    // the reservation.
    uint64_t needed_bytes = 0;
    // One sentence for logs and the estimate's explanation.
    std::string reason;

    bool operator==(const CaptureCpuChoice&) const = default;
};

// auto: one CPU, plus one more for each per_cpu_bytes the reservation holds
// beyond needed_one_cpu_bytes, up to online_cpus and kAutoCaptureCpusLimit;
// so the fit check passes with the CPUs chosen whenever it passed with one.
// With nothing reserved, or a reservation already too small for one CPU:
// one. CPUs=N and an appended nr_cpus=N are taken as they are (the fit check
// then warns if they do not fit).
CaptureCpuChoice choose_capture_cpus(const CaptureCpuInputs& inputs);

// The value of the last nr_cpus= among KernelCommandLineAppend='s words;
// nothing when none sets it or its value is not a count (the kernel would
// ignore it too).
std::optional<unsigned> appended_nr_cpus(const std::vector<std::string>& append);

// The number of CPUs in a kernel CPU list, as /sys/devices/system/cpu/online
// prints it ("0-3,6,8-9\n": cpumap_print_to_pagebuf(), "%*pbl"); nothing
// when the text is not such a list.
std::optional<unsigned> count_cpu_list(std::string_view text);

// The choice as JSON for EstimateReservation's explanation ("capture_cpus").
nlohmann::json explain_capture_cpus(const CaptureCpuChoice& choice, const CaptureCpuInputs& inputs);

}  // namespace crashcapture
