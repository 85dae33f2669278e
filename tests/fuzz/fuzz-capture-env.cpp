// What the capture initrd's shell and systemd read: capture.env (sourced by
// crashcapture-capture with `.`) and the capture units' drop-ins, written
// from crashcapture.conf and from what the host reported (mount points,
// device names, an interface). Any of those may hold quotes, newlines or
// `$(...)`: the harness checks that every byte of them stays inside a
// shell value or a systemd value, so a configuration cannot run a command
// or add a directive in the capture kernel.
//
// Input: crashcapture.conf, NUL, then the host's strings one per line
// (target mount point, device, source, fstype, directory, interface,
// address, gateway, server).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "config.hpp"
#include "fuzz-support.hpp"
#include "initrd-plan.hpp"
#include "remote-target.hpp"

using namespace crashcapture;

namespace {

[[noreturn]] void fail(const char* what, std::string_view text) {
    std::fprintf(stderr, "%s in:\n%.*s\n", what, static_cast<int>(text.size()), text.data());
    std::abort();
}

// capture.env must be NAME='...' assignments only, a value made of
// single-quoted runs joined by \' (shell_quote()); POSIX.1-2017 XCU 2.2.2:
// nothing inside single quotes is special, so no other byte may be outside.
void check_capture_environment(std::string_view text) {
    size_t at = 0;
    while (at < text.size()) {
        if (text[at] == '#') {  // a comment line
            const auto end = text.find('\n', at);
            at = end == std::string_view::npos ? text.size() : end + 1;
            continue;
        }
        const auto equals = text.find('=', at);
        if (equals == std::string_view::npos || equals == at) {
            fail("capture.env: a line that is not NAME=", text);
        }
        for (size_t i = at; i < equals; ++i) {
            const char c = text[i];
            const bool name_char = (c >= 'A' && c <= 'Z') || c == '_' || (c >= '0' && c <= '9');
            if (!name_char || (i == at && c >= '0' && c <= '9')) {
                fail("capture.env: a variable name that is not [A-Z_][A-Z0-9_]*", text);
            }
        }
        at = equals + 1;
        bool quoted_once = false;
        for (;;) {
            if (at < text.size() && text[at] == '\'') {
                const auto close = text.find('\'', at + 1);
                if (close == std::string_view::npos) {
                    fail("capture.env: an unterminated quote", text);
                }
                at = close + 1;
                quoted_once = true;
            } else if (text.substr(at, 2) == "\\'") {
                at += 2;
            } else {
                break;
            }
        }
        if (!quoted_once) {
            fail("capture.env: a value that is not single-quoted", text);
        }
        if (at < text.size() && text[at] != '\n') {
            fail("capture.env: bytes after a quoted value", text);
        }
        ++at;
    }
}

// A drop-in must keep the lines the builder writes: comments, [Unit] and
// [Service], and the settings it sets (systemd.syntax(7): a newline in a
// value would start a directive of its own).
void check_dropin(std::string_view text) {
    static const std::vector<std::string_view> kSettings = {
        "SuccessAction=", "FailureAction=", "OnFailure=", "TimeoutStartSec="};
    size_t at = 0;
    while (at < text.size()) {
        const auto end = text.find('\n', at);
        const std::string_view line =
            text.substr(at, end == std::string_view::npos ? std::string_view::npos : end - at);
        at = end == std::string_view::npos ? text.size() : end + 1;
        if (line.empty() || line.front() == '#' || line == "[Unit]" || line == "[Service]") {
            continue;
        }
        bool known = false;
        for (const auto setting : kSettings) {
            known = known || line.substr(0, setting.size()) == setting;
        }
        if (!known) {
            fail("a drop-in line the builder does not write", text);
        }
        if (line.find('\\') != std::string_view::npos) {
            fail("a drop-in value with a backslash (a continuation line)", text);
        }
    }
}

std::vector<std::string> lines_of(std::string_view text, size_t count) {
    std::vector<std::string> lines(count);
    for (size_t i = 0; i < count && !text.empty(); ++i) {
        const auto end = text.find('\n');
        lines[i] = std::string(text.substr(0, end));
        text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    }
    return lines;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const auto [config_text, host_text] = fuzz::split_at_nul(data, size);
    const auto loaded =
        parse_config({{"/etc/crashcapture/crashcapture.conf", std::string(config_text)}});
    if (!loaded.errors.empty()) {
        return 0;  // the builder refuses a configuration with errors
    }
    const auto host = lines_of(host_text, 9);
    TargetFilesystem target;
    target.host_directory = loaded.config.target.path;
    target.mount_point = host[0];
    target.device = host[1];
    target.source = host[2];
    target.fstype = host[3];
    target.directory_in_filesystem = host[4];
    TargetFilesystem root = target;
    root.mount_point = "/";
    root.is_root_filesystem = true;
    CaptureNetwork network;
    network.interface = host[5];
    network.address = host[6];
    network.gateway = host[7];
    network.server_address = host[8];
    network.drivers = {host[5], host[3]};
    check_capture_environment(
        capture_environment(loaded.config, target, root, 4, root, network, root));
    check_capture_environment(capture_environment(loaded.config, root, root));
    check_dropin(capture_unit_dropin(loaded.config));
    check_dropin(fallback_unit_dropin(loaded.config));
    return 0;
}
