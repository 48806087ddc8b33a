// Conversions between the wire messages (proto/dadmm.proto) and the session's (coordinator-free-
// bootstrap/node_session.h). A peer's message is data: the conversions copy fields and bound text,
// the session validates the contents.
#pragma once

#include <optional>

#include "common/programs/node_program.h"
#include "coordinator-free-bootstrap/colouring_protocol.h"
#include "coordinator-free-bootstrap/handshake.h"
#include "coordinator-free-bootstrap/node_session.h"
#include "dadmm/proto/dadmm.pb.h"

namespace dadmm::agent {

// The node a peer message says it comes from; nullopt for an empty message.
std::optional<NodeId> SenderOf(const v1::PeerMessage& m);

v1::PeerMessage ToWire(const Hello& h);
v1::PeerMessage ToWire(NodeId sender, const ColourAnnouncement& a);
v1::PeerMessage ToWire(NodeId sender, const ColourMaxima& m);
v1::PeerMessage ToWire(NodeId sender, const Broadcast& b);
v1::PeerMessage ToWire(const Finished& f);

// Typed settings (the hello's run configuration, the result record's problem parameters).
void ToWire(const std::vector<NamedValue>& values, v1::RunConfig* config);
// A peer's names are bounded to 80 characters, texts to 200; at most 1000 fields are read.
std::vector<NamedValue> FromWire(const v1::RunConfig& config);

// A peer's text is bounded (names to 80 characters, values to 200) before it is compared or logged.
Hello FromWire(const v1::Hello& h);
ColourAnnouncement FromWire(const v1::ColourAnnouncement& c);
ColourMaxima FromWire(const v1::ColourMaxima& c);
Finished FromWire(const v1::Finished& f);
// A view: valid as long as `e` is.
Estimate FromWire(const v1::Estimate& e);

// A peer message, converted, to the session's Receive for its kind (an empty one is a rejection).
absl::Status ReceiveWire(NodeSession& session, NodeId from, const v1::PeerMessage& m, SessionOutput& out);

}  // namespace dadmm::agent
