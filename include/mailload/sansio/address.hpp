// SPDX-License-Identifier: BSL-1.0
// mailload/sansio/address.hpp — "[inet:]host[:port]" and "unix:pathname" parsing (Postfix host_port rules)
#pragma once

#include <mailload/sansio/ascii.hpp>
#include <mailload/sansio/hostname.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace mailload::sansio {

/// A parsed endpoint argument: either a unix-domain path or an inet host and port (service).
struct endpoint_spec {
    bool local = false;  ///< true for "unix:pathname"
    std::string path;    ///< unix-domain socket path
    std::string host;    ///< inet host name or numeric address (empty: wildcard, servers only)
    std::string port;    ///< inet port number or service name
};

/// The result of parsing an endpoint argument: `error` is empty on success, otherwise it holds
/// the complete diagnostic in Postfix's words (e.g. `[::1: missing "]"`).
struct endpoint_parse {
    endpoint_spec spec;
    std::string error;
    explicit operator bool() const noexcept { return error.empty(); }
};

/// Longest unix-domain path a sockaddr_un holds, terminator excluded.
inline constexpr std::size_t max_unix_path = 107;

namespace detail {
inline endpoint_parse parse_endpoint(std::string_view arg, std::string_view default_port, bool server) {
    endpoint_parse r;
    auto fail = [&](std::string_view arg_shown, std::string_view why) {
        r.error.assign(arg_shown).append(": ").append(why);
        return r;
    };
    if (arg.starts_with("unix:")) {
        r.spec.local = true;
        r.spec.path = arg.substr(5);
        if (r.spec.path.size() > max_unix_path) r.error = "unix-domain name too long: " + r.spec.path;
        return r;
    }
    if (arg.starts_with("inet:")) arg.remove_prefix(5);
    std::string_view host, port;
    bool bracketed = false;
    if (arg.starts_with('[')) {
        bracketed = true;
        const auto close = arg.find(']');
        if (close == std::string_view::npos) return fail(arg, "missing \"]\"");
        host = arg.substr(1, close - 1);
        std::string_view rest = arg.substr(close + 1);
        if (!rest.empty() && rest.front() != ':') return fail(arg, "garbage after \"]\"");
        if (!rest.empty()) port = rest.substr(1);
        if (starts_with_ignoring_case(host, "ipv6:")) host.remove_prefix(5);
    } else if (const auto colon = arg.rfind(':'); colon != std::string_view::npos) {
        host = arg.substr(0, colon);
        port = arg.substr(colon + 1);
    } else if (server) {
        port = arg;  // a server's lone argument is the service: "2525" means "*:2525"
    } else {
        host = arg;
    }
    if (host.empty() && !server) return fail(arg, "missing host information");
    if (port.empty()) {
        if (default_port.empty()) return fail(arg, "missing service information");
        port = default_port;
    }
    if (!host.empty() && !bracketed && !valid_host_or_address(host))
        return fail(arg, "valid hostname or network address required");
    if (port.front() >= '0' && port.front() <= '9' &&
        port.find_first_not_of("0123456789") != std::string_view::npos)
        return fail(arg, "garbage after numerical service");
    r.spec.host = host;
    r.spec.port = port;
    return r;
}
}  // namespace detail

/// Parses a client target: `unix:pathname` or `[inet:]host[:port]`, with `default_port` used
/// when the port is left out (a service name such as "smtp", or digits such as "628").
inline endpoint_parse parse_client_endpoint(std::string_view arg, std::string_view default_port) {
    return detail::parse_endpoint(arg, default_port, false);
}

/// Parses a listen address: `unix:pathname` or `[inet:][host]:port` (no host: the wildcard).
inline endpoint_parse parse_server_endpoint(std::string_view arg) {
    return detail::parse_endpoint(arg, {}, true);
}

}  // namespace mailload::sansio
