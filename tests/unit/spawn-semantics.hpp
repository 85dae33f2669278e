// Whether posix_spawn(3) here has vfork semantics: the parent resumes only
// once the child has exec'd (or failed to), so an exec failure is
// posix_spawn's return value and what the child did before exec (its own
// process group) is done when posix_spawn returns. glibc gets this from
// clone(CLONE_VM | CLONE_VFORK). qemu-user (the arm64 unit tests under
// qemu-aarch64, scripts/build-arm64.sh) emulates that clone as a plain fork:
// posix_spawn of a missing program succeeds and the child exits 127, and the
// parent may run before the child's setpgid. The same amd64 binary under
// qemu-x86_64 behaves alike: qemu-user's, not an architecture's.
#pragma once

#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

namespace crashcapture::test {

inline bool spawn_waits_for_exec() {
    static const bool waits = [] {
        char name[] = "crashcapture-no-such-program";
        char* argv[] = {name, nullptr};
        char* envp[] = {nullptr};
        pid_t pid = 0;
        if (::posix_spawnp(&pid, name, nullptr, nullptr, argv, envp) != 0)
            return true;  // the exec failure came back: vfork semantics
        ::waitpid(pid, nullptr, 0);
        return false;
    }();
    return waits;
}

}  // namespace crashcapture::test

// In a test that needs those semantics: a skip, with the reason, where
// posix_spawn does not have them (qemu-user).
#define SKIP_UNLESS_SPAWN_WAITS_FOR_EXEC()                                           \
    do {                                                                             \
        if (!::crashcapture::test::spawn_waits_for_exec())                           \
            GTEST_SKIP() << "posix_spawn here does not wait for the child's exec "   \
                            "(qemu-user emulates CLONE_VFORK as fork): exec errors " \
                            "and the child's process group are not known on return"; \
    } while (0)
