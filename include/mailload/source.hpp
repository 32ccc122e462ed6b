// SPDX-License-Identifier: BSL-1.0
// mailload/source.hpp — the load generator: S sessions sending M messages (smtp-source)
#pragma once

#include <mailload/concepts.hpp>
#include <mailload/concurrency/single_thread.hpp>
#include <mailload/error.hpp>
#include <mailload/io/connect.hpp>
#include <mailload/io/deadline.hpp>
#include <mailload/io/run.hpp>
#include <mailload/io/run_blocking.hpp>
#include <mailload/pacing/no_pacing.hpp>
#include <mailload/report/histogram.hpp>
#include <mailload/sansio/address.hpp>
#include <mailload/sansio/message_builder.hpp>
#include <mailload/sansio/smtp_client.hpp>
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

#include <sys/socket.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace mailload {

/// Everything about a source run that is not a policy.
struct source_options {
    std::uint32_t sessions = 1;          ///< -s: sessions in parallel
    std::uint64_t messages = 1;          ///< -m: messages in all, over every session
    std::uint32_t connect_attempts = 1;  ///< -C: connect() attempts per connection
    std::uint32_t max_connecting = 0;    ///< connects in progress at once; 0: no limit; 1: Postfix's
    int window_size = 0;                 ///< -T: SO_SNDBUF and SO_RCVBUF before connect; 0: system's
    std::chrono::steady_clock::duration timeout = std::chrono::seconds(300);  ///< per operation
    std::chrono::steady_clock::duration duration{};  ///< no message starts this long after the run's start (0: none)
    std::uint32_t threads = 1;           ///< event loops, for the thread_pool policy
    std::uint64_t seed = 0;              ///< random pacing seed (0: from the clock)
    /// Signals that end the run early, as a fatal error would (error::stopped, "stopped by
    /// SIGTERM"), the report then holding what was accepted until then; not with blocking
    /// sessions (thread_per_session), which have no event loop to wait for them.
    std::vector<int> stop_signals;
    sansio::client_config client;        ///< the dialog (the protocol policy sets `lmtp`)
    sansio::message_options message;     ///< the content
    tls_client_options tls;              ///< when the dialog asks for TLS (and the Tls policy has it)
};

/// Replies counted by the stage of the dialog they answered and their code (000-999; QMQP's
/// status byte, 'K' = 75, for its one stage).
class reply_counts {
public:
    void add(sansio::client_stage stage, int code, std::uint64_t n = 1) noexcept {
        n_[static_cast<std::size_t>(stage)][static_cast<std::size_t>(code < 0 || code > 999 ? 0 : code)] += n;
    }
    std::uint64_t count(sansio::client_stage stage, int code) const noexcept {
        return n_[static_cast<std::size_t>(stage)][static_cast<std::size_t>(code)];
    }
    void merge(const reply_counts& o) noexcept {
        for (std::size_t s = 0; s < n_.size(); ++s)
            for (std::size_t c = 0; c < n_[s].size(); ++c) n_[s][c] += o.n_[s][c];
    }
    /// Calls `f(stage, code, count)` for every non-zero count, in order.
    template <class F>
    void for_each(F&& f) const {
        for (std::size_t s = 0; s < n_.size(); ++s)
            for (std::size_t c = 0; c < n_[s].size(); ++c)
                if (n_[s][c]) f(static_cast<sansio::client_stage>(s), static_cast<int>(c), n_[s][c]);
    }

private:
    std::array<std::array<std::uint64_t, 1000>, sansio::client_stage_count> n_{};
};

