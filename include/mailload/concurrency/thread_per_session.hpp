// SPDX-License-Identifier: BSL-1.0
// mailload/concurrency/thread_per_session.hpp — a thread and blocking sockets for each session
#pragma once

#include <mailload/concepts.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>

#include <cstddef>
#include <string_view>

namespace mailload {

/// The old multi-threaded load tool's model: every session is a thread of its own doing blocking
/// reads and writes (io/run_blocking.hpp), its time limits kept by the socket (SO_RCVTIMEO,
/// SO_SNDTIMEO). Its io_context is never run: it only owns the sockets. Each session keeps its
/// own counters, merged at the end.
class thread_per_session {
public:
    static constexpr std::string_view name = "thread_per_session";
    static constexpr bool blocking = true;

    explicit thread_per_session(std::size_t = 1) {}
    std::size_t size() const noexcept { return 1; }
    boost::asio::any_io_executor executor_for(std::size_t) { return ctx_.get_executor(); }
    void run() {}
    void stop() {}

private:
    boost::asio::io_context ctx_{1};
};

static_assert(concurrency<thread_per_session>);

}  // namespace mailload
