#include "gateway/json_printer.h"

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gateway/json_writer.h"
#include "google/protobuf/descriptor.h"

namespace rapport::gateway {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// Beyond this nesting the printer declines (protobuf's printer has its own limit).
constexpr int kMaxDepth = 64;

// Per message type, what the printer does with it.
enum class Kind { kMessage, kTimestamp, kUnsupported };

Kind ComputeKind(const Descriptor* d) {
  const std::string& name = d->full_name();
  if (name == "google.protobuf.Timestamp") return Kind::kTimestamp;
  if (name.rfind("google.protobuf.", 0) == 0 && name != "google.protobuf.Empty") {
    // Any, Struct, Value, ListValue, Duration, FieldMask and the wrappers print
    // specially; other messages of that package are left to protobuf too.
    return Kind::kUnsupported;
  }
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (f->is_map() || JsonStringNeedsEscape(f->json_name())) return Kind::kUnsupported;
    if (f->enum_type() != nullptr && f->enum_type()->full_name() == "google.protobuf.NullValue") {
      return Kind::kUnsupported;
    }
  }
  return Kind::kMessage;
}

// Nested message types are looked up when the printer reaches them, so a
// type's kind depends only on its own fields. Only generated types (which
// live as long as the process) are cached: a dynamic pool's descriptor could
// be freed and its address reused by another type.
Kind KindOf(const Descriptor* d) {
  if (d->file()->pool() != google::protobuf::DescriptorPool::generated_pool()) return ComputeKind(d);
  thread_local absl::flat_hash_map<const Descriptor*, Kind> kinds;
  auto it = kinds.find(d);
  if (it != kinds.end()) return it->second;
  Kind k = ComputeKind(d);
  kinds.emplace(d, k);
  return k;
}

