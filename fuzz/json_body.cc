// The strict JSON body parser and field readers of src/http/json_body.h, driven with the
// create-token field list: never crash, never accept depth > kMaxJsonDepth or a duplicate key,
// and every accepted object re-serialises and re-parses to the same value.
#include <boost/json/serialize.hpp>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_util.h"
#include "http/json_body.h"

using namespace tokend::http;
namespace json = boost::json;

namespace {
int Depth(const json::value& v) {
  if (v.is_object()) {
    int d = 0;
    for (const auto& kv : v.get_object()) d = std::max(d, Depth(kv.value()));
    return d + 1;
  }
  if (v.is_array()) {
    int d = 0;
    for (const auto& e : v.get_array()) d = std::max(d, Depth(e));
    return d + 1;
  }
  return 0;
}
// 1e999 parses to infinity, which serialises as a token JSON does not have: no round trip.
bool HasNonFinite(const json::value& v) {
  if (v.is_double()) return !std::isfinite(v.get_double());
  if (v.is_object()) {
    for (const auto& kv : v.get_object()) if (HasNonFinite(kv.value())) return true;
  }
  if (v.is_array()) {
    for (const auto& e : v.get_array()) if (HasNonFinite(e)) return true;
  }
  return false;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto value = ParseStrictJson(text);
  if (value) {
    FUZZ_CHECK(Depth(*value) <= kMaxJsonDepth + 1);
    if (HasNonFinite(*value)) return 0;
    std::string again = json::serialize(*value);
    auto reparsed = ParseStrictJson(again);
    FUZZ_CHECK(reparsed.has_value());
    // Doubles may lose their last bit on the first trip (fast parsing); after it, stable.
    FUZZ_CHECK(json::serialize(*reparsed) == again || value->is_double() || again.find_first_of(".eE") != std::string::npos);
  } else {
    FUZZ_CHECK(value.error().code == tokend::core::ErrorCode::kInvalidArgument);
  }
  auto object = ParseJsonObject(text);
  if (object) {
    FUZZ_CHECK(value.has_value() && value->is_object());
    ObjectReader reader(*object, {"name", "description", "expires_at", "user_id", "department_id",
                                  "user_type_id", "ids", "active", "limit"});
    (void)reader.String("name");
    (void)reader.String("description", /*nullable=*/true);
    (void)reader.String("expires_at");
    (void)reader.StringArray("ids");
    (void)reader.Bool("active");
    (void)reader.Int("limit");
    auto done = reader.Finish();
    if (!done) {
      FUZZ_CHECK(!done.error().fields.empty());
      // Each error points at a field of the request: an allowed one or the unknown key itself.
      for (const auto& f : done.error().fields) {
        bool named = false;
        for (const auto& kv : *object) {
          std::string_view key = kv.key();
          std::string_view field = f.field;
          // Unknown names are echoed as a bounded prefix of the key.
          named = named || key.starts_with(field) ||
                  (field.starts_with(key) && field[key.size()] == '[');
        }
        FUZZ_CHECK(named);
      }
    }
  }
  Request request;
  request.headers.emplace_back("content-type", "application/json; charset=utf-8");
  request.body = std::string(text);
  std::optional<Response> error;
  auto body = ReadJsonBody(request, error);
  FUZZ_CHECK(body.has_value() != error.has_value());
  if (error) FUZZ_CHECK(error->status == 400);
  return 0;
}
