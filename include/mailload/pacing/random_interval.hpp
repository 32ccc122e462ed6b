// SPDX-License-Identifier: BSL-1.0
// mailload/pacing/random_interval.hpp — a random wait before each later message (-R)
#pragma once

#include <mailload/concepts.hpp>

#include <chrono>
#include <cstdint>
#include <random>
#include <string_view>

namespace mailload {

/// Postfix's -R: each session waits a random time, uniform in [0, interval], before each of its
/// later messages. Postfix draws whole seconds; this draws at nanosecond resolution.
struct random_interval {
    static constexpr std::string_view name = "random";
    static constexpr bool paced = true;
    static constexpr bool open_loop = false;
    std::chrono::steady_clock::duration interval{};

    std::chrono::steady_clock::duration next_delay(std::mt19937_64& rng) const {
        std::uniform_int_distribution<std::chrono::steady_clock::rep> pick(0, interval.count());
        return std::chrono::steady_clock::duration(pick(rng));
    }
    std::chrono::steady_clock::duration start_of(std::uint64_t) const noexcept { return {}; }
};

static_assert(pacing<random_interval>);

}  // namespace mailload
