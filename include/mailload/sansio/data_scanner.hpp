// SPDX-License-Identifier: BSL-1.0
// mailload/sansio/data_scanner.hpp — finds DATA's CRLF.CRLF across any buffer split; undoes dot-stuffing
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace mailload::sansio {

/**
 * Finds the end of SMTP message data, `CR LF . CR LF`, in bytes that arrive in any split,
 * without buffering them. It starts as if a CR LF had just been seen, so ".\r\n" at once ends
 * an empty message. Bytes far from a CR are skipped a block at a time (memchr); only the few
 * around each CR are looked at one by one. A bare LF never ends a line.
 */
class data_end_scanner {
public:
    /// Scans `in`; returns how many bytes belong to the message data, the end marker included,
    /// when the end was found in them (then done() is true), else in.size().
    std::size_t scan(std::string_view in) noexcept {
        const char* p = in.data();
        const char* const end = p + in.size();
        while (p < end) {
            if (state_ == any) {
                p = static_cast<const char*>(std::memchr(p, '\r', static_cast<std::size_t>(end - p)));
                if (!p) return in.size();
                state_ = cr;
                ++p;
                continue;
            }
            const char c = *p++;
            switch (state_) {
            case cr: state_ = c == '\n' ? line_start : c == '\r' ? cr : any; break;
            case line_start: state_ = c == '.' ? dot : c == '\r' ? cr : any; break;
            case dot: state_ = c == '\r' ? dot_cr : any; break;
            case dot_cr:
                if (c == '\n') {
                    state_ = line_start;
                    done_ = true;
                    return static_cast<std::size_t>(p - in.data());
                }
                state_ = c == '\r' ? cr : any;
                break;
            default: break;
            }
        }
        return in.size();
    }

    /// True once the end marker was found; reset() starts a new message.
    bool done() const noexcept { return done_; }
    void reset() noexcept {
        state_ = line_start;
        done_ = false;
    }

private:
    enum state_t : std::uint8_t { any, cr, line_start, dot, dot_cr };
    state_t state_ = line_start;
    bool done_ = false;
};

/**
 * Turns message data as sent on the wire into what smtp-sink's dump files hold: every CR
 * removed (lone ones too) and a '.' dropped where it starts a line (right after CR LF). Fed the data with its end
 * marker, it yields the content followed by one empty line, as Postfix's dumps end.
 */
class dot_unstuffer {
public:
    /// Appends the transformed bytes of `in` to `out`.
    void feed(std::string_view in, std::string& out) {
        for (const char c : in) {
            if (line_start_ && c == '.') {
                line_start_ = false;
                continue;
            }
            line_start_ = c == '\n' && after_cr_;  // a line starts only after CR LF
            after_cr_ = c == '\r';
            if (c != '\r') out += c;
        }
    }
    void reset() noexcept {
        line_start_ = true;
        after_cr_ = false;
    }

private:
    bool line_start_ = true;
    bool after_cr_ = false;
};

}  // namespace mailload::sansio
