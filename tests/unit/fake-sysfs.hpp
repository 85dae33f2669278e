// A fake root for the arming tests: sysfs as the kernel lays it out
// (devices under /sys/devices, a partition inside its disk's directory,
// /sys/class/block/NAME and /sys/dev/block/MAJ:MIN links to them, slaves/
// links between layers), and files anywhere under it.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "system-paths.hpp"

namespace crashcapture::test {

class FakeSysfs : public ::testing::Test {
  protected:
    void SetUp() override {
        char name[] = "/tmp/fake-sysfs.XXXXXX";
        ASSERT_NE(::mkdtemp(name), nullptr);
        root_ = name;
        paths_ = SystemPaths::under(root_);
    }
    void TearDown() override { std::filesystem::remove_all(root_); }

    std::filesystem::path add(const std::string& name, const std::string& numbers,
                              const std::string& parent = "") {
        const std::filesystem::path relative = parent.empty()
                                                   ? "devices/virtual/block/" + name
                                                   : "devices/virtual/block/" + parent + "/" + name;
        const std::filesystem::path dir = std::filesystem::path(root_) / "sys" / relative;
        std::filesystem::create_directories(dir);
        std::ofstream(dir / "uevent") << "MAJOR=x\nDEVNAME=" << name << "\n";
        std::filesystem::create_directories(root_ + "/sys/class/block");
        std::filesystem::create_directories(root_ + "/sys/dev/block");
        std::filesystem::create_symlink("../../" / relative, root_ + "/sys/class/block/" + name);
        std::filesystem::create_symlink("../../" / relative, root_ + "/sys/dev/block/" + numbers);
        return dir;
    }
    void disk(const std::string& name, const std::string& numbers, const std::string& module) {
        const std::filesystem::path dir = add(name, numbers);
        std::filesystem::create_directories(dir / "device/driver");
        std::filesystem::create_symlink("../../../../../module/" + module,
                                        dir / "device/driver/module");
    }
    void partition(const std::string& disk, const std::string& name, const std::string& numbers) {
        std::ofstream(add(name, numbers, disk) / "partition") << "1\n";
    }
    void slaves(const std::filesystem::path& dir, const std::vector<std::string>& names) {
        std::filesystem::create_directories(dir / "slaves");
        for (const auto& slave : names) {
            std::filesystem::create_symlink("../../" + slave, dir / "slaves" / slave);
        }
    }
    void dm(const std::string& name, const std::string& numbers, const std::string& dm_name,
            const std::string& uuid, const std::vector<std::string>& under) {
        const std::filesystem::path dir = add(name, numbers);
        std::filesystem::create_directories(dir / "dm");
        std::ofstream(dir / "dm/name") << dm_name << "\n";
        std::ofstream(dir / "dm/uuid") << uuid << "\n";
        slaves(dir, under);
    }
    void md(const std::string& name, const std::string& numbers, const std::string& level,
            const std::vector<std::string>& under) {
        const std::filesystem::path dir = add(name, numbers);
        std::filesystem::create_directories(dir / "md");
        std::ofstream(dir / "md/level") << level << "\n";
        std::ofstream(dir / "md/uuid") << "3f1a2b4c-5d6e-7f80-9a1b-2c3d4e5f6071\n";
        slaves(dir, under);
    }

    // A file under the root, its directories made.
    void write(const std::string& path, const std::string& text) {
        const std::filesystem::path file = root_ + path;
        std::filesystem::create_directories(file.parent_path());
        std::ofstream(file) << text;
    }
    // /dev/disk/by-uuid/UUID -> ../../NAME, as udev links it.
    void uuid(const std::string& name, const std::string& uuid) {
        std::filesystem::create_directories(root_ + "/dev/disk/by-uuid");
        std::filesystem::create_symlink("../../" + name, root_ + "/dev/disk/by-uuid/" + uuid);
    }

    std::string root_;
    SystemPaths paths_;
};

}  // namespace crashcapture::test
