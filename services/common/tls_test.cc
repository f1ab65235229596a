// TLS between processes, with a CA and certificates made here (OpenSSL) for
// 127.0.0.1: a server with a certificate speaks TLS only (a plaintext client
// fails), one with the CA too demands a client certificate from that CA
// (mutual TLS); LoadTls refuses what it cannot honour; reflection is off
// unless asked for.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/proto_utils.h>
#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <string>

#include "rapport/api/v1/health.pb.h"
#include "rapport/profiles/v1/profiles.grpc.pb.h"
#include "services/common/channel.h"
#include "services/common/server.h"

namespace rapport {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kTimeout{5000};

struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct CertFree {
  void operator()(X509* x) const { X509_free(x); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;
using Cert = std::unique_ptr<X509, CertFree>;

std::string Pem(const std::function<int(BIO*)>& write) {
  BIO* bio = BIO_new(BIO_s_mem());
  EXPECT_EQ(write(bio), 1);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(len));
  BIO_free(bio);
  return out;
}

// An identity: a P-256 key and a certificate for it, signed by issuer (self-
// signed when issuer is null), a CA when ca is true, else a leaf for 127.0.0.1.
struct Identity {
  Key key;
  Cert cert;
  std::string cert_pem() const {
    return Pem([&](BIO* b) { return PEM_write_bio_X509(b, cert.get()); });
  }
  std::string key_pem() const {
    return Pem([&](BIO* b) { return PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr); });
  }
};

void AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  ASSERT_NE(ext, nullptr) << value;
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

Identity MakeIdentity(const std::string& cn, const Identity* issuer, bool ca) {
  static long serial = 1;
  Identity id;
  id.key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  EXPECT_NE(id.key, nullptr);
  id.cert.reset(X509_new());
  X509* c = id.cert.get();
  X509_set_version(c, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(c), serial++);
  X509_gmtime_adj(X509_getm_notBefore(c), -60);
  X509_gmtime_adj(X509_getm_notAfter(c), 3600);
  X509_set_pubkey(c, id.key.get());
  X509_NAME* name = X509_get_subject_name(c);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509* issuer_cert = issuer != nullptr ? issuer->cert.get() : c;
  X509_set_issuer_name(c, X509_get_subject_name(issuer_cert));
  if (ca) {
    AddExtension(c, issuer_cert, NID_basic_constraints, "critical,CA:TRUE");
    AddExtension(c, issuer_cert, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    AddExtension(c, issuer_cert, NID_basic_constraints, "critical,CA:FALSE");
    AddExtension(c, issuer_cert, NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost");
    AddExtension(c, issuer_cert, NID_ext_key_usage, "serverAuth,clientAuth");
  }
  EXPECT_GT(X509_sign(c, issuer != nullptr ? issuer->key.get() : id.key.get(), EVP_sha256()), 0);
  return id;
}

// One health check, not waiting for a connection: the server is up, so a
// handshake that fails answers UNAVAILABLE at once.
grpc::StatusCode HealthCheck(const std::shared_ptr<grpc::Channel>& channel) {
  grpc::TemplatedGenericStub<api::v1::HealthCheckRequest, api::v1::HealthCheckResponse> stub(channel);
  api::v1::HealthCheckRequest request;
  request.set_service("rapport.test.Service");
  api::v1::HealthCheckResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kTimeout);
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&done](grpc::Status s) { done.set_value(std::move(s)); });
  grpc::Status status = done.get_future().get();
  if (status.ok() && response.status() != api::v1::HealthCheckResponse::SERVING) return grpc::StatusCode::UNKNOWN;
  return status.error_code();
}

constexpr grpc::StatusCode kOk = grpc::StatusCode::OK;
constexpr grpc::StatusCode kRefused = grpc::StatusCode::UNAVAILABLE;

class TlsTest : public ::testing::Test {
 protected:
  TlsTest()
      : ca_(MakeIdentity("rapport test CA", nullptr, true)),
        server_(MakeIdentity("profiles", &ca_, false)),
        client_(MakeIdentity("gateway", &ca_, false)),
        other_ca_(MakeIdentity("another CA", nullptr, true)),
        stranger_(MakeIdentity("stranger", &other_ca_, false)) {}

