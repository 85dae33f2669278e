// crashcapture-build-initrd: builds the capture initrd with dracut, the
// crashcapture dracut module (dracut/modules.d/99crashcapture) and
// crashcaptured's own dracut configuration, so that the host's dracut
// settings do not leak in. crashcaptured runs it as
//   crashcapture-build-initrd --kernel-version KVER --kernel IMAGE --output FILE
// and an admin may run it by hand (--dry-run shows the plan).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>

#include "block-stack.hpp"
#include "config.hpp"
#include "file-util.hpp"
#include "initrd-build-plan.hpp"
#include "initrd-inputs.hpp"
#include "initrd-plan.hpp"
#include "initrd-size.hpp"
#include "process.hpp"
#include "system-paths.hpp"

using namespace crashcapture;

namespace {

constexpr int kBuiltOk = 0;
constexpr int kBuildFailed = 1;
constexpr int kBuildUsage = 2;

[[noreturn]] void fail(const std::string& message) {
    std::cerr << "crashcapture-build-initrd: " << message << '\n';
    std::exit(kBuildFailed);
}

void write_text(const std::string& path, const std::string& text, mode_t mode) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0 || ::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size()) ||
        ::close(fd) != 0) {
        fail(fmt::format("cannot write {}: {}", path, std::strerror(errno)));
    }
}

// mkdir -p with 0700 for the last component: a dump directory holds
// memory images (crashcapture.conf(5), Target=).
void make_target_directory(const std::string& path) {
    std::error_code error;
    const std::filesystem::path directory(path);
    std::filesystem::create_directories(directory.parent_path(), error);
    if (error) {
        fail(
            fmt::format("cannot create {}: {}", directory.parent_path().string(), error.message()));
    }
    if (auto made = make_directory(path, 0700); !made) {
        fail(fmt::format("cannot create the target directory: {}", made.error().message));
    }
}

// What the image must hold for the block stack, checked in the image itself:
// a capture initrd without them waits for its device and reboots, and the
// crash is lost. Returns the listing (list_initrd()), which the recorded
// inputs are made from.
InitrdSize check_image(const SystemPaths& paths, const std::string& image,
                       const std::string& kernel_version, const BlockStack& stack) {
    auto listed = list_initrd(image);
    if (!listed) {
        ::unlink(image.c_str());
        fail(fmt::format("cannot list the built initrd: {}", listed.error().message));
    }
    // dracut.conf asks for zstd; without the zstd program dracut falls back
    // to gzip -9 quietly, which is bigger and slower to unpack in the
    // capture kernel (issue 17). Still a working initrd: a warning, not a
    // refusal. A squashed image is compressed inside (mksquashfs -comp
    // zstd, built in): dracut leaves the cpio around it as it is.
    if (!listed->squashed && std::find(listed->segments.begin(), listed->segments.end(), "zstd") ==
                                 listed->segments.end()) {
        std::string segments;
        for (const auto& segment : listed->segments) {
            segments += (segments.empty() ? "" : ", ") + segment;
        }
        std::cerr << fmt::format(
            "crashcapture-build-initrd: warning: the initrd is not zstd-compressed ({}): is "
            "the zstd program installed? dracut falls back to another compression, which "
            "needs more of the crashkernel= reservation\n",
            segments);
    }
    std::vector<std::string> builtin;
    if (auto text = read_module_index(paths, kernel_version, "modules.builtin")) {
        std::string_view rest = *text;
        while (!rest.empty()) {
            const size_t end = std::min(rest.find('\n'), rest.size());
            builtin.emplace_back(rest.substr(0, end));
            rest.remove_prefix(std::min(end + 1, rest.size()));
        }
    }
    // Programs may be symbolic links (thin_check -> pdata_tools).
    std::vector<std::string> entries = listed->file_names;
    entries.insert(entries.end(), listed->link_names.begin(), listed->link_names.end());
    const auto missing = missing_from_image(stack, entries, builtin);
    if (!missing.empty()) {
        std::string list;
        for (const auto& item : missing) {
            list += (list.empty() ? "" : ", ") + item;
        }
        ::unlink(image.c_str());
        fail(
            fmt::format("the built initrd lacks what the block devices under the root and the "
                        "target need ({}); not arming a capture that cannot reach them",
                        list));
    }
    return std::move(*listed);
}

}  // namespace

