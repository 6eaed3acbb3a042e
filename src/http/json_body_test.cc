#include "http/json_body.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tokend::http {
namespace {

using ::testing::ElementsAre;
using ::testing::Field;

TEST(ParseStrictJsonTest, AcceptsAnOrdinaryObject) {
  auto value = ParseJsonObject(R"({"name": "ci", "ids": ["a", "b"], "n": {"x": null}})");
  ASSERT_TRUE(value);
  EXPECT_EQ(value->size(), 3u);
}

TEST(ParseStrictJsonTest, RefusesDuplicateKeysAtAnyDepth) {
  for (const char* body : {R"({"a": 1, "a": 2})", R"({"x": {"a": 1, "b": 2, "a": 3}})",
                           R"([{"a": 1}, {"b": 1, "b": 1}])"}) {
    auto value = ParseStrictJson(body);
    ASSERT_FALSE(value) << body;
    EXPECT_EQ(value.error().code, core::ErrorCode::kInvalidArgument);
    EXPECT_EQ(value.error().public_message, "The JSON body has a duplicate key.");
  }
  // The same key in sibling objects is fine.
  EXPECT_TRUE(ParseStrictJson(R"([{"a": 1}, {"a": 2}])"));
}

TEST(ParseStrictJsonTest, RefusesDeepNestingWithoutCrashing) {
  std::string deep(100000, '[');
  auto value = ParseStrictJson(deep);
  ASSERT_FALSE(value);
  EXPECT_EQ(value.error().code, core::ErrorCode::kInvalidArgument);

  std::string at_limit(kMaxJsonDepth, '[');
  at_limit += std::string(kMaxJsonDepth, ']');
  EXPECT_TRUE(ParseStrictJson(at_limit));
  std::string beyond(kMaxJsonDepth + 1, '[');
  beyond += std::string(kMaxJsonDepth + 1, ']');
  EXPECT_FALSE(ParseStrictJson(beyond));
}

TEST(ParseStrictJsonTest, RefusesNonJsonAndNonObjects) {
  for (const char* body : {"", "{", "{'a': 1}", R"({"a": 1,})", "// x\n{}", "\xff", "[1]",
                           "\"text\"", R"({"a": 1} trailing)"}) {
    EXPECT_FALSE(ParseJsonObject(body)) << body;
  }
}

TEST(IsJsonContentTypeTest, AcceptsParametersAndCase) {
  EXPECT_TRUE(IsJsonContentType("application/json"));
  EXPECT_TRUE(IsJsonContentType("Application/JSON; charset=utf-8"));
  EXPECT_FALSE(IsJsonContentType("text/plain"));
  EXPECT_FALSE(IsJsonContentType("application/jsonx"));
  EXPECT_FALSE(IsJsonContentType(""));
}

TEST(ObjectReaderTest, NamesUnknownFieldsAndWrongTypes) {
  auto object = ParseJsonObject(R"({"name": 5, "extra": true, "ok": "yes", "list": ["a", 1]})");
  ASSERT_TRUE(object);
  ObjectReader reader(*object, {"name", "ok", "list"});
  EXPECT_FALSE(reader.String("name"));
  EXPECT_EQ(reader.String("ok").value_or(""), "yes");
  EXPECT_FALSE(reader.StringArray("list"));
  auto finished = reader.Finish();
  ASSERT_FALSE(finished);
  EXPECT_EQ(finished.error().code, core::ErrorCode::kInvalidArgument);
  EXPECT_THAT(finished.error().fields, ElementsAre(Field(&core::FieldError::field, "extra"),
                                                   Field(&core::FieldError::field, "name"),
                                                   Field(&core::FieldError::field, "list[1]")));
}

TEST(ObjectReaderTest, NullIsAllowedOnlyWhereNullable) {
  auto object = ParseJsonObject(R"({"a": null, "b": null})");
  ASSERT_TRUE(object);
  ObjectReader reader(*object, {"a", "b"});
  EXPECT_FALSE(reader.String("a", /*nullable=*/true));
  EXPECT_TRUE(reader.ok());
  EXPECT_FALSE(reader.String("b"));
  EXPECT_FALSE(reader.ok());
}

}  // namespace
}  // namespace tokend::http
