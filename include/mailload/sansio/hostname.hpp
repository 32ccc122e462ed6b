// SPDX-License-Identifier: BSL-1.0
// mailload/sansio/hostname.hpp — Postfix-compatible host name and address literal checks
#pragma once

#include <mailload/sansio/ascii.hpp>

#include <arpa/inet.h>

#include <string>
#include <string_view>

namespace mailload::sansio {

/// The outcome of a name check: empty `problem` means valid; otherwise it holds Postfix's
/// wording (e.g. "valid_hostname: misplaced hyphen: -a").
struct name_check {
    std::string problem;
    explicit operator bool() const noexcept { return problem.empty(); }
};

namespace detail {
inline name_check gripe(std::string_view who, std::string_view what, std::string_view name) {
    std::string s;
    s.reserve(who.size() + what.size() + name.size() + 4);
    s.append(who).append(": ").append(what).append(": ").append(name.substr(0, 100));
    return {std::move(s)};
}
inline bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
inline bool is_alnum(char c) noexcept {
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
}  // namespace detail

/// Postfix's valid_hostname(): labels of letters, digits, '_' and inner '-', at most 63
/// characters each, 255 in all, and not all-numeric.
inline name_check valid_hostname(std::string_view name) {
    constexpr std::string_view who = "valid_hostname";
    if (name.empty()) return {"valid_hostname: empty hostname"};
    std::size_t label = 0;
    bool non_numeric = false;
    for (std::size_t i = 0; i < name.size(); ++i) {
        const char c = name[i];
        const bool last = i + 1 == name.size();
        if (detail::is_alnum(c) || c == '_') {
            if (++label > 63) return detail::gripe(who, "hostname label too long", name);
            if (!detail::is_digit(c)) non_numeric = true;
        } else if (c == '.') {
            if (label == 0 || last) return detail::gripe(who, "misplaced delimiter", name);
            label = 0;
        } else if (c == '-') {
            non_numeric = true;
            if (++label == 1 || last || name[i + 1] == '.')
                return detail::gripe(who, "misplaced hyphen", name);
        } else {
            return detail::gripe(
                who, "invalid character " + std::to_string(static_cast<unsigned char>(c)) + "(decimal)", name);
        }
    }
    if (name.size() > 255)
        return {std::string(who) + ": bad length " + std::to_string(name.size()) + " for " +
                std::string(name.substr(0, 100)) + "..."};
    if (!non_numeric) return detail::gripe(who, "numeric hostname", name);
    return {};
}

/// Postfix's valid_ipv4_hostaddr(): a dotted quad of decimal octets.
inline name_check valid_ipv4_address(std::string_view addr) {
    constexpr std::string_view who = "valid_ipv4_hostaddr";
    if (addr.empty()) return {"valid_ipv4_hostaddr: empty address"};
    int octets = 0, value = 0;
    bool in_octet = false;
    for (std::size_t i = 0; i < addr.size(); ++i) {
        const char c = addr[i];
        if (detail::is_digit(c)) {
            if (!in_octet) {
                in_octet = true;
                value = 0;
                ++octets;
            }
            value = value * 10 + (c - '0');
            if (value > 255) return detail::gripe(who, "invalid octet value", addr);
        } else if (c == '.') {
            if (!in_octet || i + 1 == addr.size()) return detail::gripe(who, "misplaced dot", addr);
            if (octets == 1 && value == 0 && addr.find_first_not_of("0.") != std::string_view::npos)
                return detail::gripe(who, "bad initial octet value", addr);
            in_octet = false;
        } else {
            return detail::gripe(
                who, "invalid character " + std::to_string(static_cast<unsigned char>(c)) + "(decimal)", addr);
        }
    }
    if (octets != 4) return detail::gripe(who, "invalid octet count", addr);
    return {};
}

/// An IPv6 address in text form.
inline name_check valid_ipv6_address(std::string_view addr) {
    constexpr std::string_view who = "valid_ipv6_hostaddr";
    for (const char c : addr)
        if (!detail::is_digit(c) && !(c >= 'a' && c <= 'f') && !(c >= 'A' && c <= 'F') && c != ':' && c != '.')
            return {std::string(who) + ": invalid character " + std::to_string(static_cast<unsigned char>(c)) +
                    "(decimal) in IPv6 address: " + std::string(addr.substr(0, 100))};
    in6_addr out{};
    const std::string s(addr);
    if (s.empty() || s.size() > 45 || ::inet_pton(AF_INET6, s.c_str(), &out) != 1)
        return detail::gripe(who, "malformed IPv6 address", addr);
    return {};
}

/// Postfix's valid_mailhost_literal(): "[a.b.c.d]" or "[ipv6:addr]".
inline name_check valid_address_literal(std::string_view lit) {
    constexpr std::string_view who = "valid_mailhost_literal";
    if (!lit.starts_with('[')) return detail::gripe(who, "'[' expected at start", lit);
    const auto close = lit.find(']');
    if (close == std::string_view::npos) return detail::gripe(who, "']' expected at end", lit);
    if (close + 1 != lit.size()) return detail::gripe(who, "unexpected text after ']'", lit);
    std::string_view inner = lit.substr(1, close - 1);
    if (starts_with_ignoring_case(inner, "ipv6:")) return valid_ipv6_address(inner.substr(5));
    return valid_ipv4_address(inner);
}

/// A host name or a numeric (IPv4 or IPv6) address, as Postfix's host_port() accepts.
inline bool valid_host_or_address(std::string_view host) {
    return valid_hostname(host) || valid_ipv4_address(host) || valid_ipv6_address(host);
}

}  // namespace mailload::sansio
