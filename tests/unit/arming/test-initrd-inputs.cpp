#include "initrd-inputs.hpp"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "synthetic-vmcore.hpp"

using namespace crashcapture;
using crashcapture::test::TempDir;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

namespace {

void write_file(const std::string& path, std::string_view contents) {
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << contents;
    ASSERT_TRUE(out.good()) << path;
}

void make_link(const std::string& target, const std::string& path) {
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    ASSERT_EQ(::symlink(target.c_str(), path.c_str()), 0) << path;
}

Config config_for(TargetKind kind) {
    Config config;
    config.target.kind = kind;
    return config;
}

// Is `path` one of the inputs, or inside one of them?
bool covered_by(const std::vector<std::string>& inputs, const std::string& path) {
    return std::any_of(inputs.begin(), inputs.end(), [&](const std::string& input) {
        return path == input || path.starts_with(input + "/");
    });
}

std::string unquote(std::string word) {
    std::erase(word, '"');
    std::erase(word, '\'');
    return word;
}

// The arguments of every inst_* call in a shell script, after joining
// continued lines and dropping comments: {"inst_simple", "SRC", "DST"}.
std::vector<std::vector<std::string>> inst_calls(const std::string& script) {
    std::string joined;
    std::istringstream lines(script);
    std::string line;
    std::vector<std::string> logical;
    while (std::getline(lines, line)) {
        if (!line.empty() && line.back() == '\\') {
            joined += line.substr(0, line.size() - 1) + " ";
            continue;
        }
        logical.push_back(joined + line);
        joined.clear();
    }
    std::vector<std::vector<std::string>> calls;
    for (auto& text : logical) {
        if (const size_t hash = text.find('#');
            hash != std::string::npos && (hash == 0 || text[hash - 1] == ' ')) {
            text.resize(hash);
        }
        // Separators become words of their own.
        std::string spaced;
        for (const char c : text) {
            if (c == ';') {
                spaced += " ; ";
            } else {
                spaced += c;
            }
        }
        std::istringstream words(spaced);
        std::vector<std::string> tokens;
        for (std::string word; words >> word;) {
            tokens.push_back(word);
        }
        for (size_t i = 0; i < tokens.size(); ++i) {
            if (!tokens[i].starts_with("inst_") && tokens[i] != "inst") {
                continue;
            }
            std::vector<std::string> call{tokens[i]};
            for (size_t j = i + 1; j < tokens.size(); ++j) {
                const std::string& t = tokens[j];
                if (t == ";" || t == "then" || t == "||" || t == "&&" || t == "|") {
                    break;
                }
                call.push_back(t);
            }
            calls.push_back(std::move(call));
        }
    }
    return calls;
}

// The host files an inst_* call copies (dracut-init.sh: the source is the
// first argument of inst, inst_simple, inst_script and inst_binary, every
// argument of inst_multiple, the third of inst_hook).
std::vector<std::string> sources_of(const std::vector<std::string>& call) {
    std::vector<std::string> args;
    for (size_t i = 1; i < call.size(); ++i) {
        if (!call[i].starts_with('-')) {
            args.push_back(unquote(call[i]));
        }
    }
    const std::string& name = call[0];
    if (name == "inst_multiple" || name == "inst_rules") {
        return args;
    }
    if (name == "inst" || name == "inst_simple" || name == "inst_script" || name == "inst_binary" ||
        name == "inst_library") {
        return args.empty() ? args : std::vector<std::string>{args[0]};
    }
    if (name == "inst_hook") {
        return args.size() >= 3 ? std::vector<std::string>{args[2]} : args;
    }
    ADD_FAILURE() << name << ": an inst_ function this test does not know; teach it which "
                  << "arguments are host files";
    return {};
}

}  // namespace

