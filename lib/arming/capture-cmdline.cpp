#include "capture-cmdline.hpp"

#include <algorithm>
#include <charconv>

#include "kernel-command-line.hpp"
#include "text.hpp"

namespace crashcapture {
namespace {

bool is_uuid(std::string_view text) {
    // /proc/sys/kernel/random/boot_id: "%pU", 8-4-4-4-12 lower-case hex.
    if (text.size() != 36) {
        return false;
    }
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-') {
                return false;
            }
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return false;
        }
    }
    return true;
}

bool matches_any(const std::vector<std::string>& patterns, std::string_view word) {
    return std::any_of(patterns.begin(), patterns.end(), [&](const std::string& pattern) {
        return kernel_parameter_matches(pattern, word);
    });
}

// Whether an appended word sets the same parameter as word, so the built-in
// one gives way (KernelCommandLineAppend=nr_cpus=2 replaces nr_cpus=1
// instead of following it).
bool set_by_append(const std::vector<std::string>& append, std::string_view word) {
    const auto name = kernel_parameter_name(word);
    return std::any_of(append.begin(), append.end(), [&](const std::string& appended) {
        return kernel_parameter_names_equal(kernel_parameter_name(appended), name);
    });
}

}  // namespace

// Removed from the running line. Names are matched with any value. Besides
// the reasons given, every parameter we add is removed first, so the line
// holds one nr_cpus=, one panic=, … (SUSE's load.sh does the same with
// cgroup_disable and acpi_no_memhotplug).
const std::vector<CaptureParameter> kCaptureRemovedParameters = {
    {"crashkernel",
     "a capture kernel must not reserve memory for yet another one (kdump-utils prepare_cmdline() "
     "always removes it; Debian kdump-config and SUSE load.sh too)"},
    {"BOOT_IMAGE",
     "set by GRUB to the first kernel's image file; meaningless after kexec (SUSE load.sh)"},
    {"initrd",
     "names the first kernel's initrd for the EFI stub or boot loader; kexec_file_load() passes "
     "the capture initrd itself"},
    {"quiet",
     "the capture kernel's messages on the console are the only trace of a capture that fails "
     "(kdump-utils KDUMP_COMMANDLINE_REMOVE)"},
    {"splash", "a boot splash hides the console and costs memory (SUSE load.sh)"},
    {"init",
     "names the first system's init; the capture initrd brings its own, and a capture that "
     "boots into the real root would start the whole system (kdump-utils removes it too)"},
    {"rdinit",
     "names the first initramfs's init, which the capture initrd does not have: the capture "
     "kernel would fail to start user space"},
    {"rhgb", "Red Hat's graphical boot: a splash, as above"},
    {"hugepages",
     "huge pages reserved out of a few hundred MiB fail or take all of it (kdump-utils "
     "KDUMP_COMMANDLINE_REMOVE, Debian kdump-config's sed)"},
    {"hugepagesz", "goes with hugepages= (kdump-utils, Debian kdump-config)"},
    {"default_hugepagesz", "goes with hugepages="},
    {"hugetlb_cma", "a CMA area for huge pages: memory (kdump-utils); we add hugetlb_cma=0"},
    {"cma", "a contiguous memory area: memory (kdump-utils); we add cma=0"},
    {"slub_debug", "slab debugging costs memory per object (kdump-utils KDUMP_COMMANDLINE_REMOVE)"},
    {"log_buf_len", "a large log buffer comes out of the reservation (kdump-utils)"},
    {"swiotlb", "a large bounce buffer comes out of the reservation (kdump-utils)"},
    {"mem",
     "a memory limit for the first kernel says nothing about the capture kernel's, whose memory "
     "map kexec builds from the reservation (SUSE load.sh)"},
    {"nr_cpus", "we add nr_cpus= with the CPUs chosen for the capture"},
    {"maxcpus", "we add nr_cpus=; maxcpus= would still size per-CPU data for every CPU"},
    {"possible_cpus", "we add nr_cpus="},
    {"panic", "we add panic=10"},
    {"panic_on_warn",
     "a warning in the capture kernel must not end the capture (kdump-utils prepare_cmdline() "
     "always removes it)"},
    {"unknown_nmi_panic", "an NMI must not panic the capture kernel (SUSE load.sh)"},
    {"resume",
     "the capture must not resume a hibernation image, nor let the initrd try (SUSE load.sh); we "
     "add noresume"},
    {"resume_offset", "goes with resume="},
    {"systemd.unit", "the capture initrd chooses its own target"},
    {"rd.systemd.unit", "the capture initrd chooses its own target"},
    // kdump-utils prepare_cmdline(): the capture initrd is built with what its
    // target needs (dracut --hostonly-cmdline); the running system's storage
    // and network assembly would only set up devices the capture does not
    // use, or duplicate what the initrd brings.
    {"rd.lvm.lv", "storage the capture initrd sets up itself (kdump-utils prepare_cmdline())"},
    {"rd.luks.uuid", "idem"},
    {"rd.dm.uuid", "idem"},
    {"rd.md.uuid", "idem"},
    {"fcoe", "idem"},
    {"netroot", "duplicates what the initrd's iSCSI setup adds (kdump-utils prepare_cmdline())"},
    {"rd.iscsi.initiator", "idem"},
    {"iscsi_initiator", "idem"},
    {"ignition.firstboot",
     "CoreOS provisioning must not run again in the capture (kdump-utils "
     "KDUMP_COMMANDLINE_REMOVE)"},
    {"udev.children-max", "we add udev.children-max=2"},
    {"rd.udev.children-max", "we add udev.children-max=2 (SUSE load.sh removes it too)"},
    {"irqpoll", "we add it"},
    {"reset_devices", "we add it"},
    {"cgroup_disable", "we add cgroup_disable=memory (SUSE load.sh removes it first too)"},
    {"mce", "we add mce=off"},
    {"numa", "we add numa=off"},
    {"acpi_no_memhotplug", "we add it"},
    {"transparent_hugepage", "we add transparent_hugepage=never"},
    {"nokaslr", "we add it"},
    {"hest_disable", "we add it"},
    {"novmcoredd", "we add it"},
    {"pcie_ports", "we add pcie_ports=compat"},
    {"rd.systemd.gpt_auto", "we add rd.systemd.gpt_auto=no"},
    {"noresume", "we add it"},
    {"disable_cpu_apicid", "we add it for this machine's boot CPU"},
    {"crashcapture.boot_id", "we add it for this boot"},
};