  // Starts a server (the standard health service only) with tls.
  std::unique_ptr<RunningServer> Serve(const TlsConfig& tls, bool reflection = false) {
    ServerOptions options;
    options.addr = "127.0.0.1:0";
    options.health_service = "rapport.test.Service";
    options.tls = tls;
    options.reflection = reflection;
    auto running = RunningServer::Start(options, {&service_});
    EXPECT_TRUE(running.ok()) << running.status();
    return running.ok() ? *std::move(running) : nullptr;
  }

  static grpc::StatusCode Check(const RunningServer& server, const TlsConfig& client) {
    return HealthCheck(CreateServiceChannel("127.0.0.1:" + std::to_string(server.port()), client));
  }

  TlsConfig ServerTls(bool mutual) const {
    return TlsConfig{server_.cert_pem(), server_.key_pem(), mutual ? ca_.cert_pem() : ""};
  }

  Identity ca_, server_, client_, other_ca_, stranger_;
  // Some service for the servers to serve (its methods answer UNIMPLEMENTED);
  // the health service is the one the tests call.
  profiles::v1::ProfilesService::CallbackService service_;
};

TEST_F(TlsTest, ServerWithACertificateSpeaksTlsOnly) {
  auto server = Serve(ServerTls(false));
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(Check(*server, TlsConfig{"", "", ca_.cert_pem()}), kOk);
  EXPECT_EQ(Check(*server, TlsConfig{}), kRefused);  // plaintext
  // A client that trusts another CA refuses the server's certificate.
  EXPECT_EQ(Check(*server, TlsConfig{"", "", other_ca_.cert_pem()}), kRefused);
}

// Replicas given as an address list become one "ipv4:" target: the
// handshake still checks each server's certificate against the CA.
TEST_F(TlsTest, AnAddressListOfReplicasSpeaksTlsToEach) {
  auto one = Serve(ServerTls(true));
  auto two = Serve(ServerTls(true));
  ASSERT_NE(one, nullptr);
  ASSERT_NE(two, nullptr);
  const std::string list = "127.0.0.1:" + std::to_string(one->port()) + ",127.0.0.1:" + std::to_string(two->port());
  // Round-robin: consecutive calls go to each replica in turn.
  auto channel = CreateServiceChannel(list, TlsConfig{client_.cert_pem(), client_.key_pem(), ca_.cert_pem()});
  for (int i = 0; i < 4; ++i) EXPECT_EQ(HealthCheck(channel), kOk) << i;
  EXPECT_EQ(HealthCheck(CreateServiceChannel(list, TlsConfig{})), kRefused);
  EXPECT_EQ(HealthCheck(CreateServiceChannel(list, TlsConfig{"", "", other_ca_.cert_pem()})), kRefused);
}

TEST_F(TlsTest, MutualTlsDemandsAClientCertificateFromTheCa) {
  auto server = Serve(ServerTls(true));
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(Check(*server, TlsConfig{client_.cert_pem(), client_.key_pem(), ca_.cert_pem()}), kOk);
  EXPECT_EQ(Check(*server, TlsConfig{"", "", ca_.cert_pem()}), kRefused);  // no client certificate
  // A client certificate from another CA.
  EXPECT_EQ(Check(*server, TlsConfig{stranger_.cert_pem(), stranger_.key_pem(), ca_.cert_pem()}), kRefused);
  EXPECT_EQ(Check(*server, TlsConfig{}), kRefused);  // plaintext
}