// Every file module-setup.sh copies into the capture initrd from a known
// place on the host must be an input the daemon hashes: adding an inst_*
// line without adding its input (fixed_initrd_inputs) fails here.
TEST(InitrdInputs, EveryFileTheDracutModuleInstallsIsAnInput) {
    const std::string module = CRASHCAPTURE_SOURCE_DIR "/dracut/modules.d/99crashcapture";
    std::ifstream in(module + "/module-setup.sh");
    ASSERT_TRUE(in) << module;
    std::stringstream text;
    text << in.rdbuf();
    const auto calls = inst_calls(text.str());
    ASSERT_GE(calls.size(), 10u) << "module-setup.sh no longer parses as expected";

    // Every target, so that target-dependent files are covered too.
    const SystemPaths paths = SystemPaths::under("");
    std::vector<std::string> inputs;
    for (const auto kind :
         {TargetKind::directory, TargetKind::raw, TargetKind::ssh, TargetKind::nfs}) {
        for (auto& input : fixed_initrd_inputs(paths, config_for(kind), "/boot/vmlinuz-K", "K",
                                               "/usr/libexec/crashcapture/builder")) {
            inputs.push_back(std::move(input));
        }
    }
    int programs = 0;
    int files = 0;
    for (const auto& call : calls) {
        for (const auto& source : sources_of(call)) {
            SCOPED_TRACE(fmt::format("{} {}", call[0], source));
            if (source.starts_with("$CRASHCAPTURE_STAGING/") ||
                source.starts_with("${CRASHCAPTURE_STAGING}/")) {
                const std::string name = source.substr(source.find('/') + 1);
                EXPECT_THAT(kStagedFiles, Contains(name))
                    << "a staged file crashcapture-build-initrd does not write";
            } else if (source.starts_with("$moddir/")) {
                const std::string name = source.substr(source.find('/') + 1);
                EXPECT_EQ(::access((module + "/" + name).c_str(), R_OK), 0)
                    << "not in the source tree's dracut module";
                EXPECT_TRUE(covered_by(inputs, dracut_module_directory() + "/" + name));
            } else if (source.starts_with('/')) {
                EXPECT_TRUE(covered_by(inputs, source))
                    << "module-setup.sh installs " << source
                    << " but no fixed input of the capture initrd covers it "
                       "(lib/arming/initrd-inputs.cpp, fixed_initrd_inputs)";
            } else {
                // A program dracut finds in PATH: recorded from the image
                // after the build (host_files_of_image).
                EXPECT_EQ(source.find_first_of("/$"), std::string::npos)
                    << "neither a path nor a program name";
                ++programs;
                continue;
            }
            ++files;
        }
    }
    EXPECT_GE(files, 10);
    EXPECT_GE(programs, 10);
}

TEST(InitrdInputs, FixedInputsDependOnTheTarget) {
    const SystemPaths paths = SystemPaths::under("/fake");
    const auto directory = fixed_initrd_inputs(paths, config_for(TargetKind::directory),
                                               "/fake/boot/vmlinuz-K", "K", "/b");
    EXPECT_EQ(directory.front(), "/fake/boot/vmlinuz-K");
    EXPECT_THAT(directory, Contains("/fake/usr/sbin/crashcapture-save"));
    EXPECT_THAT(directory, Contains("/fake/usr/lib/dracut/modules.d/99crashcapture"));
    EXPECT_THAT(directory, Contains("/fake" + crashcapture_dracut_conf()));
    EXPECT_THAT(directory, Contains("/fake/etc/crashcapture/dracut.conf.d"));
    EXPECT_THAT(directory, Contains("/fake/etc/fstab"));
    EXPECT_THAT(directory, Contains("/fake/usr/bin/dracut"));
    EXPECT_THAT(directory, Contains("/b"));
    EXPECT_THAT(directory, Not(Contains("/fake/etc/resolv.conf")));
    const auto ssh =
        fixed_initrd_inputs(paths, config_for(TargetKind::ssh), "/fake/boot/vmlinuz-K", "K", "/b");
    EXPECT_THAT(ssh, Contains("/fake/etc/resolv.conf"));
    EXPECT_THAT(ssh, Contains("/fake/etc/hosts"));
    EXPECT_THAT(ssh, Contains("/fake/etc/crashcapture/ssh"));
    const auto nfs =
        fixed_initrd_inputs(paths, config_for(TargetKind::nfs), "/fake/boot/vmlinuz-K", "K", "/b");
    EXPECT_THAT(nfs, Contains("/fake/etc/resolv.conf"));
    EXPECT_THAT(nfs, Not(Contains("/fake/etc/crashcapture/ssh")));
}

// What lsinitrd (or the image's own cpio listing) names, mapped back to the
// host: merged /usr links followed, absolute links kept inside the root,
// generated files and kernel modules left out.
TEST(InitrdInputs, ImageFilesMapToHostFiles) {
    TempDir tmp;
    const std::string root = tmp.path();
    write_file(root + "/usr/bin/dash", "dash");
    write_file(root + "/usr/bin/ssh", "ssh");
    make_link("usr/bin", root + "/bin");
    make_link("usr/lib", root + "/lib");
    make_link("dash", root + "/usr/bin/sh");
    write_file(root + "/usr/lib/x86_64-linux-gnu/libc.so.6", "libc");
    write_file(root + "/run/systemd/resolve/stub-resolv.conf", "nameserver 127.0.0.53\n");
    make_link("/run/systemd/resolve/stub-resolv.conf", root + "/etc/resolv.conf");
    write_file(root + "/usr/lib/modules/K/kernel/virtio_blk.ko", "ko");
    write_file(root + "/etc/ld.so.cache", "cache");
    write_file(root + "/etc/cmdline.d/10-crashcapture.conf", "x");
    write_file(root + "/etc/crashcapture/capture.env", "staged on the host?");
    make_link("loop", root + "/loop");
    const std::vector<std::string> image{
        "bin/dash",
        "usr/bin/dash",
        "./lib/x86_64-linux-gnu/libc.so.6",
        "/usr/bin/sh",
        "usr/bin/ssh",
        "etc/resolv.conf",
        "lib/modules/K/kernel/virtio_blk.ko",
        "usr/lib/modules/K/modules.dep",
        "etc/ld.so.cache",
        "etc/cmdline.d/10-crashcapture.conf",
        "etc/crashcapture/capture.env",
        "usr/lib/crashcapture/crashcapture-capture",  // from the dracut module dir
        "usr/lib/initrd-release",                     // generated by dracut
        "loop",
        "",
    };
    EXPECT_THAT(host_files_of_image(SystemPaths::under(root), image),
                ElementsAre("/run/systemd/resolve/stub-resolv.conf", "/usr/bin/dash",
                            "/usr/bin/ssh", "/usr/lib/x86_64-linux-gnu/libc.so.6"));
}