// protobuf's SimpleDtoa / SimpleFtoa: the shortest of %.15g (%.6g) that reads
// back exactly, else %.17g (%.9g); NaN and infinities as quoted names.
// (Not locale-dependent: nothing in the gateway calls setlocale.)
template <typename T>
void AppendFloating(std::string* out, T v) {
  if (std::isnan(v)) {
    out->append("\"NaN\"");
    return;
  }
  if (std::isinf(v)) {
    out->append(v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
    return;
  }
  constexpr bool kDouble = sizeof(T) == sizeof(double);
  char buf[40];
  int n = std::snprintf(buf, sizeof(buf), "%.*g", kDouble ? 15 : 6, static_cast<double>(v));
  bool exact;
  if constexpr (kDouble) {
    exact = std::strtod(buf, nullptr) == v;
  } else {
    // protobuf's safe_strtof also counts an underflow (ERANGE, denormals) as not exact.
    errno = 0;
    exact = std::strtof(buf, nullptr) == v && errno == 0;
  }
  if (!exact) n = std::snprintf(buf, sizeof(buf), "%.*g", kDouble ? 17 : 9, static_cast<double>(v));
  out->append(buf, n);
}

// Days since 1970-01-01 -> civil date (proleptic Gregorian), H. Hinnant's algorithm.
void CivilFromDays(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<int64_t>(yoe) + era * 400 + (*m <= 2);
}

// RFC 3339 in UTC with 0, 3, 6 or 9 fractional digits, as protobuf prints a
// Timestamp; false outside 0001-01-01..9999-12-31 or with invalid nanos.
bool AppendTimestamp(std::string* out, const Message& ts) {
  const Descriptor* d = ts.GetDescriptor();
  const FieldDescriptor* seconds_field = d->FindFieldByNumber(1);
  const FieldDescriptor* nanos_field = d->FindFieldByNumber(2);
  if (seconds_field == nullptr || nanos_field == nullptr) return false;
  const Reflection* r = ts.GetReflection();
  const int64_t seconds = r->GetInt64(ts, seconds_field);
  const int32_t nanos = r->GetInt32(ts, nanos_field);
  if (seconds < -62135596800 || seconds > 253402300799 || nanos < 0 || nanos > 999999999) return false;
  int64_t days = seconds / 86400, rem = seconds % 86400;
  if (rem < 0) rem += 86400, --days;
  int64_t year;
  unsigned month, day;
  CivilFromDays(days, &year, &month, &day);
  // Fixed-width digits by hand: snprintf showed in the gateway's profile.
  char buf[40];
  char* p = buf;
  auto digits = [&p](int64_t v, int width) {
    for (int i = width - 1; i >= 0; --i, v /= 10) p[i] = static_cast<char>('0' + v % 10);
    p += width;
  };
  *p++ = '"';
  digits(year, 4);
  *p++ = '-';
  digits(month, 2);
  *p++ = '-';
  digits(day, 2);
  *p++ = 'T';
  digits(rem / 3600, 2);
  *p++ = ':';
  digits(rem / 60 % 60, 2);
  *p++ = ':';
  digits(rem % 60, 2);
  if (nanos != 0) {
    *p++ = '.';
    if (nanos % 1000000 == 0) {
      digits(nanos / 1000000, 3);
    } else if (nanos % 1000 == 0) {
      digits(nanos / 1000, 6);
    } else {
      digits(nanos, 9);
    }
  }
  out->append(buf, p - buf);
  out->append("Z\"");
  return true;
}

bool PrintMessage(const Message& m, std::string* out, int depth);

// One value of field f: element i of a repeated field, or the singular value (i < 0).
bool PrintValue(const Message& m, const Reflection* r, const FieldDescriptor* f, int i, std::string* out, int depth) {
  const bool rep = i >= 0;
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      absl::StrAppend(out, rep ? r->GetRepeatedInt32(m, f, i) : r->GetInt32(m, f));
      return true;
    case FieldDescriptor::CPPTYPE_UINT32:
      absl::StrAppend(out, rep ? r->GetRepeatedUInt32(m, f, i) : r->GetUInt32(m, f));
      return true;
    case FieldDescriptor::CPPTYPE_INT64:
      absl::StrAppend(out, "\"", rep ? r->GetRepeatedInt64(m, f, i) : r->GetInt64(m, f), "\"");
      return true;
    case FieldDescriptor::CPPTYPE_UINT64:
      absl::StrAppend(out, "\"", rep ? r->GetRepeatedUInt64(m, f, i) : r->GetUInt64(m, f), "\"");
      return true;
    case FieldDescriptor::CPPTYPE_DOUBLE:
      AppendFloating(out, rep ? r->GetRepeatedDouble(m, f, i) : r->GetDouble(m, f));
      return true;
    case FieldDescriptor::CPPTYPE_FLOAT:
      AppendFloating(out, rep ? r->GetRepeatedFloat(m, f, i) : r->GetFloat(m, f));
      return true;
    case FieldDescriptor::CPPTYPE_BOOL:
      out->append((rep ? r->GetRepeatedBool(m, f, i) : r->GetBool(m, f)) ? "true" : "false");
      return true;
    case FieldDescriptor::CPPTYPE_ENUM: {
      const int number = rep ? r->GetRepeatedEnumValue(m, f, i) : r->GetEnumValue(m, f);
      const google::protobuf::EnumValueDescriptor* v = f->enum_type()->FindValueByNumber(number);
      if (v == nullptr) {
        absl::StrAppend(out, number);  // unknown values print as numbers
        return true;
      }
      return AppendJsonStringStrict(out, v->name());
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string scratch;
      const std::string& s =
          rep ? r->GetRepeatedStringReference(m, f, i, &scratch) : r->GetStringReference(m, f, &scratch);
      if (f->type() == FieldDescriptor::TYPE_BYTES) {
        out->push_back('"');
        out->append(absl::Base64Escape(s));
        out->push_back('"');
        return true;
      }
      return AppendJsonStringStrict(out, s);
    }
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      const Message& sub = rep ? r->GetRepeatedMessage(m, f, i) : r->GetMessage(m, f);
      switch (KindOf(sub.GetDescriptor())) {
        case Kind::kTimestamp:
          return AppendTimestamp(out, sub);
        case Kind::kMessage:
          return PrintMessage(sub, out, depth + 1);
        case Kind::kUnsupported:
          return false;
      }
      return false;
    }
  }
  return false;
}

bool PrintMessage(const Message& m, std::string* out, int depth) {
  if (depth > kMaxDepth || KindOf(m.GetDescriptor()) != Kind::kMessage) return false;
  const Reflection* r = m.GetReflection();
  // The fields set, in field-number order: exactly what serialization writes
  // and so what protobuf's printer (which prints the serialized bytes) sees.
  std::vector<const FieldDescriptor*> fields;
  r->ListFields(m, &fields);
  out->push_back('{');
  bool first = true;
  for (const FieldDescriptor* f : fields) {
    if (f->is_extension()) return false;
    if (!first) out->push_back(',');
    first = false;
    out->push_back('"');
    out->append(f->json_name());
    out->append("\":");
    if (f->is_repeated()) {
      out->push_back('[');
      const int n = r->FieldSize(m, f);
      for (int i = 0; i < n; ++i) {
        if (i > 0) out->push_back(',');
        if (!PrintValue(m, r, f, i, out, depth)) return false;
      }
      out->push_back(']');
    } else if (!PrintValue(m, r, f, -1, out, depth)) {
      return false;
    }
  }
  out->push_back('}');
  return true;
}

}  // namespace

bool PrintJsonFast(const Message& message, std::string* out) { return PrintMessage(message, out, 0); }

}  // namespace rapport::gateway
