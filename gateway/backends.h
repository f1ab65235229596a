// The backend services the gateway serves, in one table: each entry pairs a
// gRPC service of the service registry (services/common/service_registry.h:
// its name, address variable, default address and gRPC service name) with a
// descriptor accessor of its proto file, which both forces the generated code
// to be linked in and registers the file in the generated descriptor pool
// that the Router reads. Adding a service to the gateway is one entry here
// (plus linking its proto library); tests/service_registry_test.cc checks
// that every gRPC service of the registry has one.
#ifndef RAPPORT_GATEWAY_BACKENDS_H_
#define RAPPORT_GATEWAY_BACKENDS_H_

#include <string>
#include <vector>

#include "google/protobuf/descriptor.h"
#include "services/common/service_registry.h"

namespace rapport::gateway {

struct Backend {
  const registry::ProcessInfo* process;
  const google::protobuf::Descriptor* (*anchor)();  // any message of the service's proto file

  const char* service() const { return process->health_service; }  // full gRPC service name
};

const std::vector<Backend>& Backends();
std::vector<std::string> BackendServiceNames();
// The address from the backend's environment variable, else its default.
std::string BackendAddr(const Backend& backend);

}  // namespace rapport::gateway

#endif  // RAPPORT_GATEWAY_BACKENDS_H_