TEST_F(TlsTest, TheProcessSettingsAreWhatChannelsAndServersUseByDefault) {
  const std::string dir = std::filesystem::temp_directory_path() / ("rapport_tls_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir + "/" + name) << text;
    return dir + "/" + name;
  };
  absl::StatusOr<TlsConfig> loaded = LoadTls(write("cert.pem", server_.cert_pem()), write("key.pem", server_.key_pem()),
                                             write("ca.pem", ca_.cert_pem()));
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_TRUE(loaded->mutual());
  SetProcessTls(*loaded);
  ServerOptions options;
  options.addr = "127.0.0.1:0";
  options.health_service = "rapport.test.Service";
  auto server = RunningServer::Start(options, {&service_});
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string addr = "127.0.0.1:" + std::to_string((*server)->port());
  // The process's own channels present its certificate: mutual TLS works.
  EXPECT_EQ(HealthCheck(CreateServiceChannel(addr)), kOk);
  EXPECT_EQ(HealthCheck(CreateServiceChannel(addr, TlsConfig{})), kRefused);
  SetProcessTls(TlsConfig{});
  std::filesystem::remove_all(dir);
}

TEST_F(TlsTest, LoadTlsRefusesWhatItCannotHonour) {
  const std::string dir = std::filesystem::temp_directory_path() / ("rapport_tls_bad_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir + "/" + name) << text;
    return dir + "/" + name;
  };
  const std::string cert = write("cert.pem", server_.cert_pem());
  const std::string key = write("key.pem", server_.key_pem());
  const std::string other_key = write("other.pem", client_.key_pem());
  const std::string junk = write("junk.pem", "not a certificate");
  EXPECT_TRUE(LoadTls("", "", "").ok());
  EXPECT_FALSE(LoadTls("", "", "")->enabled());
  EXPECT_EQ(LoadTls(cert, "", "").status().code(), absl::StatusCode::kInvalidArgument);  // no key
  EXPECT_EQ(LoadTls("", key, "").status().code(), absl::StatusCode::kInvalidArgument);   // no certificate
  EXPECT_EQ(LoadTls(cert, other_key, "").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(LoadTls(junk, key, "").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(LoadTls("", "", junk).status().code(), absl::StatusCode::kInvalidArgument);
  absl::StatusOr<TlsConfig> missing = LoadTls(dir + "/absent.pem", key, "");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(missing.status().message().find("--tls_cert"), std::string::npos) << missing.status();
  // Errors never show a key.
  absl::StatusOr<TlsConfig> mismatched = LoadTls(cert, other_key, "");
  EXPECT_EQ(mismatched.status().message().find("PRIVATE"), std::string::npos);
  // A CA alone does for a client (the gateway); a server needs its own certificate.
  absl::StatusOr<TlsConfig> ca_only = LoadTls("", "", write("ca.pem", ca_.cert_pem()));
  ASSERT_TRUE(ca_only.ok());
  EXPECT_EQ(ServerCredentials(*ca_only).status().code(), absl::StatusCode::kInvalidArgument);
  std::filesystem::remove_all(dir);
}

// grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo asked to list
// services (a bidi stream, called with one request: list_services = "").
grpc::Status ListServices(int port, std::string* answer) {
  auto channel = CreateServiceChannel("127.0.0.1:" + std::to_string(port), TlsConfig{});
  grpc::GenericStub stub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + kTimeout);
  const std::string request("\x3a\x00", 2);  // field 7 (list_services), empty
  grpc::Slice slice(request);
  grpc::ByteBuffer req(&slice, 1);
  grpc::ByteBuffer resp;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&ctx, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", grpc::StubOptions(), &req,
                 &resp, [&](grpc::Status s) { done.set_value(std::move(s)); });
  grpc::Status status = done.get_future().get();
  std::vector<grpc::Slice> slices;
  if (status.ok() && resp.Dump(&slices).ok()) {
    for (const grpc::Slice& s : slices) answer->append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return status;
}

TEST_F(TlsTest, ReflectionIsOffUnlessAskedFor) {
  auto plain = Serve(TlsConfig{});
  ASSERT_NE(plain, nullptr);
  std::string answer;
  EXPECT_EQ(ListServices(plain->port(), &answer).error_code(), grpc::StatusCode::UNIMPLEMENTED);

  auto reflective = Serve(TlsConfig{}, /*reflection=*/true);
  ASSERT_NE(reflective, nullptr);
  grpc::Status s = ListServices(reflective->port(), &answer);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_NE(answer.find("grpc.health.v1.Health"), std::string::npos);
}

}  // namespace
}  // namespace rapport
