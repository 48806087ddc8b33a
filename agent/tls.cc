#include "agent/tls.h"

#include <grpc/grpc_security_constants.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace dadmm::agent {

namespace {

constexpr unsigned kRefreshSeconds = 1;
constexpr std::chrono::seconds kVerdictLifetime(60);
constexpr std::size_t kMaxVerdicts = 256;

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct StoreCtxFree {
  void operator()(X509_STORE_CTX* c) const { X509_STORE_CTX_free(c); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;

absl::StatusOr<std::string> ReadFile(const std::string& path, absl::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat(path, ": cannot read the ", what));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The certificates of a PEM text, in order.
std::vector<X509Ptr> ParseCertificates(const std::string& pem) {
  std::vector<X509Ptr> out;
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (bio == nullptr) return out;
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) out.emplace_back(x);
  ERR_clear_error();  // the end of the text reads as an error
  return out;
}

// The URI subject alternative names of `cert`.
std::vector<std::string> UriNames(X509* cert) {
  std::vector<std::string> out;
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) return out;
  for (int k = 0; k < sk_GENERAL_NAME_num(names); ++k) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, k);
    if (name->type != GEN_URI) continue;
    const ASN1_IA5STRING* uri = name->d.uniformResourceIdentifier;
    out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                     static_cast<std::size_t>(ASN1_STRING_length(uri)));
  }
  GENERAL_NAMES_free(names);
  return out;
}

// Why X509_verify_cert refused, as a phrase about "its certificate".
std::string Reason(int error) {
  switch (error) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return "its certificate has expired";
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return "its certificate is not valid yet";
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
      return absl::StrCat("its certificate is not from this network's CA (", X509_verify_cert_error_string(error), ")");
    default:
      return absl::StrCat("its certificate does not verify (", X509_verify_cert_error_string(error), ")");
  }
}

}  // namespace

struct Tls::Store {
  X509_STORE* store = X509_STORE_new();
  ~Store() { X509_STORE_free(store); }
};

std::string NetworkName(absl::string_view topology_name) {
  return topology_name.empty() ? "unnamed" : std::string(topology_name);
}
std::string NodeIdentity(absl::string_view network, NodeId id) {
  return absl::StrCat("dadmm://", network, "/node/", id);
}
std::string MonitorIdentity(absl::string_view network, absl::string_view name) {
  return absl::StrCat("dadmm://", network, "/ctl/", name);
}

std::optional<NodeId> NodeOfIdentity(absl::string_view uri, absl::string_view network) {
  const std::string prefix = absl::StrCat("dadmm://", network, "/node/");
  if (!absl::StartsWith(uri, prefix)) return std::nullopt;
  std::uint32_t id = 0;
  const absl::string_view digits = uri.substr(prefix.size());
  if (digits.empty() || digits.size() > 10 || !absl::SimpleAtoi(digits, &id)) return std::nullopt;
  if (absl::StrCat(id) != digits) return std::nullopt;  // one spelling per node: no "03", "+3"
  return id;
}

