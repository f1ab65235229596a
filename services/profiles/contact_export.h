// The server side of GET /v1/contacts:export (ProfilesService.ExportContacts):
// a gRPC callback write reactor that reads the acting user's contacts a page
// at a time (kExportPageContacts, keyset by contact id) and writes each page
// as one rapport.api.v1.HttpBody chunk in vCard 4.0 (vcard_writer.h) or CSV
// (contact_csv.h). The next page is read only once the previous chunk was
// written, so memory stays one page whatever the number of contacts, and a
// slow client slows the reads rather than filling a buffer. A client that
// goes away ends the stream (CANCELLED).
//
// Thread-safety: each stream runs on gRPC callback threads, one callback at
// a time; the store must outlive it.
#ifndef RAPPORT_SERVICES_PROFILES_CONTACT_EXPORT_H_
#define RAPPORT_SERVICES_PROFILES_CONTACT_EXPORT_H_

#include <grpcpp/grpcpp.h>

#include <string>

#include "absl/status/statusor.h"
#include "rapport/api/v1/annotations.pb.h"
#include "services/common/tenant.h"
#include "services/profiles/profiles_store.h"

namespace rapport::profiles {

// Contacts per chunk: about 150 KiB of vCard, far below gRPC's 4 MiB message cap.
inline constexpr int kExportPageContacts = 500;

enum class ContactExportFormat { kVCard, kCsv };

// "vcard" (also "vcf" or empty) or "csv", case-insensitive; else
// INVALID_ARGUMENT naming `format`.
absl::StatusOr<ContactExportFormat> ParseContactExportFormat(const std::string& format);

// Starts the stream of owner's contacts; the reactor deletes itself when done.
grpc::ServerWriteReactor<api::v1::HttpBody>* StartContactExport(ProfilesStore* store, const Owner& owner,
                                                                ContactExportFormat format);
// A stream that ends at once with status (refused before it began).
grpc::ServerWriteReactor<api::v1::HttpBody>* RefuseContactExport(const grpc::Status& status);

}  // namespace rapport::profiles

#endif  // RAPPORT_SERVICES_PROFILES_CONTACT_EXPORT_H_
