// Mutual TLS between agents, and between dadmm-ctl and agents.
//
// Identity. A certificate names its holder in one URI subject alternative name:
//   dadmm://<network>/node/<id>    an agent (node <id> of the topology whose `name:` is <network>)
//   dadmm://<network>/ctl/<name>   a monitor (dadmm-ctl), which may read Status and nothing else
// <network> is the topology's name ("unnamed" when the file has none). deploy/make-certs.sh makes a CA
// and one such certificate per node (and one for dadmm-ctl) from a topology file.
//
// Who checks what. TLS itself only encrypts and proves possession of the key: the server asks for a
// client certificate but lets the handshake finish without verifying it, and the client does not
// verify the server's either. The application then verifies the peer's certificate against the CA
// (OpenSSL, X509_verify_cert: chain, validity period) and reads its identity, before it reads a
// message or answers a call, so that every refusal is a status the other end sees and a line this end
// logs, naming the reason: no certificate, another CA, expired, no dadmm identity, the wrong node.
// A server accepts a peer stream only when the identity equals the sender its stream hello names and
// that sender is a neighbour (agent/peer_transport.cc); a client accepts a server only when its
// identity is the neighbour it dialled.
//
// Rotation. The key, the certificate and the CA are files that gRPC's FileWatcherCertificateProvider
// re-reads every second, and so does the verifier (the CA file's modification time): replacing them
// (atomically: write beside, then rename) changes what new connections use, with no restart.
//
// Thread-safe.
#pragma once

#include <grpcpp/grpcpp.h>
#include <sys/stat.h>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/base/types.h"

namespace dadmm::agent {

struct TlsFiles {
  std::string ca, cert, key;
  bool empty() const { return ca.empty() && cert.empty() && key.empty(); }
};

// The network name a topology's identities use: its name, or "unnamed".
std::string NetworkName(absl::string_view topology_name);
std::string NodeIdentity(absl::string_view network, NodeId id);
std::string MonitorIdentity(absl::string_view network, absl::string_view name);

// A verified peer: its identity, and the node it is (nullopt for a monitor).
struct PeerIdentity {
  std::string uri;
  std::optional<NodeId> node;
};

class Tls {
 public:
  // Checks the files (readable, the key matches the certificate, the certificate is from the CA and
  // valid now) and that the certificate names `own_identity` (empty: any identity of `network`).
  // An empty `network` is the one the certificate names (a monitor's, which knows no topology).
  // Errors are one line naming the file.
  static absl::StatusOr<std::shared_ptr<Tls>> Create(TlsFiles files, std::string network, std::string own_identity);

  std::shared_ptr<grpc::ServerCredentials> ServerCredentials() const;
  std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials() const;
  // The name a client asks for (TLS SNI) instead of the address's host: every certificate of
  // deploy/make-certs.sh carries it as a DNS name besides its identity, so that a server's TLS finds
  // its certificate matching. It identifies nobody; the URI does.
  static constexpr char kServerName[] = "dadmm";

  // Verifies the certificate the peer of `context` presented: its identity, or why it is refused
  // ("presented no certificate", "its certificate is not from this network's CA (...)", "its
  // certificate has expired", ...), one phrase that follows "the peer".
  absl::StatusOr<PeerIdentity> Verify(const grpc::AuthContext& context);

  const std::string& network() const { return network_; }
  const std::string& own_identity() const { return own_identity_; }

 private:
  Tls() = default;
  absl::Status ReloadCaIfChanged();
  absl::StatusOr<PeerIdentity> VerifyPem(const std::string& pem);

  TlsFiles files_;
  std::string network_, own_identity_;
  std::shared_ptr<grpc::experimental::CertificateProviderInterface> provider_;

  std::mutex mu_;
  struct Store;
  std::shared_ptr<Store> store_;  // the CA, as loaded
  timespec ca_mtime_{};
  std::chrono::steady_clock::time_point next_ca_check_{};
  // Verdicts by certificate (PEM), for a minute: Status calls come often, certificates rarely change.
  struct Verdict {
    absl::StatusOr<PeerIdentity> result;
    std::chrono::steady_clock::time_point until;
  };
  std::map<std::string, Verdict> verdicts_;
};

// The credentials of dadmm-ctl: from --tls_ca, --tls_cert and --tls_key, or plaintext if none is
// given. `server_check`: after a call, whether the server was a node of the network (always OK in
// plaintext).
struct MonitorCredentials {
  std::shared_ptr<Tls> tls;
  std::shared_ptr<grpc::ChannelCredentials> channel;
  absl::Status CheckServer(const grpc::ClientContext& context) const;
};
absl::StatusOr<MonitorCredentials> MakeMonitorCredentials(const TlsFiles& files);

// The node identity named in a URI ("dadmm://<network>/node/<id>"), if it is one of `network`.
std::optional<NodeId> NodeOfIdentity(absl::string_view uri, absl::string_view network);

}  // namespace dadmm::agent
