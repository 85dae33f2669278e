// What the libFuzzer harnesses share: fuzz input as a file the readers can
// open (they take paths, as /proc/vmcore is one), a scratch directory for
// what they write, and splitting one input into two parts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "unique-fd.hpp"

namespace crashcapture::fuzz {

// The bytes as an anonymous in-memory file (memfd_create(2)), opened by
// path through /proc/self/fd: no disk, and fstat() gives its true size.
class MemoryFile {
  public:
    MemoryFile(const uint8_t* data, size_t size);
    const std::string& path() const { return path_; }

  private:
    UniqueFd fd_;
    std::string path_;
};

// A directory made once per process under $TMPDIR (or /tmp); clear()
// removes what a run left in it, so every run starts from nothing.
class ScratchDirectory {
  public:
    ScratchDirectory();
    ~ScratchDirectory();
    const std::string& path() const { return path_; }
    std::string file(const std::string& name) const { return path_ + "/" + name; }
    void clear() const;

  private:
    std::string path_;
};

// "first\0second": two inputs in one (a NUL never occurs in the text
// parsers' real input). Without a NUL, everything is the first part.
std::pair<std::string_view, std::string_view> split_at_nul(const uint8_t* data, size_t size);

// Holds every file the process writes to 64 MiB (RLIMIT_FSIZE), with
// SIGXFSZ at its default, so a write past that kills the harness and
// libFuzzer reports the input: the seeds make dumps of a few KiB, and one
// that reaches 64 MiB grew from a header's promise, not from data in the
// input. Once per process; later calls do nothing.
void limit_output_file_size();

// fuzz-arm64-address-translation's physical memory, which make-corpus's
// seeds build page tables in: 1 MiB from 1 GiB on, where QEMU virt's RAM
// starts (hw/arm/virt.c, VIRT_MEM), swapper_pg_dir at its start.
constexpr uint64_t kArm64MemoryPhys = 0x40000000;
constexpr size_t kArm64MemorySize = 1 << 20;
// The header before the memory: page size, VA_BITS, T1SZ and
// MAX_PHYSMEM_BITS selectors (one byte each), then the address.
constexpr size_t kArm64HeaderSize = 4 + sizeof(uint64_t);

}  // namespace crashcapture::fuzz
