// Partial updates with google.protobuf.FieldMask, the same way for every
// service: paths are proto field names (snake_case, as the gateway sends
// them); an empty mask means every field set in the patch (AIP-134); output
// only fields may not be named.
#ifndef RAPPORT_SERVICES_COMMON_FIELD_MASK_H_
#define RAPPORT_SERVICES_COMMON_FIELD_MASK_H_

#include <initializer_list>
#include <set>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "google/protobuf/field_mask.pb.h"
#include "google/protobuf/message.h"

namespace rapport {

// Copies the masked fields of patch into target (repeated fields replaced).
// INVALID_ARGUMENT "<json_prefix>.<field>: ..." for an unknown or read-only path.
absl::Status ApplyFieldMask(const google::protobuf::Message& patch, const google::protobuf::FieldMask& mask,
                            const std::set<std::string>& read_only, const std::string& json_prefix,
                            google::protobuf::Message* target);

// The top-level fields (proto names, in field-number order) whose values
// differ between before and after, of one message type, leaving out those
// named in ignore (e.g. update_time). What an update event names as changed.
google::protobuf::FieldMask ChangedFields(const google::protobuf::Message& before,
                                          const google::protobuf::Message& after,
                                          const std::set<std::string>& ignore = {});

// What a consumer of an update event (Event.changed) asks: whether the
// update may have changed any of fields. True when changed names one of
// them, or names nothing (a producer that does not say: anything may have).
bool MayHaveChanged(const google::protobuf::FieldMask& changed, std::initializer_list<std::string_view> fields);

}  // namespace rapport

#endif  // RAPPORT_SERVICES_COMMON_FIELD_MASK_H_
