// Writes the harnesses' seed corpora (tests/fuzz/corpus/<harness>/) from the
// synthetic kernels the unit tests build (tests/unit/synthetic-vmcore.hpp)
// and small well-formed samples of each text format:
//     build-fuzz/tests/fuzz/make-corpus tests/fuzz/corpus
// Seeds stay small (tens of KiB at most): libFuzzer mutates them, it does
// not need the 8 MiB of a whole synthetic machine.
#include <sys/stat.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <vector>

#include "armed-boot-ledger.hpp"
#include "dump-record.hpp"
#include "fuzz-support.hpp"
#include "initrd-image.hpp"
#include "page-filter-fixture.hpp"
#include "save-dump.hpp"
#include "synthetic-vmcore.hpp"

using namespace crashcapture;
using namespace crashcapture::test;

namespace {

std::string g_root;

void write_seed(const std::string& harness, const std::string& name, std::string_view bytes) {
    const std::string directory = g_root + "/" + harness;
    ::mkdir(directory.c_str(), 0755);
    std::ofstream out(directory + "/" + name, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) {
        throw std::runtime_error("cannot write " + directory + "/" + name);
    }
}

std::string as_string(std::span<const std::byte> bytes) {
    return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

// A seed for fuzz-arm64-address-translation: the header (page size,
// VA_BITS, TCR_EL1_T1SZ = 64 - VA_BITS, 48-bit physical addresses, the
// address), then the tables from swapper_pg_dir down, one page each, and
// the data page they map virt to. Descriptors as the kernel writes them
// (arch/arm64/include/asm/pgtable-hwdef.h): table 0b11, page 0b11 with
// PTE_AF (bit 10) and inner-shareable PTE_SHARED (bits 9:8).
std::string arm64_seed(int page_shift, int va_bits, uint64_t virt) {
    const uint64_t page = uint64_t{1} << page_shift;
    const int bits_per_level = page_shift - 3;
    const int levels = (va_bits - page_shift + bits_per_level - 1) / bits_per_level;
    const int top_bits = va_bits - page_shift - (levels - 1) * bits_per_level;
    std::vector<uint64_t> memory((levels + 1) * page / sizeof(uint64_t));
    for (int level = 0; level < levels; ++level) {
        const int shift = page_shift + (levels - 1 - level) * bits_per_level;
        const int index_bits = level == 0 ? top_bits : bits_per_level;
        const uint64_t index = (virt >> shift) & ((uint64_t{1} << index_bits) - 1);
        const uint64_t next = fuzz::kArm64MemoryPhys + (level + 1) * page;
        const uint64_t descriptor =
            level + 1 < levels ? next | 0b11 : next | 0b11 | (1ULL << 10) | (0b11ULL << 8);
        memory[level * page / sizeof(uint64_t) + index] = descriptor;
    }
    memory[levels * page / sizeof(uint64_t)] = 0x1122334455667788ULL;  // the data page
    const std::array<uint8_t, 4> header{static_cast<uint8_t>(page_shift == 12   ? 0
                                                             : page_shift == 14 ? 1
                                                                                : 2),
                                        static_cast<uint8_t>(va_bits - 36),
                                        static_cast<uint8_t>(64 - va_bits), 0};
    std::string seed(reinterpret_cast<const char*>(header.data()), header.size());
    seed.append(reinterpret_cast<const char*>(&virt), sizeof(virt));
    seed.append(reinterpret_cast<const char*>(memory.data()), memory.size() * sizeof(uint64_t));
    return seed;
}

// The pages of a synthetic kernel that its kernel log is read through:
// the page tables, init_uts_ns, the printk ring with its descriptors and
// infos, and the two pages the text ring straddles (offsets and addresses
// from SyntheticKernel), and extra direct-map pages. The rest of its 8 MiB
// is left out.
std::string small_vmcore(const SyntheticKernel& kernel, const std::string& vmcoreinfo,
                         const std::vector<std::pair<uint64_t, uint64_t>>& extra_pages,
                         const TempDir& dir) {
    constexpr uint64_t kImage = SyntheticKernel::kImagePhys;
    VmcoreBuilder builder(kernel.memory());
    auto image_load = [&](uint64_t offset, uint64_t size) {
        builder.add_load({kImage + offset, kernel.image_virt(offset), size, std::nullopt});
    };
    image_load(SyntheticKernel::kTopTableOffset, 16 * kPageSize);
    image_load(SyntheticKernel::kUtsNsOffset, kPageSize);
    image_load(SyntheticKernel::kPrbPointerOffset, 3 * kPageSize);
    const uint64_t text_page = SyntheticKernel::kTextPhys & ~(kPageSize - 1);
    builder.add_load({text_page, kernel.direct_map(text_page), 2 * kPageSize, std::nullopt});
    for (const auto& [phys, pages] : extra_pages) {
        builder.add_load({phys, kernel.direct_map(phys), pages * kPageSize, std::nullopt});
    }
    builder.add_cpu_notes(2).set_vmcoreinfo(vmcoreinfo);
    builder.write(dir.file("vmcore"));
    return read_text_file(dir.file("vmcore"));
}

std::string tiny_vmcore(const TempDir& dir) {
    PhysicalImage memory(4 * kPageSize);
    for (uint64_t pfn = 0; pfn < memory.page_count(); ++pfn) {
        memory.fill_pattern(pfn);
    }
    VmcoreBuilder builder(memory);
    builder.add_load({0, 0xffff888000000000ULL, 2 * kPageSize, std::nullopt})
        .add_load({kPageSize, 0xffff888000001000ULL, 3 * kPageSize, 2 * kPageSize})
        .add_cpu_notes(1)
        .set_vmcoreinfo("OSRELEASE=6.1.0-fuzz\nPAGESIZE=4096\nCRASHTIME=1795508256\n");
    builder.write(dir.file("tiny"));
    return read_text_file(dir.file("tiny"));
}

std::string sample_cpio() {
    return newc_entry("usr", 040755, "") + newc_entry("usr/bin", 040755, "") +
           newc_entry("usr/bin/crashcapture-save", 0100755, std::string(300, 'x')) +
           newc_entry("init", 0120777, "usr/lib/systemd/systemd") + newc_entry("TRAILER!!!", 0, "");
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: make-corpus DIRECTORY\n");
        return 2;
    }
    g_root = argv[1];
    ::mkdir(g_root.c_str(), 0755);
    TempDir dir;

    const fuzz::PageFilterFixture fixture;
    const SyntheticKernel& kernel4 = fixture.kernel();
    SyntheticKernelOptions five_level;
    five_level.paging_levels = 5;
    const SyntheticKernel kernel5(five_level);
    // With the page filter's VMCOREINFO, its mem_section page and the page
    // of struct pages that describes the image's frames (0x210-0x242).
    using Fixture = fuzz::PageFilterFixture;
    const uint64_t image_struct_pages =
        (Fixture::kMemMapPhys +
         (SyntheticKernel::kImagePhys / kPageSize) * Fixture::kStructPageSize) &
        ~(kPageSize - 1);
    const std::vector<std::pair<uint64_t, uint64_t>> filter_pages{{Fixture::kSectionsPhys, 1},
                                                                  {image_struct_pages, 2}};
    for (const char* harness : {"vmcore", "save-dump"}) {
        write_seed(harness, "synthetic-4level-filtered",
                   small_vmcore(kernel4, fixture.vmcoreinfo(), filter_pages, dir));
        write_seed(harness, "synthetic-5level",
                   small_vmcore(kernel5, kernel5.vmcoreinfo(), {}, dir));
        write_seed(harness, "tiny", tiny_vmcore(dir));
    }

    write_seed("vmcoreinfo", "synthetic-4level-filtered", fixture.vmcoreinfo());
    write_seed("vmcoreinfo", "synthetic-5level", kernel5.vmcoreinfo());

    // fuzz-printk-ring: struct printk_ringbuffer up to the end of the infos.
    constexpr uint64_t kRing = SyntheticKernel::kImagePhys + SyntheticKernel::kRingOffset;
    constexpr uint64_t kRingEnd =
        SyntheticKernel::kImagePhys + SyntheticKernel::kInfosOffset + 4096;
    write_seed("printk-ring", "synthetic",
               as_string(kernel4.memory().bytes(kRing, kRingEnd - kRing)));

    // fuzz-page-filter: the mem_section array, then the struct pages of
    // frames 0-0x12f (the rest stays as the fixture has it).
    write_seed("page-filter", "synthetic",
               as_string(kernel4.memory().bytes(Fixture::kSectionsPhys, Fixture::kSectionsBytes)) +
                   as_string(kernel4.memory().bytes(Fixture::kMemMapPhys,
                                                    0x130 * Fixture::kStructPageSize)));

    // fuzz-address-translation: an address, then the 16 page-table pages.
    constexpr uint64_t kTables = SyntheticKernel::kImagePhys + SyntheticKernel::kTopTableOffset;
    const std::string tables = as_string(kernel4.memory().bytes(kTables, 16 * kPageSize));
    for (const auto& [name, address] :
         {std::pair{"direct-map-text", kernel4.direct_map(SyntheticKernel::kTextPhys)},
          std::pair{"image-prb", kernel4.image_virt(SyntheticKernel::kPrbPointerOffset)}}) {
        write_seed("address-translation", name,
                   std::string(reinterpret_cast<const char*>(&address), sizeof(address)) + tables);
    }

    // fuzz-arm64-address-translation: one page mapped through every level,
    // as Debian's arm64 kernels are built (4K pages, 48-bit VA) and the
    // other granules (16K, 47 bits: 3 levels; 64K, 48 bits: 3 levels).
    write_seed("arm64-address-translation", "4k-va48", arm64_seed(12, 48, 0xffff800010000000ULL));
    write_seed("arm64-address-translation", "16k-va47", arm64_seed(14, 47, 0xffffc00010004000ULL));
    write_seed("arm64-address-translation", "64k-va48", arm64_seed(16, 48, 0xffff800010010000ULL));

    write_seed("config", "every-key",
               std::string("[Dump]\nTarget=/var/crash\nFormat=kdump\nDumpLevel=31\n"
                           "Compression=zstd\nCompressionLevel=3\nGroup=adm\n"
                           "[Capture]\nKernelCommandLineAppend=nr_cpus=1 irqpoll\n"
                           "KernelCommandLineRemove=quiet splash* rd.*\nKernel=\nInitrd=\n"
                           "FailureAction=reboot\nFinalAction=poweroff\nTimeoutSec=30min\n"
                           "[Retention]\nMaxUse=10G\nKeepFree=15%\nKeepDumps=3\n") +
                   '\0' + "[Dump]\nTarget=ssh://dump@backup:2222/srv/crash\nFormat=flattened\n");
    write_seed("config", "raw-target",
               std::string("[Dump]\nTarget=raw:/dev/disk/by-partlabel/crash\n") + '\0' +
                   "[Retention]\nKeepDumps=0\n");

    DumpRecord record;
    record.result = DumpResult::incomplete;
    record.error = "cannot write vmcore: No space left on device";
    record.warnings = {"VMCOREINFO line 3: cannot parse value of SIZE(page): \"x\""};
    record.kernel_release = "6.1.0-56-amd64";
    record.panic_line = "Kernel panic - not syncing: sysrq triggered crash";
    record.input = "/proc/vmcore";
    record.format = "kdump";
    record.dump_file = "vmcore.incomplete";
    record.pages.total = 196317;
    write_seed("records-json", "status", dump_record_text(record));
    ArmedBoot boot;
    boot.boot_id = "0f5c0d3e6a1b4e7c9d2f8a6b4c3e1d70";
    boot.kernel_release = "6.1.0-56-amd64";
    boot.armed_at = 1795508000;
    boot.last_seen = 1795508256;
    boot.armed = true;
    boot.outcome = BootOutcome::lost;
    boot.pstore = {PstoreRecord{
        "/sys/fs/pstore/dmesg-efi-179550825601", "Kernel panic - not syncing: Fatal exception",
        1795508256, 4096,
        PanicSignature{"BUG: kernel NULL pointer dereference in foo", "0123456789abcdef"}}};
    boot.capture_failure = "target /var/crash: no such filesystem";
    write_seed("records-json", "armed-boot", to_json(boot).dump(2));

    const std::string cpio = sample_cpio();
    write_seed("initrd-size", "cpio", cpio);
    write_seed("initrd-size", "cpio-gzip", cpio + gzip(cpio));
    write_seed("initrd-size", "cpio-zstd", cpio + zstd(cpio));

    // iproute2 6.1's `ip -j route get` and `ip -j address show dev`, trimmed.
    write_seed(
        "ip-route", "on-link",
        std::string(R"([{"dst":"10.0.2.2","dev":"eth0","prefsrc":"10.0.2.15","flags":[]}])") +
            '\0' +
            R"([{"ifindex":2,"ifname":"eth0","address":"52:54:00:12:34:56","addr_info":)"
            R"([{"family":"inet","local":"10.0.2.15","prefixlen":24,"scope":"global"}]}])");
    write_seed(
        "ip-route", "gateway",
        std::string(R"([{"dst":"default","gateway":"192.168.1.1","dev":"enp3s0"}])") + '\0' +
            R"([{"ifname":"enp3s0","address":"00:11:22:33:44:55","addr_info":)"
            R"([{"family":"inet6","local":"fe80::1","prefixlen":64,"scope":"link"},)"
            R"({"family":"inet","local":"192.168.1.20","prefixlen":24,"scope":"global"}]}])");

    // fuzz-capture-env: a configuration, then what the host reported.
    const std::string host_lines =
        "/var/crash\n/dev/mapper/vg0-crash\nUUID=2f1c8e9a-0b7d-4d55-9a3e-6c1f0e2d4b11\next4\n"
        "/crash\nenp3s0\n192.168.1.20/24\n192.168.1.1\n192.168.1.5\n";
    write_seed("capture-env", "directory",
               std::string("[Dump]\nTarget=/var/crash\nGroup=adm\n[Capture]\n"
                           "FailureAction=dump-to-rootfs\nTimeoutSec=30min\n") +
                   '\0' + host_lines);
    write_seed("capture-env", "ssh",
               std::string("[Dump]\nTarget=ssh://dump@backup.example:2222/srv/crash dumps\n"
                           "[Capture]\nFailureAction=shell\n") +
                   '\0' + host_lines);
    write_seed("capture-env", "nfs-quotes",
               std::string("[Dump]\nTarget=nfs:[fd00::5]:/export/it's\n") + '\0' +
                   "/mnt/it's $(reboot)\n/dev/vdb\n/dev/vdb\nxfs\n/a'b\neth0\n"
                   "fd00::20/64\nfd00::1\nfd00::5\n");

    // fuzz-raw-recovery: the tiny vmcore's flattened stream as a device
    // (length first), then its record; and a device with no record.
    {
        SaveOptions save;
        save.input = dir.file("tiny");
        save.output_dir = dir.file("raw-record");
        save.dump_to = dir.file("raw-device");
        save.format = DumpFormat::flattened;
        save.progress = ProgressMode::never;
        save.tool_version = "make-corpus";
        save.write.threads = 1;
        const SaveResult saved = save_dump(save);
        if (!saved.record_written) {
            throw std::runtime_error("cannot write the raw-recovery seed: " + saved.record.error);
        }
        const std::string device = read_text_file(dir.file("raw-device"));
        const auto length = static_cast<uint32_t>(device.size());
        const std::string prefix(reinterpret_cast<const char*>(&length), sizeof(length));
        write_seed("raw-recovery", "stream-and-record",
                   prefix + device + read_text_file(dir.file("raw-record/status.json")));
        write_seed("raw-recovery", "stream-only", prefix + device);
    }

    write_seed(
        "mountinfo", "debian",
        "22 28 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
        "28 1 254:1 / / rw,relatime shared:1 - ext4 /dev/mapper/vg0-root rw,errors=remount-ro\n"
        "30 28 8:1 / /boot rw,relatime shared:9 - ext4 /dev/sda1 rw\n"
        "41 28 0:38 / /var/crash rw,relatime shared:20 - nfs4 srv:/export/crash "
        "rw,vers=4.2\n"
        "52 28 8:17 /sub\\040dir /mnt/with\\040space rw shared:30 - xfs /dev/sdb1 rw\n");
    return 0;
}
