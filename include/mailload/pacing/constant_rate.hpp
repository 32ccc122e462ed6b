// SPDX-License-Identifier: BSL-1.0
// mailload/pacing/constant_rate.hpp — an open-loop schedule: message k starts at k / rate (--rate)
#pragma once

#include <mailload/concepts.hpp>

#include <chrono>
#include <cstdint>
#include <random>
#include <string_view>

namespace mailload {

/// An open-loop rate over all sessions: message k of the run is due `k × interval` after the
/// run's start, however long the ones before it took. A session takes the next due message when
/// it is free; one that is free early waits for it. When every session is busy, messages start
/// late, and their latency, counted from when they were due, shows it: a stalled server cannot
/// hide in the percentiles (no coordinated omission).
struct constant_rate {
    static constexpr std::string_view name = "rate";
    static constexpr bool paced = true;
    static constexpr bool open_loop = true;
    std::chrono::steady_clock::duration interval{};  ///< 1 / rate

    /// The interval of `per_second` messages a second (at least 1 ns).
    static constant_rate per_second(double per_second) {
        const double ns = 1e9 / per_second;
        return {std::chrono::steady_clock::duration(static_cast<std::chrono::steady_clock::rep>(ns < 1 ? 1 : ns))};
    }

    std::chrono::steady_clock::duration next_delay(std::mt19937_64&) const noexcept { return {}; }
    std::chrono::steady_clock::duration start_of(std::uint64_t k) const noexcept {
        return interval * static_cast<std::chrono::steady_clock::rep>(k);
    }
};

static_assert(pacing<constant_rate>);

}  // namespace mailload