/// What a run did: totals over every session, and the error that ended it early, if any.
struct source_report {
    boost::system::error_code error;  ///< the first fatal error; success when the run completed
    std::string what;                 ///< that error in Postfix's words ("recipient rejected: 550 …")
    sansio::client_stats totals;
    std::uint64_t connections = 0;       ///< connections established
    std::uint64_t connect_failures = 0;  ///< failed connect() attempts, retried or not
    std::uint64_t late_starts = 0;       ///< open loop: messages that started over 1 ms after they were due
    std::uint64_t tls_handshakes = 0;    ///< TLS handshakes that succeeded
    std::uint64_t tls_resumed = 0;       ///< of which resumed an earlier TLS session
    /// ns from each message's start (its claim; open loop: when it was due) to its acceptance
    report::histogram latency;
    report::histogram connect_latency;  ///< ns of each successful connect
    report::histogram tls_latency;      ///< ns of each successful TLS handshake
    /// ns from the write of each command to its reply, by stage (greeting: from the connect)
    std::array<report::histogram, sansio::client_stage_count> reply_latency;
    reply_counts replies;
    /// connect failures and the I/O error that ended the run, counted by error
    std::vector<std::pair<boost::system::error_code, std::uint64_t>> io_errors;
    std::chrono::steady_clock::duration elapsed{};
    explicit operator bool() const noexcept { return !error; }

    void count_io_error(boost::system::error_code ec) {
        for (auto& [e, n] : io_errors)
            if (e == ec) return void(++n);
        io_errors.emplace_back(ec, 1);
    }

    /// Adds another part of the run (another thread's counters).
    void merge(const source_report& o) {
        totals += o.totals;
        connections += o.connections;
        connect_failures += o.connect_failures;
        late_starts += o.late_starts;
        tls_handshakes += o.tls_handshakes;
        tls_resumed += o.tls_resumed;
        latency.merge(o.latency);
        connect_latency.merge(o.connect_latency);
        tls_latency.merge(o.tls_latency);
        for (std::size_t i = 0; i < reply_latency.size(); ++i) reply_latency[i].merge(o.reply_latency[i]);
        replies.merge(o.replies);
        for (const auto& [e, n] : o.io_errors)
            for (std::uint64_t k = 0; k < n; ++k) count_io_error(e);
    }
};

/// An observer that wants nothing. Observers may define any of:
/// `on_event(const sansio::client_event&)`, `on_accepted(std::uint64_t latency_ns)` (after the
/// `accepted` event: the message's latency as the report counts it), `on_connect_retry(error_code)`
/// and `on_connected(socket&)`; what they leave out costs nothing. With more than one thread
/// (thread_pool, thread_per_session) they are called from each.
struct null_observer {};

namespace detail {

/**
 * What a source does once its address is resolved. It depends on the policies only through what
 * changes the code: the protocol's algorithm and content types (smtp and lmtp share them: LMTP is
 * client_config::lmtp), the socket protocol (inet<any>, inet<v4> and inet<v6> share TCP's), the
 * concurrency, the pacing and the TLS policy. So source<smtp, inet4, ...> and
 * source<lmtp, inet6, ...> run one engine, compiled once: a tool that dispatches over every
 * policy compiles a quarter of the code it would otherwise.
 */
template <class Algorithm, class Content, class SocketProtocol, concurrency Concurrency, pacing Pacing, class Tls>
class source_engine {
public:
    using endpoint_type = typename SocketProtocol::endpoint;
    using socket_type = typename SocketProtocol::socket;
    using clock = std::chrono::steady_clock;
    /// Sets a client socket's options before connect (the transport's prepare()).
    using prepare_fn = void (*)(socket_type&, const client_socket_options&);

    source_engine(source_options options, Pacing pacing, prepare_fn prepare)
        : opts_(std::move(options)), pacing_(pacing), prepare_(prepare) {
        opts_.client.replies = true;                  // each reply is timed and counted
        opts_.client.pipeline_next = !Pacing::paced;  // claiming early would skip the wait
        const std::size_t content = opts_.message.file_content ? opts_.message.file_content->size() : opts_.message.length;
        socket_options_ = {opts_.window_size, content > large_message};
    }

    /// A run that failed before it began, with `what` to say why.
    static source_report failed(std::string what) {
        source_report r;
        r.error = boost::asio::error::invalid_argument;
        r.what = std::move(what);
        return r;
    }

