// SPDX-License-Identifier: BSL-1.0
// mailload/concurrency/thread_pool.hpp — N event loops, one thread each, sessions spread over them
#pragma once

#include <mailload/concepts.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>

#include <cstddef>
#include <memory>
#include <string_view>
#include <thread>
#include <vector>

namespace mailload {

/// `threads` io_contexts, each run by a thread of its own (the caller's is one of them); session
/// i runs on loop i mod threads, so a session never changes threads and no two loops share a
/// session's state. What the sessions share (the message count, the connect gate) is atomic or
/// locked; each loop keeps its own counters and histograms, merged when all are done.
class thread_pool {
public:
    static constexpr std::string_view name = "thread_pool";
    static constexpr bool blocking = false;

    explicit thread_pool(std::size_t threads) {
        for (std::size_t i = 0; i < (threads ? threads : 1); ++i) loops_.push_back(std::make_unique<boost::asio::io_context>(1));
    }

    std::size_t size() const noexcept { return loops_.size(); }
    boost::asio::any_io_executor executor_for(std::size_t i) { return loops_[i % loops_.size()]->get_executor(); }

    /// Runs every loop until it has no more work; returns when all have.
    void run() {
        std::vector<std::thread> others;
        for (std::size_t i = 1; i < loops_.size(); ++i) others.emplace_back([ctx = loops_[i].get()] { ctx->run(); });
        loops_[0]->run();
        for (auto& t : others) t.join();
    }

    void stop() {
        for (auto& ctx : loops_) ctx->stop();
    }

private:
    std::vector<std::unique_ptr<boost::asio::io_context>> loops_;
};

static_assert(concurrency<thread_pool>);

}  // namespace mailload
