#include "agent/peer_transport.h"

#include <algorithm>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "agent/channel_args.h"
#include "agent/wire.h"

namespace dadmm::agent {

namespace {

constexpr char kHelloMetadata[] = "dadmm-hello-bin";
// A correct neighbour has one stream open to this agent, two for a moment after a reconnect; beyond
// this many open streams (of anyone) new ones are refused before they cost anything.
constexpr std::size_t kStreamsPerNeighbour = 4;
constexpr std::size_t kSpareStreams = 16;
constexpr std::size_t kMaxHelloBytes = 64 * 1024;
constexpr char kDuplicate[] = "duplicate";
constexpr char kServerRefused[] = "its server was refused";
constexpr char kStale[] = "stale";  // numbered for an incarnation of this agent that ended
// Between a broken stream and the next, tuned for a LAN.
constexpr std::chrono::milliseconds kBackoffInitial(100);
constexpr std::chrono::milliseconds kBackoffMax(2000);
// A channel watch returns at least this often (it cannot be cancelled; the queue's drain at
// shutdown waits for it).
constexpr std::chrono::milliseconds kWatchPeriod(500);

std::chrono::system_clock::time_point SystemIn(std::chrono::milliseconds d) {
  return std::chrono::system_clock::now() + d;
}

// What kind of rejection a text describes: the text without its numbers ("message 5 from node 2
// after 1 (a gap..." and "message 9 from node 2 after 3 (a gap..." are one kind).
std::string KindOf(const std::string& text) {
  std::string kind;
  for (char c : text.substr(0, text.find(':'))) {
    if (c < '0' || c > '9') kind.push_back(c);
  }
  return kind;
}

// The host of a gRPC peer address ("ipv4:10.0.0.7:51234" -> "ipv4:10.0.0.7"): a stranger that opens
// many connections is one peer for the logs.
std::string HostOf(const std::string& peer) {
  const std::size_t colon = peer.rfind(':');
  return colon == std::string::npos || colon < 5 ? peer : peer.substr(0, colon);
}

}  // namespace

// What a completion-queue tag stands for: one kind of operation on one object.
// One stream a neighbour opened to this agent. At most one operation outstanding at a time:
// accept, then one Read after another, then Finish; deleted when Finish (or, at shutdown, whatever
// was outstanding) returns.
struct PeerTransport::InStream {
  InStream() : reader(&context) {
    accepted = {Tag::kAccepted, this};
    read = {Tag::kRead, this};
    finished = {Tag::kInFinished, this};
  }
  grpc::ServerContext context;
  grpc::ServerAsyncReader<pb::ExchangeSummary, pb::PeerMessage> reader;
  pb::PeerMessage message;
  pb::ExchangeSummary summary;
  std::optional<NodeId> sender;  // named by its hello, checked at accept
  std::string peer;              // the transport address, for logs (read once, at accept)
  std::uint64_t accepted_messages = 0;
  bool counted_open = false;  // holds the sender's `open`
  Tag accepted, read, finished;
};

// One attempt at the stream to a neighbour: started, written one message at a time, then
// WritesDone (closing) and Finish; Finish also after a failure or a cancel. Deleted when Finish
// returns (or, at shutdown, when nothing is outstanding).
struct PeerTransport::OutStream {
  enum Op { kStarted, kMetadata, kWritten, kWritesDone, kFinished };
  explicit OutStream(Link* l) : link(l) {
    for (int op = kStarted; op <= kFinished; ++op) tags[op] = {Tag::kStream, this, op};
  }
  Link* link;
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientAsyncWriter<pb::PeerMessage>> writer;
  pb::ExchangeSummary summary;
  grpc::Status status;
  Tag tags[5];
  int pending = 0;
  bool started = false;
  bool metadata_pending = false;  // ReadInitialMetadata: returns when the neighbour ends the stream
  bool write_in_flight = false;
  bool writes_done = false;  // WritesDone called
  bool writes_done_pending = false;
  bool finishing = false;
  bool broken = false;
  bool verified = false;  // the server is the neighbour dialled (with TLS: its certificate says so)
  std::string why;        // what broke it
  std::uint64_t in_flight_sequence = 0;
  std::uint64_t in_flight_bytes = 0;
  MessageCost in_flight_cost;
};

// The outgoing half of one edge: what is not acknowledged, the channel, the live stream.
struct PeerTransport::Link {
  Link(NodeId p, std::string a) : peer(p), address(std::move(a)) {
    watch_tag = {Tag::kWatch, this};
    backoff_tag = {Tag::kBackoff, this};
  }
  const NodeId peer;
  const std::string address;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<pb::Peer::Stub> stub;
  SenderWindow<pb::PeerMessage> window;  // what is not acknowledged (coordinator-free-bootstrap/delivery.h)
  OutStream* stream = nullptr;           // the live attempt, if any
  bool watching = false;                 // a channel watch is outstanding
  grpc_connectivity_state observed = GRPC_CHANNEL_IDLE;
  grpc::Alarm backoff_alarm;
  bool backing_off = false;
  std::chrono::milliseconds backoff = kBackoffInitial / 2;
  bool ever_connected = false;
  bool done = false;  // closed with everything acknowledged
  Clock::time_point broke_at{}, opened_at{}, waiting_since = Clock::now(), next_wait_log = Clock::now();
  Tag watch_tag, backoff_tag;
};

PeerTransport::PeerTransport(const Topology& topology, NodeId self, const std::map<NodeId, std::string>& addresses,
                             std::shared_ptr<Tls> tls, SharedCounters* counters, const Logger* log)
    : self_(self),
      tls_(std::move(tls)),
      max_in_streams_(kStreamsPerNeighbour * topology.degree(self) + kSpareStreams),
      process_(std::random_device()() | (std::uint64_t{std::random_device()()} << 32) | 1),
      counters_(counters),
      log_(log) {
  for (NodeId j : topology.neighbours(self)) {
    auto link = std::make_unique<Link>(j, addresses.at(j));
    grpc::ChannelArguments args = PeerChannelArguments();
    if (tls_ != nullptr) args.SetSslTargetNameOverride(Tls::kServerName);
    link->channel = grpc::CreateCustomChannel(
        link->address, tls_ != nullptr ? tls_->ChannelCredentials() : grpc::InsecureChannelCredentials(), args);
    link->stub = pb::Peer::NewStub(link->channel);
    links_.emplace(j, std::move(link));
    inbound_[j];
    live_[j];
  }
  wake_tag_ = std::make_unique<Tag>(Tag{Tag::kWake, nullptr});
}

PeerTransport::~PeerTransport() {
  if (cq_ != nullptr && !drained_) {  // never started, or Shutdown not called: nothing outstanding to wait for
    cq_->Shutdown();
    void* tag = nullptr;
    bool ok = false;
    while (cq_->Next(&tag, &ok)) {
    }
  }
}

void PeerTransport::set_hello(const Hello& hello) {
  hello_ = hello;
  hello_bytes_ = ToWire(hello).hello().SerializeAsString();
}

void PeerTransport::Reject(const std::string& peer, const std::string& kind, const std::string& line) {
  counters_->RecordRejected();
  if (++rejections_[{peer, kind}] == 1) {
    log_->Info(absl::StrCat(line, " [more of this kind from ", peer, " are counted, not logged]"));
  }
}

void PeerTransport::AddTo(grpc::ServerBuilder& builder) {
  builder.RegisterService(&service_);
  cq_ = builder.AddCompletionQueue();
}

void PeerTransport::Start() {
  {
    std::lock_guard lock(wake_mu_);
    wake_alarm_ = std::make_unique<grpc::Alarm>();
  }
  Accept();
  for (auto& [j, link] : links_) {
    link->observed = link->channel->GetState(/*try_to_connect=*/true);
    Watch(*link);
    Pump(*link);
  }
}

// --- the queue ---------------------------------------------------------------------------------

std::optional<Incoming> PeerTransport::Next(Clock::time_point deadline) {
  for (;;) {
    if (!ready_.empty()) {
      Incoming in = std::move(ready_.front());
      ready_.pop_front();
      return in;
    }
    if (woken_) {
      woken_ = false;
      return std::nullopt;
    }
    void* tag = nullptr;
    bool ok = false;
    const auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - Clock::now());
    const grpc::CompletionQueue::NextStatus status =
        cq_->AsyncNext(&tag, &ok, std::chrono::system_clock::now() + std::max(left, std::chrono::microseconds(0)));
    if (status != grpc::CompletionQueue::GOT_EVENT) return std::nullopt;
    Dispatch(static_cast<Tag*>(tag), ok);
  }
}

