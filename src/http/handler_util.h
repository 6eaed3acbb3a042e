// Small helpers shared by the handlers.
#pragma once

#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"
#include "http/json_body.h"
#include "http/message.h"

namespace tokend::http {

// Bounds of list pages: big enough for a console screen, small enough that one request
// cannot make the store read an unbounded number of rows.
inline constexpr int kDefaultPageSize = 50;
inline constexpr int kMaxPageSize = 200;

Response NoContent();
// 201 with Location and a JSON body.
Response Created(std::string_view location, const boost::json::value& body);

// `limit` from the query: default kDefaultPageSize, 1..kMaxPageSize, else kInvalidArgument.
core::Result<int> ParseLimit(const Request& request);
// Refuses query parameters other than `allowed` (typos should not silently widen a list).
core::Result<void> CheckQueryParams(const Request& request,
                                    std::initializer_list<std::string_view> allowed);
// Refuses any query string (routes that take none).
core::Result<void> NoQueryParams(const Request& request);

// Required fields missing from a body (null and "" count as missing): kValidation naming
// each, or Ok.
core::Result<void> RequireFields(const ObjectReader& reader,
                                 std::initializer_list<std::string_view> names);

}  // namespace tokend::http
