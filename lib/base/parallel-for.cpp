#include "parallel-for.hpp"

#include <sched.h>

namespace crashcapture {
namespace {

std::pair<size_t, size_t> chunk(size_t count, size_t parts, size_t index) {
    const size_t base = count / parts, extra = count % parts;
    const size_t begin = index * base + std::min(index, extra);
    return {begin, begin + base + (index < extra ? 1 : 0)};
}

}  // namespace

size_t usable_cpu_count() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        const int count = CPU_COUNT(&set);
        return count > 0 ? static_cast<size_t>(count) : 1;
    }
    const unsigned hardware = std::thread::hardware_concurrency();
    return hardware ? hardware : 1;
}

ParallelFor::ParallelFor(size_t threads) {
    for (size_t i = 1; i < threads; ++i) {
        workers_.emplace_back([this, i] { work(i); });
    }
}

ParallelFor::~ParallelFor() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    start_.notify_all();
    for (auto& worker : workers_) {
        worker.join();
    }
}

void ParallelFor::run(size_t count, const Body& body) {
    const size_t parts = threads();
    if (parts == 1) {
        body(0, count, 0);
        return;
    }
    {
        std::lock_guard lock(mutex_);
        body_ = &body;
        count_ = count;
        pending_ = workers_.size();
        ++generation_;
    }
    start_.notify_all();
    auto [begin, end] = chunk(count, parts, 0);
    body(begin, end, 0);  // the caller takes the first chunk
    std::unique_lock lock(mutex_);
    done_.wait(lock, [this] { return pending_ == 0; });
    body_ = nullptr;
}

void ParallelFor::work(size_t worker) {
    size_t seen = 0;
    for (;;) {
        const Body* body;
        size_t count;
        {
            std::unique_lock lock(mutex_);
            start_.wait(lock, [&] { return stopping_ || generation_ != seen; });
            if (stopping_) {
                return;
            }
            seen = generation_;
            body = body_;
            count = count_;
        }
        auto [begin, end] = chunk(count, threads(), worker);
        (*body)(begin, end, worker);
        {
            std::lock_guard lock(mutex_);
            --pending_;
        }
        done_.notify_one();
    }
}

}  // namespace crashcapture
