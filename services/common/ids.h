// Opaque ids: ULIDs (48-bit millisecond time + 80 random bits from OpenSSL),
// written as 26 lowercase Crockford base32 characters. Ids sort by creation
// time, which keyset pagination relies on. Thread-safe.
#ifndef RAPPORT_SERVICES_COMMON_IDS_H_
#define RAPPORT_SERVICES_COMMON_IDS_H_

#include <string>
#include <string_view>

namespace rapport {

std::string NewId();
// Random bytes from OpenSSL, hex-encoded (2 characters a byte); for secrets.
std::string RandomHex(int bytes);
// True when s looks like an id: 1..64 characters of [0-9a-z_-].
bool IsWellFormedId(std::string_view s);

}  // namespace rapport

#endif  // RAPPORT_SERVICES_COMMON_IDS_H_