void PeerTransport::Wake() {
  std::lock_guard lock(wake_mu_);
  if (wake_alarm_ == nullptr || wake_armed_ || stopping_) return;
  wake_armed_ = true;
  wake_alarm_->Set(cq_.get(), std::chrono::system_clock::now(), wake_tag_.get());
}

void PeerTransport::Dispatch(Tag* tag, bool ok) {
  switch (tag->kind) {
    case Tag::kWake: {
      std::lock_guard lock(wake_mu_);
      wake_armed_ = false;
      woken_ = true;
      break;
    }
    case Tag::kAccepted:
      OnAccepted(static_cast<InStream*>(tag->object), ok);
      break;
    case Tag::kRead:
      OnRead(static_cast<InStream*>(tag->object), ok);
      break;
    case Tag::kInFinished:
      DropInStream(static_cast<InStream*>(tag->object));
      break;
    case Tag::kStream:
      OnStreamEvent(static_cast<OutStream*>(tag->object), tag->op, ok);
      break;
    case Tag::kWatch:
      OnWatch(*static_cast<Link*>(tag->object), ok);
      break;
    case Tag::kTask:
      static_cast<Task*>(tag->object)->Completed(tag->op, ok);
      break;
    case Tag::kBackoff: {
      Link& link = *static_cast<Link*>(tag->object);
      link.backing_off = false;
      if (!stopping_) Pump(link);
      break;
    }
  }
}

