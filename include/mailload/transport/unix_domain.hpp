// SPDX-License-Identifier: BSL-1.0
// mailload/transport/unix_domain.hpp — UNIX-domain stream sockets ("unix:pathname")
#pragma once

#include <mailload/concepts.hpp>
#include <mailload/sansio/address.hpp>
#include <mailload/transport/inet.hpp>

#include <boost/asio/local/stream_protocol.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <string_view>

namespace mailload {

/// UNIX-domain stream transport.
struct unix_domain {
    using protocol_type = boost::asio::local::stream_protocol;
    static constexpr std::string_view name = "unix";

    static bool accepts(const sansio::endpoint_spec& spec) noexcept { return spec.local; }

    static resolved_endpoint<protocol_type::endpoint> resolve(const sansio::endpoint_spec& spec) {
        resolved_endpoint<protocol_type::endpoint> r;
        if (spec.path.size() > sansio::max_unix_path) r.error = "unix-domain name too long: " + spec.path;
        else r.endpoint = protocol_type::endpoint(spec.path);
        return r;
    }

    static void prepare(protocol_type::socket& s, const client_socket_options& o) {
        detail::prepare_client_socket(s, o);
    }

    static resolved_endpoint<protocol_type::endpoint> resolve_listen(const sansio::endpoint_spec& spec) {
        return resolve(spec);
    }

    /// Removes a stale socket file, binds, and makes the socket world-writable (mode 0666), as
    /// Postfix's sinks do.
    static void bind(protocol_type::acceptor& a, const protocol_type::endpoint& ep, int window,
                     boost::system::error_code& ec, std::string& what) {
        const std::string path = ep.path();
        ::unlink(path.c_str());
        a.open(ep.protocol(), ec);
        if (!ec && window > 0) {
            a.set_option(boost::asio::socket_base::send_buffer_size(window), ec);
            if (!ec) a.set_option(boost::asio::socket_base::receive_buffer_size(window), ec);
        }
        if (!ec) a.bind(ep, ec);
        if (!ec && ::chmod(path.c_str(), 0666) != 0) ec.assign(errno, boost::system::system_category());
        if (ec) what = "bind: " + path + ": " + ec.message();
    }

    static std::string peer_name(const protocol_type::endpoint&) { return "local"; }
};

static_assert(transport<unix_domain>);

}  // namespace mailload
