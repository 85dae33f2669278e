// Prints the configuration's keys and defaults as the parser has them
// (Config::describe()): test-manpages.sh holds crashcapture.conf(5) and the
// packaged crashcapture.conf against it.
#include <iostream>

#include "config.hpp"

int main() {
    // A named default, not a temporary: GCC 12 at -O3 warns that the
    // temporary's Target strings "may be used uninitialized" (a false
    // positive of -Wmaybe-uninitialized through the inlined describe()).
    const crashcapture::Config defaults;
    std::cout << defaults.describe();
}