// --- inbound -----------------------------------------------------------------------------------

void PeerTransport::Accept() {
  auto* s = new InStream();
  service_.RequestExchange(&s->context, &s->reader, cq_.get(), cq_.get(), &s->accepted);
}

void PeerTransport::OnAccepted(InStream* s, bool ok) {
  if (!ok || stopping_) {  // the server is shutting down
    delete s;
    return;
  }
  ++open_in_streams_;
  s->peer = s->context.peer();
  Accept();  // the next stream
  std::string kind;
  if (grpc::Status refusal = CheckStream(s, kind); !refusal.ok()) {
    Reject(s->sender.has_value() ? absl::StrCat("node ", *s->sender) : HostOf(s->peer), kind,
           absl::StrCat("refused a stream from ", s->peer, ": ", refusal.error_message()));
    s->sender.reset();
    CloseInStream(s, refusal);
    return;
  }
  s->counted_open = true;
  SetInbound(*s->sender, true);
  s->reader.Read(&s->message, &s->read);
}

grpc::Status PeerTransport::CheckStream(InStream* s, std::string& kind) {
  if (static_cast<std::size_t>(open_in_streams_) > max_in_streams_) {
    kind = "stream beyond the limit";
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        absl::StrCat("node ", self_, " has ", open_in_streams_ - 1, " streams open; no more"));
  }
  std::optional<PeerIdentity> identity;
  if (tls_ != nullptr) {
    absl::StatusOr<PeerIdentity> verified = tls_->Verify(*s->context.auth_context());
    if (!verified.ok()) {
      kind = KindOf(absl::StrCat("certificate refused (", verified.status().message(), ")"));
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          absl::StrCat("node ", self_, " refuses the peer: ", verified.status().message()));
    }
    identity = *std::move(verified);
  }
  const std::multimap<grpc::string_ref, grpc::string_ref>& metadata = s->context.client_metadata();
  auto found = metadata.find(kHelloMetadata);
  pb::Hello wire;
  if (found == metadata.end() || found->second.size() > kMaxHelloBytes ||
      !wire.ParseFromArray(found->second.data(), static_cast<int>(found->second.size()))) {
    kind = "stream without a hello";
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        absl::StrCat("node ", self_, " refuses a stream without a readable hello"));
  }
  const NodeId sender = wire.sender();
  if (identity.has_value() && identity->node != sender) {
    kind = "identity mismatch";
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        absl::StrCat("node ", self_, " refuses the peer: its certificate names ", identity->uri,
                                     " but its hello says it is node ", sender));
  }
  if (inbound_.count(sender) == 0) {
    kind = "stream from a stranger";
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        absl::StrCat("node ", self_, " refuses node ", sender, ": not a neighbour of node ", self_));
  }
  s->sender = sender;  // authenticated, or (without TLS) as claimed: the logs name it from here on
  if (absl::Status same = CheckHello(hello_, FromWire(wire), sender); !same.ok()) {
    kind = "hello that differs";
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::string(same.message()));
  }
  if (inbound_.at(sender).open) {
    kind = "second stream";
    return grpc::Status(grpc::StatusCode::ALREADY_EXISTS,
                        absl::StrCat("a second stream from node ", sender, " while one is open"));
  }
  return grpc::Status::OK;
}

