#include "retention-settings.hpp"

#include <gtest/gtest.h>

using namespace crashcapture;

TEST(RetentionSettings, PercentagesAreOfTheFilesystemAndUnsetStaysUnset) {
    constexpr uint64_t kFilesystem = 1000ULL << 20;  // 1000 MiB
    RetentionSettings settings;
    RetentionPolicy unset = retention_policy_for(settings, kFilesystem);
    EXPECT_FALSE(unset.max_use_bytes);
    EXPECT_FALSE(unset.keep_free_bytes);
    EXPECT_EQ(unset.max_dumps, 0U);

    settings.max_use = SizeLimit{.is_percent = true, .percent = 25};
    settings.keep_free = SizeLimit{.bytes = 64ULL << 20};
    settings.keep_dumps = 3;
    const RetentionPolicy policy = retention_policy_for(settings, kFilesystem);
    ASSERT_TRUE(policy.max_use_bytes);
    EXPECT_EQ(*policy.max_use_bytes, 250ULL << 20);
    ASSERT_TRUE(policy.keep_free_bytes);
    EXPECT_EQ(*policy.keep_free_bytes, 64ULL << 20);
    EXPECT_EQ(policy.max_dumps, 3U);
    // The same settings on a filesystem twice the size: twice the share.
    EXPECT_EQ(*retention_policy_for(settings, 2 * kFilesystem).max_use_bytes, 500ULL << 20);
}
