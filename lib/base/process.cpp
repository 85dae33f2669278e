#include "process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <array>
#include <cerrno>

#include "unique-fd.hpp"

extern char** environ;

namespace crashcapture {

namespace {

std::vector<char*> pointers_to(const std::vector<std::string>& words) {
    std::vector<char*> pointers;
    for (const auto& word : words) {
        pointers.push_back(const_cast<char*>(word.c_str()));
    }
    pointers.push_back(nullptr);
    return pointers;
}

Result<int> wait_for(pid_t pid) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            return make_errno_error(errno, "cannot wait for process {}", pid);
        }
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Children start with no signal blocked and the usual dispositions: the
// daemon blocks SIGTERM and friends to read them from a signalfd, and a
// spawned child inherits the mask (posix_spawn(3)), so without this a
// builder would never die of the SIGTERM that stops it (an upgrade's
// restart waited 30 s for systemd's SIGKILL). own_process_group: the child
// leads a new process group, so that it and everything it starts (dracut)
// can be stopped together.
Result<pid_t> spawn(const std::vector<std::string>& arguments,
                    const std::vector<std::string>& extra_environment,
                    const posix_spawn_file_actions_t* actions, bool own_process_group = false) {
    if (arguments.empty()) {
        return make_error(EINVAL, "no program to run");
    }
    std::vector<std::string> environment;
    for (char** variable = environ; *variable != nullptr; ++variable) {
        environment.emplace_back(*variable);
    }
    environment.insert(environment.end(), extra_environment.begin(), extra_environment.end());
    auto argv = pointers_to(arguments);
    auto envp = pointers_to(environment);
    posix_spawnattr_t attributes;
    ::posix_spawnattr_init(&attributes);
    sigset_t none;
    sigemptyset(&none);
    ::posix_spawnattr_setsigmask(&attributes, &none);
    sigset_t defaults;
    sigemptyset(&defaults);
    for (const int signal : {SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGCHLD}) {
        sigaddset(&defaults, signal);
    }
    ::posix_spawnattr_setsigdefault(&attributes, &defaults);
    short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    if (own_process_group) {
        flags |= POSIX_SPAWN_SETPGROUP;
        ::posix_spawnattr_setpgroup(&attributes, 0);
    }
    ::posix_spawnattr_setflags(&attributes, flags);
    pid_t pid = -1;
    const int rc = ::posix_spawnp(&pid, argv[0], actions, &attributes, argv.data(), envp.data());
    ::posix_spawnattr_destroy(&attributes);
    if (rc != 0) {
        return make_errno_error(rc, "cannot run {}", arguments[0]);
    }
    return pid;
}

}  // namespace

Result<int> run_program(const std::vector<std::string>& arguments,
                        const std::vector<std::string>& extra_environment) {
    auto pid = spawn(arguments, extra_environment, nullptr);
    if (!pid) {
        return tl::unexpected(pid.error());
    }
    return wait_for(*pid);
}

Result<pid_t> start_program(const std::vector<std::string>& arguments,
                            const std::string& stderr_path, const std::string& stdout_path) {
    posix_spawn_file_actions_t actions;
    ::posix_spawn_file_actions_init(&actions);
    if (!stdout_path.empty()) {
        ::posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, stdout_path.c_str(),
                                           O_WRONLY | O_CREAT | O_TRUNC, 0600);
    }
    ::posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, stderr_path.c_str(),
                                       O_WRONLY | O_CREAT | O_TRUNC, 0600);
    auto pid = spawn(arguments, {}, &actions, /*own_process_group=*/true);
    ::posix_spawn_file_actions_destroy(&actions);
    return pid;
}

Result<std::string> program_output(const std::vector<std::string>& arguments,
                                   bool with_standard_error) {
    std::array<int, 2> pipe_ends{};
    if (::pipe2(pipe_ends.data(), O_CLOEXEC) < 0) {
        return make_errno_error(errno, "cannot make a pipe for {}", arguments.at(0));
    }
    UniqueFd read_end(pipe_ends[0]);
    UniqueFd write_end(pipe_ends[1]);
    posix_spawn_file_actions_t actions;
    ::posix_spawn_file_actions_init(&actions);
    ::posix_spawn_file_actions_adddup2(&actions, write_end.get(), STDOUT_FILENO);
    if (with_standard_error) {
        ::posix_spawn_file_actions_adddup2(&actions, write_end.get(), STDERR_FILENO);
    }
    auto pid = spawn(arguments, {}, &actions);
    ::posix_spawn_file_actions_destroy(&actions);
    write_end.reset();
    if (!pid) {
        return tl::unexpected(pid.error());
    }
    std::string output;
    std::array<char, 4096> buffer{};
    for (;;) {
        const ssize_t n = ::read(read_end.get(), buffer.data(), buffer.size());
        if (n > 0) {
            output.append(buffer.data(), static_cast<size_t>(n));
        } else if (n == 0 || errno != EINTR) {
            break;
        }
    }
    auto status = wait_for(*pid);
    if (!status) {
        return tl::unexpected(status.error());
    }
    if (*status != 0) {
        while (!output.empty() && output.back() == '\n') {
            output.pop_back();
        }
        return make_error(0, "{} exited with status {}{}{}", arguments[0], *status,
                          output.empty() ? "" : ": ", output);
    }
    return output;
}

}  // namespace crashcapture
