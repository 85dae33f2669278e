// Prints the configuration's keys and defaults as the parser has them
// (Config::describe()): test-manpages.sh holds crashcapture.conf(5) and the
// packaged crashcapture.conf against it.
#include <iostream>

#include "config.hpp"

int main() {
    std::cout << crashcapture::Config{}.describe();
}
