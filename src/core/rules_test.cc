#include "core/rules.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "core/time_format.h"

namespace tokend::core {
namespace {

using std::chrono::sys_days;
using std::chrono::year_month_day;

Time At(int y, unsigned m, unsigned d, int hh = 0, int mm = 0, int ss = 0) {
  return Time{sys_days{
             year_month_day{std::chrono::year{y}, std::chrono::month{m}, std::chrono::day{d}}}} +
         hours{hh} + minutes{mm} + seconds{ss};
}

Department Dept(std::string id, std::optional<std::string> parent) {
  Department d;
  d.id = std::move(id);
  d.tenant_id = "t1";
  d.name = d.id;
  d.parent_id = std::move(parent);
  return d;
}

// root
// ├── sales
// │   ├── emea
// │   │   └── paris
// │   └── apac
// └── eng
// Plus broken rows: loop-a <-> loop-b (a cycle), orphan (parent missing), self (own parent).
DepartmentTree SampleTree() {
  return DepartmentTree({
      Dept("emea", "sales"),  // before its parent: order must not matter
      Dept("root", std::nullopt),
      Dept("sales", "root"),
      Dept("paris", "emea"),
      Dept("apac", "sales"),
      Dept("eng", "root"),
      Dept("loop-a", "loop-b"),
      Dept("loop-b", "loop-a"),
      Dept("below-loop", "loop-a"),
      Dept("orphan", "deleted"),
      Dept("self", "self"),
  });
}

TEST(DepartmentTreeTest, InSubtree) {
  DepartmentTree tree = SampleTree();
  EXPECT_EQ(tree.root_id(), "root");
  struct Case {
    std::string_view ancestor, department;
    bool expected;
    std::string_view why;
  };
  const Case cases[] = {
      {"sales", "sales", true, "self"},
      {"sales", "emea", true, "child"},
      {"sales", "paris", true, "grandchild"},
      {"root", "paris", true, "root sees everything"},
      {"sales", "eng", false, "sibling"},
      {"emea", "apac", false, "sibling"},
      {"emea", "sales", false, "parent"},
      {"paris", "root", false, "ancestor"},
      {"sales", "unknown", false, "unknown department"},
      {"unknown", "sales", false, "unknown ancestor"},
      {"", "", false, "empty ids"},
      {"loop-a", "loop-b", false, "cycle"},
      {"loop-a", "loop-a", false, "cycle member is outside every subtree, even its own"},
      {"loop-b", "below-loop", false, "below a cycle"},
      {"root", "loop-a", false, "cycle is not under the root"},
      {"root", "orphan", false, "orphan"},
      {"orphan", "orphan", false, "orphan"},
      {"root", "self", false, "own parent"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(tree.InSubtree(c.ancestor, c.department), c.expected)
        << c.ancestor << " ⊇ " << c.department << " (" << c.why << ")";
  }
}

TEST(DepartmentTreeTest, SubtreeIsBreadthFirstFromTheRoot) {
  DepartmentTree tree = SampleTree();
  std::vector<std::string> all = tree.Subtree("root");
  ASSERT_EQ(all.size(), 6u);
  EXPECT_EQ(all.front(), "root");
  EXPECT_EQ(all.back(), "paris");  // the only depth-3 department
  std::vector<std::string> sales = tree.Subtree("sales");
  std::sort(sales.begin() + 1, sales.end());
  EXPECT_EQ(sales, (std::vector<std::string>{"sales", "apac", "emea", "paris"}));
  EXPECT_EQ(tree.Subtree("paris"), std::vector<std::string>{"paris"});
  EXPECT_TRUE(tree.Subtree("unknown").empty());
  EXPECT_TRUE(tree.Subtree("loop-a").empty());
  EXPECT_TRUE(tree.Subtree("orphan").empty());
}

TEST(DepartmentTreeTest, FindAndWouldCycle) {
  DepartmentTree tree = SampleTree();
  ASSERT_NE(tree.Find("emea"), nullptr);
  EXPECT_EQ(tree.Find("emea")->parent_id, "sales");
  EXPECT_EQ(tree.Find("nope"), nullptr);
  EXPECT_TRUE(tree.WouldCycle("sales", "sales"));
  EXPECT_TRUE(tree.WouldCycle("sales", "paris"));  // under its own grandchild
  EXPECT_TRUE(tree.WouldCycle("root", "eng"));
  EXPECT_FALSE(tree.WouldCycle("paris", "eng"));
  EXPECT_FALSE(tree.WouldCycle("emea", "root"));
  EXPECT_TRUE(tree.WouldCycle("eng", "loop-a"));  // existing cycle: refuse, never loop
}

TEST(DepartmentTreeTest, MissingRootPutsEverythingOutside) {
  DepartmentTree tree({Dept("a", "b"), Dept("b", "a"), Dept("c", "a")});
  EXPECT_EQ(tree.root_id(), "");
  EXPECT_FALSE(tree.InSubtree("a", "c"));
  EXPECT_TRUE(tree.Subtree("a").empty());
  DepartmentTree empty({});
  EXPECT_FALSE(empty.InSubtree("", ""));
}

TEST(DepartmentTreeTest, SecondRootIsOutside) {
  DepartmentTree tree({Dept("r1", std::nullopt), Dept("r2", std::nullopt), Dept("x", "r2")});
  EXPECT_EQ(tree.root_id(), "r1");
  EXPECT_TRUE(tree.InSubtree("r1", "r1"));
  EXPECT_FALSE(tree.InSubtree("r2", "x"));
}

Principal Caller(std::string department, PermissionSet permissions) {
  Principal p;
  p.tenant_id = "t1";
  p.user_id = "u1";
  p.department_id = std::move(department);
  p.permissions = permissions;
  return p;
}

TEST(NoEscalationTest, Cases) {
  DepartmentTree tree = SampleTree();
  PermissionSet mine = PermissionSet::Of(
      {Permission::kTokensRead, Permission::kTokensWrite, Permission::kUsersRead});
  Principal caller = Caller("sales", mine);
  PermissionSet subset = PermissionSet::Of({Permission::kTokensRead});
  PermissionSet superset = mine;
  superset.Add(Permission::kTokensReveal);
  struct Case {
    std::string_view department;
    PermissionSet permissions;
    std::optional<ErrorCode> expected;  // nullopt: allowed
    std::string_view why;
  };
  const Case cases[] = {
      {"sales", subset, std::nullopt, "own department, subset"},
      {"sales", mine, std::nullopt, "own department, equal set"},
      {"paris", PermissionSet(), std::nullopt, "descendant, empty set"},
      {"sales", superset, ErrorCode::kPermissionDenied, "superset"},
      {"emea", PermissionSet::All(), ErrorCode::kPermissionDenied, "all permissions"},
      {"eng", subset, ErrorCode::kNotFound, "sibling department"},
      {"root", subset, ErrorCode::kNotFound, "parent department"},
      {"unknown", subset, ErrorCode::kNotFound, "unknown department"},
      {"loop-a", subset, ErrorCode::kNotFound, "department in a cycle"},
      // Outside the subtree wins: no hint that the department exists.
      {"eng", superset, ErrorCode::kNotFound, "outside and superset"},
  };
  for (const Case& c : cases) {
    Result<void> result = CheckNoEscalation(caller, tree, c.department, c.permissions);
    if (!c.expected) {
      EXPECT_TRUE(result.has_value()) << c.why << ": " << result.error().public_message;
    } else {
      ASSERT_FALSE(result.has_value()) << c.why;
      EXPECT_EQ(result.error().code, *c.expected) << c.why;
    }
  }
}

TEST(NoEscalationTest, InCallerScope) {
  DepartmentTree tree = SampleTree();
  Principal caller = Caller("emea", PermissionSet::All());
  EXPECT_TRUE(InCallerScope(caller, tree, "emea"));
  EXPECT_TRUE(InCallerScope(caller, tree, "paris"));
  EXPECT_FALSE(InCallerScope(caller, tree, "sales"));
  EXPECT_FALSE(InCallerScope(caller, tree, "apac"));
  EXPECT_FALSE(InCallerScope(caller, tree, ""));
  EXPECT_TRUE(InCallerScope(Caller("root", PermissionSet()), tree, "paris"));
}

TEST(StateAtTest, DerivesStateFromFacts) {
  Token token;
  token.expires_at = At(2026, 1, 1);
  EXPECT_EQ(StateAt(token, At(2025, 12, 31, 23, 59, 59)), TokenState::kActive);
  EXPECT_EQ(StateAt(token, At(2026, 1, 1)), TokenState::kExpired);  // exactly expires_at
  EXPECT_EQ(StateAt(token, At(2027, 1, 1)), TokenState::kExpired);
  token.revoked_at = At(2025, 6, 1);
  EXPECT_EQ(StateAt(token, At(2025, 12, 31)), TokenState::kRevoked);
  EXPECT_EQ(StateAt(token, At(2027, 1, 1)), TokenState::kRevoked);  // revoked wins
}

TEST(ExpiryTest, ApiTokenExpiry) {
  const Time now = At(2025, 3, 10, 15, 30, 0);
  TenantSettings defaults;
  TenantSettings short_max;
  short_max.api_token_max_lifetime_days = 30;
  auto date = [](std::string_view text) { return ParseExpiry(text)->time; };
  struct Case {
    std::string_view why;
    Time requested;
    const TenantSettings& settings;
    std::string_view expected_message;  // "" = accepted
  };
  const Case cases[] = {
      {"past", now - days{1}, defaults, "must be in the future"},
      {"now", now, defaults, "must be in the future"},
      {"one second ahead", now + seconds{1}, defaults, ""},
      {"+1 day", now + days{1}, defaults, ""},
      {"+365 days exactly", now + days{365}, defaults, ""},
      {"+365 days, date only", date("2026-03-10"), defaults, ""},
      {"+366 days, date only", date("2026-03-11"), defaults, "must be at most 365 days ahead"},
      {"+366 days", now + days{366}, defaults, "must be at most 365 days ahead"},
      {"today, date only (end of day)", date("2025-03-10"), defaults, ""},
      {"yesterday, date only", date("2025-03-09"), defaults, "must be in the future"},
      {"custom max: +30 days", now + days{30}, short_max, ""},
      {"custom max: +30 days, date only", date("2025-04-09"), short_max, ""},
      {"custom max: +31 days, date only", date("2025-04-10"), short_max,
       "must be at most 30 days ahead"},
      {"custom max: +90 days", now + days{90}, short_max, "must be at most 30 days ahead"},
  };
  for (const Case& c : cases) {
    Result<Time> result = ValidateApiTokenExpiry(c.requested, now, c.settings);
    if (c.expected_message.empty()) {
      ASSERT_TRUE(result.has_value()) << c.why << ": " << result.error().public_message;
      EXPECT_EQ(*result, c.requested) << c.why;
      continue;
    }
    ASSERT_FALSE(result.has_value()) << c.why;
    const Error& error = result.error();
    EXPECT_EQ(error.code, ErrorCode::kValidation) << c.why;
    ASSERT_EQ(error.fields.size(), 1u) << c.why;
    EXPECT_EQ(error.fields[0].field, "expires_at") << c.why;
    EXPECT_EQ(error.fields[0].message, c.expected_message) << c.why;
  }
}

TEST(ExpiryTest, DefaultApiTokenExpiry) {
  const Time now = At(2025, 3, 10, 15, 30, 0);
  TenantSettings settings;
  EXPECT_EQ(DefaultApiTokenExpiry(now, settings), now + days{90});
  EXPECT_TRUE(ValidateApiTokenExpiry(DefaultApiTokenExpiry(now, settings), now, settings));
  settings.api_token_max_lifetime_days = 30;  // the default never exceeds the maximum
  EXPECT_EQ(DefaultApiTokenExpiry(now, settings), now + days{30});
  EXPECT_TRUE(ValidateApiTokenExpiry(DefaultApiTokenExpiry(now, settings), now, settings));
}

TEST(ExpiryTest, MobileExpirySlidesUpToTheMaximum) {
  TenantSettings settings;  // idle 30 days, max 180 days
  const Time created = At(2025, 1, 1);
  EXPECT_EQ(SlideMobileExpiry(created, created, settings), created + days{30});
  EXPECT_EQ(SlideMobileExpiry(created, created + days{10}, settings), created + days{40});
  EXPECT_EQ(SlideMobileExpiry(created, created + days{150}, settings), created + days{180});
  EXPECT_EQ(SlideMobileExpiry(created, created + days{160}, settings), created + days{180});
  EXPECT_EQ(SlideMobileExpiry(created, created + days{179}, settings), created + days{180});
  settings.mobile_idle_timeout = hours{1};
  settings.mobile_max_lifetime = hours{2};
  EXPECT_EQ(SlideMobileExpiry(created, created + minutes{30}, settings), created + minutes{90});
  EXPECT_EQ(SlideMobileExpiry(created, created + minutes{90}, settings), created + hours{2});
}

struct FieldCase {
  std::string input;
  bool valid;
};

void CheckAll(std::string (*check)(std::string_view), const char* name,
              const std::vector<FieldCase>& cases) {
  for (const FieldCase& c : cases) {
    std::string reason = check(c.input);
    if (c.valid) {
      EXPECT_EQ(reason, "") << name << "('" << c.input << "') size " << c.input.size();
    } else {
      EXPECT_NE(reason, "") << name << "('" << c.input << "') size " << c.input.size();
    }
  }
}

const std::string kInvalidUtf8[] = {
    "\xFF",              // never valid
    "\xC3",              // truncated
    "\xC0\xAF",          // overlong '/'
    "\xED\xA0\x80",      // surrogate U+D800
    "\xF4\x90\x80\x80",  // above U+10FFFF
    "\x80",              // lone continuation
};

TEST(FieldChecksTest, TokenNameAndEntityName) {
  for (auto check : {&CheckTokenName, &CheckEntityName}) {
    std::vector<FieldCase> cases = {
        {"CI deploy", true},
        {"a", true},
        {std::string(100, 'x'), true},
        {"Ünïcödé ✓ 日本", true},
        {[] {
           std::string s;
           for (int i = 0; i < 100; ++i) s += "\u65E5";  // 100 characters, 300 bytes
           return s;
         }(),
         true},
        {"", false},
        {"   ", false},
        {std::string(101, 'x'), false},
        {"tab\there", false},
        {"new\nline", false},
        {std::string("nul\0x", 5), false},
        {"del\x7F", false},
        {"c1 \xC2\x85", false},  // U+0085 NEXT LINE
    };
    for (const std::string& bad : kInvalidUtf8) cases.push_back({"name" + bad, false});
    CheckAll(check, "name check", cases);
  }
  EXPECT_EQ(CheckTokenName(std::string(101, 'x')), "must be 1 to 100 characters");
  EXPECT_EQ(CheckTokenName("a\tb"), "must not contain control characters");
  EXPECT_EQ(CheckTokenName("\xFF"), "must be valid UTF-8");
}

TEST(FieldChecksTest, DescriptionDisplayNameDeviceName) {
  CheckAll(&CheckDescription, "CheckDescription",
           {{"", true},
            {"line one\nline two", true},
            {std::string(1000, 'd'), true},
            {std::string(1001, 'd'), false},
            {"tab\t", false},
            {"cr\r\n", false},
            {"\xC3", false}});
  for (auto check : {&CheckDisplayName, &CheckDeviceName}) {
    CheckAll(check, "display/device name",
             {{"", true},
              {"Ada Lovelace", true},
              {"Pixel 8 – Ada's", true},
              {std::string(100, 'n'), true},
              {std::string(101, 'n'), false},
              {"a\nb", false},
              {"\xED\xA0\x80", false}});
  }
}

TEST(FieldChecksTest, Username) {
  CheckAll(&CheckUsername, "CheckUsername",
           {{"admin", true},
            {"ada.lovelace-2_x@corp", true},
            {std::string(64, 'u'), true},
            {"", false},
            {std::string(65, 'u'), false},
            {"with space", false},
            {"semi;colon", false},
            {"slash/", false},
            {"ünï", false},
            {std::string("nul\0", 4), false}});
}

TEST(FieldChecksTest, Email) {
  CheckAll(&CheckEmail, "CheckEmail",
           {{"a@b", true},
            {"ada@example.com", true},
            {"", false},
            {"ab", false},
            {"no-at-sign", false},
            {"two@@example.com", false},
            {"a@b@c", false},
            {"@example.com", false},
            {"ada@", false},
            {"ada @example.com", false},
            {"ada@example.com\n", false},
            {"ada@" + std::string(251, 'e'), false},  // 255 characters
            {"ada@\xFF", false}});
}

TEST(FieldChecksTest, Password) {
  CheckAll(&CheckPassword, "CheckPassword",
           {{"12345678", true},
            {std::string(1024, 'p'), true},
            {"", false},
            {"1234567", false},
            {std::string(1025, 'p'), false}});
}

TEST(TenantSettingsTest, DefaultsAreValid) { EXPECT_TRUE(CheckTenantSettings({}).empty()); }

TEST(TenantSettingsTest, EachOutOfRangeSettingIsNamed) {
  struct Case {
    const char* field;
    void (*change)(TenantSettings&);
  };
  const Case cases[] = {
      {"api_token_max_lifetime_days", [](TenantSettings& s) { s.api_token_max_lifetime_days = 0; }},
      {"api_token_max_lifetime_days",
       [](TenantSettings& s) { s.api_token_max_lifetime_days = 3651; }},
      {"api_token_default_lifetime_days",
       [](TenantSettings& s) { s.api_token_default_lifetime_days = 366; }},
      {"mobile_idle_timeout", [](TenantSettings& s) { s.mobile_idle_timeout = days{181}; }},
      {"mobile_max_lifetime",
       [](TenantSettings& s) {
         s.mobile_max_lifetime = days{4000};
         s.mobile_idle_timeout = days{30};
       }},
      {"console_idle_timeout", [](TenantSettings& s) { s.console_idle_timeout = seconds{10}; }},
      {"console_max_lifetime", [](TenantSettings& s) { s.console_max_lifetime = hours{25}; }},
  };
  for (const Case& c : cases) {
    TenantSettings settings;
    c.change(settings);
    auto fields = CheckTenantSettings(settings);
    ASSERT_FALSE(fields.empty()) << c.field;
    EXPECT_TRUE(std::any_of(fields.begin(), fields.end(),
                            [&](const FieldError& f) { return f.field == c.field; }))
        << c.field << " not named; first: " << fields[0].field;
  }
}

}  // namespace
}  // namespace tokend::core
