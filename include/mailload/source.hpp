// SPDX-License-Identifier: BSL-1.0
// mailload/source.hpp — the load generator: S sessions sending M messages (smtp-source)
#pragma once

#include <mailload/concepts.hpp>
#include <mailload/concurrency/single_thread.hpp>
#include <mailload/error.hpp>
#include <mailload/io/connect.hpp>
#include <mailload/io/deadline.hpp>
#include <mailload/io/run.hpp>
#include <mailload/pacing/no_pacing.hpp>
#include <mailload/report/histogram.hpp>
#include <mailload/sansio/address.hpp>
#include <mailload/sansio/message_builder.hpp>
#include <mailload/sansio/smtp_client.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/error_code.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
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
    std::uint64_t seed = 0;              ///< random pacing seed (0: from the clock)
    sansio::client_config client;        ///< the dialog (the protocol policy sets `lmtp`)
    sansio::message_options message;     ///< the content
};

/// What a run did: totals over every session, and the error that ended it early, if any.
struct source_report {
    boost::system::error_code error;  ///< the first fatal error; success when the run completed
    std::string what;                 ///< that error in Postfix's words ("recipient rejected: 550 …")
    sansio::client_stats totals;
    std::uint64_t connections = 0;       ///< connections established
    std::uint64_t connect_failures = 0;  ///< failed connect() attempts, retried or not
    report::histogram latency;           ///< ns from a message's claim to its acceptance
    std::chrono::steady_clock::duration elapsed{};
    explicit operator bool() const noexcept { return !error; }
};

/// An observer that wants nothing. Observers may define any of:
/// `on_event(const sansio::client_event&)`, `on_connect_retry(error_code)` and
/// `on_connected(socket&)`; what they leave out costs nothing.
struct null_observer {};

/**
 * A load generator with every choice fixed at compile time.
 *
 * @tparam Protocol    smtp, lmtp or qmqp
 * @tparam Transport   inet<any>, inet<v4>, inet<v6> or unix_domain
 * @tparam Concurrency single_thread
 * @tparam Pacing      no_pacing, fixed_interval or random_interval
 *
 * @par Example
 * @code
 * mailload::source<mailload::smtp, mailload::inet_any> load{options};
 * auto report = load.run("127.0.0.1:2525");
 * @endcode
 */
template <protocol Protocol, transport Transport, concurrency Concurrency = single_thread, pacing Pacing = no_pacing>
class source {
public:
    using endpoint_type = typename Transport::protocol_type::endpoint;
    using socket_type = typename Transport::protocol_type::socket;

    explicit source(source_options options, Pacing pacing = {}) : opts_(std::move(options)), pacing_(pacing) {
        opts_.client.lmtp = Protocol::is_lmtp;
        opts_.client.pipeline_next = !Pacing::paced;  // claiming early would skip the wait
    }

    /// Parses and resolves `address` (`[inet:]host[:port]` or `unix:pathname`) and runs.
    template <class Observer = null_observer>
    source_report run(std::string_view address, Observer&& observer = {}) {
        auto parsed = sansio::parse_client_endpoint(address, Protocol::default_port);
        if (!parsed) return failed(std::move(parsed.error));
        if (!Transport::accepts(parsed.spec))
            return failed(std::string(address) + ": not an address of transport " + std::string(Transport::name));
        auto resolved = Transport::resolve(parsed.spec);
        if (!resolved) {
            if (parsed.spec.local) return failed(std::move(resolved.error));
            const std::string_view shown = address.starts_with("inet:") ? address.substr(5) : address;
            return failed(std::string(shown) + ": " + resolved.error);
        }
        return run_endpoint(resolved.endpoint, observer);
    }

    /// Runs to completion (or to the first fatal error) against `endpoint`.
    template <class Observer = null_observer>
    source_report run_endpoint(const endpoint_type& endpoint, Observer&& observer = {}) {
        report_ = {};
        claimed_ = 0;
        rcpt_sequence_ = 0;
        const auto started = std::chrono::steady_clock::now();
        const typename Protocol::client_content content = Protocol::make_content(opts_.client, opts_.message);
        {
            Concurrency loops;
            std::vector<std::unique_ptr<session>> sessions;  // destroyed before their event loops
            loops_ = &loops;
            std::seed_seq seq{opts_.seed ? opts_.seed : static_cast<std::uint64_t>(started.time_since_epoch().count())};
            std::vector<std::uint64_t> seeds(opts_.sessions);
            seq.generate(seeds.begin(), seeds.end());
            for (std::uint32_t i = 0; i < opts_.sessions; ++i) {
                sessions.push_back(std::make_unique<session>(loops.executor_for(i), opts_, content, rcpt_sequence_,
                                                             seeds[i]));
                auto& s = *sessions.back();
                boost::asio::co_spawn(s.socket.get_executor(), run_session(s, endpoint, observer), boost::asio::detached);
                boost::asio::co_spawn(s.socket.get_executor(), s.deadline.watch([&s] {
                    boost::system::error_code ignored;
                    s.socket.cancel(ignored);
                }),
                                      boost::asio::detached);
            }
            loops.run();
            loops_ = nullptr;
            for (auto& s : sessions) add(report_.totals, s->algo.stats());
        }  // after a fatal error, suspended coroutines are destroyed with their loops, never resumed
        report_.elapsed = std::chrono::steady_clock::now() - started;
        return std::move(report_);
    }

