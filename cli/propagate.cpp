#include "propagate.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <array>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "config.hpp"
#include "file-util.hpp"
#include "initrd-plan.hpp"
#include "process.hpp"
#include "remote-target.hpp"

namespace crashcapture {

namespace {

constexpr int kOk = 0;
constexpr int kFailed = 1;

int failed(const std::string& message) {
    std::cerr << "crashcapturectl propagate: " << message << '\n';
    return kFailed;
}

std::string this_host_name() {
    std::array<char, 256> name{};
    return ::gethostname(name.data(), name.size() - 1) == 0 ? std::string(name.data())
                                                            : std::string("localhost");
}

}  // namespace

int propagate_ssh_key(const SystemPaths& paths, const std::string& login_identity, bool json) {
    auto config = load_config(paths);
    if (!config) {
        return failed("the configuration has errors:\n" + config.error().message);
    }
    const Target& target = config->target;
    if (target.kind != TargetKind::ssh) {
        return failed(
            fmt::format("Target={} is not an ssh target: nothing to propagate "
                        "(crashcapture.conf(5), Target=ssh://[USER@]HOST[:PORT]/DIR)",
                        config->target_description()));
    }
    const std::string key = paths.resolve(kSshKeyPath);
    const std::string known_hosts = paths.resolve(kSshKnownHostsPath);
    const std::string key_directory = std::filesystem::path(key).parent_path().string();
    std::error_code error;
    std::filesystem::create_directories(key_directory, error);
    if (error || ::chmod(key_directory.c_str(), 0700) != 0) {
        return failed(fmt::format("cannot create {}: {}", key_directory,
                                  error ? error.message() : std::strerror(errno)));
    }

    bool made_key = false;
    if (::access(key.c_str(), F_OK) != 0) {
        // Ed25519: small, fast, and what every OpenSSH since 6.5 accepts.
        auto made = program_output({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C",
                                    "crashcaptured@" + this_host_name(), "-f", key},
                                   /*with_standard_error=*/true);
        if (!made) {
            return failed("cannot make the capture's key: " + made.error().message);
        }
        made_key = true;
        if (!json) {
            std::cout << "Made the capture's key " << key << ".\n";
        }
    }
    auto public_key = read_kernel_file(key + ".pub");
    if (!public_key) {
        return failed(public_key.error().message);
    }
    while (!public_key->empty() && public_key->back() == '\n') {
        public_key->pop_back();
    }

    // Logged in as the admin: the server's host key is recorded in the
    // capture's own known_hosts on first contact (as ssh-copy-id trusts it),
    // and a changed host key is refused.
    std::vector<std::string> login = {"ssh"};
    if (!login_identity.empty()) {
        login.insert(login.end(), {"-i", login_identity});
    }
    // HashKnownHosts=no: an admin can read which server the file pins
    // (Debian's ssh_config turns hashing on).
    login.insert(login.end(), {"-o", "StrictHostKeyChecking=accept-new", "-o",
                               "UserKnownHostsFile=" + known_hosts, "-o", "HashKnownHosts=no"});
    if (target.port != 0) {
        login.insert(login.end(), {"-p", std::to_string(target.port)});
    }
    const std::string quoted_key = shell_quote(*public_key);
    const std::string quoted_directory = shell_quote(target.path);
    login.push_back(ssh_destination(target));
    login.push_back(fmt::format(
        "umask 077 && mkdir -p ~/.ssh && touch ~/.ssh/authorized_keys && "
        "{{ grep -qxF {0} ~/.ssh/authorized_keys || echo {0} >> ~/.ssh/authorized_keys; }} && "
        "mkdir -p {1} && test -w {1}",
        quoted_key, quoted_directory));
    if (!json) {
        std::cout << fmt::format("Installing the key on {} (log in as the server's admin)...\n",
                                 ssh_destination(target));
    }
    if (auto ran = run_program(login); !ran || *ran != 0) {
        return failed(ran ? fmt::format("ssh {} failed (exit status {}): the key is not installed",
                                        ssh_destination(target), *ran)
                          : ran.error().message);
    }

    // What the capture will do: its key only, no prompt, the pinned host key.
    std::vector<std::string> check = {"ssh"};
    const auto options = ssh_options(target, key, known_hosts);
    check.insert(check.end(), options.begin(), options.end());
    check.push_back(ssh_destination(target));
    check.push_back(fmt::format("test -d {0} && test -w {0}", quoted_directory));
    if (auto checked = program_output(check, /*with_standard_error=*/true); !checked) {
        return failed(fmt::format(
            "the key is installed but the capture cannot use it: {} (does the server accept "
            "public keys for {}, with StrictModes satisfied?)",
            checked.error().message, target.user.empty() ? "root" : target.user));
    }
    auto fingerprint = program_output({"ssh-keygen", "-l", "-f", known_hosts});
    std::string host_key = fingerprint ? *fingerprint : std::string();
    while (!host_key.empty() && host_key.back() == '\n') {
        host_key.pop_back();
    }
    if (json) {
        std::cout << nlohmann::json{{"target", config->target_description()},
                                    {"key", key},
                                    {"made_key", made_key},
                                    {"known_hosts", known_hosts},
                                    {"server_host_key", host_key}}
                         .dump(2)
                  << '\n';
    } else {
        std::cout << fmt::format(
            "The capture can log in to {} with {} and write {}.\n"
            "Server host key (pinned in {}):\n  {}\n"
            "crashcaptured uses them at its next build: `crashcapturectl rebuild`.\n",
            ssh_destination(target), key, target.path, known_hosts, host_key);
    }
    return kOk;
}

}  // namespace crashcapture
