// SPDX-License-Identifier: BSL-1.0
// mailload/sink.hpp — the test server: accepts sessions and absorbs mail (smtp-sink)
#pragma once

#include <mailload/concepts.hpp>
#include <mailload/concurrency/single_thread.hpp>
#include <mailload/dump.hpp>
#include <mailload/error.hpp>
#include <mailload/io/deadline.hpp>
#include <mailload/io/run.hpp>
#include <mailload/sansio/address.hpp>
#include <mailload/sansio/smtp_server.hpp>
#include <mailload/tls/no_tls.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/stream_base.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstdint>
#include <ctime>
#include <list>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mailload {

/// Everything about a sink that is not a policy.
struct sink_options {
    int backlog = 128;                       ///< listen(2) backlog
    std::uint32_t max_sessions = 256;        ///< -m: sessions open at once; more wait in the backlog
    std::chrono::steady_clock::duration timeout = std::chrono::seconds(100);  ///< -t: per read or write
    /// a session's whole time: a peer that trickles bytes to beat `timeout` is cut off here (0: none)
    std::chrono::steady_clock::duration session_limit{};
    int window_size = 0;                     ///< -T: SO_SNDBUF and SO_RCVBUF of the listener
    std::uint64_t stop_after_messages = 0;   ///< -M: stop once this many messages are answered
    std::uint64_t stop_after_sessions = 0;   ///< -n: stop once this many sessions have ended
    std::chrono::steady_clock::duration stop_after_time{};  ///< qmqp-sink -x: stop this long after run()
    std::optional<dump_options> dump;        ///< -d / -D
    std::uint64_t seed = 0;                  ///< for -W odds and dump names (0: from the clock)
    std::vector<int> stop_signals;           ///< signals that stop the sink (e.g. SIGTERM, SIGINT)
    sansio::server_config server;            ///< the protocol behaviour (the protocol policy sets `lmtp`)
    tls_server_options tls;                  ///< when the server offers TLS (and the Tls policy has it)
};

/// Running totals (what smtp-sink's -c shows, and more).
struct sink_counters {
    std::uint64_t sessions = 0;    ///< sessions ended
    std::uint64_t quits = 0;       ///< QUIT commands
    std::uint64_t messages = 0;    ///< complete messages
    std::uint64_t recipients = 0;  ///< recipients of complete messages
    std::uint64_t data_bytes = 0;  ///< data bytes of the complete messages of ended sessions
    std::uint64_t accepted = 0;    ///< connections accepted
    std::uint64_t tls = 0;          ///< TLS handshakes that succeeded
    std::uint64_t tls_failed = 0;   ///< TLS handshakes that failed
    std::uint64_t auth = 0;         ///< AUTH exchanges that authenticated (server_config::users)
    std::uint64_t auth_failed = 0;  ///< AUTH exchanges that did not
    sansio::reply_tally replies;   ///< replies of ended sessions, by code
};

/// What a sink run did, and the error that ended it, if any.
struct sink_report {
    boost::system::error_code error;
    std::string what;
    int stop_signal = 0;  ///< the signal (of sink_options::stop_signals) that stopped it, if one did
    sink_counters totals;
    std::chrono::steady_clock::duration elapsed{};
    std::chrono::steady_clock::duration busy{};  ///< from the first connection to the last session's end
    explicit operator bool() const noexcept { return !error; }
};

/// Who a session talks to.
struct session_info {
    enum family_t : std::uint8_t { inet4, inet6, local };
    std::uint64_t id = 0;
    family_t family = local;
    std::string peer;  ///< "127.0.0.1", "::1" or "local"
};

/// Observers may define any of: `on_connect(const session_info&, socket&)`,
/// `on_event(const session_info&, const sansio::server_event&)`,
/// `on_disconnect(const session_info&, error_code, const Algorithm& session)` (the session's
/// protocol algorithm, for its stats() and how it ended: failed_while_writing(), ...).
struct null_sink_observer {};

