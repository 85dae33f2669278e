# Cross-compiling for arm64 (aarch64) on a Debian amd64 host with multiarch:
# Debian's cross compiler (crossbuild-essential-arm64) and the :arm64 -dev
# packages, whose headers are in /usr/include (arch-independent) or
# /usr/include/aarch64-linux-gnu and whose libraries, pkg-config files and
# CMake package files are in /usr/lib/aarch64-linux-gnu. No separate sysroot:
# Debian's aarch64-linux-gnu-g++ searches the multiarch directories itself.
# scripts/install-deps.sh installs what this needs; scripts/build-arm64.sh
# uses it:
#   cmake -S . -B build-arm64 --toolchain cmake/toolchain-aarch64-linux-gnu.cmake
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CRASHCAPTURE_CROSS_TRIPLET aarch64-linux-gnu)

set(CMAKE_C_COMPILER ${CRASHCAPTURE_CROSS_TRIPLET}-gcc)
set(CMAKE_CXX_COMPILER ${CRASHCAPTURE_CROSS_TRIPLET}-g++)
# find_package and find_library look in lib/aarch64-linux-gnu, not in the
# host's lib/x86_64-linux-gnu.
set(CMAKE_LIBRARY_ARCHITECTURE ${CRASHCAPTURE_CROSS_TRIPLET})

# pkg-config: the arm64 .pc files and the arch-independent ones only (Debian
# 12 has no aarch64-linux-gnu-pkg-config wrapper unless pkgconf:arm64 is
# installed). The toolchain file is read again at each configure, so this
# holds for every pkg_check_modules.
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/${CRASHCAPTURE_CROSS_TRIPLET}/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")

# Programs (scdoc, sdbus-c++-xml2cpp) are the host's; libraries, headers and
# package files the target's, under the usual prefixes (/usr: multiarch).
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)

# Running the arm64 test binaries here (ctest, gtest_discover_tests at build
# time): qemu-user. The dynamic loader and libraries come from the :arm64
# packages (/lib/ld-linux-aarch64.so.1, /usr/lib/aarch64-linux-gnu), so no -L
# is needed; binfmt_misc is not (it is often unavailable in containers).
find_program(CRASHCAPTURE_QEMU_AARCH64 qemu-aarch64)
if(CRASHCAPTURE_QEMU_AARCH64)
    set(CMAKE_CROSSCOMPILING_EMULATOR ${CRASHCAPTURE_QEMU_AARCH64})
endif()
