// Route registration, one function per resource. Each handler is a plain function from a
// request to a response (see router.h); none sees a socket.
#pragma once

#include "http/env.h"
#include "http/router.h"

namespace tokend::http {

void AddAuthRoutes(Router& router);       // handlers_auth.cc: console and mobile sign-in
void AddTokenRoutes(Router& router);      // handlers_tokens.cc
void AddDirectoryRoutes(Router& router);  // handlers_directory.cc: users, departments, types
void AddIdentityRoutes(Router& router);   // handlers_identity.cc: me, introspect, verify, audit
void AddOpsRoutes(Router& router);        // handlers_ops.cc: health, metrics, openapi

// The embedded console for GET/HEAD of any path no route claims: the file itself, else (SPA
// routes) /index.html; hashed /assets/* files are cacheable for a year. 404 for a missing
// /assets/* file.
Response ServeConsole(const Request& request);

// The OpenAPI document as JSON (generated at build time from docs/openapi.yaml).
std::string_view OpenApiJson();

}  // namespace tokend::http
