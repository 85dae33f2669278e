#include "metrics-writer.hpp"

#include <syslog.h>

#include <cerrno>

#include "file-util.hpp"
#include "metrics-textfile.hpp"

namespace crashcapture {

MetricsWriter::MetricsWriter(SystemPaths paths, ManagerObserver& observer)
    : paths_(std::move(paths)), observer_(observer) {}

void MetricsWriter::update(const Manager& manager) {
    const auto& config = manager.config();
    const std::string configured =
        config ? config->metrics_textfile : std::string(kDefaultMetricsTextfile);
    if (configured.empty()) {
        return;  // Textfile=none
    }
    const auto& properties = manager.properties();
    MetricsSnapshot snapshot;
    snapshot.state = std::string(to_string(properties.state));
    const auto loaded = read_kernel_file(paths_.sys + "/kernel/kexec_crash_loaded");
    snapshot.armed = loaded && !loaded->empty() && loaded->front() == '1';
    snapshot.initrd_current = properties.state == ManagerState::loaded;
    snapshot.reserved_bytes = properties.reserved_bytes;
    snapshot.loaded_timestamp_seconds = properties.loaded_timestamp_usec / 1000000;
    // The figures behind the estimate, not the crashkernel= it recommends.
    const nlohmann::json explanation = manager.estimate_reservation().second;
    if (const auto needed = explanation.find("needed_bytes");
        needed != explanation.end() && needed->is_number_unsigned()) {
        snapshot.needed_bytes = needed->get<uint64_t>();
    }
    if (const auto fits = explanation.find("fits");
        fits != explanation.end() && fits->is_boolean()) {
        snapshot.reservation_fits = fits->get<bool>();
    }
    count_dumps(manager.list_dumps(), snapshot);
    snapshot.version = CRASHCAPTURE_VERSION;
    const auto written =
        write_metrics_textfile(paths_.resolve(configured), render_metrics(snapshot));
    if (written) {
        ++writes_;
        last_problem_.clear();
        return;
    }
    // No directory: node_exporter is not installed (the default path), or
    // an admin's path is not there yet. Said once, at debug level for the
    // default, as a warning for a path the admin chose.
    const std::string problem = written.error().message;
    if (problem != last_problem_) {
        last_problem_ = problem;
        const bool quiet =
            written.error().errno_value == ENOENT && configured == kDefaultMetricsTextfile;
        observer_.log(quiet ? LOG_DEBUG : LOG_WARNING,
                      "Not writing the Prometheus metrics file: " + problem);
    }
}

}  // namespace crashcapture
