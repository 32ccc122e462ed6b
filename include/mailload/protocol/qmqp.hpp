// SPDX-License-Identifier: BSL-1.0
// mailload/protocol/qmqp.hpp — the qmqp protocol policy (QMQP: one netstring per connection)
#pragma once

#include <mailload/concepts.hpp>
#include <mailload/sansio/qmqp.hpp>

#include <string_view>

namespace mailload {

/// QMQP as qmqp-source and qmqp-sink speak it: one request netstring, one reply, per connection.
struct qmqp {
    static constexpr std::string_view name = "qmqp";
    static constexpr std::string_view default_port = "628";
    static constexpr bool is_lmtp = false;
    using client_content = sansio::qmqp_request;
    using client_algorithm = sansio::qmqp_client;
    using server_algorithm = sansio::qmqp_server;
    static client_content make_content(const sansio::client_config& c, const sansio::message_options& m) {
        return client_content(c, m);
    }
};

static_assert(protocol<qmqp>);

}  // namespace mailload
