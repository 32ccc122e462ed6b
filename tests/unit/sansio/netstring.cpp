// Test that header file is self-contained.
#include <mailload/sansio/netstring.hpp>

#include <boost/test/unit_test.hpp>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define MAILLOAD_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MAILLOAD_TEST_ASAN 1
#endif
#endif

#if defined(MAILLOAD_TEST_ASAN)
// from <sanitizer/allocator_interface.h>, which not every compiler installs
extern "C" std::size_t __sanitizer_get_current_allocated_bytes();
#elif defined(__GLIBC__)
#include <malloc.h>
#endif

using mailload::sansio::append_netstring;
using mailload::sansio::netstring_reader;
using mailload::error;
using boost::system::error_code;

namespace {

/// Bytes the heap holds right now, or 0 where we cannot tell (then the checks that use it are
/// vacuous; the bad_alloc checks still stand). ASan's own allocator under ASan, glibc's otherwise.
std::size_t heap_in_use()
{
#if defined(MAILLOAD_TEST_ASAN)
    return __sanitizer_get_current_allocated_bytes();
#elif defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
    const struct mallinfo2 m = ::mallinfo2();
    return m.uordblks + m.hblkhd;
#else
    return 0;
#endif
}

std::string netstring(std::string_view data)
{
    std::string s;
    append_netstring(s, data);
    return s;
}

/// What feeding some pieces to one reader did.
struct fed
{
    std::size_t used = 0;  ///< bytes taken, over all pieces
    error_code ec;
    bool done = false;
    std::uint64_t size = 0;
    std::string data;
};

/// Feeds `pieces` in order until done or an error; a piece is fed again from where the reader
/// stopped only if it stopped early for no reason (which would be a bug: it must not).
fed feed_pieces(netstring_reader& r, const std::vector<std::string_view>& pieces)
{
    fed f;
    for (std::string_view p : pieces)
    {
        const std::size_t n = r.feed(p, f.ec);
        BOOST_TEST(n <= p.size());
        f.used += n;
        if (f.ec || r.done())
            break;
        BOOST_TEST(n == p.size(), "the reader left bytes of an unfinished netstring: " << n << " of " << p.size());
    }
    f.done = r.done();
    f.size = r.size();
    f.data = std::string(r.data());
    return f;
}

fed feed_all(std::string_view in, std::uint64_t max_size = 1 << 20, bool keep = true)
{
    netstring_reader r(max_size, keep);
    return feed_pieces(r, {in});
}

const char* mode_name(bool keep) { return keep ? "keep" : "count"; }

}  // namespace

BOOST_AUTO_TEST_SUITE(netstring_hpp)

// ---------------------------------------------------------------------------------------------
// append_netstring

BOOST_AUTO_TEST_CASE(append_netstring_exact_bytes)
{
    BOOST_TEST(netstring("") == "0:,");
    BOOST_TEST(netstring("KOk") == "3:KOk,");
    BOOST_TEST(netstring("foo@vm") == "6:foo@vm,");
    BOOST_TEST(netstring("123456789") == "9:123456789,");     // one digit
    BOOST_TEST(netstring("1234567890") == "10:1234567890,");  // the length gets its second digit
    BOOST_TEST(netstring(std::string(99, 'a')) == "99:" + std::string(99, 'a') + ",");
    BOOST_TEST(netstring(std::string(100, 'a')) == "100:" + std::string(100, 'a') + ",");
    // bytes are copied as they are: NUL, ',' and ':' included
    BOOST_TEST(netstring(std::string_view("a\0,:", 4)) == std::string("4:a\0,:,", 7));
}

BOOST_AUTO_TEST_CASE(append_netstring_appends)
{
    std::string s = "prefix";
    append_netstring(s, "ab");
    append_netstring(s, "");
    append_netstring(s, "3:abc,");  // nesting, as QMQP does
    BOOST_TEST(s == "prefix2:ab,0:,6:3:abc,,");
}

// ---------------------------------------------------------------------------------------------
// netstring_reader: valid input

BOOST_AUTO_TEST_CASE(reads_a_whole_netstring)
{
    for (bool keep : {true, false})
    {
        BOOST_TEST_CONTEXT(mode_name(keep))
        {
            netstring_reader r(1024, keep);
            BOOST_TEST(r.empty());
            BOOST_TEST(!r.done());
            error_code ec;
            BOOST_TEST(r.feed("3:KOk,", ec) == 6u);
            BOOST_TEST(!ec);
            BOOST_TEST(r.done());
            BOOST_TEST(!r.empty());
            BOOST_TEST(r.size() == 3u);
            BOOST_TEST(r.data() == (keep ? "KOk" : ""));
        }
    }
}