    /// Runs to completion (or to the first fatal error) against `endpoint`, sending `content`;
    /// `server_name` is the name TLS checks (the address's host).
    template <class Observer>
    source_report run(const endpoint_type& endpoint, const Content& content, std::string_view server_name,
                      Observer& observer) {
        if (opts_.client.starttls || opts_.client.tls_on_connect) {
            if constexpr (!Tls::enabled) {
                return failed("TLS is not available: this source's TLS policy is no_tls");
            } else if constexpr (Concurrency::blocking) {
                return failed("TLS is not available with blocking sessions (thread_per_session)");
            } else {
                std::string error;
                tls_.emplace(opts_.tls, server_name, error);
                if (!error.empty()) return failed(std::move(error));
            }
        }
        claimed_ = 0;
        rcpt_sequence_ = 0;
        stopping_ = false;
        connecting_ = 0;
        connect_waiters_.clear();
        error_ = {};
        what_.clear();
        started_ = clock::now();
        ends_ = opts_.duration.count() > 0 ? started_ + opts_.duration : clock::time_point::max();
        source_report report;
        {
            Concurrency loops(opts_.threads);
            std::vector<source_report> shards(Concurrency::blocking ? opts_.sessions : loops.size());
            std::vector<std::unique_ptr<session>> sessions;  // destroyed before their event loops
            loops_ = &loops;
            sessions_ = &sessions;
            std::seed_seq seq{opts_.seed ? opts_.seed : static_cast<std::uint64_t>(started_.time_since_epoch().count())};
            std::vector<std::uint64_t> seeds(opts_.sessions);
            seq.generate(seeds.begin(), seeds.end());
            for (std::uint32_t i = 0; i < opts_.sessions; ++i)
                sessions.push_back(std::make_unique<session>(loops.executor_for(i), opts_, content, rcpt_sequence_,
                                                             seeds[i], shards[i % shards.size()]));
            if constexpr (Concurrency::blocking) {
                std::vector<std::thread> threads;
                for (auto& s : sessions)
                    threads.emplace_back([this, &s, &endpoint, &observer] { run_session_blocking(*s, endpoint, observer); });
                for (auto& t : threads) t.join();
            } else {
                std::optional<boost::asio::signal_set> signals;
                if (!opts_.stop_signals.empty()) {
                    signals_ = &signals.emplace(loops.executor_for(0));
                    for (int sig : opts_.stop_signals) signals->add(sig);
                    signals->async_wait([this](boost::system::error_code ec, int sig) {
                        if (!ec) fatal(error::stopped, std::string("stopped by ") + signal_name(sig));
                    });
                }
                running_ = opts_.sessions;
                for (auto& sp : sessions) {
                    session& s = *sp;
                    boost::asio::co_spawn(s.socket.get_executor(), run_session(s, endpoint, observer),
                                          boost::asio::detached);
                    boost::asio::co_spawn(s.socket.get_executor(), watchdog(s), boost::asio::detached);
                }
                loops.run();
                signals_ = nullptr;
            }
            loops_ = nullptr;
            sessions_ = nullptr;
            for (const auto& shard : shards) report.merge(shard);
            for (auto& s : sessions) report.totals += s->algo.stats();
        }  // after a fatal error, suspended coroutines are destroyed with their loops, never resumed
        report.error = error_;
        report.what = std::move(what_);
        report.elapsed = clock::now() - started_;
        return report;
    }

    const source_options& options() const noexcept { return opts_; }

private:
    struct session {
        session(const boost::asio::any_io_executor& ex, const source_options& o, const Content& b,
                std::atomic<std::uint64_t>& seq, std::uint64_t seed, source_report& part)
            : socket(ex), deadline(ex, o.timeout), algo(o.client, b, seq), rng(seed), shard(part) {}
        socket_type socket;
        io::deadline deadline;
        Algorithm algo;
        std::optional<typename Tls::template stream<socket_type>> tls;  // the connection's, once secured
        typename Tls::resumption resume;  // the TLS session the next connection resumes
        std::mt19937_64 rng;
        source_report& shard;         // this session's thread's counters
        clock::time_point started_at;  // the message in progress: claimed (open loop: due)
        clock::time_point sent_at;     // the last write began (or the connect ended)
        std::mutex socket_mutex;       // blocking sessions: fatal() shuts connected_fd down from afar,
        int connected_fd = -1;         //   never after the session closed it
    };

    // The session's time limits: cancels an overdue operation. Never inlined: g++ 12 inlines the
    // ramp into run_endpoint and leaves a table outside the COMDAT group pointing at the frame's
    // destroy function, which fails to link once two translation units instantiate one source.
    [[gnu::noinline]] static boost::asio::awaitable<void> watchdog(session& s) {
        co_await s.deadline.watch([&s] {
            boost::system::error_code ignored;
            s.socket.cancel(ignored);
        });
    }

