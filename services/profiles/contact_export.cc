#include "services/profiles/contact_export.h"

#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "services/common/log.h"
#include "services/common/status.h"
#include "services/profiles/contact_csv.h"
#include "services/profiles/vcard_writer.h"

namespace rapport::profiles {
namespace {

class ContactExportStream : public grpc::ServerWriteReactor<api::v1::HttpBody> {
 public:
  ContactExportStream(ProfilesStore* store, Owner owner, ContactExportFormat format)
      : store_(store), owner_(std::move(owner)), format_(format) {
    NextPage();
  }

  void OnWriteDone(bool ok) override {
    if (!ok) return Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
    if (last_) return Finish(grpc::Status::OK);
    NextPage();
  }

  void OnDone() override { delete this; }

 private:
  void NextPage() {
    absl::StatusOr<std::vector<pb::Contact>> contacts =
        store_->ListContacts(owner_, ContactFilter{}, after_, kExportPageContacts);
    if (!contacts.ok()) {
      log::Warn("contact export failed", {{"org", owner_.org}, {"error", contacts.status().ToString()}});
      return Finish(ToGrpcStatus(contacts.status()));
    }
    last_ = static_cast<int>(contacts->size()) < kExportPageContacts;
    if (!contacts->empty()) after_ = contacts->back().id();
    if (contacts->empty() && !first_) return Finish(grpc::Status::OK);
    chunk_.Clear();
    std::string* data = chunk_.mutable_data();
    if (format_ == ContactExportFormat::kCsv) {
      chunk_.set_content_type(kCsvContentType);
      if (first_) *data = ContactCsvHeader();
      for (const pb::Contact& c : *contacts) AppendContactCsvRow(c, data);
    } else {
      chunk_.set_content_type(kVCardContentType);
      for (const pb::Contact& c : *contacts) AppendVCard(c, data);
    }
    // The first chunk goes out even when empty: it carries the content type.
    first_ = false;
    StartWrite(&chunk_);
  }

  ProfilesStore* const store_;
  const Owner owner_;
  const ContactExportFormat format_;
  std::string after_;  // the last contact id written
  bool first_ = true;
  bool last_ = false;
  api::v1::HttpBody chunk_;  // in flight until OnWriteDone
};

class Refused : public grpc::ServerWriteReactor<api::v1::HttpBody> {
 public:
  explicit Refused(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

}  // namespace

absl::StatusOr<ContactExportFormat> ParseContactExportFormat(const std::string& format) {
  const std::string f = absl::AsciiStrToLower(format);
  if (f.empty() || f == "vcard" || f == "vcf") return ContactExportFormat::kVCard;
  if (f == "csv") return ContactExportFormat::kCsv;
  return absl::InvalidArgumentError("format: is not vcard or csv");
}

grpc::ServerWriteReactor<api::v1::HttpBody>* StartContactExport(ProfilesStore* store, const Owner& owner,
                                                                ContactExportFormat format) {
  return new ContactExportStream(store, owner, format);
}

grpc::ServerWriteReactor<api::v1::HttpBody>* RefuseContactExport(const grpc::Status& status) {
  return new Refused(status);
}

}  // namespace rapport::profiles