std::string PeerTransport::Admit(InStream* s, const pb::PeerMessage& message, grpc::Status& refusal) {
  const std::optional<NodeId> sender = SenderOf(message);
  if (!sender.has_value()) return "an empty message";
  if (*sender != *s->sender)
    return absl::StrCat("a message from node ", *sender, " on the stream of node ", *s->sender);
  auto in = inbound_.find(*sender);
  if (message.has_hello()) {
    // The session's hello must agree as the stream's did: without TLS, a stranger that passed the
    // stream's check with one hello cannot stop this node with another.
    if (absl::Status same = CheckHello(hello_, FromWire(message.hello()), *sender); !same.ok()) {
      refusal = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::string(same.message()));
      return absl::StrCat("a hello that differs from node ", *sender, ": ", same.message());
    }
  }
  // Incarnations: a restarted neighbour numbers from 1 again, and so must this end towards it.
  Inbound& inbound = in->second;
  if (message.incarnation() < inbound.incarnation) {
    refusal = grpc::Status(grpc::StatusCode::ALREADY_EXISTS, "a stream of a process that ended");
    return absl::StrCat("a message of node ", *sender, "'s incarnation ", message.incarnation(),
                        " after its incarnation ", inbound.incarnation, " (a process that ended)");
  }
  const bool resumed = message.incarnation() > inbound.incarnation;
  if (message.process() != inbound.process) {
    if (inbound.process != 0 && !resumed) {
      std::string why = absl::StrCat("node ", self_, " refuses node ", *sender, ": a new process of node ", *sender,
                                     " with no checkpoint (incarnation ", message.incarnation(),
                                     "), restarted without its state into a run node ", self_,
                                     " is in (restart it with its --state_dir, or start every node again)");
      refusal = grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, why);
      return why;
    }
    inbound.process = message.process();
  }
  if (resumed) {
    Link& link = *links_.at(*sender);
    if (inbound.window.delivered() > 0 || !link.window.empty()) {
      log_->Info(absl::StrCat("node ", *sender, " restarted (incarnation ", message.incarnation(),
                              "): sequence numbers on the edge start again; ", link.window.unacknowledged(),
                              " message(s) not acknowledged go again"));
    }
    inbound.incarnation = message.incarnation();
    inbound.window = ReceiverWindow();
    inbound.taken = 0;
    link.window.Rebase();
    if (link.stream != nullptr) BreakStream(*link.stream, "the neighbour restarted");
  }
  if (message.receiver_incarnation() < incarnation_) return kStale;  // it has not heard of this restart yet
  const std::uint64_t sequence = message.sequence();
  switch (in->second.window.Admit(sequence)) {
    case ReceiverWindow::Verdict::kDeliver:
      return "";
    case ReceiverWindow::Verdict::kDuplicate:
      return kDuplicate;
    case ReceiverWindow::Verdict::kGap:
      return absl::StrCat("message ", sequence, " from node ", *sender, " after ", in->second.window.delivered(),
                          " (a gap: messages in between were never sent)");
    case ReceiverWindow::Verdict::kNoSequence:
      break;
  }
  return absl::StrCat("a message from node ", *sender, " without a sequence number");
}

