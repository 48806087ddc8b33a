#include "agent/checkpoint_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/base/state_codec.h"
#include "coordinator-free-bootstrap/sha256.h"

namespace dadmm::agent {
namespace {

constexpr absl::string_view kMagic = "DADMMCKP";
constexpr std::uint64_t kFormat = 1;
constexpr std::size_t kHeader = 8 + 8 + 8 + 32;

absl::Status Errno(absl::string_view what, const std::string& path) {
  return absl::UnavailableError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

absl::Status WriteAll(int fd, absl::string_view bytes, const std::string& path) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Errno("cannot write", path);
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return absl::OkStatus();
}

}  // namespace

std::string CheckpointPath(const std::string& dir, NodeId id) { return absl::StrCat(dir, "/node-", id, ".checkpoint"); }

absl::Status WriteCheckpointFile(const std::string& dir, NodeId id, absl::string_view payload) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot create --state_dir ", dir, ": ", ec.message()));
  const std::string path = CheckpointPath(dir, id);
  const std::string temporary = absl::StrCat(dir, "/.node-", id, ".checkpoint.tmp");
  StateWriter header;
  header.U64(kFormat);
  header.U64(payload.size());
  const std::array<std::uint8_t, 32> digest = Sha256(payload);
  std::string bytes = absl::StrCat(kMagic, header.bytes(),
                                   absl::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Errno("cannot create", temporary);
  absl::Status s = WriteAll(fd, bytes, temporary);
  if (s.ok()) s = WriteAll(fd, payload, temporary);
  if (s.ok() && ::fsync(fd) != 0) s = Errno("cannot fsync", temporary);
  if (::close(fd) != 0 && s.ok()) s = Errno("cannot close", temporary);
  if (!s.ok()) return s;
  if (::rename(temporary.c_str(), path.c_str()) != 0) return Errno("cannot rename the checkpoint to", path);
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return Errno("cannot open", dir);
  const bool synced = ::fsync(dfd) == 0;
  ::close(dfd);
  if (!synced) return Errno("cannot fsync", dir);
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> ReadCheckpointFile(const std::string& dir, NodeId id) {
  const std::string path = CheckpointPath(dir, id);
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::optional<std::string>();
  std::ifstream in(path, std::ios::binary);
  if (!in) return Errno("cannot read", path);
  std::ostringstream text;
  text << in.rdbuf();
  const std::string bytes = text.str();
  auto corrupt = [&](absl::string_view why) {
    return absl::DataLossError(absl::StrCat(path, ": not a usable checkpoint (", why,
                                            "); it was not loaded: move it away to start this node afresh, which "
                                            "its neighbours refuse mid-run"));
  };
  if (bytes.size() < kHeader || absl::string_view(bytes).substr(0, kMagic.size()) != kMagic) {
    return corrupt(bytes.size() < kHeader ? "shorter than its header" : "no dadmm checkpoint header");
  }
  StateReader header(absl::string_view(bytes).substr(kMagic.size(), 16), path);
  const std::uint64_t format = header.U64();
  const std::uint64_t length = header.U64();
  if (format != kFormat) return corrupt(absl::StrCat("format ", format, ", this build reads ", kFormat));
  if (length != bytes.size() - kHeader) {
    return corrupt(absl::StrCat("truncated: ", bytes.size() - kHeader, " of ", length, " bytes"));
  }
  const absl::string_view payload = absl::string_view(bytes).substr(kHeader);
  const std::array<std::uint8_t, 32> digest = Sha256(payload);
  if (std::memcmp(digest.data(), bytes.data() + kMagic.size() + 16, digest.size()) != 0) {
    return corrupt("checksum mismatch");
  }
  return std::optional<std::string>(std::string(payload));
}

absl::Status RemoveCheckpointFile(const std::string& dir, NodeId id) {
  std::error_code ec;
  std::filesystem::remove(CheckpointPath(dir, id), ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot remove ", CheckpointPath(dir, id), ": ", ec.message()));
  return absl::OkStatus();
}

}  // namespace dadmm::agent
