// crashcapture-kexec-load: the end-to-end test's way of loading the capture
// kernel through the library, not kexec-tools. It does what the daemon's
// Manager::load() does (daemon/manager.cpp), without D-Bus or a config file:
//   1. the running kernel's line (/proc/cmdline), the boot id and the boot
//      CPU's APIC id -> build_capture_command_line(), with --append/--remove
//      standing in for KernelCommandLineAppend=/Remove=;
//   2. SystemKexec::load_crash_kernel(): kexec_file_load(2) with
//      KEXEC_FILE_ON_CRASH;
//   3. crash_kernel_loaded() read back from /sys/kernel/kexec_crash_loaded.
// It prints the command line and the state on stdout, each line starting
// with "crashcapture-kexec-load: " (the serial log is grepped); on an error the
// library's explanation goes to stderr and the exit status is 1 (2 for a
// usage error). guest-init.sh runs it in the QEMU guest with e2e.kexec=ours.
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "capture-cmdline.hpp"
#include "file-util.hpp"
#include "kexec-loader.hpp"
#include "system-paths.hpp"

using namespace crashcapture;

namespace {}  // namespace

int main(int argc, char** argv) {
    std::string kernel;
    std::string initrd;
    CaptureCommandLineOptions options;
    bool with_boot_id = true;
    bool with_apicid = true;
    bool dry_run = false;

    CLI::App app{
        "Load a capture kernel with crashcapture's own kexec_file_load (KEXEC_FILE_ON_CRASH), "
        "on a command line derived from the running kernel's like crashcaptured does it. "
        "A test tool of the QEMU end-to-end harness (tests/e2e).",
        "crashcapture-kexec-load"};
    app.set_version_flag("--version", CRASHCAPTURE_VERSION);
    app.add_option("-k,--kernel", kernel, "Capture kernel (bzImage)")->required();
    app.add_option("-i,--initrd", initrd, "Capture initrd (empty: none)");
    app.add_option("-a,--append", options.append,
                   "A word to append to the capture command line (KernelCommandLineAppend=); "
                   "repeatable")
        ->allow_extra_args(false);
    app.add_option("-r,--remove", options.remove,
                   "A word or pattern to remove from it (KernelCommandLineRemove=); repeatable")
        ->allow_extra_args(false);
    app.add_option("--cpus", options.capture_cpus,
                   "The capture kernel's CPUs, its nr_cpus= (what the daemon chooses with "
                   "choose_capture_cpus(), CPUs= of crashcapture.conf)")
        ->default_val(1)
        ->check(CLI::Range(1U, 8192U));
    app.add_flag("!--no-boot-id", with_boot_id, "Leave out crashcapture.boot_id=");
    app.add_flag("!--no-apicid", with_apicid, "Leave out disable_cpu_apicid=");
    app.add_flag("-n,--dry-run", dry_run, "Print the command line, load nothing");
    app.footer(
        "System paths follow $CRASHCAPTURE_ROOT like crashcaptured's. Exit status: 0 loaded "
        "(and kexec_crash_loaded reads 1), 1 failed, 2 usage error.");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int code = app.exit(e);
        return code == 0 ? 0 : 2;
    }

    const auto paths = SystemPaths::from_environment();
    auto fail = [](const Error& error) {
        std::cerr << "crashcapture-kexec-load: " << error.message << '\n';
        return 1;
    };

    auto running = read_kernel_file(paths.proc + "/cmdline");
    if (!running) {
        return fail(running.error());
    }
    if (with_boot_id) {
        auto boot_id = read_kernel_file(paths.proc + "/sys/kernel/random/boot_id");
        if (!boot_id) {
            return fail(boot_id.error());
        }
        options.boot_id = *boot_id;
    }
    if (with_apicid) {
        // Missing /proc/cpuinfo or no x86 fields: no disable_cpu_apicid=.
        options.boot_cpu_apicid =
            parse_boot_cpu_apicid(read_kernel_file(paths.proc + "/cpuinfo").value_or(""));
    }
    auto command_line = build_capture_command_line(*running, options);
    if (!command_line) {
        return fail(command_line.error());
    }
    const std::string_view tag = "crashcapture-kexec-load: ";
    std::cout << tag << "command line: " << *command_line << '\n'
              << tag << "kernel " << kernel << ", initrd " << (initrd.empty() ? "none" : initrd)
              << std::endl;
    if (dry_run) {
        return 0;
    }

    SystemKexec kexec(paths.sys, paths.proc);
    if (auto loaded = kexec.load_crash_kernel(kernel, initrd, *command_line); !loaded) {
        return fail(loaded.error());
    }
    auto state = kexec.crash_kernel_loaded();
    if (!state) {
        return fail(state.error());
    }
    std::cout << tag << "loaded; kexec_crash_loaded: " << (*state ? 1 : 0) << std::endl;
    if (!*state) {
        return fail(Error{0, "kexec_file_load succeeded but " + paths.sys +
                                 "/kernel/kexec_crash_loaded is not 1"});
    }
    return 0;
}
