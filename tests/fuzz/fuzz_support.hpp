// SPDX-License-Identifier: BSL-1.0
// tests/fuzz/fuzz_support.hpp — shared pieces of the libFuzzer targets: input reader, split
// points, a driver for sans-io algorithms that checks the action protocol, invariant checks
#pragma once

#include <mailload/error.hpp>
#include <mailload/sansio/action.hpp>

#include <boost/system/errc.hpp>
#include <boost/system/error_code.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

/// An invariant: on violation, say which and trap (libFuzzer saves the input as a crash).
#define FUZZ_CHECK(cond)                                                                            \
    do                                                                                              \
    {                                                                                               \
        if (!(cond))                                                                                \
        {                                                                                           \
            std::fprintf(stderr, "fuzz invariant failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
            __builtin_trap();                                                                       \
        }                                                                                           \
    } while (0)

namespace fuzz {

/// Takes configuration bytes from the front of the input; past its end every byte reads as 0,
/// so a short input is a valid one (the all-zero header is each target's default setup).
class input
{
public:
    input(const std::uint8_t* data, std::size_t size) : p_(data), n_(size) {}

    std::uint8_t byte() noexcept
    {
        if (n_ == 0)
            return 0;
        --n_;
        return *p_++;
    }
    std::uint16_t u16() noexcept
    {
        const std::uint16_t lo = byte();
        return static_cast<std::uint16_t>(lo | byte() << 8);
    }
    /// `k` bytes (fewer if the input ends) as text.
    std::string_view take(std::size_t k) noexcept
    {
        k = k < n_ ? k : n_;
        std::string_view s(reinterpret_cast<const char*>(p_), k);
        p_ += k;
        n_ -= k;
        return s;
    }
    /// Everything not yet taken.
    std::string_view rest() noexcept { return take(n_); }
    std::size_t left() const noexcept { return n_; }

private:
    const std::uint8_t* p_;
    std::size_t n_;
};

/// Where peer bytes are cut into reads: `mode` 0 delivers as much as each read buffer takes;
/// otherwise chunks of 1..max bytes, max from a small table, sizes from a PRNG seeded by `seed`.
class splitter
{
public:
    splitter(std::uint8_t seed = 0, std::uint8_t mode = 0) noexcept
    {
        static constexpr std::size_t maxes[8] = {1, 2, 3, 7, 16, 100, 1000, 70000};
        whole_ = mode == 0;
        max_ = maxes[mode % 8];
        state_ = 0x9e3779b9u ^ (std::uint32_t(seed) << 8 | mode);
        if (state_ == 0)
            state_ = 1;
    }
    static splitter whole() noexcept { return {}; }

    /// The size of the next read, given what the peer still has and what the buffer takes.
    std::size_t next(std::size_t have, std::size_t room) noexcept
    {
        std::size_t n = have < room ? have : room;
        if (whole_)
            return n;
        state_ ^= state_ << 13;  // xorshift32
        state_ ^= state_ >> 17;
        state_ ^= state_ << 5;
        const std::size_t want = 1 + state_ % max_;
        return want < n ? want : n;
    }

private:
    bool whole_ = true;
    std::size_t max_ = 1;
    std::uint32_t state_ = 1;
};

/// How the driver plays the peer.
struct peer_plan
{
    std::string_view bytes;                 ///< what the peer sends, in order
    splitter split;                         ///< how it is cut into reads
    boost::system::error_code end_ec;       ///< the read after the last byte: {} = end of stream
    std::optional<std::size_t> fail_write;  ///< this write (0-based) fails with write_ec
    boost::system::error_code write_ec = boost::system::errc::make_error_code(boost::system::errc::broken_pipe
    );
    bool fail_waits = false;                         ///< every wait completes with operation_aborted
    std::size_t max_actions = 0;                     ///< more actions than this is a loop (0: no limit)
    std::function<void(std::string_view)> on_write;  ///< sees each write's bytes, pieces joined
};

/// What one run did.
struct run_result
{
    std::string written;  ///< all writes' bytes, in order
    std::size_t writes = 0;
    std::size_t reads = 0;
    std::size_t delivered = 0;  ///< peer bytes the algorithm read
    std::size_t actions = 0;
    std::vector<std::int64_t> waits;  ///< wait durations (ns)
    mailload::sansio::next_action last = mailload::sansio::next_action::done();
    bool end_delivered = false;  ///< the read after the peer's last byte was answered
    bool write_failed = false;
};

inline bool printable(char c) noexcept
{
    const auto u = static_cast<unsigned char>(c);
    return u >= 0x20 && u < 0x7f;
}
inline bool all_printable(std::string_view s) noexcept
{
    for (char c : s)
        if (!printable(c))
            return false;
    return true;
}

/// Reads every byte of a view handed out by an algorithm, so that ASan sees a dangling one.
inline std::uint32_t touch(std::string_view s) noexcept
{
    std::uint32_t h = 2166136261u;
    for (char c : s)
        h = (h ^ static_cast<unsigned char>(c)) * 16777619u;
    return h;
}

/**
 * Runs `algo` (ready for its first resume()) against the peer of `plan` until it ends with
 * `close` or `done`, checking the action protocol of sansio/action.hpp on the way:
 * a read gets a non-empty buffer, a write has at least one byte and its pieces can be read,
 * nothing is read after the end of the stream was delivered, and the number of actions stays
 * under plan.max_actions (so nothing loops). `on_event(algo)` sees each event;
 * `on_next(algo)` answers each next_message.
 */
template <class Algo, class OnEvent, class OnNext>
run_result drive(Algo& algo, peer_plan plan, OnEvent&& on_event, OnNext&& on_next)
{
    using mailload::sansio::action_type;
    run_result r;
    std::size_t at = 0;  // next peer byte
    auto act = algo.resume();
    for (;;)
    {
        ++r.actions;
        FUZZ_CHECK(plan.max_actions == 0 || r.actions <= plan.max_actions);
        switch (act.type())
        {
        case action_type::read:
        {
            FUZZ_CHECK(!act.in().empty());
            FUZZ_CHECK(!r.end_delivered);  // the stream ended: reading again would hang
            ++r.reads;
            const std::size_t n = plan.split.next(plan.bytes.size() - at, act.in().size());
            if (n == 0)
            {
                r.end_delivered = true;
                act = algo.resume(plan.end_ec, 0);
                break;
            }
            std::memcpy(act.in().data(), plan.bytes.data() + at, n);  // ASan: the span is real
            at += n;
            r.delivered += n;
            act = algo.resume({}, n);
            break;
        }
        case action_type::write:
        {
            std::size_t total = 0;
            const std::size_t from = r.written.size();
            for (auto piece : act.out())
            {
                touch(piece);
                r.written.append(piece);
                total += piece.size();
            }
            FUZZ_CHECK(total > 0);
            if (plan.on_write)
                plan.on_write(std::string_view(r.written).substr(from));
            const bool fail = plan.fail_write && *plan.fail_write == r.writes;
            ++r.writes;
            if (fail)
            {
                r.write_failed = true;
                act = algo.resume(plan.write_ec, 0);
            }
            else
            {
                act = algo.resume({}, total);
            }
            break;
        }
        case action_type::event:
            on_event(algo);
            act = algo.resume();
            break;
        case action_type::wait:
            FUZZ_CHECK(act.duration().count() >= 0);
            r.waits.push_back(static_cast<std::int64_t>(act.duration().count()));
            act = plan.fail_waits
                      ? algo.resume(
                            boost::system::errc::make_error_code(boost::system::errc::operation_canceled),
                            0
                        )
                      : algo.resume();
            break;
        case action_type::next_message: act = algo.resume(on_next(algo), 0); break;
        case action_type::close:
        case action_type::done: r.last = act; return r;
        default: FUZZ_CHECK(false);
        }
    }
}

/// No event handling / no messages to claim.
struct ignore
{
    template <class A>
    void operator()(A&) const noexcept
    {
    }
};
struct no_more
{
    template <class A>
    boost::system::error_code operator()(A&) const noexcept
    {
        return mailload::error::no_more_messages;
    }
};

/// The end of SMTP data by the book: the first CR LF . CR LF, or ". CR LF" at the very start;
/// the offset just after it, or nothing.
inline std::optional<std::size_t> naive_data_end(std::string_view d) noexcept
{
    if (d.starts_with(".\r\n"))
        return 3;
    const auto at = d.find("\r\n.\r\n");
    if (at == std::string_view::npos)
        return std::nullopt;
    return at + 5;
}

}  // namespace fuzz
