// SPDX-License-Identifier: BSL-1.0
// mailload/pacing/no_pacing.hpp — start each message as soon as the last one ends
#pragma once

#include <mailload/concepts.hpp>

#include <chrono>
#include <cstdint>
#include <random>
#include <string_view>

namespace mailload {

/// No wait between messages; a source with this policy never touches its pacing timer.
struct no_pacing {
    static constexpr std::string_view name = "none";
    static constexpr bool paced = false;
    static constexpr bool open_loop = false;
    std::chrono::steady_clock::duration next_delay(std::mt19937_64&) const noexcept { return {}; }
    std::chrono::steady_clock::duration start_of(std::uint64_t) const noexcept { return {}; }
};

static_assert(pacing<no_pacing>);

}  // namespace mailload
