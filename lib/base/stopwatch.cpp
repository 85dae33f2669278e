#include "stopwatch.hpp"

#include <fmt/format.h>
#include <sys/resource.h>

namespace crashcapture {

namespace {

std::chrono::microseconds to_microseconds(const timeval& time) {
    return std::chrono::seconds(time.tv_sec) + std::chrono::microseconds(time.tv_usec);
}

std::chrono::microseconds process_cpu_time() {
    std::chrono::microseconds total{0};
    for (const int who : {RUSAGE_SELF, RUSAGE_CHILDREN}) {
        struct rusage usage {};
        if (::getrusage(who, &usage) == 0) {
            total += to_microseconds(usage.ru_utime) + to_microseconds(usage.ru_stime);
        }
    }
    return total;
}

}  // namespace

Stopwatch::Stopwatch()
    : wall_start_(std::chrono::steady_clock::now()), cpu_start_(process_cpu_time()) {}

std::chrono::microseconds Stopwatch::wall() const {
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                                 wall_start_);
}

std::chrono::microseconds Stopwatch::cpu() const {
    return process_cpu_time() - cpu_start_;
}

std::string Stopwatch::describe() const {
    return fmt::format("{} ms, {} ms of CPU", wall().count() / 1000, cpu().count() / 1000);
}

}  // namespace crashcapture
