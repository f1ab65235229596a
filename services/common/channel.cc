#include "services/common/channel.h"

#include <arpa/inet.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/support/channel_arguments.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/socket.h>

#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "services/common/log.h"

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

namespace {

// The IP literal of one "host:port" entry ("10.0.0.5:50051", "[::1]:50051"),
// resolving a host name once; the address family is set in v6.
absl::StatusOr<std::string> ResolveEntry(absl::string_view entry, bool* v6) {
  const size_t colon = entry.rfind(':');
  if (colon == absl::string_view::npos || colon + 1 == entry.size()) {
    return absl::InvalidArgumentError(absl::StrCat("\"", entry, "\" has no port"));
  }
  std::string host(entry.substr(0, colon));
  const std::string port(entry.substr(colon + 1));
  int port_number = 0;
  if (!absl::SimpleAtoi(port, &port_number) || port_number < 1 || port_number > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("\"", entry, "\" has a bad port"));
  }
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0 || found == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("cannot resolve \"", host, "\": ", gai_strerror(rc)));
  }
  char text[INET6_ADDRSTRLEN] = {};
  *v6 = found->ai_family == AF_INET6;
  const void* raw = *v6 ? static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(found->ai_addr)->sin6_addr)
                        : static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(found->ai_addr)->sin_addr);
  inet_ntop(found->ai_family, raw, text, sizeof(text));
  freeaddrinfo(found);
  return *v6 ? absl::StrCat("[", text, "]:", port) : absl::StrCat(text, ":", port);
}

}  // namespace

absl::StatusOr<std::string> ChannelTarget(const std::string& addr) {
  // A gRPC target with a scheme (dns:///, unix:, ipv4:, ...) or one address
  // is used as it is.
  if (addr.find(',') == std::string::npos || absl::StrContains(addr, ":/") || absl::StartsWith(addr, "unix:") ||
      absl::StartsWith(addr, "ipv4:") || absl::StartsWith(addr, "ipv6:")) {
    return addr;
  }
  std::vector<std::string> resolved;
  int v6_count = 0;
  for (absl::string_view entry : absl::StrSplit(addr, ',', absl::SkipWhitespace())) {
    entry = absl::StripAsciiWhitespace(entry);
    bool v6 = false;
    absl::StatusOr<std::string> one = ResolveEntry(entry, &v6);
    if (!one.ok()) return absl::InvalidArgumentError(absl::StrCat("address list ", addr, ": ", one.status().message()));
    resolved.push_back(*std::move(one));
    v6_count += v6 ? 1 : 0;
  }
  if (v6_count != 0 && v6_count != static_cast<int>(resolved.size())) {
    return absl::InvalidArgumentError(absl::StrCat("address list ", addr, " mixes IPv4 and IPv6 addresses"));
  }
  return absl::StrCat(v6_count == 0 ? "ipv4:" : "ipv6:", absl::StrJoin(resolved, ","));
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
  absl::StatusOr<std::string> target = ChannelTarget(addr);
  if (!target.ok()) {
    // Calls on the channel fail with UNAVAILABLE naming addr; say why once.
    log::Error("bad service address", {{"addr", addr}, {"error", target.status().ToString()}});
    target = addr;
  }
  if (tls.enabled() && *target != addr) {
    // An address list became "ipv4:a,b", whose default authority is the
    // whole list, a name no certificate has: check every replica's
    // certificate against the first entry as written instead.
    args.SetString(GRPC_ARG_DEFAULT_AUTHORITY,
                   std::string(absl::StripAsciiWhitespace(absl::string_view(addr).substr(0, addr.find(',')))));
  }
  return grpc::CreateCustomChannel(*target, ClientCredentials(tls), args);
}

}  // namespace rapport
