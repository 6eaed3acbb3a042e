// Real services over a real SQLite store in memory, and the HTTP pipeline (Env::Handle) on
// top, for handler tests without sockets.
#pragma once

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <memory>
#include <string>

#include "core/crypto.h"
#include "core/time_format.h"
#include "http/env.h"
#include "service/audit_service.h"
#include "service/auth_service.h"
#include "service/bootstrap.h"
#include "service/directory_service.h"
#include "service/token_service.h"
#include "store/store.h"

namespace tokend::http {

inline std::string Describe(const core::Error& error) {
  std::string text = std::string(core::ErrorCodeName(error.code)) + ": " + error.public_message;
  if (!error.log_detail.empty()) text += " [" + error.log_detail + "]";
  return text;
}

class HttpTest : public ::testing::Test {
 protected:
  static constexpr char kAdminPassword[] = "correct horse battery";
  static constexpr char kHost[] = "tokend.test:8080";

  void SetUp() override {
    ASSERT_TRUE(core::InitCrypto());
    auto opened = store::OpenStore("sqlite::memory:");
    ASSERT_TRUE(opened) << Describe(opened.error());
    store_ = std::move(*opened);
    auto migrated = store_->Migrate();
    ASSERT_TRUE(migrated) << Describe(migrated.error());
    auto boot = service::Bootstrap(*store_, clock_, hasher_, std::string(kAdminPassword));
    ASSERT_TRUE(boot) << Describe(boot.error());
    tenant_id_ = boot->tenant_id;
    tokens_ = std::make_unique<service::TokenService>(*store_, clock_, key_);
    auth_ = std::make_unique<service::AuthService>(*store_, clock_, key_, hasher_, *tokens_);
    directory_ = std::make_unique<service::DirectoryService>(*store_, clock_, hasher_);
    audit_ = std::make_unique<service::AuditService>(*store_);
    MakeEnv();
  }

  void MakeEnv() { env_ = std::make_unique<Env>(options_, MakeServices()); }

 public:
  // The fixture's services, for an Env or a Server of a test's own.
  Services MakeServices() {
    return Services{*store_, clock_, *tokens_, *auth_, *directory_, *audit_};
  }

 protected:
  static Request MakeRequest(std::string method, std::string_view target, std::string body = "",
                             Fields headers = {}) {
    Request request;
    request.method = std::move(method);
    auto parsed = ParseTarget(target, request);
    EXPECT_TRUE(parsed) << target;
    request.headers.emplace_back("host", kHost);
    for (auto& [name, value] : headers) {
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      request.headers.emplace_back(std::move(name), std::move(value));
    }
    request.body = std::move(body);
    request.client_ip = "192.0.2.1";
    return request;
  }

  Response Call(std::string method, std::string_view target, std::string body = "",
                Fields headers = {}) {
    Request request = MakeRequest(std::move(method), target, std::move(body), std::move(headers));
    return env_->Handle(request);
  }

  // A JSON call authorised by `bearer`.
  Response Bearer(const std::string& bearer, std::string method, std::string_view target,
                  const boost::json::value* body = nullptr) {
    Fields headers = {{"Authorization", "Bearer " + bearer}};
    std::string text;
    if (body != nullptr) {
      headers.emplace_back("Content-Type", "application/json");
      text = boost::json::serialize(*body);
    }
    return Call(std::move(method), target, std::move(text), std::move(headers));
  }

  static boost::json::value Json(const Response& response) {
    boost::json::error_code ec;
    auto value = boost::json::parse(response.body, ec);
    EXPECT_FALSE(ec) << response.body;
    return value;
  }

  // Signs the admin in through the mobile login route; returns the mobile token.
  std::string AdminToken() {
    Response response = Call("POST", "/api/v1/mobile/login",
                             R"({"username": "admin", "password": "correct horse battery",
                                 "device_name": "test"})",
                             {{"Content-Type", "application/json"}});
    EXPECT_EQ(response.status, 201) << response.body;
    auto body = Json(response);
    if (!body.is_object() || !body.as_object().contains("token")) return "";
    return std::string(body.at("token").as_string());
  }

  core::User Admin() {
    auto user = store_->GetUserByUsername(tenant_id_, "admin");
    EXPECT_TRUE(user);
    return user ? *user : core::User{};
  }

  bool crypto_ready_ = core::InitCrypto();  // first: the members below draw random bytes
  core::FakeClock clock_{*core::ParseRfc3339("2026-01-01T00:00:00Z")};
  core::PasswordHasher hasher_ = core::PasswordHasher::Fast();
  core::ServerKey key_ = core::ServerKey::Generate();
  std::unique_ptr<store::Store> store_;
  std::string tenant_id_;
  std::unique_ptr<service::TokenService> tokens_;
  std::unique_ptr<service::AuthService> auth_;
  std::unique_ptr<service::DirectoryService> directory_;
  std::unique_ptr<service::AuditService> audit_;
  ServerOptions options_;
  std::unique_ptr<Env> env_;
};

}  // namespace tokend::http
