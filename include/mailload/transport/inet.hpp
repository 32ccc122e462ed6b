// SPDX-License-Identifier: BSL-1.0
// mailload/transport/inet.hpp — TCP over IPv4 and/or IPv6: inet<any>, inet<v4>, inet<v6>
#pragma once

#include <mailload/concepts.hpp>
#include <mailload/sansio/address.hpp>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/socket_base.hpp>

#include <netdb.h>
#include <unistd.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>

namespace mailload {

/// Address families an inet transport may use (Postfix's default, -4, -6).
struct any {
    static constexpr int family = AF_UNSPEC;
    static constexpr std::string_view name = "inet";
};
struct v4 {
    static constexpr int family = AF_INET;
    static constexpr std::string_view name = "inet4";
};
struct v6 {
    static constexpr int family = AF_INET6;
    static constexpr std::string_view name = "inet6";
};

namespace detail {
/// Socket options every client connection gets: an abortive close (SO_LINGER 0, so no
/// TIME_WAIT piles up at high connection rates, as Postfix's tools do) and -T's buffer sizes.
template <class Socket>
void prepare_client_socket(Socket& s, const client_socket_options& o) {
    boost::system::error_code ignored;
    s.set_option(boost::asio::socket_base::linger(true, 0), ignored);
    if (o.window > 0) {
        s.set_option(boost::asio::socket_base::send_buffer_size(o.window), ignored);
        s.set_option(boost::asio::socket_base::receive_buffer_size(o.window), ignored);
    }
}
}  // namespace detail

/// TCP transport restricted to `Family` (any, v4 or v6).
template <class Family>
struct inet {
    using protocol_type = boost::asio::ip::tcp;
    static constexpr std::string_view name = Family::name;

    static bool accepts(const sansio::endpoint_spec& spec) noexcept { return !spec.local; }

    /// getaddrinfo(host, port) for this family; only the first address is used, as in Postfix.
    /// On failure `error` is getaddrinfo's own text ("Name or service not known").
    static resolved_endpoint<protocol_type::endpoint> resolve(const sansio::endpoint_spec& spec) {
        resolved_endpoint<protocol_type::endpoint> r;
        addrinfo hints{};
        hints.ai_family = Family::family;
        hints.ai_socktype = SOCK_STREAM;
        addrinfo* res = nullptr;
        const char* host = spec.host.empty() ? nullptr : spec.host.c_str();
        if (int rc = ::getaddrinfo(host, spec.port.c_str(), &hints, &res); rc != 0) {
            r.error = ::gai_strerror(rc);
            return r;
        }
        std::memcpy(r.endpoint.data(), res->ai_addr, res->ai_addrlen);
        r.endpoint.resize(res->ai_addrlen);
        ::freeaddrinfo(res);
        return r;
    }

    /// Client options, and TCP_NODELAY when asked: every write is a whole command, burst or
    /// message, so Nagle only ever holds back the last small segment of a write larger than one
    /// segment, until the sink's delayed ACK (W3, 1 MB messages: twice the throughput without
    /// it). Smaller messages skip the extra system call per connection.
    static void prepare(protocol_type::socket& s, const client_socket_options& o) {
        detail::prepare_client_socket(s, o);
        boost::system::error_code ignored;
        if (o.no_delay) s.set_option(boost::asio::ip::tcp::no_delay(true), ignored);
    }

    /// A listen address: a host resolves as for clients; no host means the wildcard, which for
    /// inet<any> is [::] accepting IPv4 too (Postfix's binds 0.0.0.0 only) — or 0.0.0.0 on a
    /// kernel without IPv6 —, for inet<v6> [::] IPv6 only, for inet<v4> 0.0.0.0.
    static resolved_endpoint<protocol_type::endpoint> resolve_listen(const sansio::endpoint_spec& spec) {
        if (!spec.host.empty()) return resolve(spec);
        const bool v4 = Family::family == AF_INET || (Family::family == AF_UNSPEC && !kernel_has_ipv6());
        return resolve(sansio::endpoint_spec{false, {}, v4 ? "0.0.0.0" : "::", spec.port});
    }

    /// Whether this kernel makes IPv6 sockets (Postfix's inet_proto_init() asks the same way).
    static bool kernel_has_ipv6() noexcept {
        const int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) return errno != EAFNOSUPPORT;
        ::close(fd);
        return true;
    }

    /// Opens, configures and binds a listening socket (SO_REUSEADDR; -T buffers; IPV6_V6ONLY
    /// off for inet<any>'s wildcard). On failure `what` says so in Postfix's words.
    static void bind(protocol_type::acceptor& a, const protocol_type::endpoint& ep, int window,
                     boost::system::error_code& ec, std::string& what) {
        a.open(ep.protocol(), ec);
        if (!ec) a.set_option(boost::asio::socket_base::reuse_address(true), ec);
        if (!ec && ep.address().is_v6()) a.set_option(boost::asio::ip::v6_only(Family::family == AF_INET6), ec);
        if (!ec && window > 0) {
            a.set_option(boost::asio::socket_base::send_buffer_size(window), ec);
            if (!ec) a.set_option(boost::asio::socket_base::receive_buffer_size(window), ec);
        }
        if (!ec) a.bind(ep, ec);
        if (ec) what = "bind " + ep.address().to_string() + " port " + std::to_string(ep.port()) + ": " + ec.message();
    }

    /// How a peer is named in dumps and logs: IPv4 dotted, IPv6 (v4-mapped shown as IPv4).
    static std::string peer_name(const protocol_type::endpoint& ep) {
        const auto a = ep.address();
        if (a.is_v6() && a.to_v6().is_v4_mapped())
            return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6()).to_string();
        return a.to_string();
    }
};

using inet_any = inet<any>;
using inet4 = inet<v4>;
using inet6 = inet<v6>;

static_assert(transport<inet_any>);
static_assert(transport<inet4>);
static_assert(transport<inet6>);

}  // namespace mailload
