// libFuzzer target: NodeSession (node 2 of tests/fuzz/session_setup.h) fed arbitrary peer messages.
// Whatever comes, the session must not crash, hang or grow without bound; a handshake mismatch may
// end it (the one fatal error), anything else is a rejection. Once it has started, its checkpoint
// must resume a fresh session.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "agent/wire.h"
#include "tests/fuzz/session_setup.h"

namespace {

const dadmm::fuzz::SessionSetup& Setup() {
  static const auto* setup = new dadmm::fuzz::SessionSetup();
  return *setup;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const dadmm::fuzz::SessionSetup& setup = Setup();
  std::unique_ptr<dadmm::NodeSession> session = setup.Make(2);
  dadmm::SessionOutput out;
  if (!session->Start(out).ok()) std::abort();
  std::size_t at = 0;
  while (at + 3 <= size) {
    const dadmm::NodeId from = dadmm::fuzz::SenderOfSelector(data[at]);
    const std::size_t length = data[at + 1] | (static_cast<std::size_t>(data[at + 2]) << 8);
    at += 3;
    if (length > size - at) break;
    dadmm::v1::PeerMessage m;
    const bool parsed = m.ParseFromArray(data + at, static_cast<int>(length));
    at += length;
    if (!parsed) continue;  // the transport drops what does not parse
    out.clear();
    if (!dadmm::agent::ReceiveWire(*session, from, m, out).ok()) return 0;  // a handshake mismatch: the session ends
  }
  if (session->state() != dadmm::SessionState::kColouring || session->greeted_count() > 0) {
    absl::StatusOr<std::string> checkpoint = session->Checkpoint();
    if (!checkpoint.ok()) std::abort();
    std::unique_ptr<dadmm::NodeSession> resumed = setup.Make(2);
    dadmm::SessionOutput again;
    if (absl::Status s = resumed->Resume(*checkpoint, again); !s.ok()) {
      std::fprintf(stderr, "its own checkpoint did not resume: %s\n", std::string(s.message()).c_str());
      std::abort();
    }
  }
  return 0;
}
