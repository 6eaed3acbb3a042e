// The handlers as functions from request to response, over real services on a real SQLite
// store (no sockets).
#include "http/handlers.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>

#include "http/http_test_fixture.h"

namespace tokend::http {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;
using ::testing::Not;

std::string Str(const json::value& value) {
  return value.is_string() ? std::string(value.as_string()) : json::serialize(value);
}

class HandlersTest : public HttpTest {
 protected:
  void SetUp() override {
    HttpTest::SetUp();
    if (HasFatalFailure()) return;
    admin_token_ = AdminToken();
    ASSERT_FALSE(admin_token_.empty());
    admin_ = Admin();
    ASSERT_FALSE(admin_.memberships.empty());
  }

  json::object CreateBody(std::string name, std::string expires = "2026-06-30") {
    return json::object{{"name", name},
                        {"description", "for CI"},
                        {"expires_at", expires},
                        {"user_id", admin_.id},
                        {"department_id", admin_.memberships[0].department_id},
                        {"user_type_id", admin_.memberships[0].user_type_id}};
  }

  // Creates an API token as the admin; returns the created object.
  json::object CreateApiToken(std::string name) {
    json::value body = CreateBody(std::move(name));
    Response response = Bearer(admin_token_, "POST", "/api/v1/tokens", &body);
    EXPECT_EQ(response.status, 201) << response.body;
    auto value = Json(response);
    return value.is_object() ? value.as_object() : json::object{};
  }

  std::string MemberTypeId() {
    auto types = store_->ListUserTypes(tenant_id_);
    EXPECT_TRUE(types);
    for (const auto& type : *types) {
      if (type.name == "Member") return type.id;
    }
    ADD_FAILURE() << "no Member type";
    return "";
  }

  // A mobile token of a new read-only user.
  std::string MemberToken() {
    json::value body = json::object{
        {"username", "mia"},
        {"email", "mia@example.com"},
        {"display_name", "Mia"},
        {"password", "a long password"},
        {"memberships",
         json::array{json::object{{"department_id", admin_.memberships[0].department_id},
                                  {"user_type_id", MemberTypeId()}}}}};
    Response created = Bearer(admin_token_, "POST", "/api/v1/users", &body);
    EXPECT_EQ(created.status, 201) << created.body;
    Response login = Call("POST", "/api/v1/mobile/login",
                          R"({"tenant": "default", "username": "mia",
                              "password": "a long password", "device_name": "phone"})",
                          {{"Content-Type", "application/json"}});
    EXPECT_EQ(login.status, 201) << login.body;
    return std::string(Json(login).at("token").as_string());
  }

  struct Session {
    std::string cookie;  // "tokend_session=..."
    std::string csrf;
  };
  Session ConsoleLogin() {
    Response response = Call("POST", "/api/v1/auth/login",
                             R"({"tenant": "default", "username": "admin",
                                 "password": "correct horse battery"})",
                             {{"Content-Type", "application/json"}});
    EXPECT_EQ(response.status, 200) << response.body;
    std::string set_cookie(response.Get("Set-Cookie"));
    Session session;
    session.cookie = set_cookie.substr(0, set_cookie.find(';'));
    auto body = Json(response);
    if (body.is_object() && body.as_object().contains("csrf_token")) {
      session.csrf = std::string(body.at("csrf_token").as_string());
    }
    return session;
  }

  static void ExpectProblem(const Response& response, int status) {
    EXPECT_EQ(response.status, status) << response.body;
    EXPECT_EQ(response.Get("Content-Type"), "application/problem+json");
    auto body = json::parse(response.body).as_object();
    EXPECT_EQ(body.at("status"), status);
    for (const char* field : {"type", "title", "detail", "errors"}) {
      EXPECT_TRUE(body.contains(field)) << field;
    }
  }

  static std::vector<std::string> ErrorFields(const Response& response) {
    std::vector<std::string> out;
    auto body = json::parse(response.body);
    for (const auto& e : body.at("errors").as_array()) {
      out.emplace_back(e.at("field").as_string());
    }
    return out;
  }

  std::string admin_token_;
  core::User admin_;
};

// --- The pipeline -----------------------------------------------------------------------

