// SPDX-License-Identifier: BSL-1.0
// mailload/pacing/no_pacing.hpp — start each message as soon as the last one ends
#pragma once

#include <mailload/concepts.hpp>

#include <chrono>
#include <random>
#include <string_view>

namespace mailload {

/// No wait between messages; a source with this policy never touches its pacing timer.
struct no_pacing {
    static constexpr std::string_view name = "none";
    static constexpr bool paced = false;
    std::chrono::steady_clock::duration next_delay(std::mt19937_64&) const noexcept { return {}; }
};

static_assert(pacing<no_pacing>);

}  // namespace mailload
