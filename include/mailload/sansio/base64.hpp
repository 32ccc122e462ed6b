// SPDX-License-Identifier: BSL-1.0
// mailload/sansio/base64.hpp — base64 (RFC 4648 section 4) for SMTP AUTH's exchanges
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mailload::sansio {

/// Appends the base64 form of `in` to `out` (padded with '=').
inline void base64_encode(std::string_view in, std::string& out) {
    static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::size_t i = 0;
    for (; i + 3 <= in.size(); i += 3) {
        const std::uint32_t v = std::uint32_t(std::uint8_t(in[i])) << 16 | std::uint32_t(std::uint8_t(in[i + 1])) << 8 |
                                std::uint8_t(in[i + 2]);
        out += alphabet[v >> 18 & 63];
        out += alphabet[v >> 12 & 63];
        out += alphabet[v >> 6 & 63];
        out += alphabet[v & 63];
    }
    if (const std::size_t rest = in.size() - i; rest > 0) {
        std::uint32_t v = std::uint32_t(std::uint8_t(in[i])) << 16;
        if (rest == 2) v |= std::uint32_t(std::uint8_t(in[i + 1])) << 8;
        out += alphabet[v >> 18 & 63];
        out += alphabet[v >> 12 & 63];
        out += rest == 2 ? alphabet[v >> 6 & 63] : '=';
        out += '=';
    }
}

/// The bytes `in` encodes, or nothing when it is not canonical padded base64 (a length that is
/// not a multiple of 4, a byte outside the alphabet, '=' but at the end, non-zero pad bits).
/// At most `max_out` bytes are decoded: a longer input is refused as well.
inline std::optional<std::string> base64_decode(std::string_view in, std::size_t max_out = 4096) {
    static constexpr auto values = [] {
        std::array<std::int8_t, 256> t{};
        t.fill(-1);
        constexpr std::string_view a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        for (std::size_t i = 0; i < a.size(); ++i) t[static_cast<std::uint8_t>(a[i])] = static_cast<std::int8_t>(i);
        return t;
    }();
    if (in.size() % 4 != 0 || in.size() / 4 * 3 > max_out + 2) return std::nullopt;
    std::string out;
    out.reserve(in.size() / 4 * 3);
    for (std::size_t i = 0; i < in.size(); i += 4) {
        const bool last = i + 4 == in.size();
        const std::size_t pad = last ? (in[i + 3] == '=') + (in[i + 2] == '=' && in[i + 3] == '=') : 0;
        std::uint32_t v = 0;
        for (std::size_t k = 0; k < 4; ++k) {
            const std::int8_t d = k >= 4 - pad ? 0 : values[static_cast<std::uint8_t>(in[i + k])];
            if (d < 0) return std::nullopt;
            v = v << 6 | static_cast<std::uint32_t>(d);
        }
        if ((pad == 1 && (v & 0xff)) || (pad == 2 && (v & 0xffff))) return std::nullopt;
        out += static_cast<char>(v >> 16 & 0xff);
        if (pad < 2) out += static_cast<char>(v >> 8 & 0xff);
        if (pad < 1) out += static_cast<char>(v & 0xff);
    }
    if (out.size() > max_out) return std::nullopt;
    return out;
}

}  // namespace mailload::sansio
