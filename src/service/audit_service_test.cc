#include "service/audit_service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "service/service_test_fixture.h"

namespace tokend::service {
namespace {

TEST(MakeAuditEventTest, DetailsAreAJsonObjectWithEscapedValues) {
  core::Principal actor;
  actor.tenant_id = "t1";
  actor.user_id = "u1";
  actor.username = "alice";
  const core::Time now = *core::ParseRfc3339("2026-01-01T00:00:00Z");
  core::AuditEvent event =
      MakeAuditEvent(&actor, "t1", "token.create", "token", "k1", {"192.0.2.1", "r1"}, now,
                     {{"name", "say \"hi\"\n"}, {"user_id", "u2"}});
  EXPECT_EQ(event.actor_user_id, "u1");
  EXPECT_EQ(event.actor_username, "alice");
  EXPECT_EQ(event.client_ip, "192.0.2.1");
  EXPECT_EQ(event.time, now);
  boost::json::value details = boost::json::parse(event.details_json);
  ASSERT_TRUE(details.is_object());
  EXPECT_EQ(details.at("name").as_string(), "say \"hi\"\n");
  EXPECT_EQ(details.at("user_id").as_string(), "u2");

  core::AuditEvent by_cli = MakeAuditEvent(nullptr, "t1", "x", "", "", {}, now, {});
  EXPECT_FALSE(by_cli.actor_user_id.has_value());
  EXPECT_EQ(by_cli.details_json, "{}");
  core::Principal cli = CliPrincipal("t1", "root");
  EXPECT_FALSE(MakeAuditEvent(&cli, "t1", "x", "", "", {}, now, {}).actor_user_id.has_value());
}

class AuditServiceTest : public ServiceTest {};

TEST_F(AuditServiceTest, ListNeedsAuditReadAndStaysInTheTenant) {
  AuditService audit(*store_);
  core::Principal nobody = admin_;
  nobody.permissions.Remove(core::Permission::kAuditRead);
  auto denied = audit.List(nobody, {});
  ASSERT_FALSE(denied);
  EXPECT_EQ(denied.error().code, core::ErrorCode::kPermissionDenied);

  auto other =
      CreateTenantWithAdmin(*store_, clock_, hasher_, "globex", "root", "another password");
  ASSERT_TRUE(other);
  auto page = audit.List(admin_, {});
  ASSERT_TRUE(page) << Describe(page.error());
  ASSERT_FALSE(page->events.empty());
  for (const core::AuditEvent& event : page->events) EXPECT_EQ(event.tenant_id, seed_.tenant_id);

  store::AuditQuery too_big;
  too_big.limit = 201;
  EXPECT_EQ(audit.List(admin_, too_big).error().code, core::ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace tokend::service
