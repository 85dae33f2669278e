// A fixed pool of worker threads that runs one loop at a time, split into
// contiguous chunks (one per thread), and returns when every chunk is done.
// The dump writer compresses a batch of pages with it and then writes the
// results in page order itself, so output order never depends on timing.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace crashcapture {

class ParallelFor {
  public:
    // body(begin, end, worker) handles items [begin, end); worker is in
    // [0, threads()). With threads == 1 no thread is started.
    using Body = std::function<void(size_t begin, size_t end, size_t worker)>;

    explicit ParallelFor(size_t threads);
    ~ParallelFor();
    ParallelFor(const ParallelFor&) = delete;
    ParallelFor& operator=(const ParallelFor&) = delete;

    void run(size_t count, const Body& body);
    size_t threads() const { return workers_.size() + 1; }

  private:
    void work(size_t worker);

    std::vector<std::thread> workers_;
    std::mutex mutex_;
    std::condition_variable start_, done_;
    const Body* body_ = nullptr;
    size_t count_ = 0;
    size_t generation_ = 0;
    size_t pending_ = 0;
    bool stopping_ = false;
};

// CPUs this process may run on (sched_getaffinity), at least 1.
size_t usable_cpu_count();

}  // namespace crashcapture