TEST_F(HandlersTest, EveryResponseCarriesSecurityHeadersAndAFreshRequestId) {
  Response api = Call("GET", "/healthz", "", {{"X-Request-Id", "client-chosen"}});
  Response console = Call("GET", "/");
  for (const Response* response : {&api, &console}) {
    EXPECT_EQ(response->status, 200);
    EXPECT_THAT(std::string(response->Get("Content-Security-Policy")),
                HasSubstr("frame-ancestors 'none'"));
    EXPECT_EQ(response->Get("X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(response->Get("Referrer-Policy"), "no-referrer");
    EXPECT_EQ(response->Get("X-Frame-Options"), "DENY");
    EXPECT_EQ(response->Get("X-Request-Id").size(), 16u);
  }
  EXPECT_NE(api.Get("X-Request-Id"), "client-chosen");
  EXPECT_NE(api.Get("X-Request-Id"), console.Get("X-Request-Id"));
  EXPECT_EQ(Bearer(admin_token_, "GET", "/api/v1/me").Get("Cache-Control"), "no-store");
  EXPECT_EQ(Call("GET", "/auth/verify").Get("Cache-Control"), "no-store");
  EXPECT_NE(console.Get("Cache-Control"), "no-store");
}

TEST_F(HandlersTest, UnknownPathsMethodsAndQueryTokensAreRefused) {
  ExpectProblem(Call("GET", "/api/v1/nothing"), 404);
  ExpectProblem(Call("GET", "/oauth2/token"), 404);
  Response wrong_method = Call("PUT", "/api/v1/tokens");
  ExpectProblem(wrong_method, 405);
  EXPECT_EQ(wrong_method.Get("Allow"), "GET, HEAD, POST");
  ExpectProblem(Call("BREW", "/api/v1/tokens"), 405);
  ExpectProblem(Call("POST", "/some/page"), 405);
  Response query_token = Call("GET", "/api/v1/me?access_token=" + admin_token_);
  ExpectProblem(query_token, 400);
  EXPECT_THAT(query_token.body, Not(HasSubstr(admin_token_)));
}

TEST_F(HandlersTest, ConsoleFallsBackToIndexButNotForMissingAssets) {
  Response index = Call("GET", "/");
  EXPECT_EQ(index.status, 200);
  EXPECT_THAT(std::string(index.Get("Content-Type")), HasSubstr("text/html"));
  Response route = Call("GET", "/tokens/abc");
  EXPECT_EQ(route.status, 200);
  EXPECT_EQ(route.body, index.body);
  ExpectProblem(Call("GET", "/assets/missing-123.js"), 404);
}

TEST_F(HandlersTest, HealthReadinessMetricsAndOpenApi) {
  EXPECT_EQ(Call("GET", "/readyz").status, 200);
  Bearer(admin_token_, "GET", "/api/v1/me");
  Response metrics = Call("GET", "/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_THAT(
      metrics.body,
      HasSubstr(R"(tokend_http_requests_total{route="/api/v1/me",method="GET",status="200"} 1)"));
  EXPECT_THAT(
      metrics.body,
      HasSubstr(R"(tokend_http_request_duration_seconds_bucket{route="/api/v1/me",le="+Inf"} 1)"));
  EXPECT_THAT(metrics.body, HasSubstr(R"(tokend_verifications_total{outcome="valid"} 1)"));
  EXPECT_THAT(metrics.body, HasSubstr(R"(tokend_tokens_active{kind="mobile"} 1)"));
  Response openapi = Call("GET", "/api/v1/openapi.json");
  EXPECT_EQ(openapi.status, 200);
  EXPECT_TRUE(Json(openapi).as_object().contains("openapi"));
}

Response Throws(const Env&, Request&) { throw std::runtime_error("secret internal detail"); }

TEST_F(HandlersTest, AnExceptionInAHandlerIsAGeneric500) {
  env_->AddRoute("GET", "/api/v1/boom", Throws);
  Response response = Call("GET", "/api/v1/boom");
  ExpectProblem(response, 500);
  EXPECT_THAT(response.body, Not(HasSubstr("secret internal detail")));
  EXPECT_EQ(response.Get("X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(Call("GET", "/healthz").status, 200);
}

// --- Bearer authentication --------------------------------------------------------------

TEST_F(HandlersTest, BadTokensAllGetOneIdenticalAnswer) {
  Response none = Call("GET", "/api/v1/me");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.Get("WWW-Authenticate"), R"(Bearer realm="tokend")");

  json::object created = CreateApiToken("soon revoked");
  std::string revoked(created.at("token").as_string());
  ASSERT_EQ(
      Bearer(admin_token_, "DELETE", "/api/v1/tokens/" + std::string(created.at("id").as_string()))
          .status,
      204);
  std::string unknown = std::string(revoked.substr(0, 4)) + std::string(49, 'A');
  std::vector<Response> answers;
  for (const std::string& token : {std::string("garbage"), unknown, revoked}) {
    answers.push_back(Bearer(token, "GET", "/api/v1/me"));
  }
  for (const Response& answer : answers) {
    EXPECT_EQ(answer.status, 401);
    EXPECT_EQ(answer.Get("WWW-Authenticate"), R"(Bearer realm="tokend", error="invalid_token")");
    EXPECT_EQ(answer.body, answers[0].body);
  }
  ExpectProblem(Call("GET", "/api/v1/me", "",
                     {{"Authorization", "Bearer " + admin_token_},
                      {"Authorization", "Bearer " + admin_token_}}),
                400);
}

TEST_F(HandlersTest, LackingPermissionIsInsufficientScope) {
  std::string member = MemberToken();
  json::value body = CreateBody("nope");
  Response refused = Bearer(member, "POST", "/api/v1/tokens", &body);
  ExpectProblem(refused, 403);
  EXPECT_THAT(std::string(refused.Get("WWW-Authenticate")), HasSubstr("insufficient_scope"));
}

TEST_F(HandlersTest, PermissionIsCheckedBeforeTheBody) {
  // Authorise first: a caller without the write permission learns nothing about which
  // fields a create needs.
  std::string member = MemberToken();
  json::value empty = json::object{};
  for (const char* target :
       {"/api/v1/tokens", "/api/v1/users", "/api/v1/departments", "/api/v1/user-types"}) {
    Response refused = Bearer(member, "POST", target, &empty);
    ExpectProblem(refused, 403);
  }
}

// --- API tokens -------------------------------------------------------------------------

TEST_F(HandlersTest, CreatedTokenHasTheDocumentedShapeAndWorks) {
  json::value body = CreateBody("ci");
  Response response = Bearer(admin_token_, "POST", "/api/v1/tokens", &body);
  ASSERT_EQ(response.status, 201) << response.body;
  auto token = Json(response).as_object();
  std::string id(token.at("id").as_string());
  EXPECT_EQ(response.Get("Location"), "/api/v1/tokens/" + id);
  for (const char* field :
       {"id", "kind", "name", "description", "token", "token_hint", "revealable", "tenant_id",
        "usage", "expires_at", "status", "created_at", "created_by", "last_used_at", "last_used_ip",
        "user", "department", "user_type"}) {
    EXPECT_TRUE(token.contains(field)) << field;
  }
  std::string secret(token.at("token").as_string());
  EXPECT_EQ(token.at("kind"), "api");
  EXPECT_EQ(token.at("status"), "active");
  EXPECT_EQ(Str(token.at("tenant_id")), tenant_id_);
  EXPECT_EQ(token.at("expires_at"), "2026-06-30T23:59:59Z");
  EXPECT_TRUE(token.at("last_used_at").is_null());
  EXPECT_TRUE(token.at("last_used_ip").is_null());
  EXPECT_EQ(token.at("created_by").at("username"), "admin");
  EXPECT_EQ(token.at("user").at("username"), "admin");
  EXPECT_TRUE(token.at("department").as_object().contains("name"));
  std::string usage(token.at("usage").as_string());
  EXPECT_THAT(
      usage,
      HasSubstr(
          R"(curl -H "Authorization: Bearer $TOKEND_TOKEN" http://tokend.test:8080/api/v1/me)"));
  EXPECT_THAT(usage, Not(HasSubstr(secret)));

  // The token authenticates; the detail view never carries the secret.
  Response me = Bearer(secret, "GET", "/api/v1/me");
  EXPECT_EQ(me.status, 200) << me.body;
  Response detail = Bearer(admin_token_, "GET", "/api/v1/tokens/" + id);
  ASSERT_EQ(detail.status, 200);
  EXPECT_FALSE(Json(detail).as_object().contains("token"));
  EXPECT_THAT(detail.body, Not(HasSubstr(secret)));
}

TEST_F(HandlersTest, PublicUrlOptionSetsTheUsageLine) {
  options_.public_url = "https://tokens.example.com/";
  MakeEnv();
  json::object token = CreateApiToken("ci");
  EXPECT_THAT(std::string(token.at("usage").as_string()),
              HasSubstr("https://tokens.example.com/api/v1/me"));
}

TEST_F(HandlersTest, CreateRefusesBadBodiesNamingTheField) {
  json::value missing = json::object{{"name", "x"}, {"user_id", admin_.id}};
  Response r = Bearer(admin_token_, "POST", "/api/v1/tokens", &missing);
  ExpectProblem(r, 422);
  EXPECT_THAT(ErrorFields(r), ::testing::Contains("expires_at"));

  json::object unknown = CreateBody("x");
  unknown["admin"] = true;
  json::value unknown_value = unknown;
  r = Bearer(admin_token_, "POST", "/api/v1/tokens", &unknown_value);
  ExpectProblem(r, 400);
  EXPECT_THAT(ErrorFields(r), ::testing::ElementsAre("admin"));

  json::object wrong_type = CreateBody("x");
  wrong_type["name"] = 5;
  json::value wrong_value = wrong_type;
  r = Bearer(admin_token_, "POST", "/api/v1/tokens", &wrong_value);
  ExpectProblem(r, 400);
  EXPECT_THAT(ErrorFields(r), ::testing::ElementsAre("name"));

  json::value empty = CreateBody("x", "");
  r = Bearer(admin_token_, "POST", "/api/v1/tokens", &empty);
  ExpectProblem(r, 422);  // never the service's default expiry
  EXPECT_THAT(ErrorFields(r), ::testing::ElementsAre("expires_at"));

  json::value too_far = CreateBody("x", "2030-01-01");
  r = Bearer(admin_token_, "POST", "/api/v1/tokens", &too_far);
  ExpectProblem(r, 422);
  EXPECT_THAT(ErrorFields(r), ::testing::Contains("expires_at"));

  Fields auth = {{"Authorization", "Bearer " + admin_token_}};
  Fields text = auth;
  text.emplace_back("Content-Type", "text/plain");
  ExpectProblem(Call("POST", "/api/v1/tokens", json::serialize(CreateBody("x")), text), 415);
  Fields as_json = auth;
  as_json.emplace_back("Content-Type", "application/json");
  ExpectProblem(Call("POST", "/api/v1/tokens", R"({"name": "a", "name": "b"})", as_json), 400);
  ExpectProblem(Call("POST", "/api/v1/tokens", std::string(10000, '['), as_json), 400);
  ExpectProblem(Call("POST", "/api/v1/tokens", "not json", as_json), 400);
}

TEST_F(HandlersTest, ListPagesWithStrictCursors) {
  for (const char* name : {"a", "b", "c", "d", "e"}) {
    CreateApiToken(name);
    clock_.Advance(core::seconds{1});
  }
  std::vector<std::string> names;
  std::string target = "/api/v1/tokens?sort=name&limit=2";
  for (int page = 0; page < 5; ++page) {
    Response response = Bearer(admin_token_, "GET", target);
    ASSERT_EQ(response.status, 200) << response.body;
    auto body = Json(response).as_object();
    for (const auto& item : body.at("items").as_array()) {
      names.emplace_back(item.at("name").as_string());
      EXPECT_FALSE(item.as_object().contains("token"));
    }
    if (body.at("next_cursor").is_null()) break;
    target = "/api/v1/tokens?sort=name&limit=2&cursor=" +
             std::string(body.at("next_cursor").as_string());
  }
  EXPECT_THAT(names, ::testing::ElementsAre("a", "b", "c", "d", "e"));

  // Default order: newest first.
  auto newest = Json(Bearer(admin_token_, "GET", "/api/v1/tokens?limit=1")).as_object();
  EXPECT_EQ(newest.at("items").as_array()[0].at("name"), "e");
  std::string cursor(newest.at("next_cursor").as_string());
  // A cursor of another order or kind, or a forged one, is refused.
  ExpectProblem(Bearer(admin_token_, "GET", "/api/v1/tokens?sort=name&cursor=" + cursor), 400);
  ExpectProblem(Bearer(admin_token_, "GET", "/api/v1/tokens?kind=mobile&cursor=" + cursor), 400);
  ExpectProblem(Bearer(admin_token_, "GET", "/api/v1/tokens?cursor=Zm9yZ2Vk"), 400);
  for (const char* bad : {"limit=0", "limit=201", "limit=x", "sort=secret", "kind=other",
                          "status=revoked", "user_id=../x", "colour=red"}) {
    ExpectProblem(Bearer(admin_token_, "GET", std::string("/api/v1/tokens?") + bad), 400);
  }
  Response mobile = Bearer(admin_token_, "GET", "/api/v1/tokens?kind=mobile&status=active");
  ASSERT_EQ(mobile.status, 200);
  auto items = Json(mobile).at("items").as_array();
  ASSERT_EQ(items.size(), 1u);
  for (const char* field : {"id", "kind", "user", "department", "user_type", "device_name",
                            "last_active_at", "expires_at", "status", "created_at"}) {
    EXPECT_TRUE(items[0].as_object().contains(field)) << field;
  }
  EXPECT_EQ(items[0].at("device_name"), "test");
}

TEST_F(HandlersTest, RevealAndDeleteMany) {
  json::object token = CreateApiToken("to reveal");
  std::string id(token.at("id").as_string());
  EXPECT_EQ(token.at("revealable"), true);
  Response reveal = Bearer(admin_token_, "POST", "/api/v1/tokens/" + id + "/reveal");
  ASSERT_EQ(reveal.status, 200) << reveal.body;
  EXPECT_EQ(reveal.Get("Cache-Control"), "no-store");
  EXPECT_EQ(Json(reveal).at("token"), token.at("token"));

  std::string other(CreateApiToken("other").at("id").as_string());
  json::value ids = json::object{{"ids", json::array{id, other, "00000000000000000000"}}};
  Response deleted = Bearer(admin_token_, "POST", "/api/v1/tokens/delete", &ids);
  ASSERT_EQ(deleted.status, 200) << deleted.body;
  auto body = Json(deleted).as_object();
  EXPECT_EQ(body.at("deleted").as_array().size(), 2u);
  EXPECT_EQ(body.at("not_found").as_array().size(), 1u);
  ExpectProblem(Bearer(admin_token_, "GET", "/api/v1/tokens/" + id), 404);
  ExpectProblem(Bearer(admin_token_, "DELETE", "/api/v1/tokens/" + id), 404);

  json::value not_strings = json::object{{"ids", json::array{1, 2}}};
  ExpectProblem(Bearer(admin_token_, "POST", "/api/v1/tokens/delete", &not_strings), 400);
}

// --- Console sessions -------------------------------------------------------------------

TEST_F(HandlersTest, ConsoleSessionNeedsCsrfForChanges) {
  Response login = Call("POST", "/api/v1/auth/login",
                        R"({"tenant": "default", "username": "admin",
                            "password": "correct horse battery"})",
                        {{"Content-Type", "application/json"}});
  ASSERT_EQ(login.status, 200) << login.body;
  std::string set_cookie(login.Get("Set-Cookie"));
  EXPECT_THAT(set_cookie, HasSubstr("tokend_session="));
  EXPECT_THAT(set_cookie, HasSubstr("HttpOnly"));
  EXPECT_THAT(set_cookie, HasSubstr("SameSite=Strict"));
  EXPECT_THAT(set_cookie, HasSubstr("Path=/"));
  auto body = Json(login).as_object();
  EXPECT_EQ(body.at("user").at("username"), "admin");
  EXPECT_FALSE(body.at("user").as_object().contains("password"));
  EXPECT_FALSE(body.at("user").as_object().contains("password_hash"));

  Session session = ConsoleLogin();
  Fields cookie = {{"Cookie", session.cookie}};
  EXPECT_EQ(Call("GET", "/api/v1/me", "", cookie).status, 200);

  std::string create = json::serialize(CreateBody("from console"));
  Fields no_csrf = {{"Cookie", session.cookie}, {"Content-Type", "application/json"}};
  ExpectProblem(Call("POST", "/api/v1/tokens", create, no_csrf), 403);
  Fields bad_csrf = no_csrf;
  bad_csrf.emplace_back("X-CSRF-Token", session.csrf + "x");
  ExpectProblem(Call("POST", "/api/v1/tokens", create, bad_csrf), 403);
  Fields foreign = no_csrf;
  foreign.emplace_back("X-CSRF-Token", session.csrf);
  foreign.emplace_back("Origin", "https://evil.example");
  ExpectProblem(Call("POST", "/api/v1/tokens", create, foreign), 403);
  Fields good = no_csrf;
  good.emplace_back("X-CSRF-Token", session.csrf);
  good.emplace_back("Origin", "http://tokend.test:8080");
  EXPECT_EQ(Call("POST", "/api/v1/tokens", create, good).status, 201);

  Fields logout = {{"Cookie", session.cookie}, {"X-CSRF-Token", session.csrf}};
  Response out = Call("POST", "/api/v1/auth/logout", "", logout);
  EXPECT_EQ(out.status, 204);
  EXPECT_THAT(std::string(out.Get("Set-Cookie")), HasSubstr("Max-Age=0"));
  EXPECT_EQ(Call("GET", "/api/v1/me", "", cookie).status, 401);
}

TEST_F(HandlersTest, SecureCookiesUseTheHostPrefix) {
  options_.secure_cookies = true;
  MakeEnv();
  Response login = Call("POST", "/api/v1/auth/login",
                        R"({"username": "admin", "password": "correct horse battery"})",
                        {{"Content-Type", "application/json"}});
  ASSERT_EQ(login.status, 200) << login.body;
  std::string set_cookie(login.Get("Set-Cookie"));
  EXPECT_TRUE(set_cookie.starts_with("__Host-tokend_session=")) << set_cookie;
  EXPECT_THAT(set_cookie, HasSubstr("; Secure"));
}

TEST_F(HandlersTest, WrongPasswordIsUnauthorized) {
  Response response =
      Call("POST", "/api/v1/auth/login", R"({"username": "admin", "password": "wrong password"})",
           {{"Content-Type", "application/json"}});
  ExpectProblem(response, 401);
  EXPECT_TRUE(response.Get("Set-Cookie").empty());
  EXPECT_THAT(response.body, Not(HasSubstr("wrong password")));
}

// --- Identity and other services ----------------------------------------------------------

TEST_F(HandlersTest, MeDescribesTheCaller) {
  Response response = Bearer(admin_token_, "GET", "/api/v1/me");
  ASSERT_EQ(response.status, 200) << response.body;
  auto me = Json(response).as_object();
  EXPECT_EQ(Str(me.at("tenant_id")), tenant_id_);
  EXPECT_EQ(me.at("user").at("username"), "admin");
  EXPECT_EQ(Str(me.at("department").at("id")), admin_.memberships[0].department_id);
  EXPECT_EQ(me.at("user_type").at("name"), "Administrator");
  const auto& permissions = me.at("permissions").as_array();
  ASSERT_EQ(permissions.size(), 11u);
  EXPECT_EQ(permissions.front(), "tokens:read");  // catalogue order
  EXPECT_EQ(permissions.back(), "introspect");
  EXPECT_EQ(me.at("token").at("kind"), "mobile");
  EXPECT_EQ(Str(me.at("token").at("id")).size(), 20u);
  const std::string expires = Str(me.at("token").at("expires_at"));
  EXPECT_TRUE(core::ParseRfc3339(expires).has_value()) << expires;

  Session session = ConsoleLogin();
  auto by_cookie = Json(Call("GET", "/api/v1/me", "", {{"Cookie", session.cookie}})).as_object();
  EXPECT_TRUE(by_cookie.at("token").is_null());
}

TEST_F(HandlersTest, IntrospectionFollowsRfc7662) {
  json::object token = CreateApiToken("introspected");
  std::string secret(token.at("token").as_string());
  Fields form = {{"Authorization", "Bearer " + admin_token_},
                 {"Content-Type", "application/x-www-form-urlencoded"}};
  Response active = Call("POST", "/oauth2/introspect", "token=" + secret, form);
  ASSERT_EQ(active.status, 200) << active.body;
  auto body = Json(active).as_object();
  EXPECT_EQ(body.at("active"), true);
  EXPECT_EQ(body.at("token_type"), "Bearer");
  EXPECT_EQ(Str(body.at("sub")), admin_.id);
  EXPECT_EQ(body.at("username"), "admin");
  EXPECT_TRUE(body.at("exp").is_int64());
  EXPECT_TRUE(body.at("iat").is_int64());
  EXPECT_THAT(std::string(body.at("scope").as_string()), HasSubstr("tokens:read"));
  for (const char* field : {"tenant_id", "department_id", "user_type_id"}) {
    EXPECT_TRUE(body.contains(field)) << field;
  }

  Response inactive = Call("POST", "/oauth2/introspect", "token=tka_nonsense", form);
  EXPECT_EQ(inactive.status, 200);
  EXPECT_EQ(inactive.body, R"({"active":false})");

  Fields json_headers = {{"Authorization", "Bearer " + admin_token_},
                         {"Content-Type", "application/json"}};
  EXPECT_EQ(
      Json(Call("POST", "/oauth2/introspect", R"({"token": ")" + secret + "\"}", json_headers))
          .at("active"),
      true);
  ExpectProblem(Call("POST", "/oauth2/introspect", "", form), 400);
  ExpectProblem(Call("POST", "/oauth2/introspect", "token=" + secret,
                     {{"Content-Type", "application/x-www-form-urlencoded"}}),
                401);
  Response no_scope = Call("POST", "/oauth2/introspect", "token=" + secret,
                           {{"Authorization", "Bearer " + MemberToken()},
                            {"Content-Type", "application/x-www-form-urlencoded"}});
  ExpectProblem(no_scope, 403);
  EXPECT_THAT(std::string(no_scope.Get("WWW-Authenticate")), HasSubstr("insufficient_scope"));
}

