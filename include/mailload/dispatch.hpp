// SPDX-License-Identifier: BSL-1.0
// mailload/dispatch.hpp — runtime choices (flags, address) to one compile-time policy tuple
#pragma once

#include <boost/hana/at.hpp>
#include <boost/hana/for_each.hpp>
#include <boost/hana/length.hpp>
#include <boost/hana/tuple.hpp>
#include <boost/hana/type.hpp>

#include <array>
#include <cstddef>
#include <string_view>

namespace mailload {

namespace hana = boost::hana;

/**
 * Finds the type T among `candidates` (a hana tuple of hana::type) whose `T::name` equals
 * `key` and calls `f(hana::type_c<T>)`. Returns false, calling nothing, when none matches.
 */
template <class Candidates, class F>
bool select(const Candidates& candidates, std::string_view key, F&& f) {
    bool found = false;
    hana::for_each(candidates, [&](auto t) {
        using T = typename decltype(t)::type;
        if (!found && T::name == key) {
            found = true;
            f(t);
        }
    });
    return found;
}

namespace detail {
template <std::size_t I, class Axes, std::size_t N, class F, class... Chosen>
bool dispatch_from(const Axes& axes, const std::array<std::string_view, N>& keys, F& f, Chosen... chosen) {
    if constexpr (I == N) {
        f(chosen...);
        return true;
    } else {
        bool inner = false;
        const bool here = select(hana::at_c<I>(axes), keys[I], [&](auto t) {
            inner = dispatch_from<I + 1>(axes, keys, f, chosen..., t);
        });
        return here && inner;
    }
}
}  // namespace detail

/**
 * Walks one candidate tuple per axis, picks on each the type whose name is the matching key,
 * and calls `f(hana::type_c<A>, hana::type_c<B>, …)` once with the chosen types. Only the
 * candidates listed are instantiated. Returns false when some key matches no candidate.
 *
 * @par Example
 * @code
 * mailload::dispatch(hana::make_tuple(hana::tuple_t<smtp, lmtp>, hana::tuple_t<inet_any, unix_domain>),
 *                    std::array<std::string_view, 2>{"lmtp", "unix"},
 *                    [&](auto p, auto t) { run<typename decltype(p)::type, typename decltype(t)::type>(); });
 * @endcode
 */
template <class Axes, std::size_t N, class F>
bool dispatch(const Axes& axes, const std::array<std::string_view, N>& keys, F&& f) {
    static_assert(decltype(hana::length(axes))::value == N, "one key per axis");
    return detail::dispatch_from<0>(axes, keys, f);
}

}  // namespace mailload
