// The backend services the gateway serves, in one table: adding a service to
// the gateway is one entry here (plus linking its proto library). Each entry
// names the gRPC service, where it is reached (environment variable and
// default address), and a descriptor accessor of its proto file, which both
// forces the generated code to be linked in and registers the file in the
// generated descriptor pool that the Router reads.
#ifndef RAPPORT_GATEWAY_BACKENDS_H_
#define RAPPORT_GATEWAY_BACKENDS_H_

#include <string>
#include <vector>

#include "google/protobuf/descriptor.h"

namespace rapport::gateway {

struct Backend {
  const char* service;       // full gRPC service name
  const char* addr_env;      // environment variable with host:port
  const char* default_addr;  // when the variable is unset
  const google::protobuf::Descriptor* (*anchor)();  // any message of the service's proto file
};

const std::vector<Backend>& Backends();
std::vector<std::string> BackendServiceNames();
// The address from the backend's environment variable, else its default.
std::string BackendAddr(const Backend& backend);

}  // namespace rapport::gateway

#endif  // RAPPORT_GATEWAY_BACKENDS_H_
