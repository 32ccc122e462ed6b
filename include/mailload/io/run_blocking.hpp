// SPDX-License-Identifier: BSL-1.0
// mailload/io/run_blocking.hpp — the blocking driver (thread_per_session): the same sans-io
// algorithms, carried out with blocking system calls on the calling thread
#pragma once

#include <mailload/concepts.hpp>
#include <mailload/error.hpp>
#include <mailload/sansio/action.hpp>

#include <boost/asio/error.hpp>
#include <boost/system/error_code.hpp>

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace mailload::io {

namespace detail {
inline boost::system::error_code errno_code(int e) noexcept {
    if (e == EAGAIN || e == EWOULDBLOCK || e == EINPROGRESS) return error::timeout;  // SO_*TIMEO ran out
    return {e, boost::system::system_category()};
}

/// Every blocking call on `fd` gives up after `limit` (0: never).
inline void set_time_limits(int fd, std::chrono::steady_clock::duration limit) noexcept {
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(limit).count();
    timeval tv{static_cast<time_t>(us / 1000000), static_cast<suseconds_t>(us % 1000000)};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}
}  // namespace detail

/**
 * io::connect()'s blocking twin: opens `socket`, lets `prepare(socket)` set its options, and
 * connects with a blocking connect(2) bounded by `limit`, up to `attempts` times (-C), calling
 * `on_retry(ec)` before each retry. The socket stays blocking, its reads and writes bounded by
 * `limit` too.
 */
template <class Socket, class Endpoint, class Prepare, class OnRetry>
boost::system::error_code connect_blocking(Socket& socket, const Endpoint& ep, std::uint32_t attempts,
                                           std::chrono::steady_clock::duration limit, Prepare prepare,
                                           OnRetry on_retry) {
    for (std::uint32_t attempt = 1;; ++attempt) {
        boost::system::error_code ec;
        socket.open(ep.protocol(), ec);
        if (ec) return ec;
        prepare(socket);
        detail::set_time_limits(socket.native_handle(), limit);
        int rc;
        do rc = ::connect(socket.native_handle(), ep.data(), static_cast<socklen_t>(ep.size()));
        while (rc != 0 && errno == EINTR);
        if (rc == 0) return {};
        ec = detail::errno_code(errno);
        boost::system::error_code ignored;
        socket.close(ignored);
        if (attempt >= attempts) return ec;
        on_retry(ec);
    }
}

/**
 * io::run()'s blocking twin: carries out `algo`'s actions on the connected blocking `socket`
 * until it asks to close or is done. Writes go out whole (sendmsg, no SIGPIPE); the end of the
 * stream reads as error::lost_connection and a time limit that ran out as error::timeout.
 * `handler.on_event(algo)` for each event, `handler.next_message()` for each next_message
 * action, `handler.pause(d)` for each wait (both return an error_code), and
 * `handler.on_written()` after each successful write once the algorithm has taken its result
 * and `handler.on_writing()` before each write, as io::run() does. No TLS: a `handshake` action
 * gets operation_not_supported.
 */
template <class Socket, sansio_algorithm Algorithm, class Handler>
boost::system::error_code run_blocking(Socket& socket, Algorithm& algo, Handler& handler) {
    const int fd = socket.native_handle();
    boost::system::error_code ec;
    std::size_t n = 0;
    bool written = false;
    for (;;) {
        const sansio::next_action act = algo.resume(ec, n);
        if constexpr (requires { handler.on_written(); })
            if (written) handler.on_written();
        written = false;
        ec = {};
        n = 0;
        switch (act.type()) {
        case sansio::action_type::write: {
            std::array<iovec, sansio::next_action::max_pieces> iov{};
            const auto pieces = act.out();
            for (std::size_t i = 0; i < pieces.size(); ++i)
                iov[i] = {const_cast<char*>(pieces[i].data()), pieces[i].size()};
            if constexpr (requires { handler.on_writing(); }) handler.on_writing();
            msghdr msg{};
            msg.msg_iov = iov.data();
            msg.msg_iovlen = pieces.size();
            while (msg.msg_iovlen > 0) {
                const ssize_t k = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
                if (k < 0) {
                    if (errno == EINTR) continue;
                    ec = detail::errno_code(errno);
                    break;
                }
                n += static_cast<std::size_t>(k);
                for (std::size_t left = static_cast<std::size_t>(k); msg.msg_iovlen > 0;) {  // skip what went out
                    if (left < msg.msg_iov->iov_len) {
                        msg.msg_iov->iov_base = static_cast<char*>(msg.msg_iov->iov_base) + left;
                        msg.msg_iov->iov_len -= left;
                        break;
                    }
                    left -= msg.msg_iov->iov_len;
                    ++msg.msg_iov;
                    --msg.msg_iovlen;
                }
            }
            written = !ec;
            break;
        }
        case sansio::action_type::read: {
            ssize_t k;
            do k = ::recv(fd, act.in().data(), act.in().size(), 0);
            while (k < 0 && errno == EINTR);
            if (k < 0) ec = detail::errno_code(errno);
            else if (k == 0) ec = error::lost_connection;
            else n = static_cast<std::size_t>(k);
            break;
        }
        case sansio::action_type::next_message:
            if constexpr (requires { handler.next_message(); }) ec = handler.next_message();
            else ec = error::no_more_messages;
            break;
        case sansio::action_type::event: handler.on_event(algo); break;
        case sansio::action_type::wait: ec = handler.pause(act.duration()); break;
        case sansio::action_type::handshake: ec = boost::asio::error::operation_not_supported; break;  // no TLS here
        case sansio::action_type::close: return {};
        case sansio::action_type::done: return act.error();
        }
    }
}

}  // namespace mailload::io
