#include "initrd-inputs.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <deque>
#include <fstream>
#include <optional>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "file-util.hpp"
#include "initrd-size.hpp"
#include "json-integer.hpp"
#include "utf8.hpp"

namespace crashcapture {
namespace {

constexpr int kRecordedInputsSchemaVersion = 1;
// The kernel's own limit on symlinks followed in one lookup (MAXSYMLINKS).
constexpr int kMaxSymlinks = 40;

// Image paths generated while the initrd is built, never copied from the
// host file of the same name. Prefixes end with '/'.
constexpr std::string_view kGeneratedPrefixes[] = {
    // Kernel modules and depmod's output: the module tree is a fixed input.
    "lib/modules/",
    "usr/lib/modules/",
    // dracut's command line and configuration snippets.
    "etc/cmdline.d/",
    "etc/conf.d/",
};
constexpr std::string_view kGeneratedFiles[] = {
    // ldconfig run in the image.
    "etc/ld.so.cache",
    // Staged by crashcapture-build-initrd (kStagedFiles; module-setup.sh
    // installs them here).
    "etc/crashcapture/capture.env",
    "etc/systemd/system/crashcapture-capture.service.d/50-actions.conf",
    "etc/systemd/system/crashcapture-fallback.service.d/50-actions.conf",
};

std::vector<std::string> split_components(std::string_view path) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start <= path.size()) {
        const size_t slash = path.find('/', start);
        const size_t end = slash == std::string_view::npos ? path.size() : slash;
        if (end > start) {
            out.emplace_back(path.substr(start, end - start));
        }
        if (slash == std::string_view::npos) {
            break;
        }
        start = slash + 1;
    }
    return out;
}

std::string join_components(const std::vector<std::string>& components) {
    std::string out;
    for (const auto& component : components) {
        out += "/" + component;
    }
    return out.empty() ? "/" : out;
}

// `path` (absolute, as the system names it) resolved through every symlink,
// with root standing for "/" (an absolute link target stays inside root),
// the way the host's own lookup would go. nullopt when a component is
// missing or the links loop.
std::optional<std::string> resolve_in_root(const std::string& root, std::string_view path) {
    std::deque<std::string> pending;
    for (auto& component : split_components(path)) {
        pending.push_back(std::move(component));
    }
    std::vector<std::string> resolved;
    int links = 0;
    while (!pending.empty()) {
        std::string component = std::move(pending.front());
        pending.pop_front();
        if (component == ".") {
            continue;
        }
        if (component == "..") {
            if (!resolved.empty()) {
                resolved.pop_back();
            }
            continue;
        }
        resolved.push_back(component);
        const std::string on_disk = root + join_components(resolved);
        struct stat st {};
        if (::lstat(on_disk.c_str(), &st) < 0) {
            return std::nullopt;
        }
        if (!S_ISLNK(st.st_mode)) {
            continue;
        }
        if (++links > kMaxSymlinks) {
            return std::nullopt;
        }
        std::string target(4096, '\0');
        const ssize_t n = ::readlink(on_disk.c_str(), target.data(), target.size());
        if (n < 0 || static_cast<size_t>(n) >= target.size()) {
            return std::nullopt;
        }
        target.resize(static_cast<size_t>(n));
        resolved.pop_back();
        if (target.starts_with('/')) {
            resolved.clear();
        }
        auto parts = split_components(target);
        pending.insert(pending.begin(), parts.begin(), parts.end());
    }
    return join_components(resolved);
}

bool is_generated(std::string_view image_path) {
    for (const auto prefix : kGeneratedPrefixes) {
        if (image_path.starts_with(prefix)) {
            return true;
        }
    }
    return std::find(std::begin(kGeneratedFiles), std::end(kGeneratedFiles), image_path) !=
           std::end(kGeneratedFiles);
}

std::string normalize(std::string path) {
    while (path.size() > 1 && path.back() == '/') {
        path.pop_back();
    }
    return path;
}

}  // namespace

std::string capture_saver_path() {
    // module-setup.sh: inst_binary /usr/sbin/crashcapture-save, the same
    // path on the host and in the image.
    return "/usr/sbin/crashcapture-save";
}

std::string dracut_module_directory() {
    // dracut reads its modules from here whatever our install prefix
    // (dracut.modules(7)).
    return "/usr/lib/dracut/modules.d/99crashcapture";
}

std::string crashcapture_dracut_conf() {
    return CRASHCAPTURE_LIBDIR "/dracut.conf";
}

std::string crashcapture_dracut_conf_dir() {
    return CRASHCAPTURE_LIBDIR "/dracut.conf.d";
}

std::vector<std::string> fixed_initrd_inputs(const SystemPaths& paths, const Config& config,
                                             const std::string& kernel_image,
                                             const std::string& kernel_release,
                                             const std::string& builder) {
    std::vector<std::string> inputs{
        kernel_image,
        paths.modules + "/" + kernel_release,
        paths.config_file(),
        paths.config_dropin_directory(),
        paths.resolve("/etc/fstab"),
        builder,
        // What the initrd runs that this package ships, and how the
        // builder configures dracut (crashcapture-build-initrd: --conf,
        // --confdir).
        paths.resolve(capture_saver_path()),
        paths.resolve(dracut_module_directory()),
        paths.resolve(crashcapture_dracut_conf()),
        paths.resolve(crashcapture_dracut_conf_dir()),
        paths.resolve(kAdminDracutConfDir),
        // dracut itself: its functions and the modules we ask for
        // (systemd, base, ...) decide what goes in.
        paths.resolve(kDracutProgram),
        paths.resolve(kDracutLibrary),
    };
    if (config.target.is_remote()) {
        for (const auto file : kResolverFiles) {
            inputs.push_back(paths.resolve(file));
        }
    }
    if (config.target.kind == TargetKind::ssh) {
        // The key and known_hosts go into the initrd; the network it sets
        // up is read at build time only (crashcapture-build-initrd).
        inputs.push_back(paths.etc_config + "/ssh");
    }
    return inputs;
}

