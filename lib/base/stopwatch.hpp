// Wall and CPU time of one step of the daemon (hashing the initrd's inputs,
// loading the capture kernel), for its log: what a start costs a server
// (issue 17 §5) is only known if each step says what it took.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace crashcapture {

class Stopwatch {
  public:
    Stopwatch();
    // Since construction: wall time, and the CPU time (user and system) of
    // this process and of the children it waited for meanwhile (getrusage(2)
    // RUSAGE_SELF and RUSAGE_CHILDREN), so a step that runs kexec(8) counts
    // kexec's CPU, and one that makes a system call counts the kernel's.
    std::chrono::microseconds wall() const;
    std::chrono::microseconds cpu() const;
    // "1234 ms, 567 ms of CPU"
    std::string describe() const;

  private:
    std::chrono::steady_clock::time_point wall_start_;
    std::chrono::microseconds cpu_start_;
};

}  // namespace crashcapture
