// SPDX-License-Identifier: BSL-1.0
// tests/fuzz/reply_parser.cpp — sansio::reply_parser on arbitrary server bytes in arbitrary splits
//
// Input: [split seed][split mode] then the server's bytes.
// Checks: the replies (code, text, lines) and the line_too_long error are the same under any
// split as a plain re-implementation of the documented rules computes from the whole input;
// feed() never takes more than it is given and takes at least one byte of non-empty input;
// text and lines stay within max_text and hold only printable bytes and white space.

#include <mailload/sansio/reply_parser.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"

namespace {

using mailload::sansio::reply_parser;

struct reply
{
    int code;
    std::string text, lines;
    bool operator==(const reply&) const = default;
};

struct parsed
{
    std::vector<reply> replies;
    bool too_long = false;
    bool operator==(const parsed&) const = default;
};

bool space(unsigned char u) { return u == ' ' || (u >= '\t' && u <= '\r'); }

// The rules of reply_parser's comment, line by line over the whole input.
parsed reference(std::string_view in)
{
    parsed out;
    std::string text, lines;
    std::size_t pos = 0;
    for (;;)
    {
        const auto lf = in.find('\n', pos);
        const std::size_t len = (lf == std::string_view::npos ? in.size() : lf) - pos;
        if (len > 2 * reply_parser::max_line)
        {
            out.too_long = true;
            return out;
        }
        if (lf == std::string_view::npos)
            return out;  // an incomplete line: no more replies
        std::string line(in.substr(pos, len < reply_parser::max_line ? len : reply_parser::max_line));
        pos = lf + 1;
        while (!line.empty() && line.back() == '\r')
            line.pop_back();
        for (char& c : line)
        {
            const auto u = static_cast<unsigned char>(c);
            if (!(u >= 0x20 && u < 0x7f) && !space(u))
                c = '?';
        }
        std::size_t i = 0;
        while (i < line.size() && line[i] >= '0' && line[i] <= '9')
            ++i;
        const int code = i == 3 ? std::stoi(line.substr(0, 3)) : 0;
        const bool more = i < line.size() && line[i] == '-';
        if (more)
            ++i;
        while (i < line.size() && space(static_cast<unsigned char>(line[i])))
            ++i;
        text += line.substr(i);
        lines += line;
        if (more)
        {
            text += '\n';
            lines += '\n';
            continue;
        }
        out.replies.push_back(
            {code, text.substr(0, reply_parser::max_text), lines.substr(0, reply_parser::max_text)}
        );
        text.clear();
        lines.clear();
    }
}

void check_sane(std::string_view s)
{
    FUZZ_CHECK(s.size() <= reply_parser::max_text);
    for (char c : s)
        FUZZ_CHECK(fuzz::printable(c) || space(static_cast<unsigned char>(c)));
}

parsed run(std::string_view in, fuzz::splitter split)
{
    reply_parser p;
    parsed out;
    std::size_t at = 0;
    std::string_view chunk;
    while (at < in.size() || !chunk.empty())
    {
        if (chunk.empty())
        {
            const std::size_t n = split.next(in.size() - at, in.size());
            chunk = in.substr(at, n);
            at += n;
        }
        boost::system::error_code ec;
        const std::size_t used = p.feed(chunk, ec);
        FUZZ_CHECK(used <= chunk.size());
        if (ec)
        {
            FUZZ_CHECK(ec == mailload::error::line_too_long);
            out.too_long = true;
            return out;
        }
        FUZZ_CHECK(used > 0);  // else a driver feeding the same bytes again would spin
        chunk.remove_prefix(used);
        if (p.complete())
        {
            FUZZ_CHECK(p.code() >= 0 && p.code() <= 999);
            check_sane(p.text());
            check_sane(p.lines());
            out.replies.push_back({p.code(), std::string(p.text()), std::string(p.lines())});
        }
        else
        {
            FUZZ_CHECK(chunk.empty());  // an incomplete reply takes everything it is given
        }
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    fuzz::input in(data, size);
    const std::uint8_t seed = in.byte(), mode = in.byte();
    const std::string_view bytes = in.rest();
    const parsed want = reference(bytes);
    FUZZ_CHECK(run(bytes, fuzz::splitter::whole()) == want);
    FUZZ_CHECK(run(bytes, fuzz::splitter(seed, mode ? mode : 8)) == want);  // never whole here
    return 0;
}
