// VMCOREINFO: the crashed kernel's self-description, one "KEY=value" per line
// (kernel/vmcore_info.c, crash_save_vmcoreinfo_init()). Parsed into typed
// tables the way makedumpfile's read_vmcoreinfo_*() reads them.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "result.hpp"

namespace crashcapture {

class Vmcoreinfo {
  public:
    // Fails only on empty text; malformed lines are kept in warnings().
    static Result<Vmcoreinfo> parse(std::string_view text);

    // SYMBOL(name)=hex address, already KASLR-relocated by the kernel.
    std::optional<uint64_t> symbol(std::string_view name) const;
    // SIZE(type)=decimal bytes.
    std::optional<uint64_t> size(std::string_view name) const;
    // OFFSET(type.member)=decimal bytes.
    std::optional<uint64_t> offset(std::string_view name) const;
    // LENGTH(array)=decimal element count.
    std::optional<uint64_t> length(std::string_view name) const;
    // NUMBER(name)=signed decimal, or hex with 0x (NUMBER(VMALLOC_START)).
    std::optional<int64_t> number(std::string_view name) const;
    // Any key verbatim, e.g. "OSRELEASE" or "BUILD-ID".
    std::optional<std::string> value(std::string_view key) const;

    const std::string& osrelease() const { return osrelease_; }
    std::optional<uint64_t> page_size() const { return page_size_; }
    // KERNELOFFSET=hex (no 0x): the KASLR slide of the kernel image.
    std::optional<uint64_t> kernel_offset() const { return kernel_offset_; }
    // CRASHTIME=decimal seconds since the epoch, set at panic time.
    std::optional<int64_t> crash_time() const { return crash_time_; }
    // NUMBER(phys_base): where the kernel image sits physically relative to its
    // link address; negative under KASLR on x86_64.
    std::optional<int64_t> phys_base() const { return number("phys_base"); }

    const std::string& text() const { return text_; }
    const std::vector<std::string>& warnings() const { return warnings_; }

  private:
    std::string text_;
    std::map<std::string, std::string, std::less<>> raw_;
    std::map<std::string, uint64_t, std::less<>> symbols_, sizes_, offsets_, lengths_;
    std::map<std::string, int64_t, std::less<>> numbers_;
    std::string osrelease_;
    std::optional<uint64_t> page_size_;
    std::optional<uint64_t> kernel_offset_;
    std::optional<int64_t> crash_time_;
    std::vector<std::string> warnings_;
};

}  // namespace crashcapture
