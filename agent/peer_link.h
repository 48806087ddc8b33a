// The outgoing half of one edge: a client stream from this agent to one neighbour's Peer service,
// fed by a queue, that loses nothing when the stream breaks. Connects (and reconnects, with the
// channel's bounded backoff) and logs once per change whom it waits for, so that agents may start in
// any order and links may drop.
//
// Exactly once, in order: every message gets the next sequence number of this edge and stays in
// the link until the neighbour acknowledges it (Acknowledge, fed by the acks it piggybacks on its
// own messages to us, and by the summary that ends a stream). A reopened stream starts again from the
// oldest message not acknowledged; the neighbour drops what it already has (agent/peer_service.h).
// The algorithm's window bounds what is kept: a node never runs more than a step or two ahead of a
// neighbour whose estimates it waits for.
//
// A stream that breaks while the link has nothing to write is noticed from the channel's state
// (keepalive turns a dead connection into a non-READY channel within seconds, channel_args.cc).
// Thread-safe; owns one thread.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "agent/counters.h"
#include "agent/log.h"
#include "dadmm/proto/dadmm.grpc.pb.h"

namespace dadmm::agent {

class PeerLink {
 public:
  using Clock = std::chrono::steady_clock;
  // `ack` gives, when a message is written, the highest sequence number received in order from the
  // neighbour (what this agent piggybacks for it).
  PeerLink(NodeId peer, std::string address, SharedCounters* counters, const Logger* log,
           std::function<std::uint64_t()> ack);
  ~PeerLink();
  PeerLink(const PeerLink&) = delete;
  PeerLink& operator=(const PeerLink&) = delete;

  void Start();
  // Queues one message (its sequence number is set here); it is sent in order after those queued before it.
  void Send(dadmm::v1::PeerMessage message);
  // The neighbour has every message up to `sequence`: they are dropped from the link.
  void Acknowledge(std::uint64_t sequence);
  // Asks the link to deliver what is queued and close the stream; returns at once.
  void BeginClose();
  // Waits for BeginClose to complete until `deadline`, then cancels what is left, and joins the thread.
  void FinishClose(Clock::time_point deadline);
  // Cancels at once and joins.
  void Abort();

  bool connected() const;
  // When connected() last changed (the link's creation if never).
  Clock::time_point connection_changed() const;
  // Messages queued and not yet acknowledged.
  std::size_t unacknowledged() const;
  NodeId peer() const { return peer_; }
  const std::string& address() const { return address_; }

 private:
  void Run();
  // Writes from the oldest unacknowledged message until closing with all written, abort, or a broken
  // stream. True if the stream ended cleanly (all written and the neighbour's summary received).
  bool Stream();
  void SetConnected(bool connected);  // mu_ held

  const NodeId peer_;
  const std::string address_;
  SharedCounters* const counters_;
  const Logger* const log_;
  const std::function<std::uint64_t()> ack_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<dadmm::v1::Peer::Stub> stub_;
  std::thread thread_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<dadmm::v1::PeerMessage> unacked_;  // in sequence order
  std::uint64_t next_sequence_ = 1;             // of the next message queued
  std::uint64_t acknowledged_ = 0;              // the neighbour has every message up to this one
  std::uint64_t written_up_to_ = 0;             // on the current stream
  std::uint64_t highest_written_ = 0;           // on any stream: writing one at or below it is a resend
  bool closing_ = false;
  bool aborted_ = false;
  bool connected_ = false;
  Clock::time_point connection_changed_ = Clock::now();
  grpc::ClientContext* context_ = nullptr;  // the live stream's, for cancellation
};

}  // namespace dadmm::agent
