// SPDX-License-Identifier: BSL-1.0
// mailload/sansio/reply_parser.hpp — incremental SMTP/LMTP reply parser (Postfix smtp-source rules)
#pragma once

#include <mailload/error.hpp>

#include <boost/system/error_code.hpp>

#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>

namespace mailload::sansio {

/**
 * Assembles SMTP replies from bytes that arrive in any split.
 *
 * Rules (Postfix's smtp-source): a line ends at LF and loses any CRs before it; a line keeps at
 * most `max_line` bytes and the rest of it is skipped (a line longer than twice that is an
 * error); bytes that are neither printable ASCII nor white space read as `?`. The code is the
 * line's leading digits when there are exactly three of them, else 0; a `-` right after them
 * means more lines follow. The text is what follows, leading white space removed; the texts of
 * all lines are joined with `\n`, at most `max_text` bytes in all.
 */
class reply_parser {
public:
    static constexpr std::size_t max_line = 10240;
    static constexpr std::size_t max_text = 10240;

    reply_parser() {
        line_.reserve(256);
        text_.reserve(256);
        lines_.reserve(256);
    }

    /// Consumes bytes until a reply is complete or `in` is used up; returns how many it took.
    /// Bytes after a complete reply are left for the next one (pipelined replies).
    std::size_t feed(std::string_view in, boost::system::error_code& ec) {
        if (complete_) reset();
        std::size_t used = 0;
        while (used < in.size() && !complete_) {
            const char* start = in.data() + used;
            const std::size_t left = in.size() - used;
            const void* lf = std::memchr(start, '\n', left);
            const std::size_t chunk = lf ? static_cast<const char*>(lf) - start : left;
            append_line(std::string_view(start, chunk));
            used += chunk;
            if (!lf) break;
            ++used;  // the LF
            if (seen_ > 2 * max_line) {
                ec = error::line_too_long;
                return used;
            }
            end_line();
        }
        if (seen_ > 2 * max_line) ec = error::line_too_long;
        return used;
    }

    /// True once a whole reply (its last line included) has been consumed.
    bool complete() const noexcept { return complete_; }
    /// The reply code: three digits, or 0 when the last line did not start with exactly three.
    int code() const noexcept { return code_; }
    /// The texts of all lines joined with `\n`, codes and separators removed.
    std::string_view text() const noexcept { return text_; }
    /// The lines as received (sanitised, CR/LF removed), joined with `\n`.
    std::string_view lines() const noexcept { return lines_; }

    /// Forgets the current reply; feed() does this itself after a complete one.
    void reset() noexcept {
        complete_ = false;
        code_ = 0;
        seen_ = 0;
        line_.clear();
        text_.clear();
        lines_.clear();
    }

private:
    void append_line(std::string_view part) {
        seen_ += part.size();
        if (line_.size() < max_line) line_.append(part.substr(0, max_line - line_.size()));
    }

    void end_line() {
        seen_ = 0;
        while (!line_.empty() && line_.back() == '\r') line_.pop_back();
        for (char& c : line_) {
            const unsigned char u = static_cast<unsigned char>(c);
            const bool printable = u >= 0x20 && u < 0x7f;
            const bool space = u == ' ' || (u >= '\t' && u <= '\r');
            if (!printable && !space) c = '?';
        }
        std::size_t i = 0;
        while (i < line_.size() && line_[i] >= '0' && line_[i] <= '9') ++i;
        code_ = i == 3 ? (line_[0] - '0') * 100 + (line_[1] - '0') * 10 + (line_[2] - '0') : 0;
        const bool more = i < line_.size() && line_[i] == '-';
        if (more) ++i;
        while (i < line_.size() && (line_[i] == ' ' || (line_[i] >= '\t' && line_[i] <= '\r'))) ++i;
        append_capped(text_, std::string_view(line_).substr(i));
        append_capped(lines_, line_);
        line_.clear();
        if (more) {
            append_capped(text_, "\n");
            append_capped(lines_, "\n");
        } else {
            complete_ = true;
        }
    }

    static void append_capped(std::string& s, std::string_view add) {
        if (s.size() < max_text) s.append(add.substr(0, max_text - s.size()));
    }

    std::string line_;
    std::string text_;
    std::string lines_;
    std::size_t seen_ = 0;  // bytes of the current line seen so far, kept or skipped
    int code_ = 0;
    bool complete_ = false;
};

}  // namespace mailload::sansio
