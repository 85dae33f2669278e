// The compressing thread pool of the dump writer (lib/base/parallel-for.hpp).
// These tests run several threads on purpose: ThreadSanitizer runs them
// (tests/run-sanitizers.sh), so a data race in the pool's hand-over between
// one loop and the next fails here, not in a capture on a large machine.
#include "parallel-for.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

using namespace crashcapture;

namespace {

// Every item of every run is handled exactly once, by a worker index in
// range, and the chunks of one run are the whole range without overlap.
void expect_each_item_once(ParallelFor& pool, size_t count) {
    std::vector<int> hits(count, 0);  // each item written by one thread only
    std::mutex mutex;
    std::set<size_t> workers;
    pool.run(count, [&](size_t begin, size_t end, size_t worker) {
        ASSERT_LE(begin, end);
        ASSERT_LE(end, count);
        for (size_t i = begin; i < end; ++i) {
            ++hits[i];
        }
        std::lock_guard lock(mutex);
        workers.insert(worker);
    });
    for (size_t i = 0; i < count; ++i) {
        EXPECT_EQ(hits[i], 1) << "item " << i << " of " << count;
    }
    for (const size_t worker : workers) {
        EXPECT_LT(worker, pool.threads());
    }
}

TEST(ParallelFor, OneThreadRunsTheLoopInTheCaller) {
    ParallelFor pool(1);
    EXPECT_EQ(pool.threads(), 1u);
    const auto caller = std::this_thread::get_id();
    size_t calls = 0;
    pool.run(10, [&](size_t begin, size_t end, size_t worker) {
        EXPECT_EQ(std::this_thread::get_id(), caller);
        EXPECT_EQ(begin, 0u);
        EXPECT_EQ(end, 10u);
        EXPECT_EQ(worker, 0u);
        ++calls;
    });
    EXPECT_EQ(calls, 1u);
}

TEST(ParallelFor, FourThreadsHandleEveryItemOnceRunAfterRun) {
    ParallelFor pool(4);
    EXPECT_EQ(pool.threads(), 4u);
    // Many runs in a row: each reuses the workers of the one before, the
    // hand-over a race would break. Counts below, at and above the thread
    // count, and uneven splits.
    for (int round = 0; round < 50; ++round) {
        for (const size_t count : {0u, 1u, 3u, 4u, 5u, 17u, 256u}) {
            expect_each_item_once(pool, count);
        }
    }
}

TEST(ParallelFor, WorkersRunAtTheSameTime) {
    // Each chunk waits until all four have started: this finishes only if
    // the four chunks really run in parallel, on four threads.
    ParallelFor pool(4);
    std::atomic<size_t> started{0};
    std::mutex mutex;
    std::set<std::thread::id> threads;
    pool.run(4, [&](size_t, size_t, size_t) {
        ++started;
        while (started.load() < 4) {
            std::this_thread::yield();
        }
        std::lock_guard lock(mutex);
        threads.insert(std::this_thread::get_id());
    });
    EXPECT_EQ(threads.size(), 4u);
}

TEST(ParallelFor, DestroyingAnIdlePoolJoinsItsWorkers) {
    // Never run: the destructor must still wake and join every worker.
    for (int i = 0; i < 20; ++i) {
        ParallelFor pool(3);
    }
}

}  // namespace
