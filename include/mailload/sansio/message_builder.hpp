// SPDX-License-Identifier: BSL-1.0
// mailload/sansio/message_builder.hpp — message content for smtp-source: headers, -l payload, -F files
#pragma once

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace mailload::sansio {

/// Formats a time as RFC 5322 mail does, in local time, the way Postfix's mail_date() does:
/// `Tue, 24 Nov 2026 09:01:49 +0000 (UTC)`. Postfix <= 3.8 pads the day with a space (` 4`),
/// 3.9 and later with a zero (`04`).
inline std::string mail_date(std::time_t when, bool zero_padded_day) {
    std::tm local{}, utc{};
    localtime_r(&when, &local);
    gmtime_r(&when, &utc);
    long offset = (local.tm_hour - utc.tm_hour) * 3600L + (local.tm_min - utc.tm_min) * 60L;
    const int day_delta = local.tm_yday - utc.tm_yday;
    if (day_delta == 1 || day_delta < -1) offset += 24 * 3600L;
    else if (day_delta == -1 || day_delta > 1) offset -= 24 * 3600L;
    char buf[128];
    std::size_t n = std::strftime(buf, sizeof buf, zero_padded_day ? "%a, %d %b %Y %H:%M:%S " : "%a, %e %b %Y %H:%M:%S ",
                                  &local);
    std::string out(buf, n);
    char off[16];
    const long hours = offset / 3600, minutes = std::labs(offset % 3600) / 60;
    std::snprintf(off, sizeof off, "%+03ld%02ld", hours, minutes);
    out += off;
    n = std::strftime(buf, sizeof buf, " (%Z)", &local);
    out.append(buf, n);
    return out;
}

/// What a generated message looks like (smtp-source's -f -t -M -S -l -F -o).
struct message_options {
    std::string sender;                       ///< From: address (the envelope sender)
    std::string myhostname;                   ///< right-hand side of the Message-Id
    std::optional<std::string> subject;       ///< -S: a Subject: header
    bool headers = true;                      ///< false under -o and -F: send no generated headers
    std::size_t length = 0;                   ///< -l: payload bytes; 0 = four "La de da" lines
    std::optional<std::string> file_content;  ///< -F: the file's bytes, sent instead of a payload
    std::string date;                         ///< the Date: header's value (computed once per run)
    std::uint32_t pid = 0;                    ///< first Message-Id field
};

/**
 * Builds message content once per run. The body, with its end-of-data line, is one shared
 * buffer; only the headers vary per message (To:, Message-Id), and they are formatted into a
 * caller-owned string whose capacity is reused, so sending a message allocates nothing. The
 * content as BDAT sends it (no dot-stuffing, no end-of-data line) is the body's start, or for
 * a -F file with lines that start with '.', a buffer of its own.
 */
class message_builder {
public:
    explicit message_builder(const message_options& o) : headers_(o.headers) {
        if (o.file_content && !o.file_content->empty()) {
            body_ = dot_stuff_lines(*o.file_content);
            if (std::string raw = crlf_lines(*o.file_content); raw.size() != body_.size()) raw_ = std::move(raw) + "\r\n";
        } else if (o.length > 0) body_ = payload(o.length);
        else body_ = "La de da de da 1.\r\nLa de da de da 2.\r\nLa de da de da 3.\r\nLa de da de da 4.";
        body_ += "\r\n.\r\n";
        from_ = "From: <" + o.sender + ">\r\nTo: <";
        date_ = ">\r\nDate: " + o.date + "\r\nMessage-Id: <";
        append_hex(date_, o.pid);
        date_ += '.';
        tail_ = "@" + o.myhostname + ">\r\n";
        if (o.subject) tail_ += "Subject: " + *o.subject + "\r\n";
        tail_ += "\r\n";
    }

    /// Whether messages start with generated headers.
    bool has_headers() const noexcept { return headers_; }

    /// The message after its headers, ending with the end-of-data line ".\r\n".
    std::string_view body() const noexcept { return body_; }

    /// The message after its headers as BDAT sends it: body() without dot-stuffing and without
    /// the end-of-data line (ending with CRLF).
    std::string_view content() const noexcept {
        return raw_.empty() ? std::string_view(body_).substr(0, body_.size() - 3) : std::string_view(raw_);
    }

    /// Writes this message's headers into `out` (cleared first): To: shows `to`; the
    /// Message-Id is `<pid.fd.left@myhostname>`, each field as at least four hex digits.
    void headers(std::string& out, std::string_view to, std::uint32_t fd, std::uint32_t left) const {
        out.clear();
        out += from_;
        out += to;
        out += date_;
        append_hex(out, fd);
        out += '.';
        append_hex(out, left);
        out += tail_;
    }

    /// The -l payload: `length` bytes of X in CRLF-terminated lines of 80, the k-th line starting
    /// with the digit k mod 10, then an unnumbered tail; followed by one more CRLF when sent.
    static std::string payload(std::size_t length) {
        std::string p(length, 'X');
        for (std::size_t i = 80; i < length; i += 80) {
            p[i - 80] = static_cast<char>('0' + (i / 80) % 10);
            p[i - 2] = '\r';
            p[i - 1] = '\n';
        }
        return p;
    }

    /// -F content: each LF-terminated line (the last may lack its LF) gets a '.' in front when
    /// it starts with one, and CRLF instead of its LF; CRs already in the file are kept. When
    /// sent, one more CRLF follows, so the message ends with an empty line (as Postfix's does).
    static std::string dot_stuff_lines(std::string_view content) { return crlf_lines(content, true); }

    /// -F content as BDAT sends it: each LF-terminated line (the last may lack its LF) with CRLF
    /// instead of its LF (with `stuff`, and a '.' in front when it starts with one).
    static std::string crlf_lines(std::string_view content, bool stuff = false) {
        std::string out;
        out.reserve(content.size() + content.size() / 32 + 8);
        while (!content.empty()) {
            const auto lf = content.find('\n');
            const std::string_view line = content.substr(0, lf);
            if (stuff && line.starts_with('.')) out += '.';
            out += line;
            out += "\r\n";
            content.remove_prefix(lf == std::string_view::npos ? content.size() : lf + 1);
        }
        return out;
    }

private:
    static void append_hex(std::string& out, std::uint32_t v) {
        char buf[16];
        auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, 16);
        for (auto n = end - buf; n < 4; ++n) out += '0';
        out.append(buf, end);
    }

    std::string body_;
    std::string raw_;  // content() when it is not body()'s start
    std::string from_, date_, tail_;
    bool headers_;
};

}  // namespace mailload::sansio
