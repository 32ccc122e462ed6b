// SPDX-License-Identifier: BSL-1.0
// mailload/io/deadline.hpp — one watchdog timer per session bounds every socket operation
#pragma once

#include <mailload/error.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/error_code.hpp>

#include <algorithm>
#include <chrono>

namespace mailload::io {

/**
 * A per-operation time limit without a timer operation per socket operation (Boost 1.81 has no
 * cancel_after). Each operation calls begin() and end(); one watchdog coroutine per session,
 * watch(), wakes at the operation's expiry (idle: one time limit from now) and cancels the
 * operation in progress if its time is up. Without end_by(), expiries only move forward while it
 * sleeps, so it never wakes late; an operation that must end sooner than the watchdog wakes
 * (end_by()'s limit is near, or past) wakes it from begin(). pause() is the session's other use
 * of time (pacing, delayed replies), and stop() ends both. end_by() adds a limit on the whole
 * session: no operation may run past it, however busy the peer keeps each one.
 */
class deadline {
public:
    using clock = std::chrono::steady_clock;

    deadline(const boost::asio::any_io_executor& ex, clock::duration limit)
        : timer_(ex), pause_(ex), limit_(limit) {}

    /// From now on no operation may run past `t` (a session's time limit).
    void end_by(clock::time_point t) noexcept { end_by_ = t; }

    /// An operation starts now.
    void begin() noexcept {
        expiry_ = std::min(clock::now() + limit_, end_by_);
        busy_ = true;
        expired_ = false;
        if (expiry_ < timer_.expiry()) timer_.cancel();  // the watchdog would wake too late
    }

    /// The operation ended with `ec`: error::timeout if the watchdog cancelled it.
    boost::system::error_code end(boost::system::error_code ec) noexcept {
        busy_ = false;
        return expired_ ? boost::system::error_code(error::timeout) : ec;
    }

    /// The watchdog: runs until stop(); calls `cancel()` when a busy operation overruns.
    template <class Cancel>
    boost::asio::awaitable<void> watch(Cancel cancel) {
        while (!stopped_) {
            const auto now = clock::now();
            if (busy_ && !expired_ && expiry_ <= now) {
                expired_ = true;
                cancel();
            }
            timer_.expires_at(busy_ && !expired_ ? expiry_ : now + limit_);
            co_await timer_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
        }
    }

    /// Waits `d` (no time limit runs meanwhile); operation_aborted if stop() came first.
    boost::asio::awaitable<boost::system::error_code> pause(clock::duration d) {
        if (stopped_) co_return boost::asio::error::operation_aborted;
        pause_.expires_after(d);
        auto [ec] = co_await pause_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
        co_return ec;
    }

    /// Ends the watchdog and any pause.
    void stop() {
        stopped_ = true;
        timer_.cancel();
        pause_.cancel();
    }

private:
    boost::asio::steady_timer timer_;
    boost::asio::steady_timer pause_;
    clock::duration limit_;
    clock::time_point expiry_ = clock::now();
    clock::time_point end_by_ = clock::time_point::max();
    bool busy_ = false;
    bool expired_ = false;
    bool stopped_ = false;
};

}  // namespace mailload::io
