// The agent's peer transport: every stream to and from the neighbours on one gRPC completion queue,
// driven by the algorithm thread itself (Next blocks in the queue while it waits for an estimate).
// No thread per link, no server thread per stream, no hand-off between threads on the hot path.
//
// Shape. Each edge carries two client streams (Peer.Exchange), one each way: this agent writes its
// messages on a stream it opens to the neighbour, and reads the neighbour's on the stream the
// neighbour opens to it. (One bidirectional stream per edge would do as well; two client streams
// keep each direction's failure, reconnection and backoff to the side that writes, so neither side
// must decide who dials.) Exactly one Read is outstanding per inbound stream, at most one Write in
// flight per outbound stream, the next message queued behind it.
//
// Nothing lost, exactly once, in order. Every message gets the next sequence number of its edge and
// stays in the link until the neighbour acknowledges it: each message this agent writes carries the
// highest sequence number it received in order from that neighbour (the ack, piggybacked: no extra
// messages), and the summary that ends a stream acknowledges too. A reopened stream starts again
// from the oldest message not acknowledged; the receiver drops what it already has (counted) and
// refuses a gap. The algorithm's window bounds what a link keeps: a node never runs more than a step
// or two ahead of a neighbour whose estimates it waits for.
//
// Broken links. A stream that fails (UNAVAILABLE, keepalive timeout, GOAWAY, reset) or whose channel
// leaves READY is cancelled and reopened once the channel is READY again, after a bounded, jittered
// backoff (100 ms, doubling to 2 s); each change is logged once. Keepalive on both sides
// (channel_args.cc) turns a dead connection into a failed stream within about 3 s. A second stream
// from a neighbour whose stream is live is refused (ALREADY_EXISTS), not mixed in.
//
// Who may open a stream. A stream's client sends its hello (the sender's handshake, serialized, in
// the call's metadata "dadmm-hello-bin"); the server checks it when it accepts the stream, before it
// reads a message: the sender is a neighbour, with TLS its certificate (agent/tls.h) names that
// neighbour, the hello agrees with this node's (CheckHello), and it has no other stream open. A
// stream that fails is refused with a status that says why, and nothing else happens: a server
// never stops because of what a client says. A client stops when the neighbour it dialled (with TLS:
// verified to be that neighbour) refuses its hello (INVALID_ARGUMENT: the run's settings differ) or
// its restart (FAILED_PRECONDITION). Every refusal and rejection is counted; each is logged the first
// time it happens for a peer (a node, or without TLS a host) and kind, then only counted.
//
// Other services on the queue. The Status service's calls run on this queue too (Task, TagFor), so
// that a monitor's calls are served by the same thread between messages: no server thread, no
// thread started per call, no second thread polling the connections.
//
// Threads: everything but Wake() and the Liveness accessors runs on the one thread that calls Next;
// those two are for other threads (Stop).
#pragma once

#include <grpcpp/alarm.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "agent/counters.h"
#include "agent/log.h"
#include "agent/tls.h"
#include "common/network/topology.h"
#include "coordinator-free-bootstrap/delivery.h"
#include "coordinator-free-bootstrap/handshake.h"
#include "dadmm/proto/dadmm.grpc.pb.h"

namespace dadmm::agent {

namespace pb = ::dadmm::v1;

// One message a neighbour sent, admitted: from a neighbour, on its own stream, next in sequence.
struct Incoming {
  NodeId sender = 0;
  std::uint64_t incarnation = 0;  // the sender's, when the transport admitted it
  pb::PeerMessage message;
  std::uint64_t message_bytes = 0;
  std::string peer;  // transport address, for logs
};

class PeerTransport {
 public:
  using Clock = std::chrono::steady_clock;

  // `addresses`: where to reach each neighbour of `self`; `tls`: null without TLS (--insecure).
  PeerTransport(const Topology& topology, NodeId self, const std::map<NodeId, std::string>& addresses,
                std::shared_ptr<Tls> tls, SharedCounters* counters, const Logger* log);
  ~PeerTransport();
  PeerTransport(const PeerTransport&) = delete;
  PeerTransport& operator=(const PeerTransport&) = delete;

