#include "services/common/field_mask.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/field_mask_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "services/common/validate.h"

namespace rapport {

using google::protobuf::FieldDescriptor;
using google::protobuf::util::FieldMaskUtil;

absl::Status ApplyFieldMask(const google::protobuf::Message& patch, const google::protobuf::FieldMask& mask,
                            const std::set<std::string>& read_only, const std::string& json_prefix,
                            google::protobuf::Message* target) {
  google::protobuf::FieldMask effective = mask;
  if (effective.paths().empty()) {
    std::vector<const FieldDescriptor*> set_fields;
    patch.GetReflection()->ListFields(patch, &set_fields);
    for (const FieldDescriptor* f : set_fields) {
      if (read_only.count(f->name()) == 0) effective.add_paths(f->name());
    }
  }
  Violations violations;
  const google::protobuf::Descriptor* descriptor = patch.GetDescriptor();
  for (const std::string& path : effective.paths()) {
    std::string top = path.substr(0, path.find('.'));
    const FieldDescriptor* field = descriptor->FindFieldByName(top);
    std::string json = field != nullptr ? field->json_name() : path;
    std::string name = json_prefix.empty() ? json : absl::StrCat(json_prefix, ".", json);
    if (field == nullptr || !FieldMaskUtil::GetFieldDescriptors(descriptor, path, nullptr)) {
      violations.Add(absl::StrCat("updateMask"), absl::StrCat("unknown field \"", path, "\""));
    } else if (read_only.count(top) > 0) {
      violations.Add(name, "cannot be changed");
    }
  }
  if (!violations.empty()) return violations.ToStatus();
  FieldMaskUtil::MergeOptions options;
  options.set_replace_message_fields(true);
  options.set_replace_repeated_fields(true);
  FieldMaskUtil::MergeMessageTo(patch, effective, options, target);
  return absl::OkStatus();
}

google::protobuf::FieldMask ChangedFields(const google::protobuf::Message& before,
                                          const google::protobuf::Message& after, const std::set<std::string>& ignore) {
  google::protobuf::FieldMask out;
  const google::protobuf::Descriptor* descriptor = before.GetDescriptor();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor* f = descriptor->field(i);
    if (ignore.count(f->name()) > 0) continue;
    google::protobuf::util::MessageDifferencer differencer;
    if (!differencer.CompareWithFields(before, after, {f}, {f})) out.add_paths(f->name());
  }
  return out;
}

bool MayHaveChanged(const google::protobuf::FieldMask& changed, std::initializer_list<std::string_view> fields) {
  if (changed.paths().empty()) return true;
  for (const std::string& path : changed.paths()) {
    for (std::string_view field : fields) {
      if (path == field) return true;
    }
  }
  return false;
}

}  // namespace rapport
