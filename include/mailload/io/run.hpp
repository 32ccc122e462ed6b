// SPDX-License-Identifier: BSL-1.0
// mailload/io/run.hpp — the one driver: carries out a sans-io algorithm's actions on a stream
#pragma once

#include <mailload/concepts.hpp>
#include <mailload/error.hpp>
#include <mailload/io/deadline.hpp>
#include <mailload/sansio/action.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/system/error_code.hpp>

#include <array>
#include <cstddef>
#include <span>

namespace mailload::io {

/**
 * Runs `algo` on the connected `stream` until it asks to close or is done: writes and reads
 * under `dl`'s time limit (end of stream reads as error::lost_connection, an expired limit as
 * error::timeout); `wait` actions pause on `dl` (no time limit runs meanwhile). After each
 * successful write, once the algorithm has taken its result (and before the action it asks
 * for next is carried out), it calls `handler.on_written()`, and just before each write
 * `handler.on_writing()`, if the handler has them.
 * `handler.on_event()` is called for each `event` action and
 * `co_await handler.next_message()` for each `next_message` action; the latter's error code
 * goes back to the algorithm. A `handshake` action is `co_await handler.handshake()`, which
 * makes `handler.secure_stream()`, a TLS stream over `stream`, and handshakes; the dialog then
 * goes on over that stream (a second run(), which the handshake's result starts: `first`).
 * Without those members (a handler with no TLS) the algorithm gets operation_not_supported.
 * Returns success after `close`, or the `done` action's error.
 */
template <class Stream, sansio_algorithm Algorithm, class Handler>
boost::asio::awaitable<boost::system::error_code> run(Stream& stream, Algorithm& algo, deadline& dl,
                                                      Handler& handler, boost::system::error_code first = {}) {
    using boost::asio::as_tuple;
    using boost::asio::use_awaitable;
    boost::system::error_code ec = first;
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
            std::array<boost::asio::const_buffer, sansio::next_action::max_pieces> bufs;
            const auto pieces = act.out();
            for (std::size_t i = 0; i < pieces.size(); ++i) bufs[i] = boost::asio::buffer(pieces[i].data(), pieces[i].size());
            if constexpr (requires { handler.on_writing(); }) handler.on_writing();
            dl.begin();
            auto [e, k] = co_await boost::asio::async_write(
                stream, std::span<const boost::asio::const_buffer>(bufs.data(), pieces.size()),
                as_tuple(use_awaitable));
            ec = dl.end(e);
            n = k;
            written = !ec;
            break;
        }
        case sansio::action_type::read: {
            dl.begin();
            auto [e, k] = co_await stream.async_read_some(boost::asio::buffer(act.in().data(), act.in().size()), as_tuple(use_awaitable));
            ec = dl.end(e == boost::asio::error::eof ? boost::system::error_code(error::lost_connection) : e);
            n = k;
            break;
        }
        case sansio::action_type::next_message:
            if constexpr (requires { handler.next_message(); }) ec = co_await handler.next_message();
            else ec = error::no_more_messages;
            break;
        case sansio::action_type::event: handler.on_event(algo); break;
        case sansio::action_type::wait: ec = co_await dl.pause(act.duration()); break;
        case sansio::action_type::handshake:
            if constexpr (requires { handler.handshake(); handler.secure_stream(); }) {
                const boost::system::error_code result = co_await handler.handshake();
                co_return co_await run(handler.secure_stream(), algo, dl, handler, result);
            } else {
                ec = boost::asio::error::operation_not_supported;
            }
            break;
        case sansio::action_type::close: co_return boost::system::error_code{};
        case sansio::action_type::done: co_return act.error();
        }
    }
}

}  // namespace mailload::io