  // Registers the (asynchronous) Peer service and the completion queue on the server to be built.
  void AddTo(grpc::ServerBuilder& builder);
  // After the server started: accepts streams and opens the links.
  void Start();

  // Queues `message` for every neighbour (its sequence number is set per link), or for one.
  void SendToAll(const pb::PeerMessage& message);
  void SendTo(NodeId j, const pb::PeerMessage& message);
  // This agent's incarnation (how many times it restarted from its checkpoint), stamped on every
  // message; set before Start.
  void set_incarnation(std::uint64_t incarnation) { incarnation_ = incarnation; }
  // This node's hello: sent on every stream it opens, and what the hellos of streams to it are
  // checked against. Set before Start.
  void set_hello(const Hello& hello);
  // An operation of another service on this transport's queue: its tag is a TaskTag, and the
  // thread that runs the queue calls Completed(op, ok) when it completes.
  class Task {
   public:
    virtual void Completed(int op, bool ok) = 0;

   protected:
    ~Task() = default;
  };
  // A tag on the queue: what completed.
  struct Tag {
    enum Kind { kWake, kAccepted, kRead, kInFinished, kStream, kWatch, kBackoff, kTask };
    Kind kind;
    void* object = nullptr;
    int op = 0;  // kStream, kTask: which operation
  };
  static Tag TaskTag(Task* task, int op) { return Tag{Tag::kTask, task, op}; }
  // The queue, for other services' operations (tagged with TaskTag); valid after AddTo.
  grpc::ServerCompletionQueue* queue() const { return cq_.get(); }
  // Shutdown has shut the queue down: no operation may be started on it any more.
  bool queue_shut_down() const { return queue_shut_down_; }

  // Runs the queue until a message is admitted (returned), `deadline`, or Wake() (nothing).
  std::optional<Incoming> Next(Clock::time_point deadline);
  // The agent has taken `in` (its session handled it, and the checkpoint that must hold it is
  // written): only now is it acknowledged to its sender. A neighbour that sees its message
  // acknowledged therefore knows that this agent will not lose it in a crash.
  void Taken(const Incoming& in);
  // Makes Next return soon. Any thread.
  void Wake();

  // The end of a run: every link delivers what is queued, waits for the neighbour's acknowledgement
  // and closes its stream. Linger runs the queue until that is done and no neighbour has a stream
  // open to this agent, or until `deadline`; true if all closed. What neighbours send meanwhile is
  // acknowledged and dropped (this agent's program is done).
  // With `links_only`, Linger returns once the links are done (the neighbours have everything).
  void BeginClose();
  bool Linger(Clock::time_point deadline, bool links_only = false);
  // Runs the queue (other services' operations, the links) until `until`; what neighbours send
  // meanwhile is acknowledged and dropped (this agent's program is done).
  void RunUntil(Clock::time_point until);
  // Runs the queue's operations until `until`; messages admitted meanwhile stay queued, not taken.
  void Poll(Clock::time_point until);
  // Cancels every stream, shuts the server and the queue down and waits for what is outstanding.
  // Once; later calls do nothing.
  void Shutdown(grpc::Server* server);

  // Links that still hold messages not acknowledged, as "j (k message(s))" entries.
  std::vector<std::string> Unacknowledged() const;

  // Whether both streams of the edge to j are up, and since when that holds. Any thread.
  struct Liveness {
    bool connected = false;
    Clock::time_point changed;
  };
  Liveness LivenessOf(NodeId j) const;

  // Why a neighbour refused this agent for good (it restarted without its checkpoint into a run its
  // neighbours are in), if one did; the agent cannot go on.
  const std::optional<std::string>& refused() const { return refused_; }
  // Why a neighbour refused this node's hello (the run's settings differ), if one did.
  const std::optional<std::string>& mismatch() const { return mismatch_; }

