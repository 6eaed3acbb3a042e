#include "http/handler_util.h"

#include <boost/json/serialize.hpp>
#include <charconv>

#include "http/json_mapping.h"

namespace tokend::http {

Response NoContent() {
  Response response;
  response.status = 204;
  return response;
}

Response Created(std::string_view location, const boost::json::value& body) {
  Response response = JsonResponse(201, body);
  response.Set("Location", location);
  return response;
}

core::Result<int> ParseLimit(const Request& request) {
  auto text = request.Query("limit");
  if (!text) return kDefaultPageSize;
  int value = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (ec != std::errc() || end != text->data() + text->size() || value < 1 ||
      value > kMaxPageSize) {
    return tl::unexpected(core::InvalidArgument("limit must be an integer from 1 to 200.",
                                                {{"limit", "must be an integer from 1 to 200"}}));
  }
  return value;
}

core::Result<void> CheckQueryParams(const Request& request,
                                    std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, value] : request.query) {
    bool known = false;
    for (std::string_view name : allowed) {
      if (key == name) known = true;
    }
    if (!known) {
      std::string field = key.substr(0, 64);
      return tl::unexpected(core::InvalidArgument("Unknown query parameter: " + field + ".",
                                                  {{field, "unknown query parameter"}}));
    }
  }
  return core::Ok();
}

core::Result<void> NoQueryParams(const Request& request) { return CheckQueryParams(request, {}); }

core::Result<void> RequireFields(const ObjectReader& reader,
                                 std::initializer_list<std::string_view> names) {
  std::vector<core::FieldError> missing;
  std::string message = "Required fields are missing:";
  for (std::string_view name : names) {
    const boost::json::value* value = reader.Raw(name);
    bool empty_string = value != nullptr && value->is_string() && value->get_string().empty();
    if (value == nullptr || value->is_null() || empty_string) {
      missing.push_back({reader.FieldName(name), "is required"});
      message += ' ';
      message += reader.FieldName(name);
    }
  }
  if (missing.empty()) return core::Ok();
  return tl::unexpected(core::ValidationFailed(message + ".", std::move(missing)));
}

}  // namespace tokend::http