TEST_F(HandlersTest, VerifyAnswersWithHeadersOnly) {
  Response ok = Bearer(admin_token_, "GET", "/auth/verify");
  ASSERT_EQ(ok.status, 204) << ok.body;
  EXPECT_TRUE(ok.body.empty());
  EXPECT_EQ(ok.Get("X-Auth-Tenant-Id"), tenant_id_);
  EXPECT_EQ(ok.Get("X-Auth-User-Id"), admin_.id);
  EXPECT_EQ(ok.Get("X-Auth-Username"), "admin");
  EXPECT_EQ(ok.Get("X-Auth-Department-Id"), admin_.memberships[0].department_id);
  EXPECT_EQ(ok.Get("X-Auth-User-Type-Id"), admin_.memberships[0].user_type_id);
  EXPECT_THAT(std::string(ok.Get("X-Auth-Permissions")), HasSubstr("users:write"));
  // No body: only the standard headers that still mean something without one.
  EXPECT_EQ(ok.Get("Cache-Control"), "no-store");
  EXPECT_EQ(ok.Get("X-Request-Id").size(), 16u);
  EXPECT_FALSE(ok.Has("Content-Security-Policy"));
  EXPECT_FALSE(ok.Has("X-Frame-Options"));
  EXPECT_EQ(Bearer(admin_token_, "GET", "/auth/verify?permission=users:write").status, 204);

  std::string member = MemberToken();
  Response lacking = Bearer(member, "GET", "/auth/verify?permission=users:write");
  EXPECT_EQ(lacking.status, 403);
  EXPECT_THAT(std::string(lacking.Get("WWW-Authenticate")), HasSubstr("insufficient_scope"));
  EXPECT_EQ(Bearer(member, "GET", "/auth/verify?permission=users:read").status, 204);
  EXPECT_EQ(Bearer(admin_token_, "GET", "/auth/verify?permission=root").status, 400);
  Response none = Call("GET", "/auth/verify");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.Get("WWW-Authenticate"), R"(Bearer realm="tokend")");
  EXPECT_EQ(Bearer("tka_bad", "GET", "/auth/verify").Get("WWW-Authenticate"),
            R"(Bearer realm="tokend", error="invalid_token")");
}

