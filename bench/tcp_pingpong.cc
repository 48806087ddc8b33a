// The loopback latency the agents' per-iteration time is compared with: a minimal TCP ping-pong
// (TCP_NODELAY, one small message each way, blocking sockets), the one-way time being half the
// median round trip.
//
//   tcp-pingpong [round_trips] [message_bytes]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

namespace {

bool ReadFull(int fd, char* p, size_t n) {
  while (n > 0) {
    const ssize_t r = read(fd, p, n);
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

bool WriteFull(int fd, const char* p, size_t n) {
  while (n > 0) {
    const ssize_t r = write(fd, p, n);
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

void NoDelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

}  // namespace

int main(int argc, char** argv) {
  const int trips = argc > 1 ? std::atoi(argv[1]) : 20000;
  const size_t bytes = argc > 2 ? static_cast<size_t>(std::atoi(argv[2])) : 64;
  if (trips < 1 || bytes < 1 || bytes > (1 << 20)) {
    std::fprintf(stderr, "usage: tcp-pingpong [round_trips >= 1] [message_bytes in 1..1048576]\n");
    return 2;
  }
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(listener, 1) != 0 ||
      getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::perror("tcp-pingpong: listen");
    return 1;
  }
  std::thread echo([&] {
    const int fd = accept(listener, nullptr, nullptr);
    NoDelay(fd);
    std::vector<char> buf(bytes);
    while (ReadFull(fd, buf.data(), bytes) && WriteFull(fd, buf.data(), bytes)) {
    }
    close(fd);
  });
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::perror("tcp-pingpong: connect");
    return 1;
  }
  NoDelay(fd);
  std::vector<char> buf(bytes, 'x');
  std::vector<double> rtt;
  rtt.reserve(static_cast<size_t>(trips));
  for (int i = 0; i < trips; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    if (!WriteFull(fd, buf.data(), bytes) || !ReadFull(fd, buf.data(), bytes)) return 1;
    rtt.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  close(fd);
  echo.join();
  close(listener);
  std::sort(rtt.begin(), rtt.end());
  const double median = rtt[rtt.size() / 2];
  std::printf("round_trips %d message_bytes %zu rtt_median_us %.2f rtt_p90_us %.2f one_way_us %.2f\n", trips, bytes,
              median, rtt[rtt.size() * 9 / 10], median / 2);
  return 0;
}