std::vector<std::string> host_files_of_image(const SystemPaths& paths,
                                             const std::vector<std::string>& image_files) {
    std::vector<std::string> out;
    for (std::string_view name : image_files) {
        while (name.starts_with("./") || name.starts_with('/')) {
            name.remove_prefix(name.starts_with('/') ? 1 : 2);
        }
        if (name.empty() || name == "." || name.find('\n') != std::string_view::npos ||
            is_generated(name)) {
            continue;
        }
        // Built by append: "/" + std::string(name) trips GCC 12's -Wrestrict
        // false positive at -O3 (GCC bug 105651).
        std::string absolute = "/";
        absolute.append(name);
        auto host = resolve_in_root(paths.root, absolute);
        if (!host) {
            continue;
        }
        struct stat st {};
        if (::stat((paths.root + *host).c_str(), &st) < 0 || !S_ISREG(st.st_mode)) {
            continue;
        }
        // The resolved path may land in a generated place too (a link into
        // the module tree).
        if (is_generated(std::string_view(*host).substr(1))) {
            continue;
        }
        out.push_back(std::move(*host));
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

Status write_recorded_inputs(const std::string& path, const std::string& kernel_release,
                             const std::vector<std::string>& files) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& file : files) {
        if (is_valid_utf8(file)) {  // JSON holds UTF-8 only; such names are not seen in practice
            list.push_back(file);
        }
    }
    const nlohmann::json json{{"schema_version", kRecordedInputsSchemaVersion},
                              {"kernel_release", kernel_release},
                              {"files", std::move(list)}};
    const size_t slash = path.rfind('/');
    const std::string directory = slash == std::string::npos ? "." : path.substr(0, slash);
    const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
    auto fd = open_directory(directory.empty() ? "/" : directory);
    if (!fd) {
        return tl::unexpected(fd.error());
    }
    return write_file_atomically(fd->get(), name, json.dump(1) + "\n", 0644);
}

Status record_initrd_inputs(const SystemPaths& paths, const std::vector<std::string>& image_files,
                            const std::string& kernel_release, const std::string& list_path) {
    return write_recorded_inputs(list_path, kernel_release,
                                 host_files_of_image(paths, image_files));
}

Result<std::vector<std::string>> read_recorded_inputs(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        if (errno == ENOENT) {
            return std::vector<std::string>{};
        }
        return make_errno_error(errno, "cannot open {}", path);
    }
    try {
        const auto json = nlohmann::json::parse(in);
        if (json_integer<int>(json.at("schema_version"), "schema_version") >
            kRecordedInputsSchemaVersion) {
            return make_error(0, "{}: schema version {} is newer than this tool's {}", path,
                              json_integer<int>(json.at("schema_version"), "schema_version"),
                              kRecordedInputsSchemaVersion);
        }
        std::vector<std::string> files;
        for (const auto& file : json.at("files")) {
            auto name = file.get<std::string>();
            if (!name.starts_with('/')) {
                return make_error(0, "{}: \"{}\" is not an absolute path", path, name);
            }
            files.push_back(std::move(name));
        }
        return files;
    } catch (const std::exception& e) {
        return make_error(0, "{}: malformed list of initrd inputs: {}", path, e.what());
    }
}

std::string recorded_inputs_path(const SystemPaths& paths, const std::string& kernel_release) {
    return paths.state + "/initrd-" + kernel_release + ".inputs.json";
}

std::vector<std::string> all_initrd_inputs(const SystemPaths& paths,
                                           const std::vector<std::string>& fixed,
                                           const std::vector<std::string>& recorded) {
    std::vector<std::string> out;
    std::unordered_set<std::string> seen;
    for (const auto& input : fixed) {
        if (seen.insert(normalize(input)).second) {
            out.push_back(normalize(input));
        }
    }
    for (const auto& file : recorded) {
        auto input = normalize(paths.resolve(file));
        if (seen.insert(input).second) {
            out.push_back(std::move(input));
        }
    }
    return out;
}

Result<Manifest> manifest_after_build(const Manifest& before,
                                      const std::vector<std::string>& inputs) {
    Manifest after;
    after.schema_version = before.schema_version;
    after.algorithm = before.algorithm;
    after.computed_at_ns = before.computed_at_ns;
    std::unordered_set<std::string> now;
    for (const auto& input : inputs) {
        if (now.insert(normalize(input)).second) {
            after.inputs.push_back(normalize(input));
        }
    }
    // An entry stays when an input of now is the entry or one of its
    // directories.
    auto covered = [&](std::string path) {
        for (;;) {
            if (now.contains(path)) {
                return true;
            }
            const size_t slash = path.rfind('/');
            if (slash == std::string::npos || slash == 0) {
                return false;
            }
            path.resize(slash);
        }
    };
    std::unordered_set<std::string> known_inputs(before.inputs.begin(), before.inputs.end());
    for (const auto& entry : before.entries) {
        if (covered(entry.path)) {
            after.entries.push_back(entry);
        }
    }
    std::vector<std::string> added;
    for (const auto& input : after.inputs) {
        if (!known_inputs.contains(input)) {
            added.push_back(input);
        }
    }
    if (!added.empty()) {
        auto fresh = compute_manifest(added);
        if (!fresh) {
            return tl::unexpected(fresh.error());
        }
        for (auto& entry : fresh->entries) {
            after.entries.push_back(std::move(entry));
        }
    }
    return after;
}

}  // namespace crashcapture