int main(int argc, char** argv) {
    std::string kernel_version;
    std::string kernel_image;
    std::string output;
    std::string dracut = "dracut";
    std::string record_inputs;
    bool dry_run = false;
    bool verbose = false;

    CLI::App app{
        "Build the capture initrd: dracut with crashcaptured's own configuration, the "
        "crashcapture module, and exactly the drivers the dump target needs.",
        "crashcapture-build-initrd"};
    app.set_version_flag("--version", CRASHCAPTURE_VERSION);
    app.add_option("--kernel-version", kernel_version,
                   "Kernel release the initrd is for (its modules are in /lib/modules/KVER)")
        ->required();
    app.add_option("--kernel", kernel_image,
                   "The capture kernel's image (recorded only; dracut needs the release)");
    app.add_option("--output", output, "Where to write the initrd (replaced atomically)")
        ->required();
    app.add_option("--dracut", dracut, "The dracut to run")->default_val("dracut");
    app.add_option("--record-inputs", record_inputs,
                   "Write the host files that went into the initrd to FILE (JSON; crashcaptured "
                   "hashes them to know when to rebuild)");
    app.add_flag("--dry-run", dry_run,
                 "Print the files for the initrd and the dracut command, build nothing");
    app.add_flag("-v,--verbose", verbose, "Let dracut say what it includes");
    app.footer(
        "Exit status: 0 built, 1 failed (the message says why), 2 usage error. "
        "See crashcapture-build-initrd(8).");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int code = app.exit(e);
        return code == 0 ? kBuiltOk : kBuildUsage;
    }

    const SystemPaths paths = SystemPaths::from_environment();
    auto config = load_config(paths);
    if (!config) {
        fail(fmt::format("the configuration has errors:\n{}", config.error().message));
    }
    if (config->target.kind == TargetKind::directory && !dry_run) {
        make_target_directory(paths.resolve(config->target.path));
    }
    SystemNetworkProbe network_probe;
    InitrdBuildRequest request;
    request.kernel_version = kernel_version;
    request.output = output;
    request.dracut = dracut;
    request.verbose = verbose;
    request.progress = [](const std::string& what) {
        std::cerr << "crashcapture-build-initrd: " << what << '\n';
    };
    auto planned = plan_initrd_build(paths, *config, request, network_probe);
    if (!planned) {
        fail(planned.error().message);
    }
    const InitrdBuildPlan& plan = *planned;
    if (!plan.squash) {
        std::cerr << fmt::format(
            "crashcapture-build-initrd: warning: packing the initrd unsquashed: {}; its files "
            "are then unpacked into the crashkernel= reservation, about 20 MB more\n",
            plan.squash_missing);
    }
    if (verbose) {
        for (const auto& note : plan.notes) {
            std::cerr << "crashcapture-build-initrd: " << note << '\n';
        }
    }

    if (dry_run) {
        const std::map<std::string, std::string> installed_as = {
            {"capture.env", "/etc/crashcapture/capture.env"},
            {"capture-actions.conf",
             "/etc/systemd/system/crashcapture-capture.service.d/50-actions.conf"},
            {"fallback-actions.conf",
             "/etc/systemd/system/crashcapture-fallback.service.d/50-actions.conf"},
        };
        bool first = true;
        for (const auto& [name, text] : plan.staged_files) {
            std::cout << (first ? "" : "\n") << "# " << installed_as.at(name) << '\n' << text;
            first = false;
        }
        std::cout << "\n# block devices under the root and the target\n";
        for (const auto& layer : plan.stack.layers) {
            std::cout << "# " << layer.name << ": " << layer.kind
                      << (layer.detail.empty() ? "" : " " + layer.detail) << '\n';
        }
        std::cout << "\n# packing\n# "
                  << (plan.squash ? "squashfs image (zstd) behind dracut's squash loader"
                                  : "cpio, unpacked into tmpfs: " + plan.squash_missing)
                  << '\n';
        std::cout << "\n# dracut command\n";
        for (const auto& word : plan.dracut_command) {
            std::cout << shell_quote(word) << ' ';
        }
        std::cout << '\n';
        return kBuiltOk;
    }
    const std::string& temporary_output = plan.temporary_output;

    char staging_template[] = "/tmp/crashcapture-initrd.XXXXXX";
    if (::mkdtemp(staging_template) == nullptr) {
        fail(fmt::format("cannot create a staging directory in /tmp: {}", std::strerror(errno)));
    }
    const std::string staging = staging_template;
    for (const auto& [name, text] : plan.staged_files) {
        write_text(staging + "/" + name, text, 0644);
    }

    std::vector<std::string> environment = {"CRASHCAPTURE_STAGING=" + staging};
    // Our dracut.conf says reproducible="yes", which dracut applies to its
    // cpio; mksquashfs stamps the squash image with the time of the build
    // unless SOURCE_DATE_EPOCH says otherwise (squashfs-tools 4.5). The time
    // dracut itself uses for the cpio: its function library's mtime.
    struct stat functions {};
    if (::stat(paths.resolve(std::string(kDracutLibrary) + "/dracut-functions.sh").c_str(),
               &functions) == 0 &&
        std::getenv("SOURCE_DATE_EPOCH") == nullptr) {
        environment.push_back(fmt::format("SOURCE_DATE_EPOCH={}", functions.st_mtim.tv_sec));
    }
    const auto ran = run_program(plan.dracut_command, environment);
    if (!ran) {
        fail(ran.error().message);
    }
    const int status = *ran;
    std::error_code ignored;
    std::filesystem::remove_all(staging, ignored);
    if (status != 0) {
        ::unlink(temporary_output.c_str());
        fail(
            fmt::format("dracut failed (exit status {}); run crashcapture-build-initrd "
                        "--verbose --kernel-version {} --output FILE to see why",
                        status, kernel_version));
    }
    const InitrdSize listed = check_image(paths, temporary_output, kernel_version, plan.stack);
    if (!record_inputs.empty()) {
        if (auto recorded =
                record_initrd_inputs(paths, listed.file_names, kernel_version, record_inputs);
            !recorded) {
            ::unlink(temporary_output.c_str());
            fail(recorded.error().message);
        }
    }
    // Root's only, whatever dracut's umask: the image may carry an ssh
    // target's key and an iSCSI target's CHAP secret (capture.env).
    if (::chmod(temporary_output.c_str(), 0600) != 0) {
        ::unlink(temporary_output.c_str());
        fail(fmt::format("cannot make {} readable by root only: {}", temporary_output,
                         std::strerror(errno)));
    }
    if (::rename(temporary_output.c_str(), output.c_str()) != 0) {
        fail(fmt::format("cannot rename {} to {}: {}", temporary_output, output,
                         std::strerror(errno)));
    }
    struct stat built {};
    ::stat(output.c_str(), &built);
    std::cout << fmt::format("crashcapture-build-initrd: {} for {}: {:.1f} MiB; dumps go to {}\n",
                             output, kernel_version, static_cast<double>(built.st_size) / (1 << 20),
                             plan.destination);
    return kBuiltOk;
}
