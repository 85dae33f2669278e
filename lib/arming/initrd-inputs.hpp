// The inputs of a capture initrd, in one place (issue 13): what
// crashcaptured hashes to decide whether the initrd must be rebuilt, and
// what crashcapture-build-initrd builds it from, so the two cannot drift.
//
// Two parts:
//   * the fixed inputs, known before any build: the capture kernel and its
//     module tree, crashcapture.conf(.d), /etc/fstab, the builder, what the
//     initrd runs that this package ships (crashcapture-save, the dracut
//     module, crashcaptured's dracut configuration and the admin's
//     drop-ins), dracut itself, and per target the resolver files and the
//     ssh key (fixed_initrd_inputs());
//   * the recorded inputs: every other file that went into the initrd, read
//     back from the built image (the programs and libraries dracut copied
//     in), mapped to the host file it came from (host_files_of_image()) and
//     written next to the initrd by the builder (write_recorded_inputs()).
// The manifest (initrd-manifest.hpp) hashes the union by content.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config.hpp"
#include "initrd-manifest.hpp"
#include "result.hpp"
#include "system-paths.hpp"

namespace crashcapture {

// Where the package installs the capture side (CMake passes the prefix; /usr
// in both packages). dracut_module_directory() is where dracut finds
// modules.d/99crashcapture.
std::string capture_saver_path();            // /usr/sbin/crashcapture-save
std::string dracut_module_directory();       // /usr/lib/dracut/modules.d/99crashcapture
std::string crashcapture_dracut_conf();      // /usr/lib/crashcapture/dracut.conf
std::string crashcapture_dracut_conf_dir();  // /usr/lib/crashcapture/dracut.conf.d
inline constexpr std::string_view kAdminDracutConfDir = "/etc/crashcapture/dracut.conf.d";
// dracut itself: the program and its library of modules and functions.
inline constexpr std::string_view kDracutProgram = "/usr/bin/dracut";
inline constexpr std::string_view kDracutLibrary = "/usr/lib/dracut";
// What the capture initrd of a target on another machine (ssh, nfs)
// copies so the server's name resolves (module-setup.sh).
inline constexpr std::string_view kResolverFiles[] = {"/etc/resolv.conf", "/etc/hosts",
                                                      "/etc/nsswitch.conf"};

// The files crashcapture-build-initrd derives from the configuration and
// stages for module-setup.sh ($CRASHCAPTURE_STAGING/NAME): their inputs are
// the configuration files, not themselves.
inline constexpr std::string_view kStagedFiles[] = {"capture.env", "capture-actions.conf",
                                                    "fallback-actions.conf"};

// The fixed inputs, as this process opens them (under paths.root), in a
// stable order. kernel_image is the capture kernel as resolved by the
// caller (Kernel= or /boot/vmlinuz-RELEASE), builder the builder it runs.
std::vector<std::string> fixed_initrd_inputs(const SystemPaths& paths, const Config& config,
                                             const std::string& kernel_image,
                                             const std::string& kernel_release,
                                             const std::string& builder);

// The host files the image's regular files came from, as the running system
// names them ("/usr/bin/ssh"), sorted and without duplicates. An image path
// maps to the same path on the host, resolved through the host's symlinks
// inside paths.root (merged /usr: bin/sh -> /usr/bin/dash). Left out: the
// kernel modules and what depmod writes (the module tree is a fixed input),
// what dracut and our builder generate (etc/cmdline.d, etc/conf.d,
// etc/ld.so.cache, the staged files), and any path with no regular file on
// the host (a file copied under another name, such as the dracut module's,
// is covered by a fixed input).
std::vector<std::string> host_files_of_image(const SystemPaths& paths,
                                             const std::vector<std::string>& image_files);

// The recorded inputs as JSON ({"schema_version": 1, "kernel_release": …,
// "files": […]}), written through a temporary file and rename.
Status write_recorded_inputs(const std::string& path, const std::string& kernel_release,
                             const std::vector<std::string>& files);
// What crashcapture-build-initrd does once dracut wrote the image and it
// listed image_files (list_initrd()): maps them to host files and writes
// the list to list_path.
Status record_initrd_inputs(const SystemPaths& paths, const std::vector<std::string>& image_files,
                            const std::string& kernel_release, const std::string& list_path);

// An empty list when the file does not exist (an initrd built before this
// record existed: the fixed inputs alone, and the next build records).
Result<std::vector<std::string>> read_recorded_inputs(const std::string& path);

// Where the daemon keeps them: STATE/initrd-RELEASE.inputs.json.
std::string recorded_inputs_path(const SystemPaths& paths, const std::string& kernel_release);

// fixed ∪ recorded (resolved under paths.root), duplicates dropped.
std::vector<std::string> all_initrd_inputs(const SystemPaths& paths,
                                           const std::vector<std::string>& fixed,
                                           const std::vector<std::string>& recorded);

// The manifest to keep with a newly built initrd. `before` was computed
// just before the build over the inputs then known; the build recorded
// `inputs` (fixed ∪ the new recorded list). Entries known before keep their
// pre-build state, so a file that changed while dracut ran is still seen as
// changed next time; files the build added are hashed now; files no longer
// in the initrd are dropped.
Result<Manifest> manifest_after_build(const Manifest& before,
                                      const std::vector<std::string>& inputs);

}  // namespace crashcapture
