// UTF-8 validation, needed where bytes meet text: D-Bus strings (dump ids)
// and JSON (file names in manifests; nlohmann::json throws type_error 316 on
// anything else).
#pragma once

#include <string_view>

namespace crashcapture {

// RFC 3629 well-formed UTF-8: no overlong forms, UTF-16 surrogates or values
// past U+10FFFF.
bool is_valid_utf8(std::string_view text);

}  // namespace crashcapture
