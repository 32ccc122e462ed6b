// SPDX-License-Identifier: BSL-1.0
// mailload/concurrency/single_thread.hpp — every session on one event loop (Postfix's model)
#pragma once

#include <mailload/concepts.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>

#include <cstddef>
#include <string_view>

namespace mailload {

/// One io_context run on the calling thread; no locking anywhere (concurrency hint 1).
class single_thread {
public:
    static constexpr std::string_view name = "single_thread";
    static constexpr bool blocking = false;

    explicit single_thread(std::size_t = 1) {}
    std::size_t size() const noexcept { return 1; }
    boost::asio::any_io_executor executor_for(std::size_t) { return ctx_.get_executor(); }
    void run() { ctx_.run(); }
    void stop() { ctx_.stop(); }
    boost::asio::io_context& context() noexcept { return ctx_; }

private:
    boost::asio::io_context ctx_{1};
};

static_assert(concurrency<single_thread>);

}  // namespace mailload