TEST(InitrdInputs, RecordedListRoundTripsAndRefusesRelativePaths) {
    TempDir tmp;
    const std::string list = tmp.file("initrd-K.inputs.json");
    auto missing = read_recorded_inputs(list);
    ASSERT_TRUE(missing) << missing.error().message;
    EXPECT_THAT(*missing, IsEmpty());
    ASSERT_TRUE(write_recorded_inputs(list, "K", {"/usr/bin/ssh", "/usr/lib/libc.so.6"}));
    auto read = read_recorded_inputs(list);
    ASSERT_TRUE(read) << read.error().message;
    EXPECT_THAT(*read, ElementsAre("/usr/bin/ssh", "/usr/lib/libc.so.6"));
    write_file(list, R"({"schema_version": 1, "files": ["usr/bin/ssh"]})");
    EXPECT_FALSE(read_recorded_inputs(list));
    write_file(list, "not json");
    EXPECT_FALSE(read_recorded_inputs(list));
    EXPECT_EQ(recorded_inputs_path(SystemPaths::under("/r"), "6.1.0-9-amd64"),
              "/r/var/lib/crashcapture/initrd-6.1.0-9-amd64.inputs.json");
}

// The daemon's manifest over fixed ∪ recorded: a recorded file's new content
// is a change, a touch is not.
TEST(InitrdInputs, ManifestSeesContentOfRecordedFilesNotTheirMtime) {
    TempDir tmp;
    const SystemPaths paths = SystemPaths::under(tmp.path());
    write_file(tmp.path() + "/etc/fstab", "UUID=1 / ext4 defaults 0 1\n");
    write_file(tmp.path() + "/usr/lib/x86_64-linux-gnu/libc.so.6", "libc 2.36-9");
    const std::string list = recorded_inputs_path(paths, "K");
    std::filesystem::create_directories(paths.state);
    ASSERT_TRUE(write_recorded_inputs(list, "K", {"/usr/lib/x86_64-linux-gnu/libc.so.6"}));
    const auto fixed = fixed_initrd_inputs(paths, config_for(TargetKind::directory),
                                           paths.boot + "/vmlinuz-K", "K", "/nonexistent");
    auto recorded = read_recorded_inputs(list);
    ASSERT_TRUE(recorded);
    const auto inputs = all_initrd_inputs(paths, fixed, *recorded);
    const std::string libc = tmp.path() + "/usr/lib/x86_64-linux-gnu/libc.so.6";
    EXPECT_THAT(inputs, Contains(libc));
    auto first = compute_manifest(inputs);
    ASSERT_TRUE(first) << first.error().message;

    struct timespec later[2]{};
    ::clock_gettime(CLOCK_REALTIME, &later[0]);
    later[0].tv_sec += 100;
    later[1] = later[0];
    ASSERT_EQ(::utimensat(AT_FDCWD, libc.c_str(), later, 0), 0);
    auto touched = compute_manifest(inputs);
    ASSERT_TRUE(touched);
    EXPECT_THAT(changed_inputs(*first, *touched), IsEmpty());

    write_file(libc, "libc 2.36-9+deb12u1");
    auto upgraded = compute_manifest(inputs);
    ASSERT_TRUE(upgraded);
    EXPECT_THAT(changed_inputs(*first, *upgraded), ElementsAre("modified: " + libc + " (content)"));
}

// After a build: known files keep their pre-build hash (a change during the
// build is still a change next time), new ones are hashed, dropped ones go.
TEST(InitrdInputs, ManifestAfterBuildKeepsPreBuildStateAndFollowsTheNewList) {
    TempDir tmp;
    const std::string fixed = tmp.file("conf.d");
    write_file(fixed + "/a.conf", "a");
    const std::string kept = tmp.file("kept");
    const std::string dropped = tmp.file("dropped");
    const std::string added = tmp.file("added");
    write_file(kept, "kept v1");
    write_file(dropped, "dropped");
    write_file(added, "added");
    auto before = compute_manifest({fixed, kept, dropped});
    ASSERT_TRUE(before);
    write_file(kept, "kept v2, written while dracut ran");
    const std::vector<std::string> now{fixed, kept, added};
    auto after = manifest_after_build(*before, now);
    ASSERT_TRUE(after) << after.error().message;
    EXPECT_THAT(after->inputs, ElementsAre(fixed, kept, added));
    auto current = compute_manifest(now);
    ASSERT_TRUE(current);
    EXPECT_THAT(changed_inputs(*after, *current), ElementsAre("modified: " + kept + " (content)"));
}
