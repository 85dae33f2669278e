#include "capture-cpus.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "config.hpp"
#include "kernel-command-line.hpp"
#include "text.hpp"

namespace crashcapture {
namespace {

constexpr double kMiBDouble = 1024.0 * 1024.0;

double mib(uint64_t bytes) {
    return static_cast<double>(bytes) / kMiBDouble;
}

CaptureCpuChoice with_cpus(unsigned cpus, const CaptureCpuInputs& inputs, std::string reason) {
    CaptureCpuChoice choice;
    choice.cpus = cpus;
    choice.extra_bytes = uint64_t{cpus - 1} * inputs.per_cpu_bytes;
    choice.needed_bytes = inputs.needed_one_cpu_bytes + choice.extra_bytes;
    choice.reason = std::move(reason);
    return choice;
}

}  // namespace

CaptureCpuChoice choose_capture_cpus(const CaptureCpuInputs& inputs) {
    if (inputs.appended) {
        return with_cpus(*inputs.appended, inputs,
                         fmt::format("nr_cpus={} from KernelCommandLineAppend=", *inputs.appended));
    }
    if (inputs.configured) {
        return with_cpus(*inputs.configured, inputs, fmt::format("CPUs={}", *inputs.configured));
    }
    const unsigned online = std::max(inputs.online_cpus, 1U);
    if (online == 1) {
        return with_cpus(1, inputs, "CPUs=auto: this machine has one CPU");
    }
    if (inputs.reserved_bytes == 0) {
        return with_cpus(1, inputs, "CPUs=auto: nothing is reserved yet");
    }
    if (inputs.reserved_bytes < inputs.needed_one_cpu_bytes) {
        return with_cpus(1, inputs,
                         fmt::format("CPUs=auto: the reservation ({:.1f} MiB) is below what a "
                                     "capture with one CPU needs ({:.1f} MiB)",
                                     mib(inputs.reserved_bytes), mib(inputs.needed_one_cpu_bytes)));
    }
    const uint64_t spare = inputs.reserved_bytes - inputs.needed_one_cpu_bytes;
    const uint64_t affordable =
        inputs.per_cpu_bytes == 0 ? online : 1 + spare / inputs.per_cpu_bytes;
    const uint64_t limit = std::min<uint64_t>(online, kAutoCaptureCpusLimit);
    const auto cpus = static_cast<unsigned>(std::min(affordable, limit));
    std::string why;
    if (affordable < limit) {
        why = fmt::format(
            "the reservation's {:.1f} MiB beyond a one-CPU capture's {:.1f} MiB pays "
            "for {} more at {:.1f} MiB each",
            mib(spare), mib(inputs.needed_one_cpu_bytes), cpus - 1, mib(inputs.per_cpu_bytes));
    } else if (online <= kAutoCaptureCpusLimit) {
        why = fmt::format(
            "every online CPU; they cost {:.1f} MiB of the reservation's {:.1f} MiB "
            "to spare",
            mib(uint64_t{cpus - 1} * inputs.per_cpu_bytes), mib(spare));
    } else {
        why = fmt::format("{} of {} online CPUs, the most CPUs=auto brings up", cpus, online);
    }
    return with_cpus(cpus, inputs, fmt::format("CPUs=auto: {}", why));
}

std::optional<unsigned> appended_nr_cpus(const std::vector<std::string>& append) {
    std::optional<unsigned> found;
    for (const auto& word : append) {
        if (!kernel_parameter_names_equal(kernel_parameter_name(word), "nr_cpus")) {
            continue;
        }
        const size_t equals = word.find('=');
        // kernel/smp.c nrcpus(): a count above 0, or the parameter is ignored.
        const auto count = equals == std::string::npos
                               ? std::nullopt
                               : parse_integer<unsigned>(std::string_view(word).substr(equals + 1));
        found = count && *count > 0 ? count : std::nullopt;
    }
    return found;
}

std::optional<unsigned> count_cpu_list(std::string_view text) {
    text = trim(text);
    if (text.empty()) {
        return std::nullopt;
    }
    unsigned count = 0;
    while (!text.empty()) {
        const size_t comma = text.find(',');
        const auto range = text.substr(0, comma);
        text.remove_prefix(comma == std::string_view::npos ? text.size() : comma + 1);
        const size_t dash = range.find('-');
        const auto first = parse_integer<unsigned>(range.substr(0, dash));
        const auto last = dash == std::string_view::npos
                              ? first
                              : parse_integer<unsigned>(range.substr(dash + 1));
        if (!first || !last || *last < *first || *last - *first >= kMaxConfiguredCaptureCpus) {
            return std::nullopt;
        }
        count += *last - *first + 1;
    }
    return count;
}

nlohmann::json explain_capture_cpus(const CaptureCpuChoice& choice,
                                    const CaptureCpuInputs& inputs) {
    return nlohmann::json{
        {"cpus", choice.cpus},
        {"configured",
         inputs.configured ? nlohmann::json(*inputs.configured) : nlohmann::json("auto")},
        {"online_cpus", inputs.online_cpus},
        {"per_cpu_bytes", inputs.per_cpu_bytes},
        {"extra_bytes", choice.extra_bytes},
        {"needed_one_cpu_bytes", inputs.needed_one_cpu_bytes},
        {"reason", choice.reason},
    };
}

}  // namespace crashcapture
