// Keeps the Prometheus text file ([Metrics] Textfile=) current: rewritten
// after every change of state and of the dumps (DbusService calls update()).
// The rendering is lib/arming/metrics-textfile; this is only where the
// figures come from.
#pragma once

#include <string>

#include "manager.hpp"
#include "system-paths.hpp"

namespace crashcapture {

class MetricsWriter {
  public:
    MetricsWriter(SystemPaths paths, ManagerObserver& observer);
    void update(const Manager& manager);
    uint64_t writes() const { return writes_; }

  private:
    SystemPaths paths_;
    ManagerObserver& observer_;
    std::string last_problem_;  // logged once until it changes
    uint64_t writes_ = 0;
};

}  // namespace crashcapture
