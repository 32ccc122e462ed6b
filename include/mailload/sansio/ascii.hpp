// SPDX-License-Identifier: BSL-1.0
// mailload/sansio/ascii.hpp — comparing protocol words without regard to the case of ASCII letters
#pragma once

#include <cstddef>
#include <string_view>

namespace mailload::sansio {

/// `c` with an upper-case ASCII letter made lower case (every other byte as it is).
constexpr char ascii_lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

/// Whether `a` and `b` are the same but for the case of their ASCII letters (SMTP's commands,
/// keywords and parameters, RFC 5321 2.4; Postfix's address prefixes).
constexpr bool equals_ignoring_case(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
    return true;
}

/// Whether `s` starts with `prefix` but for the case of their ASCII letters.
constexpr bool starts_with_ignoring_case(std::string_view s, std::string_view prefix) noexcept {
    return s.size() >= prefix.size() && equals_ignoring_case(s.substr(0, prefix.size()), prefix);
}

}  // namespace mailload::sansio
