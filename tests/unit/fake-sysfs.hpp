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
#include <utility>
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

    // An iSCSI LUN as the kernel lays it out (scsi_transport_iscsi.c): the
    // SCSI host hostH under /sys/devices/platform (the software initiator,
    // scsi_host/hostH/proc_name "iscsi_tcp" unless driver says otherwise),
    // its session sessionS with the iscsi_session class entry and the
    // connectionS:0 entry with the portal, and the disk NAME (with one
    // partition NAME1 when partition_numbers is given) under
    // targetH:0:0/H:0:0:1. attributes: the session's files (targetname,
    // tpgt, initiatorname, username, password, ...).
    void iscsi_disk(const std::string& name, const std::string& numbers, int host, int session,
                    const std::vector<std::pair<std::string, std::string>>& attributes,
                    const std::string& address, const std::string& port,
                    const std::string& partition_numbers = "",
                    const std::string& driver = "iscsi_tcp") {
        const std::string host_name = "host" + std::to_string(host);
        const std::string session_name = "session" + std::to_string(session);
        const std::string connection = "connection" + std::to_string(session) + ":0";
        const std::string host_dir = "devices/platform/" + host_name;
        const std::string session_dir = host_dir + "/" + session_name;
        write("/sys/" + host_dir + "/scsi_host/" + host_name + "/proc_name", driver + "\n");
        for (const auto& [file, value] : attributes) {
            write("/sys/" + session_dir + "/iscsi_session/" + session_name + "/" + file,
                  value + "\n");
        }
        const std::string connection_dir =
            "/sys/" + session_dir + "/" + connection + "/iscsi_connection/" + connection;
        write(connection_dir + "/persistent_address", address + "\n");
        write(connection_dir + "/persistent_port", port + "\n");
        const std::string h = std::to_string(host);
        const std::string disk_dir =
            session_dir + "/target" + h + ":0:0/" + h + ":0:0:1/block/" + name;
        write("/sys/" + disk_dir + "/uevent", "MAJOR=8\nDEVNAME=" + name + "\n");
        std::filesystem::create_directories(root_ + "/sys/class/block");
        std::filesystem::create_directories(root_ + "/sys/dev/block");
        std::filesystem::create_symlink("../../" + disk_dir, root_ + "/sys/class/block/" + name);
        std::filesystem::create_symlink("../../" + disk_dir, root_ + "/sys/dev/block/" + numbers);
        if (!partition_numbers.empty()) {
            const std::string part = disk_dir + "/" + name + "1";
            write("/sys/" + part + "/partition", "1\n");
            write("/sys/" + part + "/uevent", "MAJOR=8\nDEVNAME=" + name + "1\n");
            std::filesystem::create_symlink("../../" + part,
                                            root_ + "/sys/class/block/" + name + "1");
            std::filesystem::create_symlink("../../" + part,
                                            root_ + "/sys/dev/block/" + partition_numbers);
        }
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
