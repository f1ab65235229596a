// ExportPage bounds every page by rows and by bytes, and restricts a page to
// one org when asked: pages of 64 KiB rows (the event limit) that 500 rows
// would make 32 MiB stay under 1 MiB, and paging through them yields every
// row once, in key order.
#include "services/common/export_page.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "services/common/event_size.h"

namespace rapport {
namespace {

// A store's export: rows in key order, those after `after`, at most limit.
class FakeExport {
 public:
  void Add(const std::string& org, const std::string& user, const std::string& id, size_t bytes) {
    events::ExportedEvent e;
    e.key = {org, user, id};
    e.event.set_type("contact.created");
    e.event.set_org_id(org);
    auto* c = e.event.mutable_contact()->mutable_contact();
    c->set_id(id);
    c->set_display_name(std::string(bytes, 'x'));
    rows_.push_back(std::move(e));
    std::sort(rows_.begin(), rows_.end(), [](const auto& a, const auto& b) { return a.key < b.key; });
  }

  absl::StatusOr<std::vector<events::ExportedEvent>> List(const std::vector<std::string>& after, int limit) {
    std::vector<std::string> key = after;
    key.resize(3);
    std::vector<events::ExportedEvent> out;
    for (const auto& r : rows_) {
      if (r.key > key && static_cast<int>(out.size()) < limit) out.push_back(r);
    }
    return out;
  }

 private:
  std::vector<events::ExportedEvent> rows_;
};

// Pages through the export with req's size and org; the ids in page order.
std::vector<std::string> Drain(FakeExport& store, backfill::v1::ExportRequest req, int* pages) {
  std::vector<std::string> ids;
  *pages = 0;
  while (true) {
    absl::StatusOr<backfill::v1::ExportResponse> page =
        ExportPage(req, 3, [&](const auto& after, int limit) { return store.List(after, limit); });
    EXPECT_TRUE(page.ok()) << page.status();
    if (!page.ok()) return ids;
    ++*pages;
    EXPECT_LE(page->ByteSizeLong(), kMaxExportPageBytes);
    EXPECT_GE(page->events_size(), 1);
    for (const auto& e : page->events()) ids.push_back(e.contact().contact().id());
    if (page->next_page_token().empty()) return ids;
    req.set_page_token(page->next_page_token());
  }
}

TEST(ExportPageTest, PagesOfLargeRowsStayUnderOneMebibyte) {
  FakeExport store;
  std::vector<std::string> want;
  for (int i = 0; i < 500; ++i) {
    const std::string id = absl::StrCat("c", 1000 + i);
    // Just under the event limit, the largest row a producer lets through.
    store.Add("org", "user", id, events::kMaxEventBytes - 200);
    want.push_back(id);
  }
  backfill::v1::ExportRequest req;
  req.set_page_size(500);
  // The row limit alone would make a 32 MiB page, past gRPC's 4 MiB.
  absl::StatusOr<std::vector<events::ExportedEvent>> all = store.List({}, 500);
  ASSERT_TRUE(all.ok());
  size_t bytes = 0;
  for (const auto& r : *all) bytes += r.event.ByteSizeLong();
  ASSERT_GT(bytes, size_t{4} << 20);

  int pages = 0;
  EXPECT_EQ(Drain(store, req, &pages), want);
  EXPECT_GE(pages, 32);  // ~15 rows of 64 KiB a page
}

TEST(ExportPageTest, SmallRowsAreBoundedByThePageSize) {
  FakeExport store;
  for (int i = 0; i < 120; ++i) store.Add("org", "user", absl::StrCat("c", 1000 + i), 10);
  backfill::v1::ExportRequest req;
  req.set_page_size(50);
  int pages = 0;
  EXPECT_EQ(Drain(store, req, &pages).size(), 120u);
  EXPECT_EQ(pages, 3);
}

TEST(ExportPageTest, AnOrgsExportHoldsItsRowsOnly) {
  FakeExport store;
  std::vector<std::string> want;
  for (int i = 0; i < 30; ++i) {
    store.Add("org-a", "u", absl::StrCat("a", 100 + i), 40000);
    store.Add("org-b", absl::StrCat("u", i % 3), absl::StrCat("b", 100 + i), 40000);
    store.Add("org-c", "u", absl::StrCat("c", 100 + i), 40000);
  }
  for (int u = 0; u < 3; ++u) {
    for (int i = u; i < 30; i += 3) want.push_back(absl::StrCat("b", 100 + i));
  }
  backfill::v1::ExportRequest req;
  req.set_org_id("org-b");
  req.set_page_size(500);
  int pages = 0;
  EXPECT_EQ(Drain(store, req, &pages), want);
  EXPECT_GE(pages, 2);

  // The last org's export ends at the end of the rows; an org without rows
  // is one empty page.
  req.set_org_id("org-c");
  EXPECT_EQ(Drain(store, req, &pages).size(), 30u);
  absl::StatusOr<backfill::v1::ExportResponse> page;
  req.set_org_id("org-0");
  page = ExportPage(req, 3, [&](const auto& after, int limit) { return store.List(after, limit); });
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->events_size(), 0);
  EXPECT_EQ(page->next_page_token(), "");

  // A token of another org's export is refused.
  req.set_org_id("org-a");
  page = ExportPage(req, 3, [&](const auto& after, int limit) { return store.List(after, limit); });
  ASSERT_TRUE(page.ok());
  ASSERT_FALSE(page->next_page_token().empty());
  req.set_org_id("org-b");
  req.set_page_token(page->next_page_token());
  page = ExportPage(req, 3, [&](const auto& after, int limit) { return store.List(after, limit); });
  EXPECT_EQ(page.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace rapport