void PeerTransport::OnRead(InStream* s, bool ok) {
  if (stopping_) {
    DropInStream(s);  // cancelled by the server's shutdown; nothing else outstanding
    return;
  }
  if (!ok) {  // the neighbour closed its stream, or it broke
    CloseInStream(s, grpc::Status::OK);
    return;
  }
  grpc::Status refusal;
  const std::string problem = Admit(s, s->message, refusal);
  const std::string peer = absl::StrCat("node ", *s->sender);
  if (!refusal.ok()) {
    Reject(peer, KindOf(problem), absl::StrCat("refused ", problem, " (peer ", s->peer, ")"));
    CloseInStream(s, refusal);
    return;
  }
  if (problem == kDuplicate || problem == kStale) {
    counters_->RecordDuplicate(*s->sender);
  } else if (!problem.empty()) {
    Reject(peer, KindOf(problem), absl::StrCat("rejected ", problem, " (peer ", s->peer, ")"));
  }
  if (problem.empty() || problem == kDuplicate) {
    const std::uint64_t ack = s->message.ack();
    if (ack > 0) Acknowledge(*links_.at(*s->sender), ack);
  }
  if (problem.empty()) {
    ++s->accepted_messages;
    const std::uint64_t bytes = s->message.ByteSizeLong();
    if (!closing_) {
      ready_.push_back(Incoming{.sender = *s->sender,
                                .incarnation = inbound_.at(*s->sender).incarnation,
                                .message = std::move(s->message),
                                .message_bytes = bytes,
                                .peer = s->peer});
    } else {
      Inbound& inbound = inbound_.at(*s->sender);
      inbound.taken = inbound.window.delivered();  // this agent is done: acknowledged and dropped
    }
    s->message = pb::PeerMessage();
  }
  s->reader.Read(&s->message, &s->read);
}

void PeerTransport::DropInStream(InStream* s) {
  if (s->counted_open) SetInbound(*s->sender, false);
  --open_in_streams_;
  delete s;
}

void PeerTransport::CloseInStream(InStream* s, const grpc::Status& status) {
  if (status.ok()) {
    s->summary.set_messages_received(s->accepted_messages);
    if (s->sender.has_value()) s->summary.set_last_sequence(inbound_.at(*s->sender).taken);
    s->reader.Finish(s->summary, status, &s->finished);
  } else {
    s->reader.FinishWithError(status, &s->finished);
  }
}

// --- links ---------------------------------------------------------------------------------------

void PeerTransport::SendToAll(const pb::PeerMessage& message) {
  for (auto& [j, link] : links_) {
    link->window.Queue(message);
    Advance(*link);
  }
}

void PeerTransport::SendTo(NodeId j, const pb::PeerMessage& message) {
  auto link = links_.find(j);
  if (link == links_.end()) return;
  link->second->window.Queue(message);
  Advance(*link->second);
}

void PeerTransport::Acknowledge(Link& link, std::uint64_t sequence) {
  // An ack of what was never sent changes nothing (SenderWindow::Acknowledge: peer messages are data).
  if (link.window.Acknowledge(sequence) && closing_) Advance(link);
}

void PeerTransport::Advance(Link& link) {
  if (link.stream != nullptr) {
    PumpStream(*link.stream);
  } else {
    Pump(link);
  }
}

// What a link without a live stream does next: nothing (done, backing off), finish (closing with
// all acknowledged), open a stream (channel READY) or wait for the channel.
void PeerTransport::Pump(Link& link) {
  if (stopping_ || link.done || link.stream != nullptr || link.backing_off) return;
  if (closing_ && link.window.empty()) {
    link.done = true;
    return;
  }
  const grpc_connectivity_state state = link.channel->GetState(/*try_to_connect=*/true);
  if (state == GRPC_CHANNEL_READY) {
    OpenStream(link);
    return;
  }
  const Clock::time_point now = Clock::now();
  if (now >= link.next_wait_log && now - link.waiting_since >= std::chrono::seconds(1)) {
    const auto waited = std::chrono::duration_cast<std::chrono::seconds>(now - link.waiting_since).count();
    log_->Info(absl::StrCat("waiting for neighbour ", link.peer, " at ", link.address, " to come ",
                            link.ever_connected ? "back" : "up", " (", waited, " s)"));
    link.next_wait_log = now + std::chrono::seconds(waited < 10 ? 2 : 10);
  }
}

void PeerTransport::Watch(Link& link) {
  if (stopping_ || link.done || link.watching) return;
  link.watching = true;
  link.channel->NotifyOnStateChange(link.observed, SystemIn(kWatchPeriod), cq_.get(), &link.watch_tag);
}

void PeerTransport::OnWatch(Link& link, bool ok) {
  link.watching = false;
  if (stopping_) return;
  (void)ok;  // false: the period passed without a change; the state is read either way
  link.observed = link.channel->GetState(/*try_to_connect=*/false);
  // A live stream on a channel that left READY has lost its connection (keepalive, GOAWAY, reset)
  // even if it had nothing to write.
  if (link.stream != nullptr && link.stream->started && link.observed != GRPC_CHANNEL_READY) {
    BreakStream(*link.stream, "the connection went (no keepalive answer, or closed)");
  }
  Pump(link);
  Watch(link);
}

