// SPDX-License-Identifier: BSL-1.0
// mailload/concepts.hpp — the four policy axes as C++20 concepts
#pragma once

#include <mailload/sansio/action.hpp>
#include <mailload/sansio/address.hpp>
#include <mailload/sansio/message_builder.hpp>
#include <mailload/sansio/smtp_client.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>

namespace mailload {

/// An endpoint a transport resolved from an endpoint_spec, or why it could not.
template <class Endpoint>
struct resolved_endpoint {
    Endpoint endpoint{};
    std::string error;  ///< empty on success; otherwise the complete diagnostic
    explicit operator bool() const noexcept { return error.empty(); }
};

/// What io::run() and io::run_blocking() drive: a sans-io algorithm. It owns its buffers, does no
/// I/O and reads no clock; the driver carries out each action it returns and resumes it.
///
/// | expression          | type        | semantics                                        |
/// |---------------------|-------------|--------------------------------------------------|
/// | `a.resume(ec, n)`   | next_action | the next action, given how the last one ended:   |
/// |                     |             | error code and bytes moved (first call: {}, 0)   |
template <class A>
concept sansio_algorithm = requires(A a, boost::system::error_code ec, std::size_t n) {
    { a.resume(ec, n) } -> std::same_as<sansio::next_action>;
};

/// Protocol policy: which algorithms speak to the peer. source and sink also call members of the
/// algorithms that the concept does not check (start(), event(), stats(), ...: docs/concepts.md).
///
/// | expression             | type             | semantics                                   |
/// |------------------------|------------------|---------------------------------------------|
/// | `P::name`              | string_view      | "smtp", "lmtp", "qmqp": the dispatch key    |
/// | `P::default_port`      | string_view      | the service when an address names no port   |
/// |                        |                  | ("smtp": 25; "628")                         |
/// | `P::is_lmtp`           | bool             | LHLO, and one reply per accepted recipient  |
/// |                        |                  | after "."                                   |
/// | `P::client_content`    | type             | what every message of a run is built from   |
/// | `P::make_content(c, m)`| client_content   | built once per run from client_config and   |
/// |                        |                  | message_options                             |
/// | `P::client_algorithm`  | sansio_algorithm | the client's protocol core, constructed from|
/// |                        |                  | (client_config, client_content, atomic seq) |
/// | `P::server_algorithm`  | sansio_algorithm | the server's protocol core, constructed from|
/// |                        |                  | (server_config, seed)                       |
template <class P>
concept protocol = requires {
    { P::name } -> std::convertible_to<std::string_view>;
    { P::default_port } -> std::convertible_to<std::string_view>;
    { P::is_lmtp } -> std::convertible_to<bool>;
    typename P::client_content;
    typename P::client_algorithm;
    typename P::server_algorithm;
} && requires(const sansio::client_config& c, const sansio::message_options& m) {
    { P::make_content(c, m) } -> std::same_as<typename P::client_content>;
} && sansio_algorithm<typename P::client_algorithm> && sansio_algorithm<typename P::server_algorithm>;

/// A client socket's options, set before connect.
struct client_socket_options {
    int window = 0;         ///< -T: SO_SNDBUF and SO_RCVBUF; 0: the system's
    bool no_delay = false;  ///< TCP_NODELAY (inet): for messages larger than one segment
};

/// Transport policy: the socket family and how an address argument becomes an endpoint. Below,
/// `spec` is a sansio::endpoint_spec, `s`, `a` and `ep` are a socket, an acceptor and an endpoint
/// of T::protocol_type, `opts` a client_socket_options, `window` an int (-T; 0: the system's),
/// `ec` an error_code& and `what` a std::string&.
///
/// | expression                         | type                        | semantics                        |
/// |------------------------------------|-----------------------------|----------------------------------|
/// | `T::name`                          | string_view                 | "inet", "inet4", "inet6", "unix" |
/// | `T::protocol_type`                 | an Asio stream protocol     | tcp or local::stream_protocol    |
/// | `T::accepts(spec)`                 | bool                        | the spec is of this transport    |
/// | `T::resolve(spec)`                 | resolved_endpoint<endpoint> | a client's endpoint, as Postfix  |
/// |                                    |                             | resolves it (first address only) |
/// | `T::prepare(s, opts)`              | void                        | set a client socket's options    |
/// |                                    |                             | before connect                   |
/// | `T::resolve_listen(spec)`          | resolved_endpoint<endpoint> | a listen address (no host: the   |
/// |                                    |                             | wildcard)                        |
/// | `T::bind(a, ep, window, ec, what)` | void                        | open, set options, bind; on      |
/// |                                    |                             | failure `what` says why          |
/// | `T::peer_name(ep)`                 | std::string                 | "127.0.0.1", "::1", "local"      |
template <class T>
concept transport = requires(const sansio::endpoint_spec& spec, typename T::protocol_type::socket& s,
                             typename T::protocol_type::acceptor& a, const typename T::protocol_type::endpoint& ep,
                             int window, const client_socket_options& opts, boost::system::error_code& ec,
                             std::string& what) {
    { T::name } -> std::convertible_to<std::string_view>;
    { T::accepts(spec) } -> std::same_as<bool>;
    { T::resolve(spec) } -> std::same_as<resolved_endpoint<typename T::protocol_type::endpoint>>;
    { T::resolve_listen(spec) } -> std::same_as<resolved_endpoint<typename T::protocol_type::endpoint>>;
    T::prepare(s, opts);
    T::bind(a, ep, window, ec, what);
    { T::peer_name(ep) } -> std::same_as<std::string>;
};

/// Concurrency policy: where sessions run and who runs the event loops.
///
/// | expression          | type              | semantics                                       |
/// |---------------------|-------------------|-------------------------------------------------|
/// | `C::name`           | string_view       | "single_thread", "thread_pool",                 |
/// |                     |                   | "thread_per_session": the dispatch key          |
/// | `C::blocking`       | bool (constant)   | true: each session is a thread of its own with  |
/// |                     |                   | blocking sockets (io/run_blocking.hpp)          |
/// | `C c(threads)`      |                   | `threads`: event loops wanted (a pool's size)   |
/// | `c.size()`          | size_t            | event loops (their counters are kept apart)     |
/// | `c.executor_for(i)` | any_io_executor   | the executor session i runs on (blocking: only  |
/// |                     |                   | the one its socket is made with)                |
/// | `c.run()`           | void              | run the loops until all work is done (blocking: |
/// |                     |                   | nothing; the source runs the threads)           |
/// | `c.stop()`          | void              | stop every loop now (a fatal error; any thread) |
template <class C>
concept concurrency = std::constructible_from<C, std::size_t> && requires(C& c, std::size_t i) {
    { C::name } -> std::convertible_to<std::string_view>;
    { C::blocking } -> std::convertible_to<bool>;
    { c.size() } -> std::convertible_to<std::size_t>;
    { c.executor_for(i) } -> std::convertible_to<boost::asio::any_io_executor>;
    c.run();
    c.stop();
};

/// Pacing policy: when each message starts. Closed loop (Postfix's -w and -R): a session waits
/// before each of its later messages. Open loop (--rate): message k of the run starts at a fixed
/// time whatever became of the others, and its latency counts from then. P is copy constructible
/// (the source keeps its own copy).
///
/// | expression          | type                      | semantics                                |
/// |---------------------|---------------------------|------------------------------------------|
/// | `P::name`           | string_view               | "none", "fixed", "random", "rate": the   |
/// |                     |                           | dispatch key                             |
/// | `P::paced`          | bool (constant)           | false: no timer is ever touched          |
/// | `P::open_loop`      | bool (constant)           | starts follow start_of(), not next_delay |
/// | `p.next_delay(rng)` | steady_clock::duration    | closed loop: the wait before a session's |
/// |                     |                           | next message (rng: the session's own)    |
/// | `p.start_of(k)`     | steady_clock::duration    | open loop: message k's start after the   |
/// |                     |                           | run's                                    |
template <class P>
concept pacing = std::copy_constructible<P> && requires(const P& p, std::mt19937_64& rng, std::uint64_t k) {
    { P::name } -> std::convertible_to<std::string_view>;
    { P::paced } -> std::convertible_to<bool>;
    { P::open_loop } -> std::convertible_to<bool>;
    { p.next_delay(rng) } -> std::convertible_to<std::chrono::steady_clock::duration>;
    { p.start_of(k) } -> std::convertible_to<std::chrono::steady_clock::duration>;
};

/// TLS policy: whether and how a source or sink secures its connections (STARTTLS, TLS on
/// connect). Below, `Socket` is a socket type.
///
/// | expression          | type             | semantics                                          |
/// |---------------------|------------------|----------------------------------------------------|
/// | `T::name`           | string_view      | "none", "openssl"                                  |
/// | `T::enabled`        | bool (constant)  | false: a dialog that asks for TLS fails at once    |
/// | `T::stream<Socket>` | type             | a TLS layer over a `Socket&`, with Boost.Asio's    |
/// |                     |                  | ssl::stream interface (async_handshake(), reads,   |
/// |                     |                  | writes, native_handle())                           |
/// | `T::client_context` | type             | a source run's TLS: verification, SNI, start()     |
/// | `T::server_context` | type             | a sink's TLS: its certificate, get()               |
/// | `T::resumption`     | type             | a source session's TLS session, to resume          |
template <class T>
concept tls_policy = requires {
    { T::name } -> std::convertible_to<std::string_view>;
    { T::enabled } -> std::convertible_to<bool>;
    typename T::client_context;
    typename T::server_context;
    typename T::resumption;
};

}  // namespace mailload