    /// A claimed message: its Message-Id field (messages left after it, Postfix's) and when it
    /// is due (open loop; otherwise now).
    struct claim_t {
        std::uint32_t left;
        clock::time_point due;
    };

    bool messages_left() const noexcept {
        return claimed_.load(std::memory_order_relaxed) < opts_.messages && !stopping_ &&
               (Pacing::open_loop || clock::now() < ends_);
    }

    /// Claims the next message, or nothing when all are taken (or --duration is over).
    std::optional<claim_t> claim() noexcept {
        if (stopping_) return std::nullopt;
        const std::uint64_t n = claimed_.fetch_add(1, std::memory_order_relaxed);
        if (n >= opts_.messages) return std::nullopt;
        const auto due = Pacing::open_loop ? started_ + pacing_.start_of(n) : clock::now();
        if (due >= ends_) return std::nullopt;
        return claim_t{static_cast<std::uint32_t>(opts_.messages - n - 1), due};
    }

    /// The wait before a closed-loop session's later message (-w, -R).
    std::optional<clock::duration> delay_before(session& s, bool first) {
        if constexpr (Pacing::paced && !Pacing::open_loop)
            if (!first) return pacing_.next_delay(s.rng);
        return std::nullopt;
    }

    /// The claimed message starts now: its latency counts from when it was due.
    void start_message(session& s, const claim_t& c) {
        const auto now = clock::now();
        if (Pacing::open_loop && now - c.due > std::chrono::milliseconds(1)) ++s.shard.late_starts;
        s.started_at = c.due;
    }

    // Waits as the pacing says, then claims: the next message (or none) of a session.
    boost::asio::awaitable<std::optional<claim_t>> next(session& s, bool first) {
        if (auto d = delay_before(s, first)) {
            if (!messages_left()) co_return std::nullopt;  // no wasted last delay
            co_await s.deadline.pause(*d);
        }
        auto c = claim();
        if (!c) co_return c;
        if (const auto now = clock::now(); c->due > now) co_await s.deadline.pause(c->due - now);
        start_message(s, *c);
        co_return c;
    }

    std::optional<claim_t> next_blocking(session& s, bool first) {
        if (auto d = delay_before(s, first)) {
            if (!messages_left() || pause_blocking(*d)) return std::nullopt;
        }
        auto c = claim();
        if (!c) return c;
        if (const auto now = clock::now(); c->due > now && pause_blocking(c->due - now)) return std::nullopt;
        start_message(s, *c);
        return c;
    }

    // Sleeps `d`; true if the run was stopped meanwhile.
    bool pause_blocking(clock::duration d) {
        std::unique_lock lock(stop_mutex_);
        return stop_cv_.wait_for(lock, d, [this] { return stopping_.load(); });
    }

    void fatal(boost::system::error_code ec, std::string what) {
        {
            std::lock_guard lock(stop_mutex_);
            if (!error_) {
                error_ = ec;
                what_ = std::move(what);
            }
            stopping_ = true;
        }
        stop_cv_.notify_all();
        { std::lock_guard lock(gate_mutex_); }  // a waiter between its test and its wait sees stopping_
        gate_cv_.notify_all();
        loops_->stop();
        if constexpr (Concurrency::blocking)
            for (auto& s : *sessions_) {  // wake every blocked read or write
                std::lock_guard lock(s->socket_mutex);
                if (s->connected_fd >= 0) ::shutdown(s->connected_fd, SHUT_RDWR);
            }
    }