TEST_F(HandlersTest, MobileLogoutRevokesTheCallingToken) {
  std::string token = AdminToken();
  EXPECT_EQ(Bearer(token, "POST", "/api/v1/mobile/logout").status, 204);
  EXPECT_EQ(Bearer(token, "GET", "/api/v1/me").status, 401);
  EXPECT_EQ(Bearer(admin_token_, "GET", "/api/v1/me").status, 200);
}

TEST_F(HandlersTest, AuditEventsListNewestFirstWithCursor) {
  CreateApiToken("audited");
  Response page = Bearer(admin_token_, "GET", "/api/v1/audit-events?limit=1");
  ASSERT_EQ(page.status, 200) << page.body;
  auto body = Json(page).as_object();
  ASSERT_EQ(body.at("items").as_array().size(), 1u);
  auto event = body.at("items").as_array()[0].as_object();
  EXPECT_EQ(event.at("action"), "token.create");
  ASSERT_TRUE(body.at("next_cursor").is_string());
  Response next = Bearer(
      admin_token_, "GET",
      "/api/v1/audit-events?limit=1&cursor=" + std::string(body.at("next_cursor").as_string()));
  ASSERT_EQ(next.status, 200);
  EXPECT_NE(Json(next).at("items").as_array()[0].at("id"), event.at("id"));
  ExpectProblem(Bearer(admin_token_, "GET", "/api/v1/audit-events?since=yesterday"), 400);
  ExpectProblem(Bearer(admin_token_, "GET", "/api/v1/audit-events?cursor=abc"), 400);
}

