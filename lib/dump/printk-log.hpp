// The crashed kernel's log, read from its lockless printk ring buffer
// (kernels >= 5.10, kernel/printk/printk_ringbuffer.[ch]) through the symbols
// and layouts VMCOREINFO exports (log_buf_vmcoreinfo_setup()). The text is
// formatted exactly as `makedumpfile --dump-dmesg` 1.7.2 prints it
// (printk.c dump_record()), so the two can be compared byte for byte.
#pragma once

#include <string>
#include <string_view>

#include "kernel-address-space.hpp"
#include "result.hpp"
#include "vmcoreinfo.hpp"

namespace crashcapture {

struct KernelLog {
    std::string text;
    size_t record_count = 0;
};

Result<KernelLog> extract_kernel_log(const KernelAddressSpace& memory,
                                     const Vmcoreinfo& vmcoreinfo);

// The line that says why the kernel died: "Kernel panic - not syncing: …"
// if present, else the first oops-like line ("BUG:", "Oops:", "general
// protection fault", "kernel BUG at"), without its timestamp. Empty if none.
std::string find_panic_line(std::string_view log_text);

}  // namespace crashcapture
