// SPDX-License-Identifier: BSL-1.0
// mailload/tls/openssl.hpp — the TLS policy over OpenSSL, through Boost.Asio's SSL layer.
// Optional: not in <mailload/mailload.hpp>; a program that includes it links OpenSSL
// (-lssl -lcrypto; CMake: OpenSSL::SSL; Meson: dependency('openssl')).
#pragma once

#include <mailload/concepts.hpp>
#include <mailload/sansio/hostname.hpp>
#include <mailload/tls/no_tls.hpp>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/system/error_code.hpp>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace mailload {

/**
 * TLS by OpenSSL. A source makes one client_context per run; each of its sessions keeps a
 * resumption, so that every connection after a session's first resumes the TLS session of the
 * one before (RFC 5077 tickets or session ids, whichever the server offers). A sink makes one
 * server_context, from PEM files or with a self-signed certificate made at start.
 */
struct openssl_tls {
    static constexpr std::string_view name = "openssl";
    static constexpr bool enabled = true;

    /// A connection's TLS layer over its socket.
    template <class Socket>
    using stream = boost::asio::ssl::stream<Socket&>;

    /// A session's last resumable TLS session, offered to its next handshake.
    class resumption {
    public:
        resumption() = default;
        resumption(const resumption&) = delete;
        resumption& operator=(const resumption&) = delete;

        /// Offers the kept session to the handshake about to start on `ssl`.
        void offer(SSL* ssl) const noexcept {
            if (session_) SSL_set_session(ssl, session_.get());
        }
        /// At the end of a connection whose dialog ended well (TLS 1.3 tickets come after the
        /// handshake): keeps its session if it can be resumed. The connection is closed without
        /// a close_notify (as its socket is, abortively); marked as shut down, its session is not
        /// made unresumable when the stream is freed (OpenSSL's rule for connections cut short).
        void keep(SSL* ssl) noexcept {
            SSL_set_shutdown(ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
            session_ptr s(SSL_get1_session(ssl));
            if (s && SSL_SESSION_is_resumable(s.get())) session_ = std::move(s);
        }
        static bool resumed(SSL* ssl) noexcept { return SSL_session_reused(ssl) == 1; }

    private:
        struct free_session {
            void operator()(SSL_SESSION* s) const noexcept { SSL_SESSION_free(s); }
        };
        using session_ptr = std::unique_ptr<SSL_SESSION, free_session>;
        session_ptr session_;
    };

    /// A source's TLS: verification as asked, SNI, and where each handshake starts.
    class client_context {
    public:
        /// `default_name`: the host of the address (used when `o.server_name` is empty). On
        /// failure (a CA file that cannot be read) `error` says why.
        client_context(const tls_client_options& o, std::string_view default_name, std::string& error)
            : ctx_(boost::asio::ssl::context::tls_client),
              name_(o.server_name.empty() ? std::string(default_name) : o.server_name),
              verify_(o.verify) {
            boost::system::error_code ec;
            if (verify_) {
                ctx_.set_verify_mode(boost::asio::ssl::verify_peer, ec);
                if (!ec) {
                    if (o.ca_file.empty()) ctx_.set_default_verify_paths(ec);
                    else ctx_.load_verify_file(o.ca_file, ec);
                }
                if (ec) error = "TLS: cannot load " + (o.ca_file.empty() ? "the system's CAs" : o.ca_file) + ": " + ec.message();
            } else {
                ctx_.set_verify_mode(boost::asio::ssl::verify_none, ec);
            }
            // No client session cache: with one, OpenSSL makes a TLS 1.3 session unresumable once it
            // resumed a connection (single-use tickets), and servers that issue no new ticket after a
            // resumption (Postfix's smtpd) would get a full handshake every other connection.
        }

        /// A new TLS layer over `socket` in `slot`, ready for its client handshake: SNI (for a
        /// host name), the name check when verifying, the session `r` kept to resume.
        template <class Socket>
        stream<Socket>& start(std::optional<stream<Socket>>& slot, Socket& socket, const resumption& r) {
            auto& t = slot.emplace(socket, ctx_);
            boost::system::error_code ec;
            boost::asio::ip::make_address(name_, ec);
            if (ec && !name_.empty()) SSL_set_tlsext_host_name(t.native_handle(), name_.c_str());  // not for literals
            if (verify_) t.set_verify_callback(boost::asio::ssl::host_name_verification(name_));
            r.offer(t.native_handle());
            return t;
        }

    private:
        boost::asio::ssl::context ctx_;
        std::string name_;
        bool verify_;
    };

    /// A sink's TLS: its certificate and key, and a session cache for resumption.
    class server_context {
    public:
        /// With no certificate file, a self-signed certificate for `hostname` (and localhost,
        /// 127.0.0.1, ::1) on a new P-256 key, valid a week. On failure `error` says why.
        server_context(const tls_server_options& o, std::string_view hostname, std::string& error)
            : ctx_(boost::asio::ssl::context::tls_server) {
            boost::system::error_code ec;
            if (!o.cert_file.empty()) {
                ctx_.use_certificate_chain_file(o.cert_file, ec);
                if (ec) {
                    error = "TLS: cannot load certificate " + o.cert_file + ": " + ec.message();
                    return;
                }
                const std::string& key = o.key_file.empty() ? o.cert_file : o.key_file;
                ctx_.use_private_key_file(key, boost::asio::ssl::context::pem, ec);
                if (ec) {
                    error = "TLS: cannot load private key " + key + ": " + ec.message();
                    return;
                }
            } else if (!self_signed(hostname)) {
                error = "TLS: cannot make a self-signed certificate";
                return;
            }
            static constexpr unsigned char id[] = "mailload";
            SSL_CTX_set_session_id_context(ctx_.native_handle(), id, sizeof id - 1);
        }

        boost::asio::ssl::context& get() noexcept { return ctx_; }

    private:
        bool self_signed(std::string_view hostname) {
            struct free_key {
                void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
            };
            struct free_cert {
                void operator()(X509* x) const noexcept { X509_free(x); }
            };
            std::unique_ptr<EVP_PKEY, free_key> key(EVP_EC_gen("P-256"));
            std::unique_ptr<X509, free_cert> cert(X509_new());
            if (!key || !cert) return false;
            const std::string cn = sansio::valid_hostname(hostname) ? std::string(hostname) : "localhost";
            X509_set_version(cert.get(), 2);
            ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
            X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
            X509_gmtime_adj(X509_getm_notAfter(cert.get()), 7 * 24 * 3600);
            X509_set_pubkey(cert.get(), key.get());
            X509_NAME* name = X509_get_subject_name(cert.get());
            X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1,
                                       -1, 0);
            X509_set_issuer_name(cert.get(), name);
            X509V3_CTX v3;
            X509V3_set_ctx_nodb(&v3);
            X509V3_set_ctx(&v3, cert.get(), cert.get(), nullptr, nullptr, 0);
            const std::string san = "DNS:" + cn + (cn == "localhost" ? "" : ",DNS:localhost") + ",IP:127.0.0.1,IP:::1";
            X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, NID_subject_alt_name, san.c_str());
            if (!ext) return false;
            X509_add_ext(cert.get(), ext, -1);
            X509_EXTENSION_free(ext);
            return X509_sign(cert.get(), key.get(), EVP_sha256()) > 0 &&
                   SSL_CTX_use_certificate(ctx_.native_handle(), cert.get()) == 1 &&
                   SSL_CTX_use_PrivateKey(ctx_.native_handle(), key.get()) == 1;
        }

        boost::asio::ssl::context ctx_;
    };
};

static_assert(tls_policy<openssl_tls>);

}  // namespace mailload
