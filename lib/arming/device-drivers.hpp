// The kernel modules a device needs in the capture kernel: its own driver's
// and those of every device it hangs from in /sys/devices (a disk's virtio_blk
// and then the virtio_pci under it; sd_mod, then ahci; a NIC's driver and its
// bus). The capture initrd is built with dracut's exclusive --drivers list,
// so these are the disk and network drivers it gets (dracut-command.cpp).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace crashcapture {

// DEVICE's bound drivers' modules, DEVICE first, then each parent up to (not
// including) SYS_DEVICES, each once. A device whose driver is not a module
// still has a driver/module link when its module kobject exists
// (drivers/base/module.c, module_add_driver); dracut skips built-ins. DEVICE
// is canonical (symlinks resolved, as its walk up must follow the real
// tree); SYS_DEVICES is resolved here (a fake root may sit behind a link).
std::vector<std::string> bound_driver_modules(const std::filesystem::path& sys_devices,
                                              const std::filesystem::path& device);

}  // namespace crashcapture