// --- Directory --------------------------------------------------------------------------

TEST_F(HandlersTest, DepartmentsUserTypesAndUsersRoundTrip) {
  std::string root = admin_.memberships[0].department_id;
  json::value department = json::object{{"name", "Sales"}, {"parent_id", root}};
  Response created = Bearer(admin_token_, "POST", "/api/v1/departments", &department);
  ASSERT_EQ(created.status, 201) << created.body;
  std::string id(Json(created).at("id").as_string());
  EXPECT_EQ(created.Get("Location"), "/api/v1/departments/" + id);
  EXPECT_EQ(Str(Json(created).at("parent_id")), root);
  json::value rename = json::object{{"name", "Sales EU"}};
  Response renamed = Bearer(admin_token_, "PATCH", "/api/v1/departments/" + id, &rename);
  ASSERT_EQ(renamed.status, 200) << renamed.body;
  EXPECT_EQ(Json(renamed).at("name"), "Sales EU");
  auto list = Json(Bearer(admin_token_, "GET", "/api/v1/departments")).as_object();
  EXPECT_EQ(list.at("items").as_array().size(), 2u);
  EXPECT_TRUE(list.at("next_cursor").is_null());

  json::value type = json::object{{"name", "Auditor"}, {"permissions", json::array{"audit:read"}}};
  Response type_created = Bearer(admin_token_, "POST", "/api/v1/user-types", &type);
  ASSERT_EQ(type_created.status, 201) << type_created.body;
  std::string type_id(Json(type_created).at("id").as_string());
  EXPECT_EQ(Json(type_created).at("permissions"), (json::array{"audit:read"}));

  json::value user = json::object{
      {"username", "zoe"},
      {"email", "zoe@example.com"},
      {"display_name", "Zoe"},
      {"password", "a long password"},
      {"memberships", json::array{json::object{{"department_id", id}, {"user_type_id", type_id}}}}};
  Response user_created = Bearer(admin_token_, "POST", "/api/v1/users", &user);
  ASSERT_EQ(user_created.status, 201) << user_created.body;
  auto zoe = Json(user_created).as_object();
  std::string zoe_id(zoe.at("id").as_string());
  EXPECT_EQ(zoe.at("active"), true);
  EXPECT_FALSE(zoe.contains("password"));
  EXPECT_EQ(Str(zoe.at("memberships").as_array()[0].at("department_id")), id);
  ExpectProblem(Bearer(admin_token_, "POST", "/api/v1/users", &user), 409);

  json::value bad_patch = json::object{{"active", "no"}, {"role", "admin"}};
  Response refused = Bearer(admin_token_, "PATCH", "/api/v1/users/" + zoe_id, &bad_patch);
  ExpectProblem(refused, 400);
  EXPECT_THAT(ErrorFields(refused), ::testing::UnorderedElementsAre("active", "role"));
  json::value bad_membership =
      json::object{{"memberships", json::array{json::object{{"department_id", id}}}}};
  refused = Bearer(admin_token_, "PATCH", "/api/v1/users/" + zoe_id, &bad_membership);
  ExpectProblem(refused, 400);
  EXPECT_THAT(ErrorFields(refused), ::testing::ElementsAre("memberships[0].user_type_id"));
  json::value deactivate = json::object{{"active", false}};
  Response patched = Bearer(admin_token_, "PATCH", "/api/v1/users/" + zoe_id, &deactivate);
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(Json(patched).at("active"), false);
  EXPECT_EQ(Json(Bearer(admin_token_, "GET", "/api/v1/users/" + zoe_id)).at("username"), "zoe");

  auto users = Json(Bearer(admin_token_, "GET", "/api/v1/users?limit=1")).as_object();
  ASSERT_EQ(users.at("items").as_array().size(), 1u);
  ASSERT_TRUE(users.at("next_cursor").is_string());
  auto rest = Json(Bearer(admin_token_, "GET",
                          "/api/v1/users?limit=1&cursor=" +
                              std::string(users.at("next_cursor").as_string())))
                  .as_object();
  EXPECT_NE(rest.at("items").as_array()[0].at("id"), users.at("items").as_array()[0].at("id"));

  EXPECT_EQ(Bearer(admin_token_, "DELETE", "/api/v1/users/" + zoe_id).status, 204);
  ExpectProblem(Bearer(admin_token_, "GET", "/api/v1/users/" + zoe_id), 404);
  EXPECT_EQ(Bearer(admin_token_, "DELETE", "/api/v1/user-types/" + type_id).status, 204);
  EXPECT_EQ(Bearer(admin_token_, "DELETE", "/api/v1/departments/" + id).status, 204);
  ExpectProblem(Bearer(admin_token_, "GET", "/api/v1/departments/" + id), 404);
}

}  // namespace
}  // namespace tokend::http

