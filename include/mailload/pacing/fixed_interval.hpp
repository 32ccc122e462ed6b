// SPDX-License-Identifier: BSL-1.0
// mailload/pacing/fixed_interval.hpp — a fixed wait before each later message (-w)
#pragma once

#include <mailload/concepts.hpp>

#include <chrono>
#include <cstdint>
#include <random>
#include <string_view>

namespace mailload {

/// Postfix's -w: each session waits `interval` before each of its later messages. Fractional
/// seconds are allowed (Postfix takes whole seconds only).
struct fixed_interval {
    static constexpr std::string_view name = "fixed";
    static constexpr bool paced = true;
    static constexpr bool open_loop = false;
    std::chrono::steady_clock::duration interval{};

    std::chrono::steady_clock::duration next_delay(std::mt19937_64&) const noexcept { return interval; }
    std::chrono::steady_clock::duration start_of(std::uint64_t) const noexcept { return {}; }
};

static_assert(pacing<fixed_interval>);

}  // namespace mailload
