// The outgoing half of one edge: a long-lived client stream from this agent to one neighbour's Peer
// service, fed by a queue. Connects (and reconnects) with backoff, logging whom it waits for, so that
// agents may start in any order. Thread-safe; owns one thread.
#pragma once

#include <grpcpp/grpcpp.h>

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "agent/counters.h"
#include "agent/log.h"
#include "dadmm/proto/dadmm.grpc.pb.h"

namespace dadmm::agent {

class PeerLink {
 public:
  PeerLink(NodeId peer, std::string address, SharedCounters* counters, const Logger* log);
  ~PeerLink();
  PeerLink(const PeerLink&) = delete;
  PeerLink& operator=(const PeerLink&) = delete;

  void Start();
  // Queues one message; it is sent in order after those queued before it.
  void Send(dadmm::v1::PeerMessage message);
  // Asks the link to send what is queued and close the stream; returns at once.
  void BeginClose();
  // Waits for BeginClose to complete until `deadline`, then cancels what is left, and joins the thread.
  void FinishClose(std::chrono::steady_clock::time_point deadline);
  // Cancels at once and joins.
  void Abort();

  bool connected() const;
  NodeId peer() const { return peer_; }
  const std::string& address() const { return address_; }

 private:
  void Run();

  const NodeId peer_;
  const std::string address_;
  SharedCounters* const counters_;
  const Logger* const log_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<dadmm::v1::Peer::Stub> stub_;
  std::thread thread_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<dadmm::v1::PeerMessage> queue_;
  bool closing_ = false;
  bool aborted_ = false;
  bool connected_ = false;
  grpc::ClientContext* context_ = nullptr;  // the live stream's, for cancellation
};

}  // namespace dadmm::agent
