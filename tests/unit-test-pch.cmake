# crashcapture_unit_test_pch(TARGET): the headers nearly every unit test
# file includes, precompiled once for TARGET (unit-tests here, the fuzz
# build's unit-tests-asan). GoogleTest, GoogleMock and nlohmann/json are
# most of a test file's compile time (about 5 s of its 9-15 s at -O3):
# parsed once instead of in each of the 40-odd files, in each of the four
# builds that compile the tests (Release, ASan+UBSan, TSan, arm64).
# -DCMAKE_DISABLE_PRECOMPILE_HEADERS=ON compiles without it.
function(crashcapture_unit_test_pch target)
    target_precompile_headers(${target} PRIVATE <gtest/gtest.h> <gmock/gmock.h>
                              <nlohmann/json.hpp> <filesystem> <fstream> <string> <vector>)
endfunction()