void PeerTransport::OpenStream(Link& link) {
  auto* s = new OutStream(&link);
  link.stream = s;
  link.window.Restart();  // a new stream starts from the oldest message not acknowledged
  link.opened_at = Clock::now();
  s->context.set_wait_for_ready(true);
  s->context.AddMetadata(kHelloMetadata, hello_bytes_);
  s->writer = link.stub->PrepareAsyncExchange(&s->context, &s->summary, cq_.get());
  ++s->pending;
  s->writer->StartCall(&s->tags[OutStream::kStarted]);
}

void PeerTransport::PumpStream(OutStream& s) {
  Link& link = *s.link;
  if (!s.started || s.finishing || s.write_in_flight || s.writes_done || stopping_) return;
  if (s.broken) {
    MaybeFinish(s);
    return;
  }
  SenderWindow<pb::PeerMessage>::Entry* next = link.window.NextToWrite();
  if (next == nullptr) {
    if (closing_) {  // all written: close; the summary acknowledges the rest
      s.writes_done = s.writes_done_pending = true;
      ++s.pending;
      s.writer->WritesDone(&s.tags[OutStream::kWritesDone]);
    }
    return;
  }
  next->message.set_sequence(next->sequence);
  next->message.set_ack(inbound_.at(link.peer).taken);
  next->message.set_incarnation(incarnation_);
  next->message.set_receiver_incarnation(inbound_.at(link.peer).incarnation);
  next->message.set_process(process_);
  s.in_flight_sequence = next->sequence;
  s.in_flight_bytes = next->message.ByteSizeLong();
  s.in_flight_cost = CostOf(next->message);
  s.write_in_flight = true;
  ++s.pending;
  s.writer->Write(next->message, &s.tags[OutStream::kWritten]);  // serialized here
}

void PeerTransport::BreakStream(OutStream& s, std::string why, bool cancel) {
  if (!s.broken) {  // the first reason is the one logged
    s.broken = true;
    s.why = std::move(why);
    if (cancel) s.context.TryCancel();
  }
  MaybeFinish(s);  // now, or when the last outstanding operation returns
}

// Finish is called once nothing else is outstanding on the stream (gRPC's rule for Finish): after a
// break, or after WritesDone once the neighbour has ended the stream.
void PeerTransport::MaybeFinish(OutStream& s) {
  if (s.finishing || !s.started || s.write_in_flight || s.metadata_pending || s.writes_done_pending) return;
  if (!s.broken && !s.writes_done) return;
  s.finishing = true;
  ++s.pending;
  s.writer->Finish(&s.status, &s.tags[OutStream::kFinished]);
}

void PeerTransport::OnStreamEvent(OutStream* s, int op, bool ok) {
  --s->pending;
  Link& link = *s->link;
  if (stopping_) {  // draining: nothing new is started; the stream goes when nothing is outstanding
    if (s->pending == 0) {
      if (link.stream == s) link.stream = nullptr;
      delete s;
    }
    return;
  }
  switch (op) {
    case OutStream::kStarted:
      s->started = true;
      if (!ok) {  // nothing else outstanding: Finish gives the reason
        BreakStream(*s, "the stream could not start");
        return;
      }
      if (tls_ != nullptr) {
        // Nothing is written before the server is known to be the neighbour dialled.
        absl::StatusOr<PeerIdentity> server = tls_->Verify(*s->context.auth_context());
        std::string refusal;
        if (!server.ok()) {
          refusal = absl::StrCat("the server at ", link.address, " (neighbour ", link.peer,
                                 "'s address) is refused: ", server.status().message());
        } else if (server->node != link.peer) {
          refusal = absl::StrCat("the server at ", link.address, " is not neighbour ", link.peer,
                                 ": its certificate names ", server->uri);
        }
        if (!refusal.empty()) {
          Reject(absl::StrCat("the server at ", link.address), KindOf(refusal), refusal);
          BreakStream(*s, kServerRefused);
          return;
        }
      }
      s->verified = true;
      if (link.ever_connected) {
        counters_->RecordReconnect(link.peer);
        log_->Info(absl::StrFormat("reconnected to neighbour %u at %s after %.1f s; resending %u message(s)", link.peer,
                                   link.address, std::chrono::duration<double>(Clock::now() - link.broke_at).count(),
                                   link.window.unacknowledged()));
      } else {
        log_->Info(absl::StrCat("connected to neighbour ", link.peer, " at ", link.address));
      }
      link.ever_connected = true;
      SetOutbound(link.peer, true);
      // A client stream gets the neighbour's initial metadata with its summary, when it ends the
      // stream (refused, shut down, or our WritesDone answered) or when the call breaks: so this
      // one operation, outstanding for the stream's life, notices the end even with nothing to write.
      s->metadata_pending = true;
      ++s->pending;
      s->writer->ReadInitialMetadata(&s->tags[OutStream::kMetadata]);
      if (s->broken) {
        MaybeFinish(*s);
        return;
      }
      PumpStream(*s);
      return;
    case OutStream::kMetadata:
      s->metadata_pending = false;
      if (!s->writes_done) {
        // Not cancelled by us: the neighbour's status (e.g. a refusal) is what Finish reports.
        BreakStream(*s, ok ? "the neighbour ended the stream" : "the call broke", /*cancel=*/false);
      }
      MaybeFinish(*s);
      return;
    case OutStream::kWritten:
      s->write_in_flight = false;
      if (!ok) {
        BreakStream(*s, "a write failed");
        return;
      }
      if (link.window.MarkWritten(s->in_flight_sequence)) {
        counters_->RecordResent(link.peer, s->in_flight_bytes);
      } else {
        counters_->RecordSent(link.peer, s->in_flight_cost, s->in_flight_bytes);
      }
      PumpStream(*s);
      return;
    case OutStream::kWritesDone:
      s->writes_done_pending = false;
      if (!ok) BreakStream(*s, "closing the stream failed");
      MaybeFinish(*s);
      return;
    case OutStream::kFinished:
      OnStreamFinished(s);
      return;
  }
}

