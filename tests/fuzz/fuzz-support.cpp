#include "fuzz-support.hpp"

#include <ftw.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <stdexcept>

namespace crashcapture::fuzz {

MemoryFile::MemoryFile(const uint8_t* data, size_t size)
    : fd_(::memfd_create("fuzz-input", MFD_CLOEXEC)) {
    if (!fd_) {
        throw std::runtime_error("memfd_create failed");
    }
    size_t done = 0;
    while (done < size) {
        const ssize_t n = ::write(fd_.get(), data + done, size - done);
        if (n <= 0) {
            throw std::runtime_error("cannot write the fuzz input to its memfd");
        }
        done += static_cast<size_t>(n);
    }
    path_ = "/proc/self/fd/" + std::to_string(fd_.get());
}

ScratchDirectory::ScratchDirectory() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/crashcapture-fuzz.XXXXXX";
    if (!::mkdtemp(pattern.data())) {
        throw std::runtime_error("mkdtemp failed");
    }
    path_ = pattern;
}

namespace {
int remove_entry(const char* path, const struct stat*, int, struct FTW*) {
    ::remove(path);
    return 0;
}
}  // namespace

void ScratchDirectory::clear() const {
    ::nftw(path_.c_str(), remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (::mkdir(path_.c_str(), 0700) < 0) {
        throw std::runtime_error("cannot recreate " + path_);
    }
}

ScratchDirectory::~ScratchDirectory() {
    ::nftw(path_.c_str(), remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

std::pair<std::string_view, std::string_view> split_at_nul(const uint8_t* data, size_t size) {
    const std::string_view all(reinterpret_cast<const char*>(data), size);
    const auto nul = all.find('\0');
    if (nul == std::string_view::npos) {
        return {all, {}};
    }
    return {all.substr(0, nul), all.substr(nul + 1)};
}

void limit_output_file_size() {
    static const bool limited = [] {
        constexpr rlim_t kLimit = 64ULL << 20;
        const rlimit limit{kLimit, kLimit};
        ::signal(SIGXFSZ, SIG_DFL);
        if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) {
            throw std::runtime_error("setrlimit(RLIMIT_FSIZE) failed");
        }
        return true;
    }();
    (void)limited;
}

}  // namespace crashcapture::fuzz