    // Connects gated by max_connecting (0: any number at once), over every thread.
    boost::asio::awaitable<void> acquire_connect_slot(session& s) {
        if (opts_.max_connecting == 0) co_return;
        boost::asio::steady_timer wake(s.socket.get_executor(), boost::asio::steady_timer::time_point::max());
        {
            std::lock_guard lock(gate_mutex_);
            if (connecting_ < opts_.max_connecting) {
                ++connecting_;
                co_return;
            }
            connect_waiters_.push_back(&wake);
        }
        co_await wake.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));  // slot handed over
    }

    void acquire_connect_slot_blocking() {
        if (opts_.max_connecting == 0) return;
        std::unique_lock lock(gate_mutex_);
        gate_cv_.wait(lock, [this] { return connecting_ < opts_.max_connecting || stopping_; });
        ++connecting_;
    }

    void release_connect_slot() {
        if (opts_.max_connecting == 0) return;
        std::lock_guard lock(gate_mutex_);
        if (connect_waiters_.empty()) {
            --connecting_;
            gate_cv_.notify_one();
            return;
        }
        boost::asio::steady_timer* next = connect_waiters_.front();
        connect_waiters_.pop_front();
        boost::asio::post(next->get_executor(), [next] { next->cancel(); });  // on the waiter's thread
    }

    // What a session's protocol events and writes mean to the report: latencies and counts.
    template <class Observer>
    struct recorder {
        source_engine& src;
        session& s;
        Observer& obs;

        void on_writing() { s.sent_at = clock::now(); }

        void on_event(const Algorithm& algo) {
            const sansio::client_event& e = algo.event();
            if (e.kind == sansio::client_event::reply) {
                s.shard.reply_latency[static_cast<std::size_t>(e.stage)].record(elapsed_ns(s.sent_at));
                s.shard.replies.add(e.stage, e.code);
            } else if (e.kind == sansio::client_event::accepted) {
                const std::uint64_t ns = elapsed_ns(s.started_at);
                s.shard.latency.record(ns);
                if constexpr (requires { obs.on_accepted(ns); }) obs.on_accepted(ns);
            }
            if constexpr (requires { obs.on_event(e); }) obs.on_event(e);
        }

        static std::uint64_t elapsed_ns(clock::time_point since) {
            return static_cast<std::uint64_t>(
                std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now() - since).count());
        }
    };

    template <class Observer>
    struct handler : recorder<Observer> {
        boost::asio::awaitable<boost::system::error_code> next_message() {
            if (auto c = co_await this->src.next(this->s, false)) {
                this->s.algo.set_left(c->left);
                co_return boost::system::error_code{};
            }
            co_return boost::system::error_code(error::no_more_messages);
        }

        /// The algorithm asks for TLS: a client handshake on a new TLS layer over the socket,
        /// resuming the session's last TLS session, under the time limit; timed and counted.
        boost::asio::awaitable<boost::system::error_code> handshake()
            requires Tls::enabled
        {
            session& s = this->s;
            auto& tls = this->src.tls_->start(s.tls, s.socket, s.resume);
            const auto began = clock::now();
            s.deadline.begin();
            auto [e] = co_await tls.async_handshake(boost::asio::ssl::stream_base::client,
                                                    boost::asio::as_tuple(boost::asio::use_awaitable));
            const boost::system::error_code ec = s.deadline.end(e);
            if (!ec) {
                ++s.shard.tls_handshakes;
                if (Tls::resumption::resumed(tls.native_handle())) ++s.shard.tls_resumed;
                s.shard.tls_latency.record(recorder<Observer>::elapsed_ns(began));
            }
            co_return ec;
        }
        auto& secure_stream()
            requires Tls::enabled
        {
            return *this->s.tls;
        }
    };

    /// A connection ends: after a dialog that ended well (`ec`), its TLS session is kept for the
    /// next one to resume.
    static void end_tls(session& s, boost::system::error_code ec) {
        if constexpr (Tls::enabled) {
            if (s.tls) {
                if (!ec) s.resume.keep(s.tls->native_handle());
                s.tls.reset();
            }
        }
    }

    template <class Observer>
    struct blocking_handler : recorder<Observer> {
        boost::system::error_code next_message() {
            if (auto c = this->src.next_blocking(this->s, false)) {
                this->s.algo.set_left(c->left);
                return {};
            }
            return error::no_more_messages;
        }
        boost::system::error_code pause(clock::duration d) {
            return this->src.pause_blocking(d) ? boost::system::error_code(boost::asio::error::operation_aborted)
                                               : boost::system::error_code{};
        }
    };

    void on_connect_failure(session& s, boost::system::error_code ec) {
        ++s.shard.connect_failures;
        s.shard.count_io_error(ec);
    }

    /// After a connect: counts it, tells the observer, starts the dialog.
    template <class Observer>
    void connected(session& s, const claim_t& c, clock::time_point connect_began, Observer& obs) {
        s.sent_at = clock::now();
        ++s.shard.connections;
        s.shard.connect_latency.record(recorder<Observer>::elapsed_ns(connect_began));
        if constexpr (requires { obs.on_connected(s.socket); }) obs.on_connected(s.socket);
        s.algo.start(static_cast<std::uint32_t>(s.socket.native_handle()), c.left);
    }

    /// After a connection's dialog ended with `ec`: true if the session goes on.
    bool dialog_ended(session& s, boost::system::error_code ec) {
        if (!ec) return true;
        if (ec.category() != error_category() || ec == error::timeout || ec == error::lost_connection)
            s.shard.count_io_error(ec);
        fatal(ec, s.algo.failure_message(ec));
        return false;
    }

    template <class Observer>
    boost::asio::awaitable<void> run_session(session& s, endpoint_type endpoint, Observer& obs) {
        handler<Observer> h{{*this, s, obs}};
        for (bool first = true;; first = false) {
            const auto c = co_await next(s, first);
            if (!c) break;
            co_await acquire_connect_slot(s);
            const auto began = clock::now();
            auto ec = co_await io::connect(
                s.socket, endpoint, opts_.connect_attempts, s.deadline,
                [this](socket_type& sock) { prepare_(sock, socket_options_); },
                [this, &s, &obs](boost::system::error_code e) {
                    on_connect_failure(s, e);
                    (void)obs;  // used only by observers that take on_connect_retry()
                    if constexpr (requires { obs.on_connect_retry(e); }) obs.on_connect_retry(e);
                });
            release_connect_slot();
            if (ec) {
                on_connect_failure(s, ec);
                fatal(ec, "connect: " + ec.message());
                break;
            }
            connected(s, *c, began, obs);
            ec = co_await io::run(s.socket, s.algo, s.deadline, h);
            end_tls(s, ec);
            boost::system::error_code ignored;
            s.socket.close(ignored);  // SO_LINGER 0: an abortive close, as Postfix's
            if (!dialog_ended(s, ec)) break;
        }
        s.deadline.stop();
        if (running_.fetch_sub(1) == 1 && signals_)  // the last session: nothing more to stop
            boost::asio::post(signals_->get_executor(), [this] { signals_->cancel(); });
    }

    static const char* signal_name(int sig) noexcept {
        return sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "SIGINT" : sig == SIGHUP ? "SIGHUP" : "a signal";
    }

    template <class Observer>
    void run_session_blocking(session& s, const endpoint_type& endpoint, Observer& obs) {
        blocking_handler<Observer> h{{*this, s, obs}};
        for (bool first = true;; first = false) {
            const auto c = next_blocking(s, first);
            if (!c) break;
            acquire_connect_slot_blocking();
            const auto began = clock::now();
            auto ec = io::connect_blocking(  // a connect in progress is bounded by its time limit
                s.socket, endpoint, opts_.connect_attempts, opts_.timeout,
                [this](socket_type& sock) { prepare_(sock, socket_options_); },
                [this, &s, &obs](boost::system::error_code e) {
                    on_connect_failure(s, e);
                    (void)obs;
                    if constexpr (requires { obs.on_connect_retry(e); }) obs.on_connect_retry(e);
                });
            release_connect_slot();
            if (ec) {
                on_connect_failure(s, ec);
                fatal(ec, "connect: " + ec.message());
                break;
            }
            {
                std::lock_guard lock(s.socket_mutex);
                s.connected_fd = s.socket.native_handle();
            }
            if (!stopping_) {
                connected(s, *c, began, obs);
                ec = io::run_blocking(s.socket, s.algo, h);
            }
            {
                std::lock_guard lock(s.socket_mutex);
                s.connected_fd = -1;
                boost::system::error_code ignored;
                s.socket.close(ignored);
            }
            if (stopping_) break;
            if (!dialog_ended(s, ec)) break;
        }
    }

    source_options opts_;
    Pacing pacing_;
    prepare_fn prepare_;
    std::optional<typename Tls::client_context> tls_;  // a run's TLS, when its dialog asks for TLS
    Concurrency* loops_ = nullptr;
    std::vector<std::unique_ptr<session>>* sessions_ = nullptr;
    clock::time_point started_, ends_;
    static constexpr std::size_t large_message = 16384;  // over this, TCP_NODELAY (see inet::prepare)
    client_socket_options socket_options_;
    std::atomic<std::uint64_t> claimed_{0};
    std::atomic<std::uint64_t> rcpt_sequence_{0};
    std::atomic<std::uint32_t> running_{0};                  // sessions not yet ended (event loops)
    boost::asio::signal_set* signals_ = nullptr;           // the run's stop signals, while it runs
    std::atomic<bool> stopping_{false};
    std::mutex stop_mutex_;  // error_, what_; pause_blocking()'s wake-up
    std::condition_variable stop_cv_;
    boost::system::error_code error_;
    std::string what_;
    std::mutex gate_mutex_;  // the connect gate
    std::condition_variable gate_cv_;
    std::uint32_t connecting_ = 0;
    std::deque<boost::asio::steady_timer*> connect_waiters_;
};

}  // namespace detail

