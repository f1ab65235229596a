// Fuzzes the webhook URL checker (CheckWebhookUrl), the address classifier
// behind it (IsPrivateAddress) and the event-type rule (IsValidEventType).
// Name resolution is replaced for this process by a numeric-only one (below)
// plus a few fixed names, so no input reaches DNS and runs are repeatable.
// Checked: an admitted URL (private addresses refused) resolves to public
// addresses only; an IPv4-mapped IPv6 address is judged as its IPv4 address;
// a valid event type holds nothing that could end a header line.
#include <arpa/inet.h>
#include <dlfcn.h>
#include <netdb.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "services/notifications/webhook.h"

namespace {

using GetAddrInfo = int (*)(const char*, const char*, const addrinfo*, addrinfo**);

}  // namespace

// Interposes libc's getaddrinfo for this fuzzer: numeric hosts only (as libc
// reads them, AI_NUMERICHOST), and three names standing for a public host, a
// private one and one with both kinds of address.
extern "C" int getaddrinfo(const char* node, const char* service, const addrinfo* hints, addrinfo** res) {
  static const GetAddrInfo real = reinterpret_cast<GetAddrInfo>(dlsym(RTLD_NEXT, "getaddrinfo"));
  if (real == nullptr) std::abort();
  addrinfo h{};
  if (hints != nullptr) h = *hints;
  h.ai_flags |= AI_NUMERICHOST;
  if (node != nullptr && std::strcmp(node, "public.example") == 0) node = "93.184.216.34";
  if (node != nullptr && std::strcmp(node, "private.example") == 0) node = "10.1.2.3";
  if (node != nullptr && std::strcmp(node, "mixed.example") == 0) {
    // Both families: a public IPv6 address first, then a private IPv4 one.
    addrinfo* v6 = nullptr;
    int rc = real("2606:2800:220:1::1", service, &h, &v6);
    if (rc != 0) return rc;
    addrinfo* last = v6;
    while (last->ai_next != nullptr) last = last->ai_next;
    rc = real("192.168.0.1", service, &h, &last->ai_next);
    *res = v6;
    return rc == 0 ? 0 : (freeaddrinfo(v6), rc);
  }
  return real(node, service, &h, res);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  namespace n = rapport::notifications;

  absl::StatusOr<n::CheckedUrl> strict = n::CheckWebhookUrl("url", input, false);
  if (strict.ok()) {
    for (const std::string& a : strict->addresses) {
      absl::StatusOr<bool> priv = n::IsPrivateAddress(a);
      if (!priv.ok() || *priv) {
        std::fprintf(stderr, "admitted %s resolving to non-public %s\n", input.c_str(), a.c_str());
        std::abort();
      }
    }
  } else if (strict.status().code() != absl::StatusCode::kInvalidArgument) {
    std::abort();
  }
  (void)n::CheckWebhookUrl("url", input, true);

  absl::StatusOr<bool> priv = n::IsPrivateAddress(input);
  in_addr v4;
  if (priv.ok() && inet_pton(AF_INET, input.c_str(), &v4) == 1) {
    char mapped[INET6_ADDRSTRLEN + 8];
    std::snprintf(mapped, sizeof mapped, "::ffff:%s", input.c_str());
    absl::StatusOr<bool> as_mapped = n::IsPrivateAddress(mapped);
    if (!as_mapped.ok() || *as_mapped != *priv) {
      std::fprintf(stderr, "%s and %s judged differently\n", input.c_str(), mapped);
      std::abort();
    }
  }

  if (n::IsValidEventType(input) && input.find_first_of("\r\n\t :\0", 0, 6) != std::string::npos) std::abort();
  return 0;
}
