// Prints what lib/arming/reservation.cpp computes, one JSON object a line,
// so that bench/capture-model.py can check that the constants and formula it
// copies still follow the daemon's (its "follows" command, a ctest):
//   reservation-probe KERNEL_BYTES INITRD_BYTES UNPACKED_BYTES MEMORY_BYTES...
#include <cstdlib>
#include <iostream>

#include <nlohmann/json.hpp>

#include "reservation.hpp"

int main(int argc, char** argv) {
    if (argc < 5) {
        std::cerr << "usage: reservation-probe KERNEL_BYTES INITRD_BYTES UNPACKED_BYTES "
                     "MEMORY_BYTES...\n";
        return 2;
    }
    const auto number = [](const char* text) { return std::strtoull(text, nullptr, 10); };
    for (int i = 4; i < argc; ++i) {
        const auto need = crashcapture::capture_memory_need(number(argv[1]), number(argv[2]),
                                                            number(argv[3]), number(argv[i]));
        std::cout << nlohmann::json{{"memory", number(argv[i])},
                                    {"needed", need.needed_bytes},
                                    {"recommended", need.recommended_bytes}}
                  << "\n";
    }
    std::cout << nlohmann::json{{"cpu_cost", crashcapture::capture_cpu_cost_bytes()}} << "\n";
}
