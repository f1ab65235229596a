#include "services/common/rpc.h"

#include "absl/strings/str_cat.h"

namespace rapport {

void LogCall(const char* method, const grpc::Status& status, absl::Time start, const TenantContext* tenant) {
  log::Level level = status.ok() ? log::Level::kDebug : log::Level::kInfo;
  if (status.error_code() == grpc::StatusCode::INTERNAL || status.error_code() == grpc::StatusCode::UNKNOWN) {
    level = log::Level::kError;
  }
  if (!log::Enabled(level)) return;
  log::Write(level, "rpc",
             {{"method", method},
              {"code", absl::StrCat(static_cast<int>(status.error_code()))},
              {"error", status.error_message()},
              {"ms", absl::StrCat(absl::ToDoubleMilliseconds(absl::Now() - start))},
              {"org", tenant != nullptr ? tenant->org_id : std::string()},
              {"request_id", tenant != nullptr ? tenant->request_id : std::string()}});
}

RpcHandler::RpcHandler(const TenantSigner* signer, const google::protobuf::ServiceDescriptor* service)
    : signer_(signer) {
  for (int i = 0; i < service->method_count(); ++i) {
    const google::protobuf::MethodDescriptor* m = service->method(i);
    methods_.emplace(m->name(), MethodInfo{RequiredScope(m), FullMethod(service->full_name(), m->name())});
  }
  unknown_.path = FullMethod(service->full_name(), "(unknown)");
}

const RpcHandler::MethodInfo& RpcHandler::InfoOf(std::string_view method) const {
  auto it = methods_.find(absl::string_view(method.data(), method.size()));
  return it == methods_.end() ? unknown_ : it->second;
}

}  // namespace rapport
