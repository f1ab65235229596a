// The OpenAPI 3 document of the gateway, generated from the route table: one
// operation per route with its path parameters, query parameters (the
// request's scalar fields not bound by the path or the body), the request
// body and response schemas (components.schemas, one per message reachable
// from a route, properties by JSON name), required scope and error responses.
#ifndef RAPPORT_GATEWAY_OPENAPI_H_
#define RAPPORT_GATEWAY_OPENAPI_H_

#include <string>

#include "gateway/router.h"

namespace rapport::gateway {

std::string OpenApiJson(const Router& router);

// "/v1/contacts/{contact_id}:x" -> "/v1/contacts/{contactId}:x" (JSON names).
std::string OpenApiPath(const Route& route);

}  // namespace rapport::gateway

#endif  // RAPPORT_GATEWAY_OPENAPI_H_