// Added to the capture kernel's line: kdump-utils' KDUMP_COMMANDLINE_APPEND
// for x86_64 and aarch64 (gen-kdump-sysconfig.sh; the x86_64-only words are
// marked, aarch64 adds swiotlb=noforce), which is the kernel's own advice
// (Documentation/admin-guide/kdump/kdump.rst: "irqpoll nr_cpus=1
// reset_devices") plus what keeps a kernel small in a few hundred MiB, and
// what prepare_cmdline() adds. Debian's kdump-tools adds a subset (irqpoll
// nr_cpus=1 reset_devices, and usbcore.nousb, which we leave out: it would
// break a dump to a USB disk).
const std::vector<CaptureParameter> kCaptureAddedParameters = {
    {"irqpoll",
     "devices the crashed kernel left with interrupts pending or misrouted: poll every handler "
     "on each timer tick (kdump.rst)"},
    {"nr_cpus=1",
     "bring up and size per-CPU data for only the CPUs the capture uses: one by default "
     "(kdump.rst), more when the reservation pays for them (CaptureCommandLineOptions::"
     "capture_cpus, choose_capture_cpus()); our saver compresses on each"},
    {"reset_devices",
     "drivers reset their device at probe instead of trusting the state the crashed kernel left "
     "(kdump.rst)"},
    {"cgroup_disable=memory",
     "the memory controller's per-page bookkeeping costs memory (kdump-utils, SUSE load.sh)"},
    {"mce=off",
     "a machine check pending from the crashed kernel, or a storm of corrected ones, must not "
     "take the capture down (kdump-utils x86_64)",
     CaptureArchitecture::x86_64},
    {"numa=off",
     "one node: per-node data structures cost memory and buy nothing on one CPU (kdump-utils "
     "x86_64, SUSE load.sh)",
     CaptureArchitecture::x86_64},
    {"udev.children-max=2",
     "udevd sizes its worker count for the whole machine; two workers bound its memory "
     "(kdump-utils)"},
    {"panic=10",
     "a capture kernel that panics reboots after 10 s instead of hanging (kdump-utils x86_64; "
     "SUSE uses 1)"},
    {"acpi_no_memhotplug",
     "the ACPI memory hotplug driver could add the crashed kernel's memory to the capture "
     "kernel's, and costs memory (kdump-utils x86_64, SUSE load.sh)",
     CaptureArchitecture::x86_64},
    {"transparent_hugepage=never",
     "huge pages waste memory the capture does not have (kdump-utils x86_64)",
     CaptureArchitecture::x86_64},
    {"nokaslr",
     "kdump-utils x86_64, SUSE load.sh: randomizing a kernel that lives for seconds inside a "
     "small reservation buys nothing and makes its layout vary from one capture to the next",
     CaptureArchitecture::x86_64},
    {"hest_disable",
     "no APEI firmware error handling: the capture kernel cannot act on it, and its handlers "
     "cost memory (kdump-utils x86_64)",
     CaptureArchitecture::x86_64},
    {"novmcoredd",
     "no device dumps: drivers would append data to /proc/vmcore without limit, in memory "
     "(kernel-parameters.txt); we do not save them (kdump-utils)"},
    {"cma=0", "no contiguous memory area out of the reservation (kdump-utils)"},
    {"hugetlb_cma=0", "idem, for huge pages (kdump-utils)"},
    {"pcie_ports=compat",
     "no native PCIe port services (AER, hotplug, PME, DPC), which would react to the half-reset "
     "state of devices the crashed kernel was using (kdump-utils x86_64)",
     CaptureArchitecture::x86_64},
    {"swiotlb=noforce",
     "no bounce buffers unless a device needs them: the default pool is 64 MiB, a quarter of a "
     "small reservation (kdump-utils aarch64, kernel-parameters.txt)",
     CaptureArchitecture::arm64},
    {"rd.systemd.gpt_auto=no",
     "systemd-gpt-auto-generator hangs the capture's boot, and the initrd knows its target "
     "(kdump-utils prepare_cmdline())"},
    {"noresume",
     "never resume a hibernation image: removing resume= is not enough where systemd finds one "
     "through the HibernateLocation EFI variable (kernel-parameters.txt, "
     "systemd-hibernate-resume-generator(8))"},
};

