// SPDX-License-Identifier: BSL-1.0
// examples/common/progress.hpp — --progress: a line a second on stderr while a source runs
#pragma once

#include <mailload/mailload.hpp>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <thread>

namespace cli {

/**
 * Counts what a source's observer sees (from any thread) and prints, once a second,
 * `progress: T s, N sent, N accepted, R msg/s, N errors, p99 X ms` on stderr: the rate and the
 * p99 over that second, the counts since the start (errors: rejections -A let pass and failed
 * connects); at the end one line for the whole run. On a terminal the line is rewritten in
 * place; elsewhere each second gets its own line. Off, it does nothing.
 */
class progress_meter {
public:
    using clock = std::chrono::steady_clock;

    explicit progress_meter(bool on) : on_(on) {}
    progress_meter(const progress_meter&) = delete;
    progress_meter& operator=(const progress_meter&) = delete;
    ~progress_meter() { stop(); }

    bool on() const noexcept { return on_; }

    void start() {
        if (!on_) return;
        started_ = clock::now();
        thread_ = std::thread([this] { loop(); });
    }

    /// Prints the last line (the whole run's p99) and ends it with a newline.
    void stop() {
        if (!thread_.joinable()) return;
        {
            std::lock_guard lock(m_);
            done_ = true;
        }
        cv_.notify_one();
        thread_.join();
    }

    void sent() noexcept { sent_.fetch_add(1, std::memory_order_relaxed); }
    void error() noexcept { errors_.fetch_add(1, std::memory_order_relaxed); }
    void accepted(std::uint64_t latency_ns) {
        accepted_.fetch_add(1, std::memory_order_relaxed);
        std::lock_guard lock(m_);
        second_.record(latency_ns);
        run_.record(latency_ns);
    }

private:
    void loop() {
        const bool tty = ::isatty(STDERR_FILENO) == 1;
        std::uint64_t before = 0;
        auto last = started_;
        std::unique_lock lock(m_);
        for (auto next = started_ + std::chrono::seconds(1);; next += std::chrono::seconds(1)) {
            const bool last_line = cv_.wait_until(lock, next, [this] { return done_; });
            const auto now = clock::now();
            const std::uint64_t accepted = accepted_.load(std::memory_order_relaxed);
            if (last_line) before = 0, last = started_;  // the whole run's rate and p99
            const double span = std::chrono::duration<double>(now - last).count();
            const double rate = span > 0 ? double(accepted - before) / span : 0.0;
            const auto& h = last_line ? run_ : second_;
            const char* end = !tty ? "\n" : last_line ? "\033[K\n" : "\033[K";  // \033[K: clear the rest
            std::fprintf(stderr, "%sprogress: %.1f s, %llu sent, %llu accepted, %.0f msg/s, %llu errors, p99 %.3f ms%s%s",
                         tty ? "\r" : "", std::chrono::duration<double>(now - started_).count(),
                         static_cast<unsigned long long>(sent_.load(std::memory_order_relaxed)),
                         static_cast<unsigned long long>(accepted), rate,
                         static_cast<unsigned long long>(errors_.load(std::memory_order_relaxed)),
                         double(h.percentile(99)) / 1e6, last_line ? " (whole run)" : "", end);
            std::fflush(stderr);
            if (last_line) return;
            second_ = {};
            before = accepted;
            last = now;
        }
    }

    bool on_;
    std::atomic<std::uint64_t> sent_{0}, accepted_{0}, errors_{0};
    std::mutex m_;
    std::condition_variable cv_;
    bool done_ = false;
    mailload::report::histogram second_, run_;
    clock::time_point started_;
    std::thread thread_;
};

/// An observer that feeds a progress_meter (when it is on) and passes everything on to `inner`.
template <class Inner>
struct progress_observer {
    Inner& inner;
    progress_meter& meter;

    void on_event(const mailload::sansio::client_event& e) {
        if (meter.on()) {
            if (e.kind == mailload::sansio::client_event::message_sent) meter.sent();
            else if (e.kind == mailload::sansio::client_event::rejected) meter.error();
        }
        if constexpr (requires { inner.on_event(e); }) inner.on_event(e);
    }
    void on_accepted(std::uint64_t ns) {
        if (meter.on()) meter.accepted(ns);
        if constexpr (requires { inner.on_accepted(ns); }) inner.on_accepted(ns);
    }
    void on_connect_retry(boost::system::error_code ec) {
        if (meter.on()) meter.error();
        if constexpr (requires { inner.on_connect_retry(ec); }) inner.on_connect_retry(ec);
    }
    template <class Socket>
    void on_connected(Socket& socket) {
        if constexpr (requires { inner.on_connected(socket); }) inner.on_connected(socket);
    }
};

}  // namespace cli
