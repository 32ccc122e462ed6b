// SPDX-License-Identifier: BSL-1.0
// mailload/tls/no_tls.hpp — the TLS axis: its settings, and the policy without TLS
#pragma once

#include <mailload/concepts.hpp>

#include <string>
#include <string_view>

namespace mailload {

/// A source's TLS settings, used when its dialog asks for TLS (STARTTLS or TLS on connect).
struct tls_client_options {
    bool verify = false;      ///< check the server's certificate chain and name (off: load tests)
    std::string ca_file;      ///< PEM file of trusted CAs (empty: the system's)
    std::string server_name;  ///< SNI, and the name verified (empty: the address's host)
};

/// A sink's TLS settings, used when its server_config offers TLS (STARTTLS or TLS on connect).
struct tls_server_options {
    std::string cert_file;  ///< PEM certificate chain (empty: a self-signed one made at start)
    std::string key_file;   ///< PEM private key (empty: in cert_file)
};

/// The TLS policy of sources and sinks that never secure a connection: nothing to link, and a
/// dialog that asks for TLS fails with a clear error. Its types are empty placeholders.
struct no_tls {
    static constexpr std::string_view name = "none";
    static constexpr bool enabled = false;
    template <class Socket>
    struct stream {};
    struct client_context {};
    struct server_context {};
    struct resumption {};
};

static_assert(tls_policy<no_tls>);

}  // namespace mailload