BOOST_AUTO_TEST_CASE(every_split_and_one_byte_at_a_time)
{
    const std::vector<std::string> inputs = {
        "0:,",
        "3:KOk,",
        "8:Zdeferal,",
        "10:0123456789,",
        "12:hello,world!,",  // ',' and ':' inside the data are data
        netstring(netstring("a") + netstring("bc")),
        std::string("5:\0\r\n:,,", 8),
    };
    for (const std::string& in : inputs)
    {
        const fed whole = feed_all(in);
        BOOST_TEST_REQUIRE(!whole.ec, in);
        BOOST_TEST_REQUIRE(whole.done, in);
        BOOST_TEST(whole.used == in.size());
        const std::string expected = in.substr(in.find(':') + 1, in.size() - in.find(':') - 2);
        BOOST_TEST(whole.data == expected);
        BOOST_TEST(whole.size == expected.size());
        for (bool keep : {true, false})
        {
            BOOST_TEST_CONTEXT(in << " (" << mode_name(keep) << ")")
            {
                // two pieces, cut anywhere
                for (std::size_t k = 0; k <= in.size(); ++k)
                {
                    netstring_reader r(1024, keep);
                    const fed f = feed_pieces(r, {std::string_view(in).substr(0, k), std::string_view(in).substr(k)});
                    BOOST_TEST(!f.ec, "cut at " << k);
                    BOOST_TEST(f.done, "cut at " << k);
                    BOOST_TEST(f.used == in.size(), "cut at " << k);
                    BOOST_TEST(f.size == expected.size(), "cut at " << k);
                    BOOST_TEST(f.data == (keep ? expected : std::string()), "cut at " << k);
                }
                // three pieces, cut anywhere
                for (std::size_t i = 0; i <= in.size(); ++i)
                    for (std::size_t j = i; j <= in.size(); ++j)
                    {
                        netstring_reader r(1024, keep);
                        const std::string_view v(in);
                        const fed f = feed_pieces(r, {v.substr(0, i), v.substr(i, j - i), v.substr(j)});
                        BOOST_TEST((!f.ec && f.done && f.used == in.size()), "cuts at " << i << ", " << j);
                        BOOST_TEST(f.data == (keep ? expected : std::string()), "cuts at " << i << ", " << j);
                    }
                // one byte at a time: not done before the last byte
                netstring_reader r(1024, keep);
                error_code ec;
                for (std::size_t k = 0; k < in.size(); ++k)
                {
                    BOOST_TEST(!r.done(), "done before byte " << k);
                    BOOST_TEST(r.feed(std::string_view(in).substr(k, 1), ec) == 1u, "byte " << k);
                    BOOST_TEST(!ec, "byte " << k);
                }
                BOOST_TEST(r.done());
                BOOST_TEST(r.size() == expected.size());
                BOOST_TEST(r.data() == (keep ? expected : std::string()));
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(bytes_after_the_comma_are_not_consumed)
{
    for (bool keep : {true, false})
    {
        BOOST_TEST_CONTEXT(mode_name(keep))
        {
            netstring_reader r(1024, keep);
            error_code ec;
            BOOST_TEST(r.feed("5:hello,EXTRA", ec) == 8u);
            BOOST_TEST(!ec);
            BOOST_TEST(r.done());
            // once done, nothing more is taken (not even a second netstring)
            BOOST_TEST(r.feed("3:abc,", ec) == 0u);
            BOOST_TEST(!ec);
            BOOST_TEST(r.size() == 5u);
            BOOST_TEST(r.data() == (keep ? "hello" : ""));

            netstring_reader s(1024, keep);  // the end arrives with the next netstring's start
            BOOST_TEST(s.feed("5:hel", ec) == 5u);
            BOOST_TEST(s.feed("lo,0:,", ec) == 3u);
            BOOST_TEST(!ec);
            BOOST_TEST(s.done());

            netstring_reader t(1024, keep);  // an empty one followed by more
            BOOST_TEST(t.feed("0:,0:,", ec) == 3u);
            BOOST_TEST(!ec);
            BOOST_TEST(t.done());
        }
    }
}

BOOST_AUTO_TEST_CASE(empty_netstring_is_complete)
{
    for (bool keep : {true, false})
    {
        netstring_reader r(0, keep);  // even with no room for data at all
        error_code ec;
        BOOST_TEST(r.feed("0:,", ec) == 3u);
        BOOST_TEST(!ec);
        BOOST_TEST(r.done());
        BOOST_TEST(r.size() == 0u);
        BOOST_TEST(r.data().empty());
    }
}

BOOST_AUTO_TEST_CASE(size_is_known_once_the_colon_is_read)
{
    netstring_reader r(1024);
    error_code ec;
    BOOST_TEST(r.feed("12", ec) == 2u);
    BOOST_TEST(!r.empty());
    BOOST_TEST(r.feed(":hello", ec) == 6u);
    BOOST_TEST(r.size() == 12u);
    BOOST_TEST(r.data() == "hello");  // what has arrived so far
    BOOST_TEST(!r.done());
    BOOST_TEST(r.feed(",world!,", ec) == 8u);
    BOOST_TEST(r.done());
    BOOST_TEST(r.data() == "hello,world!");
    BOOST_TEST(!ec);
}

BOOST_AUTO_TEST_CASE(truncated_input_is_not_done)
{
    for (std::string_view in : {"", "5", "5:", "5:hel", "5:hello", "0:", "10:012345678"})
    {
        BOOST_TEST_CONTEXT(in)
        {
            netstring_reader r(1024);
            error_code ec;
            BOOST_TEST(r.feed(in, ec) == in.size());
            BOOST_TEST(!ec);
            BOOST_TEST(!r.done());
            BOOST_TEST(r.empty() == in.empty());
            BOOST_TEST(r.feed("", ec) == 0u);  // nothing more: still waiting
            BOOST_TEST(!ec);
            BOOST_TEST(!r.done());
        }
    }
}

BOOST_AUTO_TEST_CASE(length_and_digit_limits_are_inclusive)
{
    {
        const fed f = feed_all("10:0123456789,", 10);  // exactly max_size
        BOOST_TEST(!f.ec);
        BOOST_TEST(f.done);
    }
    {
        const fed f = feed_all("11:", 10);
        BOOST_TEST(f.ec == error::netstring_size);
        BOOST_TEST(!f.done);
    }
    // max_digits digits are fine (leading zeros count as digits), one more is not
    const std::string twelve(netstring_reader::max_digits - 1, '0');
    {
        const fed f = feed_all(twelve + "3:abc,", std::numeric_limits<std::uint64_t>::max());
        BOOST_TEST(!f.ec);
        BOOST_TEST(f.done);
        BOOST_TEST(f.data == "abc");
    }
    {
        const fed f = feed_all(twelve + "03:abc,", std::numeric_limits<std::uint64_t>::max());
        BOOST_TEST(f.ec == error::netstring_size);
        BOOST_TEST(!f.done);
    }
}

// ---------------------------------------------------------------------------------------------
// netstring_reader: malformed and absurd input

BOOST_AUTO_TEST_CASE(malformed_input_is_a_format_error)
{
    const std::vector<std::string_view> bad = {
        "x:hello,",   // non-digit before ':'
        "5x:hello,",  // ... after digits
        "-5:hello,",
        " 5:hello,",
        "5 :hello,",
        "+5:hello,",
        ":",          // a ':' with no digits
        ":hello,",
        ",",
        "5:hello;",   // missing ',' after the data
        "5:hello\n",
        "0:;",
        "3:KOk.",
        "junk",
    };
    for (std::string_view in : bad)
    {
        for (bool keep : {true, false})
        {
            BOOST_TEST_CONTEXT(in << " (" << mode_name(keep) << ")")
            {
                const fed f = feed_all(in, 1024, keep);
                BOOST_TEST(f.ec == error::netstring_format);
                BOOST_TEST(!f.done);
                BOOST_TEST(f.used < in.size());  // the bad byte is not taken

                netstring_reader r(1024, keep);  // the same one byte at a time
                error_code ec;
                for (std::size_t k = 0; k < in.size() && !ec; ++k)
                    r.feed(in.substr(k, 1), ec);
                BOOST_TEST(ec == error::netstring_format);
                BOOST_TEST(!r.done());
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(absurd_lengths_are_a_size_error)
{
    const std::vector<std::string_view> absurd = {
        "99999999999999999999999:",  // obs 27: more digits than any integer holds
        "18446744073709551616:",     // 2^64: would wrap around to 0
        "18446744073709551617:x,",   // 2^64 + 1: would wrap around to 1
        "9999999999999",             // max_digits + 1 digits, no ':' yet
        "1025:",                     // just above max_size
        "100000:",
    };
    for (std::string_view in : absurd)
    {
        for (bool keep : {true, false})
        {
            BOOST_TEST_CONTEXT(in << " (" << mode_name(keep) << ")")
            {
                const fed f = feed_all(in, 1024, keep);
                BOOST_TEST(f.ec == error::netstring_size);
                BOOST_TEST(!f.done);
            }
        }
    }
    // with no size limit, the digit limit alone stops a wrap-around
    const fed f = feed_all("18446744073709551617:x,", std::numeric_limits<std::uint64_t>::max());
    BOOST_TEST(f.ec == error::netstring_size);
}

BOOST_AUTO_TEST_CASE(absurd_lengths_allocate_nothing)
{
    // The probe must see a 1 MiB allocation (where it works at all).
    const std::size_t before_probe = heap_in_use();
    {
        std::string big;
        big.reserve(1 << 20);
        big.push_back('x');
        const std::size_t during = heap_in_use();
        if (before_probe != 0 || during != 0)
            BOOST_TEST(during >= before_probe + (1 << 20));
        else
            BOOST_TEST_MESSAGE("no heap probe on this platform: only the bad_alloc checks apply");
    }

    // A keep-mode reader (the one that stores data) with the largest limits: a 13-digit length is
    // refused by the digit limit; had its 10^13 bytes been reserved, this would throw or abort.
    for (std::string_view in : {"9999999999999:", "99999999999999999999999:"})
    {
        netstring_reader r(std::numeric_limits<std::uint64_t>::max(), true);
        error_code ec;
        const std::size_t before = heap_in_use();
        BOOST_CHECK_NO_THROW(r.feed(in, ec));
        const std::size_t after = heap_in_use();
        BOOST_TEST(ec == error::netstring_size);
        BOOST_TEST(after <= before + 4096, in << ": the heap grew by " << (after - before) << " bytes");
    }
    // A length over max_size is refused as soon as its digits pass the limit, before any ':'.
    for (std::string_view in : {"1000000001:", "4000000000:", "999999999999:"})
    {
        netstring_reader r(1000000000, true);
        error_code ec;
        const std::size_t before = heap_in_use();
        BOOST_CHECK_NO_THROW(r.feed(in, ec));
        const std::size_t after = heap_in_use();
        BOOST_TEST(ec == error::netstring_size);
        BOOST_TEST(after <= before + 4096, in << ": the heap grew by " << (after - before) << " bytes");
    }
    // Count mode never stores data, whatever length is declared within the limit.
    {
        netstring_reader r(std::uint64_t(1) << 40, false);
        error_code ec;
        const std::string chunk(4096, 'x');
        const std::size_t before = heap_in_use();
        BOOST_CHECK_NO_THROW(r.feed("999999999999:", ec));
        for (int i = 0; i < 64; ++i)
            r.feed(chunk, ec);
        const std::size_t after = heap_in_use();
        BOOST_TEST(!ec);
        BOOST_TEST(!r.done());
        BOOST_TEST(r.size() == 999999999999u);
        BOOST_TEST(r.data().empty());
        BOOST_TEST(after <= before + 4096, "the heap grew by " << (after - before) << " bytes");
    }
}

// ---------------------------------------------------------------------------------------------
// reset()

BOOST_AUTO_TEST_CASE(reset_starts_over)
{
    for (bool keep : {true, false})
    {
        BOOST_TEST_CONTEXT(mode_name(keep))
        {
            netstring_reader r(1024, keep);
            error_code ec;
            r.feed("5:hello,", ec);
            BOOST_TEST(r.done());
            r.reset();
            BOOST_TEST(!r.done());
            BOOST_TEST(r.empty());
            BOOST_TEST(r.size() == 0u);
            BOOST_TEST(r.data().empty());
            BOOST_TEST(r.feed("3:KOk,", ec) == 6u);
            BOOST_TEST(!ec);
            BOOST_TEST(r.done());
            BOOST_TEST(r.data() == (keep ? "KOk" : ""));

            r.reset();  // in the middle of one
            r.feed("12:hel", ec);
            r.reset();
            BOOST_TEST(r.empty());
            BOOST_TEST(r.feed("0:,", ec) == 3u);
            BOOST_TEST(!ec);
            BOOST_TEST(r.done());
            BOOST_TEST(r.size() == 0u);
            BOOST_TEST(r.data().empty());

            r.reset();  // after an error (the caller clears its error code)
            r.feed("x", ec);
            BOOST_TEST(ec == error::netstring_format);
            ec.clear();
            r.reset();
            BOOST_TEST(r.feed("1:a,", ec) == 4u);
            BOOST_TEST(!ec);
            BOOST_TEST(r.done());
            BOOST_TEST(r.data() == (keep ? "a" : ""));
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()
