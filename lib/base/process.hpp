// Running another program from the command-line tools: the builder runs
// dracut and ip, crashcapturectl runs update-grub, ssh-keygen and ssh.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "result.hpp"

namespace crashcapture {

// Runs arguments[0] (looked up in PATH) with this process's environment plus
// extra_environment ("NAME=value"), standard streams inherited, and waits.
// Its exit status, 128 + the signal that ended it, or an error when it could
// not be started (ENOENT: not installed).
Result<int> run_program(const std::vector<std::string>& arguments,
                        const std::vector<std::string>& extra_environment = {});

// Starts arguments[0] with standard error going to stderr_path (created
// 0600, truncated), and standard output to stdout_path the same way when
// it is not empty (else it is the caller's), and returns at once: the caller reaps the child (the
// daemon watches a pidfd and keeps serving D-Bus while dracut runs). The
// child leads a process group of its own (its pid): kill(-pid, SIGTERM)
// stops it and what it started. Every child starts with no signal blocked.
Result<pid_t> start_program(const std::vector<std::string>& arguments,
                            const std::string& stderr_path, const std::string& stdout_path = {});

// The same as run_program() with standard output (and standard error, when
// with_standard_error) captured; the exit status must be 0, else the error
// carries the output.
Result<std::string> program_output(const std::vector<std::string>& arguments,
                                   bool with_standard_error = false);

}  // namespace crashcapture
