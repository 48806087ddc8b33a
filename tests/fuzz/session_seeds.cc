// Writes the session fuzz target's seed corpus: what nodes 1 and 3 send node 2 in a clean run of
// tests/fuzz/session_setup.h's network (every message, in delivery order), and its first halves.
//   fuzz_session_seeds DIR
#include <deque>
#include <fstream>
#include <iostream>
#include <variant>

#include "agent/wire.h"
#include "tests/fuzz/session_setup.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: fuzz_session_seeds DIR\n";
    return 2;
  }
  using namespace dadmm;
  const fuzz::SessionSetup setup;
  std::map<NodeId, std::unique_ptr<NodeSession>> sessions;
  for (NodeId id : {1u, 2u, 3u}) sessions[id] = setup.Make(id);
  struct InFlight {
    NodeId from, to;
    v1::PeerMessage message;
  };
  std::deque<InFlight> queue;
  auto send = [&](NodeId from, SessionOutput& out) {
    std::vector<v1::PeerMessage> messages;
    for (const Hello& h : out.hellos) messages.push_back(agent::ToWire(h));
    for (const ColourAnnouncement& a : out.colouring.announcements) messages.push_back(agent::ToWire(from, a));
    for (const ColourMaxima& x : out.colouring.maxima) messages.push_back(agent::ToWire(from, x));
    for (const Broadcast& b : out.estimates) messages.push_back(agent::ToWire(from, b));
    if (out.finished.has_value()) messages.push_back(agent::ToWire(*out.finished));
    for (const v1::PeerMessage& m : messages) {
      for (NodeId to : setup.topology.neighbours(from)) queue.push_back({from, to, m});
    }
    out.clear();
  };
  SessionOutput out;
  for (auto& [id, s] : sessions) {
    if (!s->Start(out).ok()) return 1;
    send(id, out);
  }
  std::string transcript;
  while (!queue.empty()) {
    InFlight f = std::move(queue.front());
    queue.pop_front();
    if (f.to == 2) transcript += fuzz::Record(f.from == 1 ? 0 : 1, f.message.SerializeAsString());
    NodeSession& s = *sessions[f.to];
    const absl::Status status = agent::ReceiveWire(s, f.from, f.message, out);
    if (!status.ok() || !out.rejections.empty()) {
      std::cerr << "the clean run failed: " << status << "\n";
      return 1;
    }
    send(f.to, out);
  }
  if (!sessions[2]->may_exit()) {
    std::cerr << "node 2 did not end\n";
    return 1;
  }
  const std::string dir = argv[1];
  std::ofstream(dir + "/clean-run") << transcript;
  std::ofstream(dir + "/first-half") << transcript.substr(0, transcript.size() / 2);
  std::cout << "session seeds: a clean run of " << transcript.size() << " bytes to node 2 in " << dir << "\n";
  return 0;
}
