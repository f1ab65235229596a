#include "services/common/channel.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/support/channel_arguments.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <fstream>
#include <sstream>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace rapport {
namespace {

absl::Mutex process_tls_mu;
TlsConfig& ProcessTlsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(process_tls_mu) {
  static TlsConfig* tls = new TlsConfig();
  return *tls;
}

// The file's contents; flag names the setting in errors.
absl::StatusOr<std::string> ReadPem(const std::string& path, const char* flag) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("--", flag, ": cannot read ", path));
  std::ostringstream out;
  out << in.rdbuf();
  std::string pem = out.str();
  if (pem.find("-----BEGIN ") == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, ": ", path, " holds no PEM block"));
  }
  return pem;
}

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

std::unique_ptr<BIO, BioFree> MemoryBio(const std::string& pem) {
  return std::unique_ptr<BIO, BioFree>(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// Parses the certificate and the key and checks that they belong together,
// so that a wrong pair fails at start with a message rather than at the
// first handshake.
absl::Status CheckPair(const TlsConfig& tls) {
  auto cert_bio = MemoryBio(tls.cert_pem);
  std::unique_ptr<X509, X509Free> cert(PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
  if (cert == nullptr) return absl::InvalidArgumentError("--tls_cert: not a PEM certificate");
  auto key_bio = MemoryBio(tls.key_pem);
  std::unique_ptr<EVP_PKEY, PkeyFree> key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  if (key == nullptr) return absl::InvalidArgumentError("--tls_key: not a PEM private key (or it is encrypted)");
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    return absl::InvalidArgumentError("--tls_key: does not belong to the certificate of --tls_cert");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<TlsConfig> LoadTls(const std::string& cert_file, const std::string& key_file,
                                  const std::string& ca_file) {
  if (cert_file.empty() != key_file.empty()) {
    return absl::InvalidArgumentError("--tls_cert and --tls_key come together: give both or neither");
  }
  TlsConfig tls;
  if (!cert_file.empty()) {
    absl::StatusOr<std::string> cert = ReadPem(cert_file, "tls_cert");
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = ReadPem(key_file, "tls_key");
    if (!key.ok()) return key.status();
    tls.cert_pem = *std::move(cert);
    tls.key_pem = *std::move(key);
    if (absl::Status s = CheckPair(tls); !s.ok()) return s;
  }
  if (!ca_file.empty()) {
    absl::StatusOr<std::string> ca = ReadPem(ca_file, "tls_ca");
    if (!ca.ok()) return ca.status();
    auto ca_bio = MemoryBio(*ca);
    std::unique_ptr<X509, X509Free> first(PEM_read_bio_X509(ca_bio.get(), nullptr, nullptr, nullptr));
    if (first == nullptr) return absl::InvalidArgumentError("--tls_ca: not a PEM certificate");
    tls.ca_pem = *std::move(ca);
  }
  return tls;
}

void SetProcessTls(TlsConfig tls) {
  absl::MutexLock lock(&process_tls_mu);
  ProcessTlsLocked() = std::move(tls);
}

TlsConfig ProcessTls() {
  absl::MutexLock lock(&process_tls_mu);
  return ProcessTlsLocked();
}

std::shared_ptr<grpc::ChannelCredentials> ClientCredentials(const TlsConfig& tls) {
  if (!tls.enabled()) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = tls.ca_pem;  // empty: the system's roots
  options.pem_private_key = tls.key_pem;
  options.pem_cert_chain = tls.cert_pem;
  return grpc::SslCredentials(options);
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(const TlsConfig& tls) {
  if (!tls.enabled()) return grpc::InsecureServerCredentials();
  if (tls.cert_pem.empty()) {
    return absl::InvalidArgumentError("--tls_ca without --tls_cert and --tls_key: a server needs its own certificate");
  }
  grpc::SslServerCredentialsOptions options(tls.mutual() ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                                                         : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  options.pem_root_certs = tls.ca_pem;
  options.pem_key_cert_pairs.push_back({tls.key_pem, tls.cert_pem});
  return grpc::SslServerCredentials(options);
}

std::shared_ptr<grpc::Channel> CreateServiceChannel(const std::string& addr) {
  return CreateServiceChannel(addr, ProcessTls());
}

std::shared_ptr<grpc::Channel> CreateServiceChannel(const std::string& addr, const TlsConfig& tls) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  // Despite its name, this is gRPC's minimum connect timeout: the time one
  // attempt gets for TCP connect plus the HTTP/2 handshake (the peer's
  // SETTINGS frame). At 100 ms a busy host failed attempts ("connection
  // attempt timed out before receiving SETTINGS frame"), and every call
  // waiting on them got UNAVAILABLE (a 503 from the gateway). A refused
  // connection still fails at once, so the 100 ms backoff above is what
  // brings a restarted peer back.
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 5000);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetLoadBalancingPolicyName("round_robin");
  return grpc::CreateCustomChannel(addr, ClientCredentials(tls), args);
}

}  // namespace rapport
