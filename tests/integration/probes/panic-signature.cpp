// Prints the crash signature of a kernel log (lib/dump/panic-signature.hpp)
// as "HASH TITLE": tests/e2e/run-crash-types.sh titles each captured
// vmcore-dmesg.txt with it and holds the titles of one crash type on two
// kernels against each other.
//   panic-signature-probe FILE
#include <fstream>
#include <iostream>
#include <sstream>

#include "panic-signature.hpp"

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: panic-signature-probe FILE\n";
        return 2;
    }
    std::ifstream in(argv[1], std::ios::binary);
    if (!in) {
        std::cerr << "panic-signature-probe: cannot read " << argv[1] << "\n";
        return 2;
    }
    std::stringstream text;
    text << in.rdbuf();
    const auto signature = crashcapture::panic_signature(text.str());
    if (signature.empty()) {
        std::cerr << "panic-signature-probe: no crash report in " << argv[1] << "\n";
        return 1;
    }
    std::cout << signature.hash << " " << signature.title << "\n";
    return 0;
}
