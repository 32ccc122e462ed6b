// SPDX-License-Identifier: BSL-1.0
// mailload/transport/unix_domain.hpp — UNIX-domain stream sockets ("unix:pathname")
#pragma once

#include <mailload/concepts.hpp>
#include <mailload/sansio/address.hpp>
#include <mailload/transport/inet.hpp>

#include <boost/asio/local/stream_protocol.hpp>

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

    static void prepare(protocol_type::socket& s, int window) { detail::prepare_client_socket(s, window); }
};

static_assert(transport<unix_domain>);

}  // namespace mailload