Result<std::string> build_capture_command_line(std::string_view running_command_line,
                                               const CaptureCommandLineOptions& options) {
    for (const auto& word : options.remove) {
        if (auto problem = check_command_line_word(word, true)) {
            return make_error(EINVAL, "KernelCommandLineRemove={}: {}", word, *problem);
        }
    }
    for (const auto& word : options.append) {
        if (auto problem = check_command_line_word(word, false)) {
            return make_error(EINVAL, "KernelCommandLineAppend={}: {}", word, *problem);
        }
    }
    if (options.capture_cpus == 0) {
        return make_error(EINVAL, "the capture kernel needs at least one CPU");
    }
    const auto boot_id = trim(options.boot_id);
    if (!boot_id.empty() && !is_uuid(boot_id)) {
        return make_error(EINVAL, "'{}' is not a boot id (a lower-case UUID)", boot_id);
    }

    std::vector<std::string> out;
    for (auto& word : split_kernel_command_line(running_command_line)) {
        // init/main.c: everything after "--" goes to init as its arguments,
        // which were for the running system's init (e.g. "-- emergency").
        if (word == "--") {
            break;
        }
        const bool built_in = std::any_of(
            kCaptureRemovedParameters.begin(), kCaptureRemovedParameters.end(),
            [&](const CaptureParameter& removed) {
                return applies_to(removed, options.architecture) &&
                       kernel_parameter_names_equal(kernel_parameter_name(word), removed.word);
            });
        if (built_in || matches_any(options.remove, word)) {
            continue;
        }
        out.push_back(std::move(word));
    }

    std::vector<std::string> added;
    for (const auto& parameter : kCaptureAddedParameters) {
        if (!applies_to(parameter, options.architecture)) {
            continue;
        }
        if (kernel_parameter_names_equal(kernel_parameter_name(parameter.word), "nr_cpus")) {
            added.push_back(fmt::format("nr_cpus={}", options.capture_cpus));
        } else {
            added.emplace_back(parameter.word);
        }
    }
    if (options.boot_cpu_apicid) {
        // kdump-utils prepare_cmdline(); kernel-parameters.txt: keeps the
        // capture kernel from sending INIT to the crashed boot CPU when it
        // brings up more than one CPU, which resets or hangs the machine.
        added.push_back(fmt::format("disable_cpu_apicid={}", *options.boot_cpu_apicid));
    }
    if (!boot_id.empty()) {
        added.push_back(fmt::format("{}={}", kBootIdParameter, boot_id));
    }
    for (auto& word : added) {
        if (!matches_any(options.remove, word) && !set_by_append(options.append, word)) {
            out.push_back(std::move(word));
        }
    }
    out.insert(out.end(), options.append.begin(), options.append.end());

    std::string line;
    for (const auto& word : out) {
        if (!line.empty()) {
            line += ' ';
        }
        line += word;
    }
    if (line.size() > kMaxCaptureCommandLineBytes) {
        return make_error(E2BIG,
                          "the capture kernel's command line is {} bytes, more than the {} "
                          "kexec_file_load() accepts: remove words with KernelCommandLineRemove=",
                          line.size(), kMaxCaptureCommandLineBytes);
    }
    return line;
}