  // Counts a refusal or rejection, and logs it (`line`) the first time it happens for `peer` and
  // `kind`.
  void Reject(const std::string& peer, const std::string& kind, const std::string& line);

 private:
  struct Link;
  struct OutStream;
  struct InStream;
  struct Inbound {
    ReceiverWindow window;          // sequence numbers passed on, exactly once each
    std::uint64_t taken = 0;        // of them, taken by the agent: what this end acknowledges
    bool open = false;              // a stream from the neighbour is live
    std::uint64_t incarnation = 0;  // the neighbour's, from its messages
    std::uint64_t process = 0;      // the neighbour's process (PeerMessage.process); 0: none heard yet
  };

  // Both halves of an edge as Status sees them (live_mu_).
  struct Live {
    bool out = false, in = false;
    Clock::time_point changed = Clock::now();
  };

  void Dispatch(Tag* tag, bool ok);
  // Waits for messages until `until` and acknowledges and drops every one (this agent is done).
  void AcknowledgeAndDrop(Clock::time_point until);
  bool LinksDone() const;
  bool Closed() const;

  // Inbound streams.
  void Accept();
  void OnAccepted(InStream* s, bool ok);
  void OnRead(InStream* s, bool ok);
  // Checks a new stream's hello and, with TLS, its certificate; OK, or the status it is refused with.
  grpc::Status CheckStream(InStream* s, std::string& kind);
  // Checks one message of stream `s`; "" admits it, kDuplicate drops it, anything else says why it
  // is refused (and, with a `refusal` other than OK, the whole stream is, with that status).
  std::string Admit(InStream* s, const pb::PeerMessage& message, grpc::Status& refusal);
  void CloseInStream(InStream* s, const grpc::Status& status);
  void DropInStream(InStream* s);  // its last operation returned

  // Links and their streams.
  void Advance(Link& link);  // the live stream writes what it can, or the link moves on without one
  void Pump(Link& link);
  void OpenStream(Link& link);
  void PumpStream(OutStream& s);
  void BreakStream(OutStream& s, std::string why, bool cancel = true);
  void MaybeFinish(OutStream& s);
  void OnStreamEvent(OutStream* s, int op, bool ok);
  void OnStreamFinished(OutStream* s);
  void Watch(Link& link);
  void OnWatch(Link& link, bool ok);
  void Acknowledge(Link& link, std::uint64_t sequence);  // and moves a closing link on
  void SetOutbound(NodeId j, bool up);
  void SetInbound(NodeId j, bool open);
  void SetLive(NodeId j, bool Live::*half, bool up);

  const NodeId self_;
  const std::shared_ptr<Tls> tls_;
  const std::size_t max_in_streams_;
  Hello hello_;
  std::string hello_bytes_;
  std::uint64_t incarnation_ = 0;
  const std::uint64_t process_;
  std::optional<std::string> refused_, mismatch_;
  std::map<std::pair<std::string, std::string>, std::uint64_t> rejections_;  // by peer and kind
  SharedCounters* const counters_;
  const Logger* const log_;
  pb::Peer::AsyncService service_;
  std::unique_ptr<grpc::ServerCompletionQueue> cq_;
  std::map<NodeId, std::unique_ptr<Link>> links_;
  std::map<NodeId, Inbound> inbound_;
  std::deque<Incoming> ready_;
  int open_in_streams_ = 0;  // accepted and not yet finished (of any sender)
  bool closing_ = false;
  bool stopping_ = false;  // Shutdown: no new operations, only draining
  bool woken_ = false;
  bool drained_ = false;

  // Wake (other threads).
  bool queue_shut_down_ = false;
  std::unique_ptr<grpc::Alarm> wake_alarm_;
  std::unique_ptr<Tag> wake_tag_;
  std::mutex wake_mu_;
  bool wake_armed_ = false;

  // Liveness, for Status (other threads).
  mutable std::mutex live_mu_;
  std::map<NodeId, Live> live_;
};

}  // namespace dadmm::agent
