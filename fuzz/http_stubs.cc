// Link stubs for the auth_header target: auth.cc's Authenticate/VerifyBearer reach into the
// service layer, which the parsers under test never call. Sanitizer metadata keeps those
// references alive through --gc-sections, so they are defined here and abort if ever reached.
#include <cstdlib>

#include "http/env.h"
#include "http/metrics.h"
#include "service/auth_service.h"
#include "service/token_service.h"

namespace tokend {

service::RequestContext http::Env::Context(const Request&) const { std::abort(); }
std::string_view http::Env::SessionCookieName() const { std::abort(); }
void http::Metrics::RecordVerification(VerificationOutcome) { std::abort(); }
core::Result<core::Principal> service::TokenService::Verify(std::string_view,
                                                            const RequestContext&) {
  std::abort();
}
core::Result<void> service::TokenService::VerifyInto(std::string_view, const RequestContext&,
                                                     VerifiedToken&) {
  std::abort();
}
core::Result<service::ConsoleSession> service::AuthService::Authenticate(const std::string&) {
  std::abort();
}

}  // namespace tokend