void PeerTransport::OnStreamFinished(OutStream* s) {
  Link& link = *s->link;
  const grpc::Status status = s->status;
  const std::uint64_t last = s->summary.last_sequence();
  const bool started = s->started;
  const std::string why = s->why;
  const bool verified = s->verified;
  link.stream = nullptr;
  delete s;
  if (started) SetOutbound(link.peer, false);
  if (status.ok()) link.window.Acknowledge(last);
  // Only the neighbour itself (with TLS, verified to be it) can stop this node.
  if (verified && status.error_code() == grpc::StatusCode::FAILED_PRECONDITION && !refused_.has_value()) {
    refused_ = status.error_message();
    log_->Info(absl::StrCat("neighbour ", link.peer, " refused this node: ", status.error_message()));
  }
  if (verified && status.error_code() == grpc::StatusCode::INVALID_ARGUMENT && !mismatch_.has_value()) {
    mismatch_ = status.error_message();
    log_->Info(absl::StrCat("neighbour ", link.peer, " refused this node's hello: ", status.error_message()));
  }
  const Clock::time_point now = Clock::now();
  if (closing_ && link.window.empty()) {
    link.done = true;
    return;
  }
  const grpc::StatusCode code = status.error_code();
  if (code == grpc::StatusCode::UNAUTHENTICATED || code == grpc::StatusCode::PERMISSION_DENIED ||
      code == grpc::StatusCode::RESOURCE_EXHAUSTED) {
    // Refused by the neighbour (a certificate, an identity): it stays so until someone fixes it, so
    // it is logged once, and the link keeps trying (a rotated certificate may fix it).
    if (++rejections_[{absl::StrCat("neighbour ", link.peer), KindOf(status.error_message())}] == 1) {
      log_->Info(absl::StrCat("neighbour ", link.peer, " at ", link.address,
                              " refused this node's stream: ", status.error_message(), "; retrying (logged once)"));
    }
  } else if (why == kServerRefused) {
    // Its server was refused (logged once, by Reject).
  } else {
    log_->Info(absl::StrCat("stream to neighbour ", link.peer, " at ", link.address, " broke (",
                            !why.empty()  ? absl::StrCat(why, status.ok() ? "" : ": " + status.error_message())
                             : status.ok() ? "closed with messages not acknowledged"
                                          : status.error_message(),
                            "); reconnecting"));
  }
  link.broke_at = link.waiting_since = now;
  link.next_wait_log = now + std::chrono::seconds(1);
  // Bounded backoff between streams, with jitter so that neighbours do not retry in step; a stream
  // that lived a while starts it over. (The channel paces connection attempts itself; this paces
  // streams on a live connection, e.g. one the neighbour refuses.)
  link.backoff = now - link.opened_at > kBackoffMax ? kBackoffInitial : std::min(link.backoff * 2, kBackoffMax);
  static thread_local std::minstd_rand random(static_cast<std::uint32_t>(now.time_since_epoch().count()) ^ self_);
  std::uniform_real_distribution<double> jitter(0.8, 1.2);
  const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(link.backoff * jitter(random));
  link.backing_off = true;
  link.backoff_alarm.Set(cq_.get(), SystemIn(wait), &link.backoff_tag);
}

