// Event formatting for server-streaming routes: names, ids and data of the
// events a backend message becomes, and the Last-Event-ID mapping.
#include "gateway/sse.h"

#include <gtest/gtest.h>

#include "rapport/notifications/v1/notifications.pb.h"
#include "rapport/profiles/v1/profiles.pb.h"

namespace rapport::gateway {
namespace {

namespace npb = ::rapport::notifications::v1;

TEST(SseTest, FormatsEventsWithEveryDataLinePrefixed) {
  EXPECT_EQ(FormatEvent("notification", "7", "{\"a\":1}"), "event: notification\nid: 7\ndata: {\"a\":1}\n\n");
  EXPECT_EQ(FormatEvent("message", "", "line1\nline2"), "event: message\ndata: line1\ndata: line2\n\n");
}

// Found by fuzz_sse (tests/fuzz/sse/regression_newline_in_id): an id ending
// in a newline ended the event early, and the rest read as a second event.
TEST(SseTest, LineBreaksCannotEndAFieldOrTheEventEarly) {
  EXPECT_EQ(FormatEvent("message", "4\n", "{}"), "event: message\nid: 4\ndata: {}\n\n");
  EXPECT_EQ(FormatEvent("message", "1\r\nevent: forged", "a\rb\r\nc"),
            "event: message\nid: 1event: forged\ndata: a\ndata: b\ndata: c\n\n");
  EXPECT_EQ(FormatEvent("x\r\n", std::string("9\0", 2), ""), "event: x\nid: 9\ndata: \n\n");
}

TEST(SseTest, AnIdAndOnePayloadBecomeANamedEvent) {
  npb::NotificationEvent e;
  e.set_id("42");
  e.mutable_notification()->set_id("n1");
  e.mutable_notification()->set_reminder_id("r1");
  auto parts = ToEvent(e);
  ASSERT_TRUE(parts.ok()) << parts.status();
  EXPECT_EQ(parts->event, "notification");
  EXPECT_EQ(parts->id, "42");
  EXPECT_EQ(parts->data, R"({"id":"n1","reminderId":"r1"})");
  // Anything else is a "message" carrying the whole message.
  profiles::v1::Birthday b;
  b.set_month(2);
  b.set_day(29);
  parts = ToEvent(b);
  ASSERT_TRUE(parts.ok());
  EXPECT_EQ(parts->event, "message");
  EXPECT_EQ(parts->id, "");
  EXPECT_EQ(parts->data, R"({"month":2,"day":29})");
}

TEST(SseTest, LastEventIdFillsAnEmptyField) {
  npb::SubscribeRequest r;
  ApplyLastEventId("17", &r);
  EXPECT_EQ(r.last_event_id(), "17");
  ApplyLastEventId("99", &r);  // the query's value wins
  EXPECT_EQ(r.last_event_id(), "17");
  profiles::v1::Birthday other;
  ApplyLastEventId("5", &other);  // no such field: unchanged
  EXPECT_EQ(other.ByteSizeLong(), 0u);
}

}  // namespace
}  // namespace rapport::gateway
