// SPDX-License-Identifier: BSL-1.0
// mailload/io/connect.hpp — connect with Postfix's -C retries, under the session's deadline
#pragma once

#include <mailload/io/deadline.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/error_code.hpp>

#include <cstdint>

namespace mailload::io {

/**
 * Opens `socket`, lets `prepare(socket)` set its options, and connects to `ep`, up to
 * `attempts` times in all (Postfix's -C, for stacks that answer SYN with RST when their listen
 * queue is full). Before each retry it calls `on_retry(ec)` with the failure. Returns the last
 * error, or success with the socket connected.
 */
template <class Socket, class Endpoint, class Prepare, class OnRetry>
boost::asio::awaitable<boost::system::error_code> connect(Socket& socket, const Endpoint& ep,
                                                          std::uint32_t attempts, deadline& dl,
                                                          Prepare prepare, OnRetry on_retry) {
    for (std::uint32_t attempt = 1;; ++attempt) {
        boost::system::error_code ec;
        socket.open(ep.protocol(), ec);
        if (ec) co_return ec;
        prepare(socket);
        dl.begin();
        auto [e] = co_await socket.async_connect(ep, boost::asio::as_tuple(boost::asio::use_awaitable));
        ec = dl.end(e);
        if (!ec) co_return ec;
        boost::system::error_code ignored;
        socket.close(ignored);
        if (attempt >= attempts) co_return ec;
        on_retry(ec);
    }
}

}  // namespace mailload::io
