// Test helpers for ProfilesStore: an org (with its admin key) and users made
// straight through the store, for the store tests of the features built on it
// (imports, account exports, duplicates and merge). Header-only; tests only.
#ifndef RAPPORT_SERVICES_PROFILES_PROFILES_STORE_TESTING_H_
#define RAPPORT_SERVICES_PROFILES_PROFILES_STORE_TESTING_H_

#include <gtest/gtest.h>

#include <string>

#include "services/common/crypto.h"
#include "services/common/idempotency.h"
#include "services/common/ids.h"
#include "services/common/tenant.h"
#include "services/profiles/profiles_store.h"
#include "tests/testing/await.h"

namespace rapport::profiles::testing {

// A new org named Acme with an admin key; its id.
inline std::string CreateTestOrg(ProfilesStore& store) {
  pb::Org org;
  org.set_id(NewId());
  org.set_display_name("Acme");
  StoredApiKey key;
  key.org_id = org.id();
  key.key.set_id(NewId());
  key.secret_sha256 = Sha256("secret-" + org.id());
  EXPECT_TRUE(rapport::testing::AwaitStatus([&](DoneStatus d) { store.CreateOrg(org, key, TenantContext{}, d); }).ok());
  return org.id();
}

// A new user of org with email and display name, in UTC; its id.
inline std::string CreateTestUser(ProfilesStore& store, const std::string& org, const std::string& email,
                                  const std::string& display_name) {
  pb::User user;
  user.set_id(NewId());
  user.set_display_name(display_name);
  user.set_email(email);
  user.set_timezone("UTC");
  EXPECT_TRUE((rapport::testing::Await<pb::User>([&](Done<pb::User> d) {
                store.CreateUser(org, user, IdempotencyScope{}, pb::CreateUserRequest(), TenantContext{}, d);
              })).ok());
  return user.id();
}

}  // namespace rapport::profiles::testing

#endif  // RAPPORT_SERVICES_PROFILES_PROFILES_STORE_TESTING_H_