absl::StatusOr<std::shared_ptr<Tls>> Tls::Create(TlsFiles files, std::string network, std::string own_identity) {
  if (files.ca.empty() || files.cert.empty() || files.key.empty()) {
    return absl::InvalidArgumentError("TLS needs all of --tls_ca, --tls_cert and --tls_key");
  }
  std::shared_ptr<Tls> tls(new Tls());
  tls->files_ = std::move(files);
  tls->network_ = std::move(network);
  tls->own_identity_ = std::move(own_identity);
  if (absl::Status s = tls->ReloadCaIfChanged(); !s.ok()) return s;

  // Our own certificate and key: from the CA, valid now, matching, and naming us.
  absl::StatusOr<std::string> cert_pem = ReadFile(tls->files_.cert, "certificate (--tls_cert)");
  if (!cert_pem.ok()) return cert_pem.status();
  absl::StatusOr<std::string> key_pem = ReadFile(tls->files_.key, "private key (--tls_key)");
  if (!key_pem.ok()) return key_pem.status();
  std::vector<X509Ptr> certs = ParseCertificates(*cert_pem);
  if (certs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(tls->files_.cert, ": no PEM certificate in it (--tls_cert)"));
  }
  if (tls->network_.empty()) {  // a monitor's: the network its own certificate names
    for (const std::string& uri : UriNames(certs.front().get())) {
      if (!absl::StartsWith(uri, "dadmm://")) continue;
      const absl::string_view rest = absl::string_view(uri).substr(8);
      tls->network_ = std::string(rest.substr(0, rest.find('/')));
      break;
    }
    if (tls->network_.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(tls->files_.cert, ": names no dadmm:// identity"));
    }
  }
  std::unique_ptr<BIO, BioFree> key_bio(BIO_new_mem_buf(key_pem->data(), static_cast<int>(key_pem->size())));
  std::unique_ptr<EVP_PKEY, KeyFree> key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (key == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(tls->files_.key, ": no PEM private key in it (--tls_key)"));
  }
  if (X509_check_private_key(certs.front().get(), key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        absl::StrCat(tls->files_.key, ": the key does not belong to the certificate ", tls->files_.cert));
  }
  absl::StatusOr<PeerIdentity> own = tls->VerifyPem(*cert_pem);
  if (!own.ok()) {
    std::string why(own.status().message());
    if (absl::StartsWith(why, "its ")) why = why.substr(4);
    return absl::InvalidArgumentError(absl::StrCat(tls->files_.cert, ": ", why, " (CA ", tls->files_.ca, ")"));
  }
  if (!tls->own_identity_.empty() && own->uri != tls->own_identity_) {
    return absl::InvalidArgumentError(
        absl::StrCat(tls->files_.cert, ": names ", own->uri, ", not this agent (", tls->own_identity_, ")"));
  }
  tls->provider_ = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      tls->files_.key, tls->files_.cert, tls->files_.ca, kRefreshSeconds);
  return tls;
}

std::shared_ptr<grpc::ServerCredentials> Tls::ServerCredentials() const {
  grpc::experimental::TlsServerCredentialsOptions options(provider_);
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  // Asked for, verified by the application (Verify): a refusal is then a status with a reason.
  options.set_cert_request_type(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_BUT_DONT_VERIFY);
  return grpc::experimental::TlsServerCredentials(options);
}

std::shared_ptr<grpc::ChannelCredentials> Tls::ChannelCredentials() const {
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(provider_);
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  options.set_verify_server_certs(false);  // Verify, once the stream is up and before anything is written
  options.set_certificate_verifier(std::make_shared<grpc::experimental::NoOpCertificateVerifier>());
  options.set_check_call_host(false);  // identities are URIs, not host names
  return grpc::experimental::TlsCredentials(options);
}

absl::Status Tls::ReloadCaIfChanged() {
  const auto now = std::chrono::steady_clock::now();
  if (store_ != nullptr && now < next_ca_check_) return absl::OkStatus();
  next_ca_check_ = now + std::chrono::seconds(kRefreshSeconds);
  struct stat st {};
  if (::stat(files_.ca.c_str(), &st) != 0) {
    if (store_ != nullptr) return absl::OkStatus();  // mid-rotation: keep the CA we have
    return absl::InvalidArgumentError(absl::StrCat(files_.ca, ": cannot read the CA certificate (--tls_ca)"));
  }
  if (store_ != nullptr && st.st_mtim.tv_sec == ca_mtime_.tv_sec && st.st_mtim.tv_nsec == ca_mtime_.tv_nsec) {
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> pem = ReadFile(files_.ca, "CA certificate (--tls_ca)");
  if (!pem.ok()) return store_ != nullptr ? absl::OkStatus() : pem.status();
  std::vector<X509Ptr> cas = ParseCertificates(*pem);
  if (cas.empty()) {
    if (store_ != nullptr) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrCat(files_.ca, ": no PEM certificate in it (--tls_ca)"));
  }
  auto store = std::make_shared<Store>();
  for (const X509Ptr& ca : cas) X509_STORE_add_cert(store->store, ca.get());
  store_ = std::move(store);
  ca_mtime_ = st.st_mtim;
  verdicts_.clear();
  return absl::OkStatus();
}