namespace detail {

/**
 * What a sink does once it listens. It depends on the policies only through what changes the
 * code (the server algorithm, shared by smtp and lmtp; the socket protocol, shared by the inet
 * transports; the concurrency and the TLS policy), so that one engine serves every sink<...>
 * that differs only in the others.
 */
template <class Algorithm, class SocketProtocol, concurrency Concurrency, class Tls>
class sink_engine {
public:
    using endpoint_type = typename SocketProtocol::endpoint;
    using socket_type = typename SocketProtocol::socket;
    using acceptor_type = typename SocketProtocol::acceptor;
    /// How a peer is named in dumps and logs (the transport's peer_name()).
    using peer_name_fn = std::string (*)(const endpoint_type&);

    sink_engine(sink_options options, peer_name_fn peer_name)
        : opts_(std::move(options)), acceptor_(loops_.executor_for(0)), peer_name_(peer_name) {
        if (opts_.dump) opts_.server.content = true;
        if (opts_.server.starttls || opts_.server.tls_on_connect) {
            if constexpr (Tls::enabled) tls_.emplace(opts_.tls, opts_.server.hostname, tls_error_);
            else tls_error_ = "TLS is not available: this sink's TLS policy is no_tls";
        }
    }

    /// Why the sink cannot serve, before it listens (a TLS certificate it cannot load); empty: none.
    const std::string& setup_error() const noexcept { return tls_error_; }
    acceptor_type& acceptor() noexcept { return acceptor_; }
    const sink_options& options() const noexcept { return opts_; }

    /// The address listen() bound (an ephemeral port shows here).
    endpoint_type local_endpoint() const { return acceptor_.local_endpoint(); }

    /// Live totals, for observers (read them from the sink's own thread).
    const sink_counters& counters() const noexcept { return counters_; }

    /// Serves until stopped.
    template <class Observer>
    sink_report run(Observer& observer) {
        const auto started = std::chrono::steady_clock::now();
        rng_.seed(opts_.seed ? opts_.seed : static_cast<std::uint64_t>(started.time_since_epoch().count()));
        boost::asio::co_spawn(acceptor_.get_executor(), accept_loop(observer), boost::asio::detached);
        if (opts_.stop_after_time.count() > 0) {
            lifetime_.expires_after(opts_.stop_after_time);
            lifetime_.async_wait([this](boost::system::error_code ec) {
                if (!ec) shutdown();
            });
        }
        for (int sig : opts_.stop_signals) signals_.add(sig);
        if (!opts_.stop_signals.empty())
            signals_.async_wait([this](boost::system::error_code ec, int sig) {
                if (ec) return;
                report_.stop_signal = sig;
                shutdown();
            });
        loops_.run();
        report_.totals = counters_;
        report_.elapsed = std::chrono::steady_clock::now() - started;
        report_.busy = counters_.sessions ? last_end_ - first_accept_ : std::chrono::steady_clock::duration{};
        return std::move(report_);
    }

    /// Stops serving: closes the listener and every session (safe from any thread).
    void stop() {
        boost::asio::post(acceptor_.get_executor(), [this] { shutdown(); });
    }

private:
    struct session {
        session(socket_type&& s, const sink_options& o, std::mt19937_64& rng)
            : socket(std::move(s)), deadline(socket.get_executor(), o.timeout), algo(o.server, rng()) {
            if (o.dump) dump.emplace(*o.dump, o.server.hostname, rng);
        }
        socket_type socket;
        io::deadline deadline;
        Algorithm algo;
        std::optional<typename Tls::template stream<socket_type>> tls;  // once secured
        std::optional<dump_writer> dump;
        session_info info;
        std::uint64_t recipients_counted = 0;
        std::uint64_t stop_once_answered = 0;  // -M: stop once this many of ours are answered
    };