    const source_options& options() const noexcept { return opts_; }

private:
    struct session {
        session(const boost::asio::any_io_executor& ex, const source_options& o,
                const typename Protocol::client_content& b,
                std::atomic<std::uint64_t>& seq, std::uint64_t seed)
            : socket(ex), deadline(ex, o.timeout), algo(o.client, b, seq), rng(seed) {}
        socket_type socket;
        io::deadline deadline;
        typename Protocol::client_algorithm algo;
        std::chrono::steady_clock::time_point claimed_at;  // of the message in progress
        std::mt19937_64 rng;
    };

    static source_report failed(std::string what) {
        source_report r;
        r.error = boost::asio::error::invalid_argument;
        r.what = std::move(what);
        return r;
    }

    static void add(sansio::client_stats& to, const sansio::client_stats& from) {
        to.messages_sent += from.messages_sent;
        to.messages_accepted += from.messages_accepted;
        to.recipients_sent += from.recipients_sent;
        to.recipients_accepted += from.recipients_accepted;
        for (std::size_t i = 0; i < to.rejected.size(); ++i) to.rejected[i] += from.rejected[i];
    }

    bool messages_left() const noexcept { return claimed_ < opts_.messages; }

    /// Claims the next message: the number of messages still unclaimed after it (Postfix's
    /// Message-Id field, unique per message here), or nothing when all are taken.
    std::optional<std::uint32_t> claim() noexcept {
        const std::uint64_t n = claimed_++;
        if (n >= opts_.messages) return std::nullopt;
        return static_cast<std::uint32_t>(opts_.messages - n - 1);
    }

    void fatal(boost::system::error_code ec, std::string what) {
        if (!report_.error) {
            report_.error = ec;
            report_.what = std::move(what);
        }
        loops_->stop();
    }

    boost::asio::awaitable<void> pace(session& s) {
        if constexpr (Pacing::paced) co_await s.deadline.pause(pacing_.next_delay(s.rng));
        co_return;
    }

    // Connects gated by max_connecting (0: any number at once).
    boost::asio::awaitable<void> acquire_connect_slot(session& s) {
        if (opts_.max_connecting == 0) co_return;
        if (connecting_ < opts_.max_connecting) {
            ++connecting_;
            co_return;
        }
        boost::asio::steady_timer wake(s.socket.get_executor(), boost::asio::steady_timer::time_point::max());
        connect_waiters_.push_back(&wake);
        co_await wake.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));  // slot handed over
    }

    void release_connect_slot() {
        if (opts_.max_connecting == 0) return;
        if (connect_waiters_.empty()) {
            --connecting_;
            return;
        }
        connect_waiters_.front()->cancel();
        connect_waiters_.pop_front();
    }

    template <class Observer>
    struct handler {
        source& src;
        session& s;
        Observer& obs;

        void on_event(const typename Protocol::client_algorithm& algo) {
            if (algo.event().kind == sansio::client_event::accepted)
                src.report_.latency.record(static_cast<std::uint64_t>(
                    std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - s.claimed_at)
                        .count()));
            if constexpr (requires { obs.on_event(algo.event()); }) obs.on_event(algo.event());
        }

        boost::asio::awaitable<boost::system::error_code> next_message() {
            if (src.messages_left()) {
                co_await src.pace(s);
                if (auto left = src.claim()) {
                    s.claimed_at = std::chrono::steady_clock::now();
                    s.algo.set_left(*left);
                    co_return boost::system::error_code{};
                }
            }
            co_return boost::system::error_code(error::no_more_messages);
        }
    };

    template <class Observer>
    boost::asio::awaitable<void> run_session(session& s, endpoint_type endpoint, Observer& obs) {
        handler<Observer> h{*this, s, obs};
        for (bool first = true;; first = false) {
            if (!first) {
                if (!messages_left()) break;
                co_await pace(s);
            }
            const auto left = claim();
            if (!left) break;
            s.claimed_at = std::chrono::steady_clock::now();
            co_await acquire_connect_slot(s);
            auto ec = co_await io::connect(
                s.socket, endpoint, opts_.connect_attempts, s.deadline,
                [this](socket_type& sock) { Transport::prepare(sock, opts_.window_size); },
                [this, &obs](boost::system::error_code e) {
                    ++report_.connect_failures;
                    (void)obs;  // used only by observers that take on_connect_retry()
                    if constexpr (requires { obs.on_connect_retry(e); }) obs.on_connect_retry(e);
                });
            release_connect_slot();
            if (ec) {
                ++report_.connect_failures;
                fatal(ec, "connect: " + ec.message());
                break;
            }
            ++report_.connections;
            if constexpr (requires { obs.on_connected(s.socket); }) obs.on_connected(s.socket);
            s.algo.start(static_cast<std::uint32_t>(s.socket.native_handle()), *left);
            ec = co_await io::run(s.socket, s.algo, s.deadline, h);
            boost::system::error_code ignored;
            s.socket.close(ignored);  // SO_LINGER 0: an abortive close, as Postfix's
            if (ec) {
                fatal(ec, s.algo.failure_message(ec));
                break;
            }
        }
        s.deadline.stop();
    }

    source_options opts_;
    Pacing pacing_;
    Concurrency* loops_ = nullptr;
    source_report report_;
    std::uint64_t claimed_ = 0;
    std::atomic<std::uint64_t> rcpt_sequence_{0};
    std::uint32_t connecting_ = 0;
    std::deque<boost::asio::steady_timer*> connect_waiters_;
};

}  // namespace mailload
