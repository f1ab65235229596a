// Channels from one service (or tool) to another, and the transport security
// of every connection between processes.
//
// A channel has a short reconnect backoff (100 ms growing to 1 s instead of
// gRPC's 1 s to 120 s), so that a restarted dependency is reached again
// within about a second instead of minutes, while one connection attempt
// may take up to 5 s on a busy host. No retries (a failed call is
// the caller's to retry; the gateway answers 503) and no BDP pings (the peer
// is on the same network).
//
// Replicas: an address may list several, "10.0.0.5:50051,10.0.0.6:50051"
// (host names are resolved once, at channel creation), or be any gRPC target
// such as "dns:///profiles.rapport.svc:50051" (a headless service: every
// address the name resolves to, re-resolved as it changes). Calls balance
// round-robin over the replicas that are up and route around one that is
// down.
//
// Transport: plaintext on a trusted internal network unless TLS is set up
// (--tls_cert, --tls_key, --tls_ca; config::ParseFlags loads the files into
// the process's TlsConfig). With a certificate and key a server speaks TLS
// only; with the CA too it also demands a client certificate issued by that
// CA (mutual TLS). A client speaks TLS whenever anything is set, checks the
// server's certificate against the CA (the system's roots without one) and
// the address it dials (certificates name 127.0.0.1 or the host names used;
// for an address list, the host of its first entry, which every replica's
// certificate must then name, e.g. a name they share), and presents its own
// certificate when it has one.
//
// Thread-safety: SetProcessTls once at start, before channels and servers
// are made; everything else is safe from any thread.
#ifndef RAPPORT_SERVICES_COMMON_CHANNEL_H_
#define RAPPORT_SERVICES_COMMON_CHANNEL_H_

#include <grpcpp/channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace rapport {

// TLS material as PEM text. All empty: plaintext.
struct TlsConfig {
  std::string cert_pem;  // this process's certificate (chain); comes with key_pem
  std::string key_pem;
  std::string ca_pem;  // the CA a peer's certificate must chain to

  bool enabled() const { return !cert_pem.empty() || !ca_pem.empty(); }
  // Both ends prove who they are.
  bool mutual() const { return !cert_pem.empty() && !ca_pem.empty(); }
};

// Reads the PEM files ("" leaves that part unset). INVALID_ARGUMENT, naming
// the flag and never the contents, when a certificate comes without its key
// or the reverse, a file cannot be read, does not parse, or the key does not
// belong to the certificate.
absl::StatusOr<TlsConfig> LoadTls(const std::string& cert_file, const std::string& key_file,
                                  const std::string& ca_file);

// The process's TLS: what CreateServiceChannel(addr) and servers use unless
// told otherwise. Empty until set.
void SetProcessTls(TlsConfig tls);
TlsConfig ProcessTls();

// Credentials for tls (insecure ones when it is empty).
std::shared_ptr<grpc::ChannelCredentials> ClientCredentials(const TlsConfig& tls);
// INVALID_ARGUMENT when tls names a CA but no certificate: a server needs its own.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(const TlsConfig& tls);

std::shared_ptr<grpc::Channel> CreateServiceChannel(const std::string& addr);  // the process's TLS
std::shared_ptr<grpc::Channel> CreateServiceChannel(const std::string& addr, const TlsConfig& tls);

// The gRPC target for addr: a list becomes "ipv4:a,b" (or "ipv6:"), anything
// else is kept. INVALID_ARGUMENT for a list entry without a port, a name that
// does not resolve, or a list mixing IPv4 and IPv6.
absl::StatusOr<std::string> ChannelTarget(const std::string& addr);

}  // namespace rapport

#endif  // RAPPORT_SERVICES_COMMON_CHANNEL_H_