    void shutdown() {
        if (stopping_) return;
        stopping_ = true;
        boost::system::error_code ignored;
        acceptor_.close(ignored);
        slot_.cancel();
        lifetime_.cancel();
        signals_.cancel(ignored);
        for (session* s : sessions_) {
            s->socket.close(ignored);
            s->deadline.stop();
        }
    }

    void fatal(std::string what) {
        if (!report_.error) {
            report_.error = boost::asio::error::operation_aborted;
            report_.what = std::move(what);
        }
        shutdown();
    }

    template <class Observer>
    boost::asio::awaitable<void> accept_loop(Observer& obs) {
        using boost::asio::as_tuple;
        using boost::asio::use_awaitable;
        std::uint64_t next_id = 0;
        while (!stopping_) {
            if (sessions_.size() >= opts_.max_sessions) {  // -m: leave the rest in the backlog
                slot_.expires_at(boost::asio::steady_timer::time_point::max());
                co_await slot_.async_wait(as_tuple(use_awaitable));
                continue;
            }
            endpoint_type peer;  // from accept() itself: no getpeername()
            auto [ec, sock] =
                co_await acceptor_.async_accept(loops_.executor_for(next_id), peer, as_tuple(use_awaitable));
            if (stopping_) break;
            if (ec) {  // out of descriptors and the like: give sessions a moment to end
                slot_.expires_after(std::chrono::milliseconds(50));
                co_await slot_.async_wait(as_tuple(use_awaitable));
                continue;
            }
            if (++counters_.accepted == 1) first_accept_ = std::chrono::steady_clock::now();
            auto s = std::make_shared<session>(std::move(sock), opts_, rng_);
            s->info.id = ++next_id;
            s->info.peer = peer_name_(peer);
            const auto ex = s->socket.get_executor();
            boost::asio::co_spawn(ex, serve(std::move(s), obs), boost::asio::detached);
        }
    }

    template <class Observer>
    struct handler {
        sink_engine& k;
        session& s;
        Observer& obs;
        void on_event(const Algorithm& algo) { k.on_event(s, algo, obs); }
        void on_written() {
            if (s.stop_once_answered && s.algo.stats().answered >= s.stop_once_answered) k.shutdown();
        }

        /// The algorithm asks for TLS (STARTTLS, or TLS on connect): a server handshake on a new
        /// TLS layer over the socket, under the time limit; counted.
        boost::asio::awaitable<boost::system::error_code> handshake()
            requires Tls::enabled
        {
            auto& tls = s.tls.emplace(s.socket, k.tls_->get());
            s.deadline.begin();
            auto [e] = co_await tls.async_handshake(boost::asio::ssl::stream_base::server,
                                                    boost::asio::as_tuple(boost::asio::use_awaitable));
            const boost::system::error_code ec = s.deadline.end(e);
            ++(ec ? k.counters_.tls_failed : k.counters_.tls);
            co_return ec;
        }
        auto& secure_stream()
            requires Tls::enabled
        {
            return *s.tls;
        }
    };

    // A session that ended well (after QUIT's reply, or -q/-Q/-A) ends its TLS with a close_notify
    // (RFC 8446 6.1), and waits for the client's, or its close, within the time limit.
    static boost::asio::awaitable<void> close_tls(session& s) {
        s.deadline.begin();
        auto [e] = co_await s.tls->async_shutdown(boost::asio::as_tuple(boost::asio::use_awaitable));
        s.deadline.end(e);
    }

    // The watchdog shares the session, which lives until both it and serve() are done.
    static boost::asio::awaitable<void> watchdog(std::shared_ptr<session> s) {
        co_await s->deadline.watch([&s] {
            boost::system::error_code ignored;
            s->socket.cancel(ignored);
        });
    }