namespace tokend::http {
namespace {

TEST_F(HandlersTest, SecretsNeverReachTheLog) {
  std::ostringstream log;
  auto previous = spdlog::default_logger();
  auto capture = std::make_shared<spdlog::logger>(
      "capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(log));
  capture->set_level(spdlog::level::trace);
  spdlog::set_default_logger(capture);

  json::object token = CreateApiToken("logged");
  std::string secret(token.at("token").as_string());
  std::string id(token.at("id").as_string());
  Bearer(admin_token_, "POST", "/api/v1/tokens/" + id + "/reveal");
  Bearer(secret, "GET", "/auth/verify");
  Bearer(secret + "x", "GET", "/api/v1/me");
  Call("GET", "/api/v1/tokens/" + secret);  // a token pasted into a URL
  Session session = ConsoleLogin();
  Call("GET", "/api/v1/me", "", {{"Cookie", session.cookie}});

  env_->FlushAccessLog();  // the access log is written by a background thread
  spdlog::set_default_logger(previous);
  std::string text = log.str();
  EXPECT_THAT(text, HasSubstr("path=/api/v1/tokens/[redacted]"));
  EXPECT_THAT(text, HasSubstr("status=204"));
  for (const std::string& s :
       {secret, admin_token_, session.cookie.substr(session.cookie.find('=') + 1), session.csrf,
        std::string(kAdminPassword)}) {
    EXPECT_THAT(text, Not(HasSubstr(s)));
  }
}

TEST_F(HandlersTest, MeShowsADirectoryChangeAtOnceDespiteItsCache) {
  json::object before = Json(Bearer(admin_token_, "GET", "/api/v1/me")).as_object();
  std::string user_id(before.at("user").at("id").as_string());
  std::string type_id(before.at("user_type").at("id").as_string());
  json::value rename = json::object{{"display_name", "Renamed Admin"}};
  ASSERT_EQ(Bearer(admin_token_, "PATCH", "/api/v1/users/" + user_id, &rename).status, 200);
  json::object after = Json(Bearer(admin_token_, "GET", "/api/v1/me")).as_object();
  EXPECT_EQ(after.at("user").at("display_name"), "Renamed Admin");
  json::value retype = json::object{{"name", "Chief"}};
  ASSERT_EQ(Bearer(admin_token_, "PATCH", "/api/v1/user-types/" + type_id, &retype).status, 200);
  after = Json(Bearer(admin_token_, "GET", "/api/v1/me")).as_object();
  EXPECT_EQ(after.at("user_type").at("name"), "Chief");
  // The document keeps DESIGN.md's shape.
  for (const char* field :
       {"tenant_id", "user", "department", "user_type", "permissions", "token"}) {
    EXPECT_TRUE(after.contains(field)) << field;
  }
  EXPECT_EQ(after.size(), 6u);
}

TEST_F(HandlersTest, MeEscapesNamesIntoValidJson) {
  // /api/v1/me writes its JSON by hand: quotes, backslashes and non-ASCII must round-trip.
  const std::string name = "Ann \"the admin\" \\ O'Brien \xc3\xa9";
  json::value rename = json::object{{"display_name", name}};
  ASSERT_EQ(Bearer(admin_token_, "PATCH", "/api/v1/users/" + admin_.id, &rename).status, 200);
  Response me = Bearer(admin_token_, "GET", "/api/v1/me");
  ASSERT_EQ(me.status, 200);
  EXPECT_EQ(std::string(Json(me).at("user").at("display_name").as_string()), name) << me.body;
}

TEST_F(HandlersTest, LoginRefusesAForeignOrigin) {
  Response response = Call("POST", "/api/v1/auth/login",
                           R"({"username": "admin", "password": "correct horse battery"})",
                           {{"Content-Type", "application/json"}, {"Origin", "https://evil.test"}});
  ExpectProblem(response, 403);
  EXPECT_TRUE(response.Get("Set-Cookie").empty());
}

TEST_F(HandlersTest, CookieDeletesAndPatchesNeedCsrfToo) {
  json::object token = CreateApiToken("guarded");
  std::string id(token.at("id").as_string());
  Session session = ConsoleLogin();
  ExpectProblem(Call("DELETE", "/api/v1/tokens/" + id, "", {{"Cookie", session.cookie}}), 403);
  ExpectProblem(Call("PATCH", "/api/v1/users/" + admin_.id, R"({"display_name": "X"})",
                     {{"Cookie", session.cookie}, {"Content-Type", "application/json"}}),
                403);
  EXPECT_EQ(Call("DELETE", "/api/v1/tokens/" + id, "",
                 {{"Cookie", session.cookie}, {"X-CSRF-Token", session.csrf}})
                .status,
            204);
}

TEST_F(HandlersTest, IntrospectionNeedsAFormOrJsonBody) {
  ExpectProblem(Call("POST", "/oauth2/introspect", "token=x",
                     {{"Authorization", "Bearer " + admin_token_}, {"Content-Type", "text/plain"}}),
                415);
}

}  // namespace
}  // namespace tokend::http