/**
 * A load generator with every choice fixed at compile time.
 *
 * @tparam Protocol    smtp, lmtp or qmqp
 * @tparam Transport   inet<any>, inet<v4>, inet<v6> or unix_domain
 * @tparam Concurrency single_thread, thread_pool or thread_per_session
 * @tparam Pacing      no_pacing, fixed_interval, random_interval or constant_rate
 * @tparam Tls         no_tls, or openssl_tls (<mailload/tls/openssl.hpp>) for STARTTLS and TLS on
 *                     connect (client_config::starttls, tls_on_connect)
 *
 * @par Example
 * @code
 * mailload::source<mailload::smtp, mailload::inet_any> load{options};
 * auto report = load.run("127.0.0.1:2525");
 * @endcode
 */
template <protocol Protocol, transport Transport, concurrency Concurrency = single_thread, pacing Pacing = no_pacing,
          tls_policy Tls = no_tls>
class source {
    using engine_type = detail::source_engine<typename Protocol::client_algorithm, typename Protocol::client_content,
                                              typename Transport::protocol_type, Concurrency, Pacing, Tls>;

public:
    using endpoint_type = typename engine_type::endpoint_type;
    using socket_type = typename engine_type::socket_type;
    using clock = std::chrono::steady_clock;

    explicit source(source_options options, Pacing pacing = {})
        : engine_(with_protocol(std::move(options)), pacing, &Transport::prepare) {}