    template <class Observer>
    boost::asio::awaitable<void> serve(std::shared_ptr<session> owned, Observer& obs) {
        session& s = *owned;
        sessions_.push_back(&s);
        const auto me = std::prev(sessions_.end());
        boost::system::error_code ec;
        s.info.family = s.info.peer == "local"                               ? session_info::local
                        : s.info.peer.find(':') != std::string::npos ? session_info::inet6
                                                                             : session_info::inet4;
        if constexpr (requires { obs.on_connect(s.info, s.socket); }) obs.on_connect(s.info, s.socket);
        if (opts_.session_limit.count() > 0) s.deadline.end_by(std::chrono::steady_clock::now() + opts_.session_limit);
        boost::asio::co_spawn(s.socket.get_executor(), watchdog(owned), boost::asio::detached);
        handler<Observer> h{*this, s, obs};
        s.algo.start();
        ec = co_await io::run(s.socket, s.algo, s.deadline, h);
        if constexpr (Tls::enabled)
            if (s.tls && !ec) co_await close_tls(s);
        s.deadline.stop();
        s.tls.reset();
        boost::system::error_code ignored;
        s.socket.close(ignored);
        ++counters_.sessions;
        counters_.data_bytes += s.algo.stats().data_bytes;
        counters_.replies += s.algo.stats().replies;
        last_end_ = std::chrono::steady_clock::now();
        if constexpr (requires { obs.on_disconnect(s.info, ec, std::as_const(s.algo)); })
            obs.on_disconnect(s.info, ec, std::as_const(s.algo));
        sessions_.erase(me);
        slot_.cancel();
        if (s.stop_once_answered || (opts_.stop_after_sessions && counters_.sessions >= opts_.stop_after_sessions))
            shutdown();
    }

    template <class Observer>
    void on_event(session& s, const Algorithm& algo, Observer& obs) {
        const sansio::server_event& ev = algo.event();
        std::string err;
        switch (ev.kind) {
        case sansio::server_event::mail:
            if constexpr (requires { algo.helo_args(); })  // SMTP/LMTP: the only protocol with dumps
                if (s.dump && !s.dump->begin(std::time(nullptr), client_name(s), algo.proto(), algo.helo_args(),
                                             ev.args, err))
                    fatal(err);
            break;
        case sansio::server_event::rcpt:
            if (s.dump) s.dump->rcpt(ev.args, err);
            if (!err.empty()) fatal(err);
            break;
        case sansio::server_event::data:
            if (s.dump) s.dump->data(ev.cmd == sansio::smtp_command::bdat);
            break;
        case sansio::server_event::content:
            if (s.dump && ev.cmd == sansio::smtp_command::bdat) s.dump->chunk(ev.text, err);
            else if (s.dump) s.dump->content(ev.text, err);
            if (!err.empty()) fatal(err);
            break;
        case sansio::server_event::message:
            ++counters_.messages;
            counters_.recipients += algo.stats().recipients - s.recipients_counted;
            s.recipients_counted = algo.stats().recipients;
            if (s.dump && !s.dump->finish(err)) fatal(err);
            if (opts_.stop_after_messages && counters_.messages >= opts_.stop_after_messages)
                s.stop_once_answered = algo.stats().messages;  // the reply may be delayed, or never come
            break;
        case sansio::server_event::reset:
            if (s.dump) s.dump->abandon();
            break;
        case sansio::server_event::quit: ++counters_.quits; break;
        case sansio::server_event::auth: ++(ev.size == 235 ? counters_.auth : counters_.auth_failed); break;
        default: break;
        }
        if constexpr (requires { obs.on_event(s.info, ev); }) obs.on_event(s.info, ev);
    }

    static std::string client_name(const session& s) {
        return (s.info.family == session_info::inet6 ? "ipv6:" : "") + s.info.peer;
    }

