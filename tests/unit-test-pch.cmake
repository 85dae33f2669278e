# crashcapture_unit_test_pch(TARGET): the headers nearly every unit test
# file includes, precompiled once for TARGET (unit-tests here, the fuzz
# build's unit-tests-asan): GoogleTest, GoogleMock and nlohmann/json parsed
# once instead of in each of the 40-odd files, in each of the four builds
# that compile the tests (Release, ASan+UBSan, TSan, arm64). Measured on
# test-config.cpp at -O3: 14.8 s to 13.1-13.4 s, about 10 %; most of a test
# file's time is its own code, not these headers.
# -DCMAKE_DISABLE_PRECOMPILE_HEADERS=ON compiles without it.
function(crashcapture_unit_test_pch target)
    target_precompile_headers(${target} PRIVATE <gtest/gtest.h> <gmock/gmock.h>
                              <nlohmann/json.hpp> <filesystem> <fstream> <string> <vector>)
endfunction()
