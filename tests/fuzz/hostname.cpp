// SPDX-License-Identifier: BSL-1.0
// tests/fuzz/hostname.cpp — the Postfix-style name checks of sansio/hostname.hpp
//
// Input: the name to check, as is.
// Checks: valid_hostname and valid_ipv4_address accept exactly what a plain re-implementation
// of their documented rules accepts; an accepted IPv6 address parses with inet_pton; an
// address literal is accepted only as "[" + a valid IPv4 or "ipv6:" + valid IPv6 + "]";
// valid_host_or_address is the "or" of the three; a rejection always says why, in a bounded
// message (names are cut at 100 bytes).

#include <mailload/sansio/hostname.hpp>

#include <arpa/inet.h>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"

namespace {

using namespace mailload::sansio;

bool digit(char c) { return c >= '0' && c <= '9'; }
bool alnum(char c) { return digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

std::vector<std::string_view> split_dots(std::string_view s)
{
    std::vector<std::string_view> parts;
    for (;;)
    {
        const auto dot = s.find('.');
        parts.push_back(s.substr(0, dot));
        if (dot == std::string_view::npos)
            return parts;
        s.remove_prefix(dot + 1);
    }
}

// Labels of letters, digits, '_' and inner '-', 1..63 each, 255 in all, not all-numeric.
bool hostname_by_rule(std::string_view name)
{
    if (name.empty() || name.size() > 255)
        return false;
    bool numeric = true;
    for (const auto label : split_dots(name))
    {
        if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
            return false;
        for (char c : label)
        {
            if (!alnum(c) && c != '_' && c != '-')
                return false;
            if (!digit(c))
                numeric = false;
        }
    }
    return !numeric;
}

// Four dot-separated decimal octets <= 255 (leading zeros allowed); a first octet of 0 only in
// an address of nothing but zeros and dots.
bool ipv4_by_rule(std::string_view a)
{
    const auto parts = split_dots(a);
    if (parts.size() != 4)
        return false;
    unsigned first = 0;
    for (std::size_t i = 0; i < 4; ++i)
    {
        if (parts[i].empty())
            return false;
        unsigned v = 0;
        for (char c : parts[i])
        {
            if (!digit(c))
                return false;
            v = v * 10 + unsigned(c - '0');
            if (v > 255)
                return false;
        }
        if (i == 0)
            first = v;
    }
    return !(first == 0 && a.find_first_not_of("0.") != std::string_view::npos);
}

void check_problem(const name_check& r, std::size_t name_size)
{
    if (r)
        return;
    FUZZ_CHECK(!r.problem.empty());
    FUZZ_CHECK(r.problem.size() <= 200 + (name_size < 100 ? name_size : 100));
}

bool ci_starts_ipv6(std::string_view s)
{
    if (s.size() < 5)
        return false;
    std::string p(s.substr(0, 5));
    for (char& c : p)
        if (c >= 'A' && c <= 'Z')
            c = static_cast<char>(c - 'A' + 'a');
    return p == "ipv6:";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string_view s(reinterpret_cast<const char*>(data), size);

    const name_check h = valid_hostname(s);
    check_problem(h, s.size());
    FUZZ_CHECK(static_cast<bool>(h) == hostname_by_rule(s));

    const name_check v4 = valid_ipv4_address(s);
    check_problem(v4, s.size());
    FUZZ_CHECK(static_cast<bool>(v4) == ipv4_by_rule(s));
    if (v4)
        FUZZ_CHECK(!h);  // a dotted quad is all-numeric: never a host name

    const name_check v6 = valid_ipv6_address(s);
    check_problem(v6, s.size());
    if (v6)
    {
        in6_addr out{};
        const std::string z(s);
        FUZZ_CHECK(z.size() == s.size() && ::inet_pton(AF_INET6, z.c_str(), &out) == 1);
    }

    FUZZ_CHECK(valid_host_or_address(s) == (h || v4 || v6));

    const name_check lit = valid_address_literal(s);
    check_problem(lit, s.size());
    if (lit)
    {
        FUZZ_CHECK(s.size() >= 2 && s.front() == '[' && s.back() == ']');
        const std::string_view inner = s.substr(1, s.size() - 2);
        FUZZ_CHECK(inner.find(']') == std::string_view::npos);
        FUZZ_CHECK(
            ci_starts_ipv6(inner) ? static_cast<bool>(valid_ipv6_address(inner.substr(5)))
                                  : ipv4_by_rule(inner)
        );
    }
    return 0;
}
