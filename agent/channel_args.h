// gRPC channel and server settings for agents on a LAN (see shared notes on keepalive and backoff).
#pragma once

#include <grpcpp/grpcpp.h>

namespace dadmm::agent {

// Client side: reconnect quickly (200 ms initial backoff, 5 s max), keepalive every 10 s.
grpc::ChannelArguments PeerChannelArguments();

// Server side: accept the clients' keepalive pings, never share a port with another process.
void ConfigureServer(grpc::ServerBuilder& builder);

}  // namespace dadmm::agent
