// Where the files that come with dadmm (datasets, scripts) are found by the programs.
#pragma once

#include <filesystem>
#include <string>
#include <system_error>

namespace dadmm {

// `built_in` (a path in the source tree, for a build used where it was built) when it exists, else
// PREFIX/share/dadmm/`installed` beside the program's PREFIX/bin (an installed package), else
// `built_in` (whose absence the program then reports).
inline std::string BundledPath(const char* built_in, const char* installed) {
  std::error_code ec;
  if (std::filesystem::exists(built_in, ec)) return built_in;
  const std::filesystem::path program = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const std::filesystem::path path = program.parent_path().parent_path() / "share" / "dadmm" / installed;
    if (std::filesystem::exists(path, ec)) return path.string();
  }
  return built_in;
}

// The bundled datasets (deploy/data: iris.csv, breast_cancer.csv).
inline std::string BundledDataDir(const char* built_in) { return BundledPath(built_in, "data"); }

}  // namespace dadmm
