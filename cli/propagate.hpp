// crashcapturectl propagate: gets an ssh target ready for captures
// (crashcapturectl(1), PROPAGATE).
#pragma once

#include <string>

#include "system-paths.hpp"

namespace crashcapture {

// Makes the capture's key when there is none, installs its public half in
// the server's authorized_keys and creates the target directory there, logged
// in as the admin (login_identity: a key of the admin's for ssh -i; empty:
// ssh's own defaults, which may ask for a password), records the server's
// host key on first contact, then checks that the capture's own key logs in
// and can write the directory. Returns crashcapturectl's exit status.
int propagate_ssh_key(const SystemPaths& paths, const std::string& login_identity, bool json);

}  // namespace crashcapture
