// Strict JSON request bodies: one object, bounded depth, no duplicate keys, no unknown
// fields, every field of the expected type. Violations are kInvalidArgument (400) naming the
// field in Error::fields; the values themselves are judged by the services (422).
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "http/message.h"

namespace tokend::http {

// No request of the API nests deeper than 3 levels; 16 leaves room while bounding the work
// a hostile body can cause.
inline constexpr int kMaxJsonDepth = 16;

// Parses `body` as a JSON value (any type): kInvalidArgument when not JSON, nested deeper than
// kMaxJsonDepth, or holding an object with the same key twice.
core::Result<boost::json::value> ParseStrictJson(std::string_view body);
// As ParseStrictJson, and the value must be an object.
core::Result<boost::json::object> ParseJsonObject(std::string_view body);

// True for "application/json", with or without parameters, any case.
bool IsJsonContentType(std::string_view content_type);
// The body of a JSON route: 415 problem when the Content-Type is not JSON, else the parsed
// object (400 problem when malformed). `error` is set on failure.
std::optional<boost::json::object> ReadJsonBody(const Request& request,
                                                std::optional<Response>& error);

// Reads the fields of one JSON object. Unknown fields and wrong types are recorded as field
// errors; Finish() reports them all at once.
class ObjectReader {
 public:
  // `prefix` is prepended to field names in errors, e.g. "memberships[0].".
  ObjectReader(const boost::json::object& object, std::initializer_list<std::string_view> allowed,
               std::string prefix = "");

  bool Has(std::string_view name) const;
  // nullopt when absent or of the wrong type (then an error is recorded). `null` is allowed
  // only where `nullable`; it also yields nullopt.
  std::optional<std::string> String(std::string_view name, bool nullable = false);
  std::optional<bool> Bool(std::string_view name);
  std::optional<std::int64_t> Int(std::string_view name);
  std::optional<std::vector<std::string>> StringArray(std::string_view name);
  // The raw value (absent: nullptr); no type check.
  const boost::json::value* Raw(std::string_view name) const;

  void AddError(std::string field, std::string message);
  std::string FieldName(std::string_view name) const { return prefix_ + std::string(name); }
  bool ok() const { return errors_.empty(); }
  const std::vector<core::FieldError>& errors() const { return errors_; }
  // kInvalidArgument with every recorded field error, or Ok.
  core::Result<void> Finish() const;

 private:
  const boost::json::object& object_;
  std::string prefix_;
  std::vector<core::FieldError> errors_;
};

}  // namespace tokend::http
