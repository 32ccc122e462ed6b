// SPDX-License-Identifier: BSL-1.0
// mailload/sansio/action.hpp — what a sans-io algorithm asks its driver to do next
#pragma once

#include <boost/system/error_code.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <ostream>
#include <span>
#include <string_view>

namespace mailload::sansio {

/// The kinds of request a protocol core makes of its driver.
enum class action_type : std::uint8_t {
    write,         ///< send every piece of `out()` in order, then resume with the byte count
    read,          ///< read some bytes into `in()`, then resume with the byte count
    next_message,  ///< about to start another message on this connection: pace, claim one, resume
                   ///< with success (claimed) or error::no_more_messages
    event,         ///< something worth reporting happened (see the algorithm's event()); resume at once
    wait,          ///< do nothing for `duration()` (no reading either), then resume
    close,         ///< close the connection now; the algorithm is finished
    done,          ///< finished; error() says how
    handshake,     ///< secure the connection: a TLS handshake in the algorithm's role (client or
                   ///< server), then resume with its result; later reads and writes go through TLS
};

/// One request from a protocol core. Buffers point into memory the core owns (or that outlives
/// it), valid until the next call to resume().
class next_action {
public:
    static constexpr std::size_t max_pieces = 4;

    static next_action write(std::initializer_list<std::string_view> pieces) noexcept {
        next_action a{action_type::write};
        for (auto p : pieces)
            if (!p.empty()) a.out_[a.nout_++] = p;
        return a;
    }
    static next_action read(std::span<char> into) noexcept {
        next_action a{action_type::read};
        a.in_ = into;
        return a;
    }
    static next_action next_message() noexcept { return next_action{action_type::next_message}; }
    static next_action event() noexcept { return next_action{action_type::event}; }
    static next_action wait(std::chrono::steady_clock::duration d) noexcept {
        next_action a{action_type::wait};
        a.wait_ = d;
        return a;
    }
    static next_action close() noexcept { return next_action{action_type::close}; }
    static next_action handshake() noexcept { return next_action{action_type::handshake}; }
    static next_action done(boost::system::error_code ec = {}) noexcept {
        next_action a{action_type::done};
        a.ec_ = ec;
        return a;
    }

    action_type type() const noexcept { return type_; }
    std::span<const std::string_view> out() const noexcept { return {out_.data(), nout_}; }
    std::span<char> in() const noexcept { return in_; }
    boost::system::error_code error() const noexcept { return ec_; }
    std::chrono::steady_clock::duration duration() const noexcept { return wait_; }

    friend bool operator==(const next_action& a, const next_action& b) noexcept {
        if (a.type_ != b.type_ || a.ec_ != b.ec_ || a.nout_ != b.nout_) return false;
        for (std::size_t i = 0; i < a.nout_; ++i)
            if (a.out_[i] != b.out_[i]) return false;
        return a.in_.size() == b.in_.size() && a.wait_ == b.wait_;
    }
    friend std::ostream& operator<<(std::ostream& os, const next_action& a) {
        static constexpr const char* names[] = {"write", "read", "next_message", "event", "wait", "close", "done",
                                                "handshake"};
        os << names[static_cast<int>(a.type_)];
        for (auto p : a.out()) os << " \"" << p << '"';
        if (a.type_ == action_type::read) os << " (" << a.in_.size() << " bytes)";
        if (a.type_ == action_type::wait)
            os << ' ' << std::chrono::duration_cast<std::chrono::milliseconds>(a.wait_).count() << " ms";
        if (a.ec_) os << " [" << a.ec_.message() << ']';
        return os;
    }

private:
    explicit next_action(action_type t) noexcept : type_(t) {}

    action_type type_;
    std::uint8_t nout_ = 0;
    std::array<std::string_view, max_pieces> out_{};
    std::span<char> in_{};
    std::chrono::steady_clock::duration wait_{};
    boost::system::error_code ec_{};
};

/// A protocol core's short FIFO of pending actions: events (each with the event it announces),
/// then usually one I/O request. Fixed size: cores never queue more than a handful at once.
template <class Event, std::size_t N = 8>
class action_queue {
public:
    void push(next_action a) noexcept { slots_[(head_ + size_++) % N] = {a, {}}; }
    void push_event(const Event& e) noexcept { slots_[(head_ + size_++) % N] = {next_action::event(), e}; }
    /// Takes the oldest action; if it is an event, `current` receives what it announces.
    next_action pop(Event& current) noexcept {
        const auto& slot = slots_[head_];
        head_ = (head_ + 1) % N;
        --size_;
        if (slot.action.type() == action_type::event) current = slot.event;
        return slot.action;
    }
    bool empty() const noexcept { return size_ == 0; }
    void clear() noexcept { head_ = size_ = 0; }

private:
    struct slot_t {
        next_action action = next_action::done();
        Event event{};
    };
    std::array<slot_t, N> slots_{};
    std::size_t head_ = 0, size_ = 0;
};

}  // namespace mailload::sansio
