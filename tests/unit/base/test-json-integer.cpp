#include "json-integer.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

using namespace crashcapture;
using ::testing::HasSubstr;

namespace {

nlohmann::json parse(std::string_view text) {
    return nlohmann::json::parse(text);
}

TEST(JsonInteger, IntegersInRangeAndWholeFloatsAreTaken) {
    EXPECT_EQ(json_integer<uint64_t>(parse("18446744073709551615")), UINT64_MAX);
    EXPECT_EQ(json_integer<int64_t>(parse("-9223372036854775808")), INT64_MIN);
    EXPECT_EQ(json_integer<int>(parse("4096.0")), 4096);
    EXPECT_EQ(json_integer<uint32_t>(parse("4294967295")), UINT32_MAX);
    const auto object = parse(R"({"bytes": 12})");
    EXPECT_EQ(json_integer(object, "bytes", uint64_t{7}), 12u);
    EXPECT_EQ(json_integer(object, "missing", uint64_t{7}), 7u);
}

TEST(JsonInteger, WhatCannotBeHeldIsAnErrorNotUndefinedBehaviour) {
    // The fuzzer's find: a float far beyond uint64_t (static_cast is UB).
    EXPECT_THROW(json_integer<uint64_t>(parse("4E96")), JsonIntegerError);
    EXPECT_THROW(json_integer<uint64_t>(parse("18446744073709551616.0")), JsonIntegerError);
    EXPECT_THROW(json_integer<int64_t>(parse("9223372036854775808.0")), JsonIntegerError);
    EXPECT_THROW(json_integer<uint64_t>(parse("-1")), JsonIntegerError);
    EXPECT_THROW(json_integer<int>(parse("4294967296")), JsonIntegerError);
    EXPECT_THROW(json_integer<int>(parse("1.5")), JsonIntegerError);
    try {
        json_integer(parse(R"({"bytes": -3})"), "bytes", uint64_t{0});
        ADD_FAILURE() << "no exception";
    } catch (const JsonIntegerError& e) {
        EXPECT_THAT(e.what(), HasSubstr("bytes: -3"));
    }
    // Not a number at all: nlohmann's own type error, as before.
    EXPECT_THROW(json_integer<int>(parse(R"("12")")), nlohmann::json::type_error);
}

}  // namespace
