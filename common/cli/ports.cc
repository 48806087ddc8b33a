#include "common/cli/ports.h"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace dadmm {
namespace {

enum class Probe { kFree, kTaken, kUnknownHost };

// Binds host:port as the agent's server does (SO_REUSEADDR), and releases it.
Probe Try(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (getaddrinfo(host.c_str(), service.c_str(), &hints, &found) != 0) return Probe::kUnknownHost;
  const int fd = socket(found->ai_family, found->ai_socktype, found->ai_protocol);
  Probe result = Probe::kTaken;
  if (fd >= 0) {
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (::bind(fd, found->ai_addr, found->ai_addrlen) == 0) {
      result = Probe::kFree;
    } else if (errno == EADDRNOTAVAIL) {
      result = Probe::kUnknownHost;
    }
    close(fd);
  }
  freeaddrinfo(found);
  return result;
}

}  // namespace

absl::StatusOr<int> FindFreePorts(const std::string& host, int count, int from) {
  if (count < 1 || from < 1 || from > 65535) return absl::InvalidArgumentError("ports: bad range");
  for (int start = from; start + count - 1 <= 65535;) {
    int taken = -1;
    for (int p = start; p < start + count; ++p) {
      const Probe probe = Try(host, p);
      if (probe == Probe::kUnknownHost) {
        return absl::InvalidArgumentError(absl::StrCat(
            host, " is not an address of this machine, so free ports cannot be looked for: give --base_port"));
      }
      if (probe == Probe::kTaken) {
        taken = p;
        break;
      }
    }
    if (taken < 0) return start;
    start = taken + 1;
  }
  return absl::ResourceExhaustedError(
      absl::StrCat("no ", count, " consecutive free ports from ", from, " on ", host, ": give --base_port"));
}

absl::StatusOr<int> BasePort(const std::string& flag, const std::string& host, int nodes) {
  if (flag == "auto") return FindFreePorts(host, nodes, kAutoPortsFrom);
  int port = 0;
  if (!absl::SimpleAtoi(flag, &port) || port < 1 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--base_port must be a port (1..65535) or 'auto', got '", flag, "'"));
  }
  return port;
}

}  // namespace dadmm
