// Input validation shared by every service. A Violations collects every
// problem of a request (field named by its proto3 JSON name, e.g.
// "contact.displayName") and turns them into one INVALID_ARGUMENT whose
// message is "field: description; field: description". The gateway splits
// that message into the `violations` of its problem+json answer.
//
// Lengths are counted in Unicode code points. Not thread-safe; one per call.
#ifndef RAPPORT_SERVICES_COMMON_VALIDATE_H_
#define RAPPORT_SERVICES_COMMON_VALIDATE_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "google/protobuf/repeated_ptr_field.h"

namespace rapport {

class Violations {
 public:
  void Add(std::string field, std::string description);
  bool empty() const { return items_.empty(); }
  const std::vector<std::pair<std::string, std::string>>& items() const { return items_; }
  // OK when empty, else INVALID_ARGUMENT listing every violation.
  absl::Status ToStatus() const;

  // Valid UTF-8, at most max_chars code points, non-empty when required.
  void Text(const std::string& field, std::string_view value, size_t max_chars, bool required = false);
  void Email(const std::string& field, std::string_view value);
  // http or https URL with a host.
  void Url(const std::string& field, std::string_view value);
  void Phone(const std::string& field, std::string_view value);
  void Id(const std::string& field, std::string_view value, bool required);
  // At most max_items, each a non-empty text of at most max_chars.
  void TextList(const std::string& field, const google::protobuf::RepeatedPtrField<std::string>& values,
                size_t max_items, size_t max_chars);

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

// INVALID_ARGUMENT "<field>: ..." unless id is a well-formed, non-empty id.
absl::Status RequireId(const std::string& field, std::string_view id);

// Number of code points, or npos when s is not valid UTF-8.
size_t Utf8Length(std::string_view s);

// Lowercases ASCII letters and trims spaces; how tags and emails are compared.
std::string NormalizeKey(std::string_view s);

}  // namespace rapport

#endif  // RAPPORT_SERVICES_COMMON_VALIDATE_H_