Result<std::string> derive_capture_command_line(std::string_view running_command_line,
                                                const Config& config, std::string_view boot_id,
                                                std::optional<unsigned> boot_cpu_apicid,
                                                unsigned capture_cpus) {
    CaptureCommandLineOptions options;
    options.capture_cpus = capture_cpus;
    options.remove = config.cmdline_remove;
    options.append = config.cmdline_append;
    options.boot_id = std::string(boot_id);
    options.boot_cpu_apicid = boot_cpu_apicid;
    return build_capture_command_line(running_command_line, options);
}

std::optional<unsigned> parse_boot_cpu_apicid(std::string_view cpuinfo) {
    // Blocks of "key\t: value" lines, one per processor, separated by blank
    // lines. kernel-parameters.txt asks for the *initial* APIC id
    // (disable_cpu_apicid=); kdump-utils reads "apicid", SUSE "initial
    // apicid". They differ only when firmware renumbers; prefer the initial.
    bool in_cpu0 = false;
    std::optional<unsigned> apicid;
    std::optional<unsigned> initial_apicid;
    while (!cpuinfo.empty()) {
        const size_t newline = cpuinfo.find('\n');
        const auto line = cpuinfo.substr(0, newline);
        cpuinfo.remove_prefix(newline == std::string_view::npos ? cpuinfo.size() : newline + 1);
        const size_t colon = line.find(':');
        if (colon == std::string_view::npos) {
            continue;
        }
        const auto key = trim(line.substr(0, colon));
        const auto value = trim(line.substr(colon + 1));
        unsigned number = 0;
        const auto [end, error] =
            std::from_chars(value.data(), value.data() + value.size(), number);
        const bool numeric = error == std::errc() && end == value.data() + value.size();
        if (key == "processor") {
            if (in_cpu0) {
                break;  // past processor 0
            }
            in_cpu0 = numeric && number == 0;
        } else if (in_cpu0 && numeric && key == "apicid") {
            apicid = number;
        } else if (in_cpu0 && numeric && key == "initial apicid") {
            initial_apicid = number;
        }
    }
    return initial_apicid ? initial_apicid : apicid;
}

}  // namespace crashcapture