absl::StatusOr<PeerIdentity> Tls::VerifyPem(const std::string& pem) {
  std::vector<X509Ptr> certs = ParseCertificates(pem);
  if (certs.empty()) return absl::UnauthenticatedError("its certificate is not PEM");
  std::unique_ptr<X509_STORE_CTX, StoreCtxFree> ctx(X509_STORE_CTX_new());
  if (ctx == nullptr || X509_STORE_CTX_init(ctx.get(), store_->store, certs.front().get(), nullptr) != 1) {
    return absl::InternalError("OpenSSL could not set up a verification");
  }
  if (X509_verify_cert(ctx.get()) != 1) {
    const int error = X509_STORE_CTX_get_error(ctx.get());
    ERR_clear_error();
    return absl::UnauthenticatedError(Reason(error));
  }
  const std::string prefix = absl::StrCat("dadmm://", network_, "/");
  std::vector<std::string> uris = UriNames(certs.front().get());
  for (const std::string& uri : uris) {
    if (!absl::StartsWith(uri, prefix)) continue;
    PeerIdentity identity{.uri = uri, .node = NodeOfIdentity(uri, network_)};
    if (identity.node.has_value() || absl::StartsWith(uri, prefix + "ctl/")) return identity;
  }
  return absl::UnauthenticatedError(
      absl::StrCat("its certificate names no identity of network '", network_, "' (",
                   uris.empty() ? std::string("no URI names") : absl::StrCat("URI ", uris.front()), ")"));
}

absl::StatusOr<PeerIdentity> Tls::Verify(const grpc::AuthContext& context) {
  const std::vector<grpc::string_ref> pems = context.FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
  if (pems.empty()) return absl::UnauthenticatedError("presented no certificate");
  const std::string pem(pems.front().data(), pems.front().size());
  std::lock_guard lock(mu_);
  if (absl::Status s = ReloadCaIfChanged(); !s.ok()) return s;
  const auto now = std::chrono::steady_clock::now();
  if (auto it = verdicts_.find(pem); it != verdicts_.end() && now < it->second.until) return it->second.result;
  absl::StatusOr<PeerIdentity> result = VerifyPem(pem);
  if (verdicts_.size() >= kMaxVerdicts) verdicts_.clear();
  verdicts_[pem] = Verdict{.result = result, .until = now + kVerdictLifetime};
  return result;
}

absl::StatusOr<MonitorCredentials> MakeMonitorCredentials(const TlsFiles& files) {
  MonitorCredentials out;
  if (files.empty()) {
    out.channel = grpc::InsecureChannelCredentials();
    return out;
  }
  absl::StatusOr<std::shared_ptr<Tls>> tls = Tls::Create(files, "", "");
  if (!tls.ok()) return tls.status();
  out.tls = *std::move(tls);
  out.channel = out.tls->ChannelCredentials();
  return out;
}

absl::Status MonitorCredentials::CheckServer(const grpc::ClientContext& context) const {
  if (tls == nullptr) return absl::OkStatus();
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth == nullptr) return absl::UnauthenticatedError("the server's identity is unknown");
  absl::StatusOr<PeerIdentity> server = tls->Verify(*auth);
  if (!server.ok())
    return absl::UnauthenticatedError(absl::StrCat("the server is refused: ", server.status().message()));
  if (!server->node.has_value()) {
    return absl::UnauthenticatedError(absl::StrCat("the server is not an agent: its certificate names ", server->uri));
  }
  return absl::OkStatus();
}

}  // namespace dadmm::agent
