// SPDX-License-Identifier: BSL-1.0
// tests/fuzz/data_scanner.cpp — sansio::data_end_scanner and dot_unstuffer in arbitrary splits
//
// Input: [split seed][split mode] then message data (possibly several messages back to back).
// Checks (differential): the scanner ends each message at the same offset whatever the split,
// and that offset is where a naive search for the first CR LF . CR LF (or ". CR LF" at the
// start) puts it; scan() never claims more than it was given, and claims a non-empty part
// when it finds the end. The unstuffer gives the same output whatever the split, equal to a
// plain rule applied to the whole input: every CR removed, a '.' dropped at the start and
// right after each CR LF. Round trip with smtp-source's -F dot-stuffing: the input taken as a
// file, message_builder's body (dot_stuff_lines + CR LF . CR LF) ends only at its very end
// whatever the split, and unstuffs to the file without CRs, LF-terminated, then the extra empty
// line and the end marker's line.

#include <mailload/sansio/data_scanner.hpp>
#include <mailload/sansio/message_builder.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"

namespace {

using mailload::sansio::data_end_scanner;
using mailload::sansio::dot_unstuffer;

// Ends of the messages in `d` (absolute offsets), each search starting after the last end.
std::vector<std::size_t> naive_ends(std::string_view d)
{
    std::vector<std::size_t> ends;
    std::size_t from = 0;
    while (const auto e = fuzz::naive_data_end(d.substr(from)))
    {
        from += *e;
        ends.push_back(from);
    }
    return ends;
}

std::vector<std::size_t> scanned_ends(std::string_view d, fuzz::splitter split)
{
    std::vector<std::size_t> ends;
    data_end_scanner s;
    std::size_t at = 0;  // bytes taken so far
    while (at < d.size())
    {
        const std::size_t n = split.next(d.size() - at, d.size());
        std::string_view chunk = d.substr(at, n);
        while (!chunk.empty())
        {
            const std::size_t used = s.scan(chunk);
            FUZZ_CHECK(used <= chunk.size());
            at += used;
            chunk.remove_prefix(used);
            if (s.done())
            {
                FUZZ_CHECK(used > 0);
                ends.push_back(at);
                s.reset();
                FUZZ_CHECK(!s.done());
            }
            else
            {
                FUZZ_CHECK(chunk.empty());
            }
        }
    }
    return ends;
}

std::string unstuffed_by_rule(std::string_view d)
{
    std::string out;
    for (std::size_t i = 0; i < d.size(); ++i)
    {
        if (d[i] == '\r')
            continue;
        if (d[i] == '.' && (i == 0 || (i >= 2 && d[i - 2] == '\r' && d[i - 1] == '\n')))
            continue;
        out += d[i];
    }
    return out;
}

std::string unstuffed(std::string_view d, fuzz::splitter split)
{
    dot_unstuffer u;
    std::string out;
    std::size_t at = 0;
    while (at < d.size())
    {
        const std::size_t n = split.next(d.size() - at, d.size());
        const std::size_t before = out.size();
        u.feed(d.substr(at, n), out);
        FUZZ_CHECK(out.size() - before <= n);  // it only ever removes bytes
        at += n;
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    fuzz::input in(data, size);
    const std::uint8_t seed = in.byte(), mode = in.byte();
    const std::string_view d = in.rest();
    const fuzz::splitter split(seed, mode ? mode : 8);

    const auto want = naive_ends(d);
    FUZZ_CHECK(scanned_ends(d, fuzz::splitter::whole()) == want);
    FUZZ_CHECK(scanned_ends(d, split) == want);
    FUZZ_CHECK(scanned_ends(d, fuzz::splitter(0, 8)) == want);  // one byte at a time

    const std::string rule = unstuffed_by_rule(d);
    FUZZ_CHECK(unstuffed(d, fuzz::splitter::whole()) == rule);
    FUZZ_CHECK(unstuffed(d, split) == rule);

    // Each message as the sink dumps it: its data with the end marker, unstuffed on its own.
    std::size_t from = 0;
    for (const std::size_t end : want)
    {
        const std::string one = unstuffed(d.substr(from, end - from), split);
        FUZZ_CHECK(one.size() >= 1 && one.back() == '\n');  // "...\r\n.\r\n" ends as "...\n\n"
        from = end;
    }

    // the input as a -F file: its dot-stuffed body cannot end early
    if (!d.empty())
    {
        mailload::sansio::message_options mo;
        mo.file_content = std::string(d);
        mo.headers = false;
        const mailload::sansio::message_builder b(mo);
        const std::string_view body = b.body();
        FUZZ_CHECK(body == mailload::sansio::message_builder::dot_stuff_lines(d) + "\r\n.\r\n");
        const std::vector<std::size_t> one_end{body.size()};
        FUZZ_CHECK(scanned_ends(body, split) == one_end);
        std::string want_dump;
        for (char c : d)
            if (c != '\r')
                want_dump += c;
        if (d.back() != '\n')
            want_dump += '\n';
        want_dump += "\n\n";
        FUZZ_CHECK(unstuffed(body, split) == want_dump);
    }
    return 0;
}
