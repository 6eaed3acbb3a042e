#include "http/json_body.h"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/parse.hpp>
#include <set>

#include "http/problem.h"

namespace tokend::http {

namespace {

namespace json = boost::json;

// A basic_parser handler that only checks the document's shape: no duplicate keys within an
// object. Boost.JSON 1.81 builds objects from duplicate keys without complaint, so the check
// needs the parser's events. Depth is bounded by the parser itself (parse_options::max_depth).
class DuplicateKeyChecker {
 public:
  static constexpr std::size_t max_array_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_object_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_string_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_key_size = static_cast<std::size_t>(-1);

  bool duplicate() const { return duplicate_; }

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) {
    stack_.emplace_back();
    return true;
  }
  bool on_object_end(std::size_t, json::error_code&) {
    stack_.pop_back();
    return true;
  }
  bool on_array_begin(json::error_code&) { return true; }
  bool on_array_end(std::size_t, json::error_code&) { return true; }
  bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
    key_.append(s.data(), s.size());
    return true;
  }
  bool on_key(json::string_view s, std::size_t, json::error_code& ec) {
    key_.append(s.data(), s.size());
    bool inserted = stack_.back().insert(std::move(key_)).second;
    key_.clear();
    if (!inserted) {
      duplicate_ = true;
      ec = json::make_error_code(json::error::syntax);
      return false;
    }
    return true;
  }
  bool on_string_part(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_string(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(std::int64_t, json::string_view, json::error_code&) { return true; }
  bool on_uint64(std::uint64_t, json::string_view, json::error_code&) { return true; }
  bool on_double(double, json::string_view, json::error_code&) { return true; }
  bool on_bool(bool, json::error_code&) { return true; }
  bool on_null(json::error_code&) { return true; }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }

 private:
  std::vector<std::set<std::string>> stack_;
  std::string key_;
  bool duplicate_ = false;
};

// Field names are echoed in errors; a hostile body may use 200 KiB keys.
constexpr std::size_t kMaxEchoedNameLength = 64;

json::parse_options StrictOptions() {
  json::parse_options options;
  options.max_depth = kMaxJsonDepth;
  return options;  // no comments, no trailing commas, UTF-8 validated
}

const char* TypeName(const json::value& value) {
  switch (value.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return "a boolean";
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_:
      return "a number";
    case json::kind::string:
      return "a string";
    case json::kind::array:
      return "an array";
    case json::kind::object:
      return "an object";
  }
  return "a value";
}

}  // namespace

core::Result<json::value> ParseStrictJson(std::string_view body) {
  json::basic_parser<DuplicateKeyChecker> checker(StrictOptions());
  json::error_code ec;
  checker.write_some(false, body.data(), body.size(), ec);
  if (ec) {
    if (checker.handler().duplicate()) {
      return tl::unexpected(core::InvalidArgument("The JSON body has a duplicate key."));
    }
    if (ec == json::error::too_deep) {
      return tl::unexpected(core::InvalidArgument("The JSON body is nested too deeply."));
    }
    return tl::unexpected(core::InvalidArgument("The request body is not valid JSON."));
  }
  json::value value = json::parse(json::string_view(body.data(), body.size()), ec,
                                  json::storage_ptr(), StrictOptions());
  if (ec) return tl::unexpected(core::InvalidArgument("The request body is not valid JSON."));
  return value;
}

core::Result<json::object> ParseJsonObject(std::string_view body) {
  auto value = ParseStrictJson(body);
  if (!value) return tl::unexpected(std::move(value.error()));
  if (!value->is_object()) {
    return tl::unexpected(core::InvalidArgument("The request body must be a JSON object."));
  }
  return std::move(value->as_object());
}

bool IsJsonContentType(std::string_view content_type) {
  auto semicolon = content_type.find(';');
  std::string_view media = content_type.substr(0, semicolon);
  while (!media.empty() && (media.back() == ' ' || media.back() == '\t')) media.remove_suffix(1);
  while (!media.empty() && (media.front() == ' ' || media.front() == '\t')) media.remove_prefix(1);
  return EqualsIgnoreCase(media, "application/json");
}

std::optional<json::object> ReadJsonBody(const Request& request, std::optional<Response>& error) {
  if (!IsJsonContentType(request.Header("content-type"))) {
    error = Problem(415, "The request body must be application/json.");
    return std::nullopt;
  }
  auto object = ParseJsonObject(request.body);
  if (!object) {
    error = ErrorResponse(request, object.error());
    return std::nullopt;
  }
  return std::move(*object);
}

ObjectReader::ObjectReader(const json::object& object,
                           std::initializer_list<std::string_view> allowed, std::string prefix)
    : object_(object), prefix_(std::move(prefix)) {
  for (const auto& entry : object_) {
    std::string_view key(entry.key().data(), entry.key().size());
    bool known = false;
    for (std::string_view name : allowed) {
      if (name == key) known = true;
    }
    // Clients choose unknown names: echo a bounded prefix only.
    if (!known) AddError(FieldName(key.substr(0, kMaxEchoedNameLength)), "unknown field");
  }
}

const json::value* ObjectReader::Raw(std::string_view name) const {
  return object_.if_contains(json::string_view(name.data(), name.size()));
}

bool ObjectReader::Has(std::string_view name) const { return Raw(name) != nullptr; }

std::optional<std::string> ObjectReader::String(std::string_view name, bool nullable) {
  const json::value* value = Raw(name);
  if (value == nullptr) return std::nullopt;
  if (value->is_null() && nullable) return std::nullopt;
  if (!value->is_string()) {
    AddError(FieldName(name), std::string("must be a string, not ") + TypeName(*value));
    return std::nullopt;
  }
  return std::string(value->get_string());
}

std::optional<bool> ObjectReader::Bool(std::string_view name) {
  const json::value* value = Raw(name);
  if (value == nullptr) return std::nullopt;
  if (!value->is_bool()) {
    AddError(FieldName(name), std::string("must be a boolean, not ") + TypeName(*value));
    return std::nullopt;
  }
  return value->get_bool();
}

std::optional<std::int64_t> ObjectReader::Int(std::string_view name) {
  const json::value* value = Raw(name);
  if (value == nullptr) return std::nullopt;
  if (value->is_int64()) return value->get_int64();
  AddError(FieldName(name), std::string("must be an integer, not ") + TypeName(*value));
  return std::nullopt;
}

std::optional<std::vector<std::string>> ObjectReader::StringArray(std::string_view name) {
  const json::value* value = Raw(name);
  if (value == nullptr) return std::nullopt;
  if (!value->is_array()) {
    AddError(FieldName(name), std::string("must be an array, not ") + TypeName(*value));
    return std::nullopt;
  }
  std::vector<std::string> out;
  const json::array& array = value->get_array();
  for (std::size_t i = 0; i < array.size(); ++i) {
    if (!array[i].is_string()) {
      AddError(FieldName(name) + "[" + std::to_string(i) + "]",
               std::string("must be a string, not ") + TypeName(array[i]));
      return std::nullopt;
    }
    out.emplace_back(array[i].get_string());
  }
  return out;
}

void ObjectReader::AddError(std::string field, std::string message) {
  errors_.push_back(core::FieldError{std::move(field), std::move(message)});
}

core::Result<void> ObjectReader::Finish() const {
  if (errors_.empty()) return core::Ok();
  std::string message = "The request body has invalid fields: ";
  for (std::size_t i = 0; i < errors_.size(); ++i) {
    if (i > 0) message += ", ";
    message += errors_[i].field;
  }
  message += ".";
  return tl::unexpected(core::InvalidArgument(std::move(message), errors_));
}

}  // namespace tokend::http
