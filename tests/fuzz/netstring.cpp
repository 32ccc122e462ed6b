// SPDX-License-Identifier: BSL-1.0
// tests/fuzz/netstring.cpp — sansio::netstring_reader and append_netstring
//
// Input: [split seed][split mode][limit][keep/cut] then bytes.
// Checks, for arbitrary bytes: feeding them in any split gives the same outcome (done or not,
// error kind, bytes consumed, declared size, data) as a plain re-implementation of the
// documented format run on the whole input; feed() never takes more than it is given; with
// keep off nothing is kept. Round trip: append_netstring of a piece of the input, followed
// by more bytes, decodes under any split to exactly that piece, consuming exactly the
// encoded bytes.

#include <mailload/sansio/netstring.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"

namespace {

using mailload::sansio::append_netstring;
using mailload::sansio::netstring_reader;

struct outcome
{
    bool done = false;
    int error = 0;  // mailload::error value, 0: none
    std::size_t used = 0;
    std::uint64_t size = 0;
    std::string data;
    bool operator==(const outcome&) const = default;
};

// digits (1..max_digits, value <= limit checked digit by digit) ':' data ','
outcome reference(std::string_view in, std::uint64_t limit, bool keep)
{
    outcome o;
    std::size_t i = 0, digits = 0;
    std::uint64_t len = 0;
    auto fail = [&](mailload::error e) {
        o.error = static_cast<int>(e);
        o.used = i;
        return o;
    };
    for (;; ++i)
    {
        if (i == in.size())
        {
            o.used = i;
            return o;
        }
        const char c = in[i];
        if (c == ':' && digits > 0)
            break;
        if (c < '0' || c > '9')
            return fail(mailload::error::netstring_format);
        if (++digits > netstring_reader::max_digits)
            return fail(mailload::error::netstring_size);
        len = len * 10 + static_cast<std::uint64_t>(c - '0');
        if (len > limit)
            return fail(mailload::error::netstring_size);
    }
    ++i;  // ':'
    o.size = len;
    const std::size_t have = in.size() - i;
    if (have <= len)
    {
        if (keep)
            o.data = in.substr(i);
        o.used = in.size();
        return o;
    }
    if (keep)
        o.data = in.substr(i, len);
    i += len;
    if (in[i] != ',')
        return fail(mailload::error::netstring_format);
    o.done = true;
    o.used = i + 1;
    return o;
}

outcome decode(std::string_view in, std::uint64_t limit, bool keep, fuzz::splitter split)
{
    netstring_reader r(limit, keep);
    FUZZ_CHECK(r.empty() && !r.done());
    outcome o;
    std::size_t at = 0;
    while (at < in.size() && !r.done())
    {
        const std::size_t n = split.next(in.size() - at, in.size());
        boost::system::error_code ec;
        const std::size_t used = r.feed(in.substr(at, n), ec);
        FUZZ_CHECK(used <= n);
        o.used += used;
        at += n;
        if (ec)
        {
            FUZZ_CHECK(ec == mailload::error::netstring_format || ec == mailload::error::netstring_size);
            o.error = ec.value();
            o.size = r.size();
            o.data = r.data();
            return o;
        }
        FUZZ_CHECK(r.done() || used == n);  // unfinished: it takes all it is given
        if (!keep)
            FUZZ_CHECK(r.data().empty());
    }
    o.done = r.done();
    o.size = r.size();
    o.data = r.data();
    if (o.done)
        FUZZ_CHECK(!keep || o.data.size() == o.size);
    return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    fuzz::input in(data, size);
    const std::uint8_t seed = in.byte(), mode = in.byte(), lim = in.byte(), flags = in.byte();
    // limits around the interesting edges: tiny, the input's size, QMQP's reply bound, 2^30, max
    static constexpr std::uint64_t limits[] = {0, 1, 5, 64, 10240, std::uint64_t(1) << 30, ~std::uint64_t(0)};
    const std::uint64_t limit = limits[lim % 7];
    const bool keep = !(flags & 1);
    const std::string_view bytes = in.rest();
    const fuzz::splitter split(seed, mode ? mode : 8);

    // arbitrary bytes
    const outcome want = reference(bytes, limit, keep);
    FUZZ_CHECK(decode(bytes, limit, keep, fuzz::splitter::whole()) == want);
    FUZZ_CHECK(decode(bytes, limit, keep, split) == want);

    // round trip: the first `cut` bytes as a netstring, the rest after it
    const std::size_t cut = bytes.empty() ? 0 : (flags >> 1) % (bytes.size() + 1);
    const std::string_view piece = bytes.substr(0, cut);
    std::string wire;
    append_netstring(wire, piece);
    const std::size_t encoded = wire.size();
    FUZZ_CHECK(encoded == std::to_string(piece.size()).size() + 2 + piece.size());
    wire.append(bytes.substr(cut));
    for (const fuzz::splitter s : {fuzz::splitter::whole(), split})
    {
        const outcome got = decode(wire, ~std::uint64_t(0), true, s);
        FUZZ_CHECK(
            got.done && got.error == 0 && got.used == encoded && got.data == piece && got.size == piece.size()
        );
        const outcome counted = decode(wire, piece.size(), false, s);  // at the limit exactly
        FUZZ_CHECK(
            counted.done && counted.used == encoded && counted.data.empty() && counted.size == piece.size()
        );
    }
    if (!piece.empty())  // one byte over the limit is a size error
        FUZZ_CHECK(
            decode(wire, piece.size() - 1, true, split).error ==
            static_cast<int>(mailload::error::netstring_size)
        );
    return 0;
}
