# Compiler flags of the fuzzing build (-DCRASHCAPTURE_FUZZ=ON): every
# library object gets libFuzzer's coverage instrumentation
# (-fsanitize=fuzzer-no-link) and AddressSanitizer and
# UndefinedBehaviorSanitizer; any sanitizer report aborts, so the fuzzer
# records it as a crash.
if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "CRASHCAPTURE_FUZZ needs clang (libFuzzer): configure with "
                        "-DCMAKE_CXX_COMPILER=clang++")
endif()
set(CRASHCAPTURE_SANITIZERS -fsanitize=address,undefined -fno-sanitize-recover=all)
add_compile_options(${CRASHCAPTURE_SANITIZERS} -fsanitize=fuzzer-no-link -fno-omit-frame-pointer
                    -g)
add_link_options(${CRASHCAPTURE_SANITIZERS})
