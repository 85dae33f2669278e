#include "hotplug.hpp"

#include <gtest/gtest.h>

#include <unistd.h>
#include <filesystem>

#include <fstream>

namespace crashcapture {
namespace {

std::string uevent(std::initializer_list<std::string_view> parts) {
    std::string message;
    for (auto part : parts) {
        message += part;
        message += '\0';
    }
    return message;
}

TEST(Hotplug, ParsesAKernelUevent) {
    auto event = parse_uevent(
        uevent({"online@/devices/system/memory/memory32", "ACTION=online",
                "DEVPATH=/devices/system/memory/memory32", "SUBSYSTEM=memory", "SEQNUM=1234"}));
    ASSERT_TRUE(event);
    EXPECT_EQ(event->action, "online");
    EXPECT_EQ(event->subsystem, "memory");
    EXPECT_EQ(event->devpath, "/devices/system/memory/memory32");
}

TEST(Hotplug, RejectsWhatIsNotAKernelUevent) {
    EXPECT_FALSE(parse_uevent(""));
    EXPECT_FALSE(parse_uevent(uevent({"libudev", "garbage"})));
    EXPECT_FALSE(parse_uevent(uevent({"add@/devices/x"})));  // no SUBSYSTEM
}

TEST(Hotplug, ReloadsOnlyForCpuAndMemoryTheKernelDoesNotHandle) {
    Uevent cpu{"add", "cpu", "/devices/system/cpu/cpu3"};
    Uevent memory{"offline", "memory", "/devices/system/memory/memory9"};
    Uevent disk{"add", "block", "/devices/virtual/block/loop0"};
    Uevent change{"change", "cpu", "/devices/system/cpu/cpu3"};
    EXPECT_TRUE(hotplug_needs_reload(cpu, false));
    EXPECT_TRUE(hotplug_needs_reload(memory, false));
    EXPECT_FALSE(hotplug_needs_reload(cpu, true));
    EXPECT_FALSE(hotplug_needs_reload(memory, true));
    EXPECT_FALSE(hotplug_needs_reload(disk, false));
    EXPECT_FALSE(hotplug_needs_reload(change, false));
}

TEST(Hotplug, ReadsCrashHotplugFromSysfs) {
    const auto root =
        std::filesystem::temp_directory_path() / ("hotplug-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(root / "sys/devices/system/cpu");
    std::filesystem::create_directories(root / "sys/devices/system/memory");
    std::ofstream(root / "sys/devices/system/cpu/crash_hotplug") << "1\n";
    std::ofstream(root / "sys/devices/system/memory/crash_hotplug") << "0\n";
    const auto paths = SystemPaths::under(root.string());
    EXPECT_TRUE(kernel_handles_crash_hotplug(paths, "cpu"));
    EXPECT_FALSE(kernel_handles_crash_hotplug(paths, "memory"));
    std::filesystem::remove_all(root / "sys/devices/system/memory");
    EXPECT_FALSE(kernel_handles_crash_hotplug(paths, "memory"));  // older kernels: no file
    std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace crashcapture
