# Cross-building dadmm for Raspberry Pi OS Bookworm 64-bit (Debian 12 arm64) on a Debian 12 x86-64
# machine with multiarch: the compilers of crossbuild-essential-arm64, the libraries' :arm64 dev
# packages (installed beside the host's, under /usr/lib/aarch64-linux-gnu), and the host's own protoc
# and grpc_cpp_plugin (their output is the same C++ source for any target).
#   cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=deploy/raspberry-pi/arm64-toolchain.cmake
# deploy/raspberry-pi/cross-build.sh installs what is missing and does this.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

# Libraries and CMake packages: only the arm64 ones (the multiarch directories); programs: the host's.
set(CMAKE_FIND_ROOT_PATH /usr/lib/aarch64-linux-gnu /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
# pkg-config (gRPC's CMake package asks it for RE2): the arm64 .pc files, never the host's.
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig)

# Run arm64 programs (try_run, tests) under user-mode emulation when asked to.
find_program(DADMM_QEMU_AARCH64 qemu-aarch64-static qemu-aarch64)
if(DADMM_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${DADMM_QEMU_AARCH64})
endif()
