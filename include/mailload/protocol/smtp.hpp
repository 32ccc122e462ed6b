// SPDX-License-Identifier: BSL-1.0
// mailload/protocol/smtp.hpp — the smtp and lmtp protocol policies
#pragma once

#include <mailload/concepts.hpp>
#include <mailload/sansio/smtp_client.hpp>
#include <mailload/sansio/smtp_server.hpp>

#include <string_view>

namespace mailload {

/// SMTP (RFC 5321) as smtp-source speaks it: HELO, one reply after ".".
struct smtp {
    static constexpr std::string_view name = "smtp";
    static constexpr std::string_view default_port = "smtp";
    static constexpr bool is_lmtp = false;
    using client_content = sansio::message_builder;
    using client_algorithm = sansio::smtp_client;
    using server_algorithm = sansio::smtp_server;
    static client_content make_content(const sansio::client_config&, const sansio::message_options& m) {
        return client_content(m);
    }
};

/// LMTP (RFC 2033): LHLO, and one reply per accepted recipient after "." (both sides).
struct lmtp {
    static constexpr std::string_view name = "lmtp";
    static constexpr std::string_view default_port = "smtp";
    static constexpr bool is_lmtp = true;
    using client_content = sansio::message_builder;
    using client_algorithm = sansio::smtp_client;
    using server_algorithm = sansio::smtp_server;
    static client_content make_content(const sansio::client_config&, const sansio::message_options& m) {
        return client_content(m);
    }
};

static_assert(protocol<smtp>);
static_assert(protocol<lmtp>);

}  // namespace mailload