    sink_options opts_;
    Concurrency loops_;
    acceptor_type acceptor_;
    boost::asio::steady_timer slot_{loops_.executor_for(0)};
    boost::asio::steady_timer lifetime_{loops_.executor_for(0)};
    boost::asio::signal_set signals_{loops_.executor_for(0)};
    std::list<session*> sessions_;
    std::mt19937_64 rng_;
    sink_counters counters_;
    std::chrono::steady_clock::time_point first_accept_, last_end_;
    sink_report report_;
    bool stopping_ = false;
    peer_name_fn peer_name_;
    std::optional<typename Tls::server_context> tls_;  // when the server offers TLS
    std::string tls_error_;
};

}  // namespace detail

/**
 * An SMTP/LMTP (or QMQP) sink with its policies fixed at compile time. listen() binds; run()
 * serves until stop() (from any thread), -M, -n, or a fatal dump error; afterwards no session is
 * left and no unfinished dump remains.
 *
 * @tparam Protocol    smtp, lmtp or qmqp
 * @tparam Transport   inet<any>, inet<v4>, inet<v6> or unix_domain
 * @tparam Concurrency single_thread
 * @tparam Tls         no_tls, or openssl_tls (<mailload/tls/openssl.hpp>) for STARTTLS and TLS on
 *                     connect (server_config::starttls, tls_on_connect)
 *
 * @par Example
 * @code
 * mailload::sink<mailload::smtp, mailload::unix_domain> sink{options};
 * if (auto err = sink.listen("unix:/tmp/sink.sock"); !err.empty()) return fail(err);
 * std::thread t([&] { report = sink.run(); });
 * ... run a client ...
 * sink.stop();
 * t.join();
 * @endcode
 */
template <protocol Protocol, transport Transport, concurrency Concurrency = single_thread, tls_policy Tls = no_tls>
class sink {
    using engine_type = detail::sink_engine<typename Protocol::server_algorithm, typename Transport::protocol_type,
                                            Concurrency, Tls>;

public:
    using endpoint_type = typename engine_type::endpoint_type;
    using socket_type = typename engine_type::socket_type;
    using acceptor_type = typename engine_type::acceptor_type;

    explicit sink(sink_options options) : engine_(with_protocol(std::move(options)), &Transport::peer_name) {}

    /// Binds and listens on `address` (`[inet:][host]:port` or `unix:pathname`); returns an
    /// empty string, or the diagnostic in Postfix's words (or why TLS cannot be offered).
    std::string listen(std::string_view address) {
        if (!engine_.setup_error().empty()) return engine_.setup_error();
        const auto parsed = sansio::parse_server_endpoint(address);
        if (!parsed) return parsed.error;
        if (!Transport::accepts(parsed.spec))
            return std::string(address) + ": not an address of transport " + std::string(Transport::name);
        auto resolved = Transport::resolve_listen(parsed.spec);
        if (!resolved) {
            if (parsed.spec.local) return resolved.error;
            return std::string(address.starts_with("inet:") ? address.substr(5) : address) + ": " + resolved.error;
        }
        acceptor_type& acceptor = engine_.acceptor();
        boost::system::error_code ec;
        std::string what;
        Transport::bind(acceptor, resolved.endpoint, engine_.options().window_size, ec, what);
        if (!ec) acceptor.listen(engine_.options().backlog, ec);
        if (ec) {
            boost::system::error_code ignored;
            acceptor.close(ignored);
            return what.empty() ? "listen: " + ec.message() : what;
        }
        return {};
    }

    /// The address listen() bound (an ephemeral port shows here).
    endpoint_type local_endpoint() const { return engine_.local_endpoint(); }

    /// Live totals, for observers (read them from the sink's own thread).
    const sink_counters& counters() const noexcept { return engine_.counters(); }

    /// Serves until stopped.
    template <class Observer = null_sink_observer>
    sink_report run(Observer&& observer = {}) {
        return engine_.run(observer);
    }

    /// Stops serving: closes the listener and every session (safe from any thread).
    void stop() { engine_.stop(); }

private:
    static sink_options with_protocol(sink_options o) {
        o.server.lmtp = Protocol::is_lmtp;
        return o;
    }

    engine_type engine_;
};

}  // namespace mailload
