// Test that header file is self-contained.
#include <mailload/sansio/data_scanner.hpp>

#include <boost/test/unit_test.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "support/algo_test.hpp"

using mailload::sansio::data_end_scanner;
using mailload::sansio::dot_unstuffer;
using mailload::test::quoted;

namespace {

constexpr std::size_t no_end = std::string::npos;

struct scan_case
{
    std::string data;
    std::size_t end;  ///< bytes up to and including the end marker; no_end: none in `data`
};

std::vector<scan_case> scan_cases()
{
    return {
        {".\r\n",                           3                 }, // "." right after the 354: an empty message
        {"\r\n.\r\n",                       5                 }, // CR LF . CR LF at the very start: one empty line
        {"\r\r\n.\r\n",                     6                 }, // a CR restarts the machine at "saw CR"
        {"\r\r\r\n.\r\n",                   7                 },
        {"\r\n\r\n.\r\n",                   7                 },
        {"Subject: x\r\n\r\nbody\r\n.\r\n", 23                },
        {"a\r\n..\r\n.\r\n",                10                }, // "\r\n..\r\n" is no end
        {"x\r\n.\r\r\n.\r\n",               10                }, // nor "\r\n.\r\r\n"
        {"bare\n.\nx\r\n.\r\n",             13                }, // nor a bare "\n.\n"
        {".\r\r\n.\r\n",                    7                 },
        {"x\r\n.x\r\n. \r\n.\r\n",          14                },
        {"body\r\n.\r\nQUIT\r\n",           9                 }, // what follows the marker is not data
        {".\r\n.\r\n",                      3                 },
        {std::string(100000,                'a') + "\r\n.\r\n", 100005}, // long runs without a CR
        {std::string(5000,                                 '\r') + "\n.\r\n",                                    5004},
        {"..\r\n",                             no_end           }, // a stuffed dot at the start
        {"\r\n..\r\n",no_end     },
        {"\n.\n",                             no_end                                         },
        {"abc\r\n.\n",no_end},
        {"abc\r\n. \r\n",                             no_end                                                                       },
        {"abc\r\n.\r\r\n",no_end},
        {"abc\r\n.\r",                             no_end                                                                                                     },
        {"abc",no_end},
        {"",                             no_end                                                                                                                                   },
    };
}

/// Scans `parts` in order with one scanner; the total of bytes taken up to the end, or no_end.
std::size_t scan_parts(const std::vector<std::string_view>& parts, bool& consistent)
{
    data_end_scanner s;
    std::size_t total = 0;
    consistent = true;
    for (std::string_view p : parts)
    {
        const std::size_t n = s.scan(p);
        total += n;
        if (s.done())
            return total;
        if (n != p.size())
            consistent = false;  // without the end, every byte is data
    }
    return no_end;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(data_scanner_hpp)

BOOST_AUTO_TEST_CASE(scanner_finds_the_end_in_one_piece)
{
    for (const auto& c : scan_cases())
    {
        data_end_scanner s;
        BOOST_TEST(!s.done());
        const std::size_t n = s.scan(c.data);
        BOOST_TEST(s.done() == (c.end != no_end), quoted(c.data, 60));
        BOOST_TEST(n == (c.end == no_end ? c.data.size() : c.end), quoted(c.data, 60));
    }
}

BOOST_AUTO_TEST_CASE(scanner_finds_the_end_across_every_split)
{
    for (const auto& c : scan_cases())
    {
        const std::string_view d = c.data;
        const bool long_one = d.size() > 200;
        for (std::size_t k = 0; k <= d.size(); ++k)
        {
            if (long_one && k > 64 && k + 64 < d.size() && k % 997 != 0)
                continue;
            bool consistent = false;
            const std::size_t got = scan_parts({d.substr(0, k), d.substr(k)}, consistent);
            BOOST_TEST(got == c.end, quoted(c.data, 60) << " split after " << k);
            BOOST_TEST(consistent);
        }
        if (long_one)
            continue;
        // in three pieces, at every pair of points
        for (std::size_t i = 0; i <= d.size(); ++i)
            for (std::size_t j = i; j <= d.size(); ++j)
            {
                bool consistent = false;
                const std::size_t got = scan_parts(
                    {d.substr(0, i), d.substr(i, j - i), d.substr(j)},
                    consistent
                );
                BOOST_TEST(got == c.end, quoted(c.data, 60) << " split after " << i << " and " << j);
            }
        // one byte at a time
        std::vector<std::string_view> bytes;
        for (std::size_t i = 0; i < d.size(); ++i)
            bytes.push_back(d.substr(i, 1));
        bool consistent = false;
        BOOST_TEST(scan_parts(bytes, consistent) == c.end, quoted(c.data, 60) << " bytewise");
        BOOST_TEST(consistent);
    }
}

BOOST_AUTO_TEST_CASE(scanner_reset_starts_a_new_message)
{
    data_end_scanner s;
    BOOST_TEST(s.scan("one\r\n.\r\n") == 8u);
    BOOST_TEST(s.done());
    s.reset();
    BOOST_TEST(!s.done());
    BOOST_TEST(s.scan(".\r\n") == 3u);  // again as if a CR LF had just been seen
    BOOST_TEST(s.done());

    // reset in the middle of a message forgets what was seen
    s.reset();
    BOOST_TEST(s.scan("abc\r\n.\r") == 7u);
    BOOST_TEST(!s.done());
    s.reset();
    BOOST_TEST(s.scan("\n") == 1u);  // not the end of "\r\n.\r\n" any more
    BOOST_TEST(!s.done());
    s.reset();
    BOOST_TEST(s.scan("xyz") == 3u);
    s.reset();
    BOOST_TEST(s.scan(".\r\nmore") == 3u);
    BOOST_TEST(s.done());
}

// ---------------------------------------------------------------------------------------------
// dot_unstuffer: what smtp-sink's dumps hold

BOOST_AUTO_TEST_CASE(unstuffer_removes_every_cr_and_the_leading_dot_of_each_line)
{
    struct unstuff_case
    {
        std::string wire, dump;
    };
    const unstuff_case cases[] = {
        {"Subject: x\r\n\r\nbody\r\n.\r\n", "Subject: x\n\nbody\n\n"}, // the content, then one empty line
        {".\r\n",                           "\n"                    }, // empty message
        {"\r\n.\r\n",                       "\n\n"                  },
        {"..stuffed\r\n...two\r\n.\r\n",    ".stuffed\n..two\n\n"   },
        {"..\r\n.\r\n",                     ".\n\n"                 },
        {"a.b\r\n.c\r\n.\r\n",              "a.b\nc\n\n"            }, // only the first character of a line
        {"bare\rCR\r\n.\r\n",               "bareCR\n\n"            }, // lone CRs too
        {"\r\r\n.\r\n",                     "\n\n"                  },
        {"x\r\n.\r\r\n.\r\n",               "x\n\n\n"               },
    };
    for (const auto& c : cases)
    {
        BOOST_TEST_CONTEXT(quoted(c.wire))
        {
            dot_unstuffer u;
            std::string out = "kept:";  // appends
            u.feed(c.wire, out);
            BOOST_TEST(out == "kept:" + c.dump);

            // fed in any two pieces, and byte by byte, the same
            for (std::size_t k = 0; k <= c.wire.size(); ++k)
            {
                dot_unstuffer v;
                std::string o;
                v.feed(std::string_view(c.wire).substr(0, k), o);
                v.feed(std::string_view(c.wire).substr(k), o);
                BOOST_TEST(o == c.dump, "split after " << k);
            }
            dot_unstuffer w;
            std::string o;
            for (char ch : c.wire)
                w.feed(std::string_view(&ch, 1), o);
            BOOST_TEST(o == c.dump);
        }
    }
}

BOOST_AUTO_TEST_CASE(unstuffer_reset_starts_at_a_line_start)
{
    dot_unstuffer u;
    std::string out;
    u.feed("abc", out);
    u.reset();
    u.feed(".x\r\n", out);
    BOOST_TEST(out == "abcx\n");
    u.feed("y.\r\n", out);  // the state carries over between feeds
    BOOST_TEST(out == "abcx\ny.\n");
}

BOOST_AUTO_TEST_CASE(unstuffer_drops_only_a_dot_right_after_cr_lf)
{
    // Postfix's data_read() drops a '.' only on the CR LF . transition; a bare LF does not end a
    // line in DATA (spec §3.8), and a CR in front of the dot breaks the CR LF . sequence
    {
        dot_unstuffer u;
        std::string out;
        u.feed("a\n.b\r\n.\r\n", out);
        BOOST_TEST(out == "a\n.b\n\n", "a dot after a bare LF is kept; got " << quoted(out));
    }
    {
        dot_unstuffer u;
        std::string out;
        u.feed("x\r\n\r.y\r\n.\r\n", out);
        BOOST_TEST(out == "x\n.y\n\n", "a dot after CR LF CR is kept; got " << quoted(out));
    }
}

BOOST_AUTO_TEST_CASE(scanner_and_unstuffer_together)
{
    // what the sink does: the scanner delimits the data, the unstuffer writes it
    const std::string wire = "Subject: t\r\n\r\n..one\r\ntwo\r\n.\r\nQUIT\r\n";
    for (std::size_t k = 0; k <= wire.size(); ++k)
    {
        data_end_scanner s;
        dot_unstuffer u;
        std::string dump;
        std::size_t data = 0;
        for (std::string_view part : {std::string_view(wire).substr(0, k), std::string_view(wire).substr(k)})
        {
            if (s.done())
                break;
            const std::size_t n = s.scan(part);
            u.feed(part.substr(0, n), dump);
            data += n;
        }
        BOOST_TEST(data == wire.size() - 6);  // all but "QUIT\r\n"
        BOOST_TEST(s.done());
        BOOST_TEST(dump == "Subject: t\n\n.one\ntwo\n\n", "split after " << k);
    }
}

BOOST_AUTO_TEST_SUITE_END()