    /// Parses and resolves `address` (`[inet:]host[:port]` or `unix:pathname`) and runs.
    template <class Observer = null_observer>
    source_report run(std::string_view address, Observer&& observer = {}) {
        auto parsed = sansio::parse_client_endpoint(address, Protocol::default_port);
        if (!parsed) return engine_type::failed(std::move(parsed.error));
        if (!Transport::accepts(parsed.spec))
            return engine_type::failed(std::string(address) + ": not an address of transport " +
                                       std::string(Transport::name));
        auto resolved = Transport::resolve(parsed.spec);
        if (!resolved) {
            if (parsed.spec.local) return engine_type::failed(std::move(resolved.error));
            const std::string_view shown = address.starts_with("inet:") ? address.substr(5) : address;
            return engine_type::failed(std::string(shown) + ": " + resolved.error);
        }
        return run_with(resolved.endpoint, parsed.spec.local ? "localhost" : parsed.spec.host, observer);
    }

    /// Runs to completion (or to the first fatal error) against `endpoint`.
    template <class Observer = null_observer>
    source_report run_endpoint(const endpoint_type& endpoint, Observer&& observer = {}) {
        return run_with(endpoint, "localhost", observer);
    }

    const source_options& options() const noexcept { return engine_.options(); }

private:
    static source_options with_protocol(source_options o) {
        o.client.lmtp = Protocol::is_lmtp;
        return o;
    }

    template <class Observer>
    source_report run_with(const endpoint_type& endpoint, std::string_view server_name, Observer& observer) {
        const typename Protocol::client_content content = Protocol::make_content(options().client, options().message);
        return engine_.run(endpoint, content, server_name, observer);
    }

    engine_type engine_;
};

}  // namespace mailload