// --- liveness --------------------------------------------------------------------------------------

void PeerTransport::SetOutbound(NodeId j, bool up) { SetLive(j, &Live::out, up); }

void PeerTransport::SetInbound(NodeId j, bool open) {
  inbound_.at(j).open = open;
  SetLive(j, &Live::in, open);
}

void PeerTransport::SetLive(NodeId j, bool Live::*half, bool up) {
  std::lock_guard lock(live_mu_);
  Live& l = live_.at(j);
  const bool before = l.out && l.in;
  l.*half = up;
  if ((l.out && l.in) != before) l.changed = Clock::now();
}

PeerTransport::Liveness PeerTransport::LivenessOf(NodeId j) const {
  std::lock_guard lock(live_mu_);
  auto it = live_.find(j);
  if (it == live_.end()) return {};
  return {.connected = it->second.out && it->second.in, .changed = it->second.changed};
}

// --- the end -------------------------------------------------------------------------------------

void PeerTransport::BeginClose() {
  closing_ = true;
  ready_.clear();
  for (auto& [j, link] : links_) Advance(*link);
}

bool PeerTransport::LinksDone() const {
  return std::all_of(links_.begin(), links_.end(), [](const auto& l) { return l.second->done; });
}

bool PeerTransport::Closed() const { return open_in_streams_ == 0 && LinksDone(); }

void PeerTransport::Taken(const Incoming& in) {
  auto it = inbound_.find(in.sender);
  if (it == inbound_.end() || it->second.incarnation != in.incarnation) return;  // of a process that ended
  it->second.taken = std::min(it->second.window.delivered(), std::max(it->second.taken, in.message.sequence()));
}

bool PeerTransport::Linger(Clock::time_point deadline, bool links_only) {
  auto closed = [&] { return links_only ? LinksDone() : Closed(); };
  while (!closed() && Clock::now() < deadline) {
    AcknowledgeAndDrop(std::min(deadline, Clock::now() + std::chrono::milliseconds(100)));
  }
  return closed();
}

void PeerTransport::AcknowledgeAndDrop(Clock::time_point until) {
  if (std::optional<Incoming> in = Next(until); in.has_value()) Taken(*in);
  for (const Incoming& queued : ready_) Taken(queued);
  ready_.clear();
}

void PeerTransport::Poll(Clock::time_point until) {
  void* tag = nullptr;
  bool ok = false;
  while (!queue_shut_down_ &&
         cq_->AsyncNext(&tag, &ok,
                        std::chrono::system_clock::now() + std::max(until - Clock::now(), Clock::duration(0))) ==
             grpc::CompletionQueue::GOT_EVENT) {
    Dispatch(static_cast<Tag*>(tag), ok);
  }
}

void PeerTransport::RunUntil(Clock::time_point until) {
  while (Clock::now() < until) AcknowledgeAndDrop(until);
}

std::vector<std::string> PeerTransport::Unacknowledged() const {
  std::vector<std::string> out;
  for (const auto& [j, link] : links_) {
    if (!link->window.empty()) out.push_back(absl::StrCat(j, " (", link->window.unacknowledged(), " message(s))"));
  }
  return out;
}

void PeerTransport::Shutdown(grpc::Server* server) {
  if (drained_) return;
  for (auto& [j, link] : links_) {
    if (link->stream != nullptr) BreakStream(*link->stream, "shutting down");
    if (link->backing_off) link->backoff_alarm.Cancel();
  }
  {
    std::lock_guard lock(wake_mu_);
    stopping_ = true;
    if (wake_alarm_ != nullptr) wake_alarm_->Cancel();
  }
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  queue_shut_down_ = true;
  cq_->Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (cq_->Next(&tag, &ok)) Dispatch(static_cast<Tag*>(tag), ok);
  drained_ = true;
}

}  // namespace dadmm::agent
