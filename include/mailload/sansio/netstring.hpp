// SPDX-License-Identifier: BSL-1.0
// mailload/sansio/netstring.hpp — QMQP netstrings: encoding, and an incremental bounded decoder
#pragma once

#include <mailload/error.hpp>

#include <boost/system/error_code.hpp>

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mailload::sansio {

/// Appends `data` as a netstring: its decimal length, ':', the bytes, ','.
inline void append_netstring(std::string& out, std::string_view data) {
    char digits[24];
    const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, data.size());
    out.append(digits, end).append(1, ':').append(data).append(1, ',');
}

/**
 * Reads one netstring from bytes that arrive in any split. The length may have at most
 * `max_digits` digits and may not exceed `max_size`; anything but digits before the ':', or a
 * byte other than ',' after the data, is error::netstring_format; a longer one is
 * error::netstring_size. The data is kept (for replies) or only counted (a sink's messages), so
 * memory stays bounded either way.
 */
class netstring_reader {
public:
    static constexpr std::size_t max_digits = 12;

    explicit netstring_reader(std::uint64_t max_size, bool keep = true) : max_size_(max_size), keep_(keep) {}

    /// Consumes bytes up to the end of the netstring; returns how many it took. Bytes after the
    /// final ',' are left alone.
    std::size_t feed(std::string_view in, boost::system::error_code& ec) {
        std::size_t used = 0;
        while (used < in.size() && state_ != state::done) {
            const char c = in[used];
            switch (state_) {
            case state::length:
                if (c == ':' && digits_ > 0) {
                    state_ = left_ == 0 ? state::comma : state::data;
                    size_ = left_;  // nothing reserved: a peer's claim is not an allocation
                } else if (c >= '0' && c <= '9') {
                    if (++digits_ > max_digits) return fail(ec, error::netstring_size, used);
                    left_ = left_ * 10 + static_cast<std::uint64_t>(c - '0');
                    if (left_ > max_size_) return fail(ec, error::netstring_size, used);
                } else {
                    return fail(ec, error::netstring_format, used);
                }
                ++used;
                break;
            case state::data: {
                const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(left_, in.size() - used));
                if (keep_) data_.append(in.substr(used, n));
                left_ -= n;
                used += n;
                if (left_ == 0) state_ = state::comma;
                break;
            }
            case state::comma:
                if (c != ',') return fail(ec, error::netstring_format, used);
                state_ = state::done;
                ++used;
                break;
            case state::done: break;
            }
        }
        return used;
    }

    /// True once the final ',' has been read.
    bool done() const noexcept { return state_ == state::done; }
    /// True while nothing has been read.
    bool empty() const noexcept { return state_ == state::length && digits_ == 0; }
    /// The declared length (known once the ':' has been read).
    std::uint64_t size() const noexcept { return size_; }
    /// The data, when kept.
    std::string_view data() const noexcept { return data_; }

    void reset() noexcept {
        state_ = state::length;
        digits_ = 0;
        left_ = size_ = 0;
        data_.clear();
    }

private:
    enum class state : std::uint8_t { length, data, comma, done };

    static std::size_t fail(boost::system::error_code& ec, error e, std::size_t used) {
        ec = e;
        return used;
    }

    std::uint64_t max_size_;
    bool keep_;
    state state_ = state::length;
    std::size_t digits_ = 0;
    std::uint64_t left_ = 0, size_ = 0;
    std::string data_;
};

}  // namespace mailload::sansio
