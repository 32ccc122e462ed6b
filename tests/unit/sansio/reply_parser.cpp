// Test that header file is self-contained.
#include <mailload/sansio/reply_parser.hpp>

#include <boost/test/unit_test.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

using mailload::sansio::reply_parser;

namespace {

/// A parsed reply, copied out of the parser.
struct result
{
    bool complete = false;
    int code = -1;
    std::string text;
    std::string lines;
    std::size_t used = 0;  // bytes consumed in all
    boost::system::error_code ec;

    friend bool operator==(const result&, const result&) = default;
    friend std::ostream& operator<<(std::ostream& os, const result& r)
    {
        return os << "{complete " << r.complete << ", code " << r.code << ", text \"" << r.text << "\" ("
                  << r.text.size() << " bytes), used " << r.used << ", ec " << r.ec.message() << '}';
    }
};

/// Feeds `chunks` in turn until a reply is complete (or an error).
result feed_chunks(reply_parser& p, const std::vector<std::string_view>& chunks)
{
    result r;
    for (auto chunk : chunks)
    {
        r.used += p.feed(chunk, r.ec);
        if (r.ec || p.complete())
            break;
    }
    r.complete = p.complete();
    r.code = p.code();
    r.text = p.text();
    r.lines = p.lines();
    return r;
}

result parse(std::string_view bytes)
{
    reply_parser p;
    return feed_chunks(p, {bytes});
}

/// The bytes cut at every point, and byte by byte: each must give what one piece gives.
void check_every_split(std::string_view bytes)
{
    const result whole = parse(bytes);
    for (std::size_t k = 1; k < bytes.size(); ++k)
    {
        reply_parser p;
        const result r = feed_chunks(p, {bytes.substr(0, k), bytes.substr(k)});
        BOOST_TEST(r == whole, "split after " << k);
        if (r != whole)
            return;
    }
    for (std::size_t i = 1; i + 1 < bytes.size(); i += 3)
    {
        for (std::size_t j = i + 1; j < bytes.size(); j += 5)
        {
            reply_parser p;
            const result r = feed_chunks(p, {bytes.substr(0, i), bytes.substr(i, j - i), bytes.substr(j)});
            BOOST_TEST(r == whole, "split after " << i << " and " << j);
            if (r != whole)
                return;
        }
    }
    std::vector<std::string_view> bytewise;
    for (std::size_t i = 0; i < bytes.size(); ++i)
        bytewise.push_back(bytes.substr(i, 1));
    reply_parser p;
    BOOST_TEST(feed_chunks(p, bytewise) == whole, "one byte at a time");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(reply_parser_hpp)

BOOST_AUTO_TEST_CASE(single_line)
{
    const auto r = parse("250 2.1.0 Ok\r\n");
    BOOST_TEST(r.complete);
    BOOST_TEST(r.code == 250);
    BOOST_TEST(r.text == "2.1.0 Ok");
    BOOST_TEST(r.lines == "250 2.1.0 Ok");
    BOOST_TEST(r.used == 14u);
    BOOST_TEST(!r.ec);
}

BOOST_AUTO_TEST_CASE(code_is_exactly_three_digits)
{
    BOOST_TEST(parse("354 go\r\n").code == 354);
    BOOST_TEST(parse("250\r\n").code == 250);
    BOOST_TEST(parse("250\r\n").text == "");
    BOOST_TEST(parse("000 x\r\n").code == 0);
    BOOST_TEST(parse("099 x\r\n").code == 99);

    const auto two = parse("25 x\r\n");
    BOOST_TEST(two.complete);
    BOOST_TEST(two.code == 0);
    BOOST_TEST(two.text == "x");

    const auto four = parse("2500 x\r\n");
    BOOST_TEST(four.complete);
    BOOST_TEST(four.code == 0);
    BOOST_TEST(four.text == "x");

    const auto none = parse("abc\r\n");
    BOOST_TEST(none.complete);
    BOOST_TEST(none.code == 0);
    BOOST_TEST(none.text == "abc");

    const auto empty = parse("\r\n");
    BOOST_TEST(empty.complete);
    BOOST_TEST(empty.code == 0);
    BOOST_TEST(empty.text == "");

    BOOST_TEST(parse("250ok\r\n").code == 250);  // Postfix: three digits then anything
    BOOST_TEST(parse("250ok\r\n").text == "ok");
    BOOST_TEST(parse(" 250 x\r\n").code == 0);
}

BOOST_AUTO_TEST_CASE(continuation_lines)
{
    const auto r = parse("250-smtp-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 DSN\r\n");
    BOOST_TEST(r.complete);
    BOOST_TEST(r.code == 250);
    BOOST_TEST(r.text == "smtp-sink\nPIPELINING\n8BITMIME\nDSN");
    BOOST_TEST(r.lines == "250-smtp-sink\n250-PIPELINING\n250-8BITMIME\n250 DSN");

    // the code is the last line's; a '-' after any number of digits continues
    const auto mixed = parse("250-a\r\n25-b\r\n-c\r\n550 d\r\n");
    BOOST_TEST(mixed.complete);
    BOOST_TEST(mixed.code == 550);
    BOOST_TEST(mixed.text == "a\nb\nc\nd");

    const auto empty_last = parse("250-smtp-sink\r\n250 \r\n");  // obs 4's LHLO reply ends so
    BOOST_TEST(empty_last.text == "smtp-sink\n");
    BOOST_TEST(empty_last.lines == "250-smtp-sink\n250 ");
}

BOOST_AUTO_TEST_CASE(incomplete_until_the_last_line)
{
    reply_parser p;
    boost::system::error_code ec;
    BOOST_TEST(p.feed("250-first\r\n", ec) == 11u);
    BOOST_TEST(!p.complete());
    BOOST_TEST(p.feed("250 sec", ec) == 7u);
    BOOST_TEST(!p.complete());
    BOOST_TEST(p.feed("ond\r", ec) == 4u);
    BOOST_TEST(!p.complete());
    BOOST_TEST(p.feed("\n", ec) == 1u);
    BOOST_TEST(p.complete());
    BOOST_TEST(p.code() == 250);
    BOOST_TEST(p.text() == "first\nsecond");
    BOOST_TEST(!ec);
}

BOOST_AUTO_TEST_CASE(leading_white_space_is_removed)
{
    BOOST_TEST(parse("250    hello  \r\n").text == "hello  ");
    BOOST_TEST(parse("250 \t \v\f hello\r\n").text == "hello");
    BOOST_TEST(parse("250\thello\r\n").text == "hello");
    BOOST_TEST(parse("250-  one\r\n250   two\r\n").text == "one\ntwo");
    BOOST_TEST(parse("250 a  b\r\n").text == "a  b");
    BOOST_TEST(parse("250    \r\n").text == "");
    BOOST_TEST(parse("250    \r\n").lines == "250    ");
}

BOOST_AUTO_TEST_CASE(carriage_returns)
{
    BOOST_TEST(parse("250 ok\n").text == "ok");  // a bare LF ends a line
    BOOST_TEST(parse("250 ok\r\r\r\n").text == "ok");
    BOOST_TEST(parse("250 ok\r\r\r\n").lines == "250 ok");
    BOOST_TEST(parse("250-a\r\r\n250 b\r\r\n").text == "a\nb");
    BOOST_TEST(parse("250 a\rb\r\n").text == "a\rb");  // an inner CR is white space, kept
    BOOST_TEST(parse("250 \r\r\n").text == "");
    BOOST_TEST(parse("250\r\n").code == 250);
    check_every_split("250-a\r\r\n250 b\r\r\r\n");
}

BOOST_AUTO_TEST_CASE(non_printable_bytes_read_as_question_marks)
{
    const std::string in = std::string("250 a\x01") + "b\x7f" + "\xff" + "c" + std::string(1, '\0') +
                           "d\te\r\n";
    const auto r = parse(in);
    BOOST_TEST(r.text == "a?b??c?d\te");
    BOOST_TEST(r.lines == "250 a?b??c?d\te");
    BOOST_TEST(
        parse("2\x01"
              "0 x\r\n")
            .code == 0
    );
    BOOST_TEST(
        parse("\x80"
              "250 x\r\n")
            .text == "?250 x"
    );
}

BOOST_AUTO_TEST_CASE(line_is_capped_and_the_rest_skipped)
{
    const std::string longline = "250 " + std::string(15000, 'x') + "\r\n";
    const std::string next = "221 next\r\n";
    const std::string in = longline + next;
    reply_parser p;
    boost::system::error_code ec;
    const std::size_t used = p.feed(in, ec);
    BOOST_TEST(!ec);
    BOOST_TEST(used == longline.size());
    BOOST_TEST(p.complete());
    BOOST_TEST(p.code() == 250);
    BOOST_TEST(p.lines().size() == reply_parser::max_line);
    BOOST_TEST(p.text() == std::string(reply_parser::max_line - 4, 'x'));
    BOOST_TEST(p.feed(std::string_view(in).substr(used), ec) == next.size());
    BOOST_TEST(p.code() == 221);
    BOOST_TEST(p.text() == "next");
}

BOOST_AUTO_TEST_CASE(cap_counts_the_line_before_its_carriage_returns)
{
    // 10239 bytes and CRLF: the CR is kept in the line buffer, then stripped
    const auto a = parse("250 " + std::string(10235, 'y') + "\r\n");
    BOOST_TEST(a.lines.size() == 10239u);
    BOOST_TEST(a.text.back() == 'y');
    // 10240 bytes and CRLF: the CR falls beyond the cap
    const auto b = parse("250 " + std::string(10236, 'y') + "\r\n");
    BOOST_TEST(b.lines.size() == 10240u);
    BOOST_TEST(b.text.back() == 'y');
    // a capped continuation line still continues
    const auto c = parse("250-" + std::string(12000, 'z') + "\r\n250 end\r\n");
    BOOST_TEST(c.complete);
    BOOST_TEST(c.text.size() == reply_parser::max_text);
}

BOOST_AUTO_TEST_CASE(line_longer_than_twice_the_cap_is_an_error)
{
    {  // exactly 2 x 10240 bytes before the LF: accepted
        const auto r = parse("250" + std::string(2 * reply_parser::max_line - 3, 'x') + "\n");
        BOOST_TEST(!r.ec);
        BOOST_TEST(r.complete);
        BOOST_TEST(r.code == 250);
    }
    {  // one more: line_too_long
        const auto r = parse("250" + std::string(2 * reply_parser::max_line - 2, 'x') + "\n");
        BOOST_TEST(r.ec == mailload::error::line_too_long);
        BOOST_TEST(!r.complete);
    }
    {  // noticed before the LF arrives, in whatever pieces
        const std::string big(2 * reply_parser::max_line + 1, 'x');
        reply_parser p;
        boost::system::error_code ec;
        p.feed(std::string_view(big).substr(0, 2 * reply_parser::max_line), ec);
        BOOST_TEST(!ec);
        p.feed(std::string_view(big).substr(2 * reply_parser::max_line), ec);
        BOOST_TEST(ec == mailload::error::line_too_long);
    }
    {  // a continuation line counts on its own
        const std::string in = "250-" + std::string(15000, 'a') + "\r\n250 " + std::string(15000, 'b') +
                               "\r\n";
        BOOST_TEST(!parse(in).ec);
    }
}

BOOST_AUTO_TEST_CASE(text_is_capped)
{
    const std::string in = "250-" + std::string(8000, 'a') + "\r\n250-" + std::string(8000, 'b') +
                           "\r\n250 end\r\n";
    const auto r = parse(in);
    BOOST_TEST(r.complete);
    BOOST_TEST(r.used == in.size());
    BOOST_TEST(r.text.size() == reply_parser::max_text);
    BOOST_TEST(r.text == std::string(8000, 'a') + "\n" + std::string(reply_parser::max_text - 8001, 'b'));
    BOOST_TEST(r.lines.size() == reply_parser::max_text);
    std::string many;
    for (int i = 0; i < 5000; ++i)
        many += "250-line\r\n";
    many += "250 last\r\n";
    const auto m = parse(many);
    BOOST_TEST(m.complete);
    BOOST_TEST(m.text.size() == reply_parser::max_text);
    BOOST_TEST(m.text.substr(0, 10) == "line\nline\n");
}

BOOST_AUTO_TEST_CASE(every_split_gives_the_same_reply)
{
    check_every_split("250-smtp-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 DSN\r\n");
    check_every_split("220 smtp-sink ESMTP\r\n");
    check_every_split("550-5.1.1 <a@b>:\r\n550-  Recipient address rejected\r\n550 5.1.1 no\n");
    check_every_split(std::string("250-a\x01\r\n25-b\r\n-c\r\n550 \x7f d\r\n"));
    const std::string longline = "250-" + std::string(10300, 'q') + "\r\n250 x\r\n";
    const result whole = parse(longline);
    for (std::size_t k : {1u, 4u, 10239u, 10240u, 10241u, 10243u, 10304u, 10305u, 10306u, 10310u})
    {
        reply_parser p;
        const auto view = std::string_view(longline);
        BOOST_TEST(feed_chunks(p, {view.substr(0, k), view.substr(k)}) == whole, "split after " << k);
    }
}

BOOST_AUTO_TEST_CASE(bytes_after_a_reply_are_left_alone)
{
    const std::string_view in = "250-a\r\n250 b\r\n354 go\r\n221";
    reply_parser p;
    boost::system::error_code ec;
    std::size_t used = p.feed(in, ec);
    BOOST_TEST(used == 14u);
    BOOST_TEST(p.complete());
    BOOST_TEST(p.text() == "a\nb");
    // the next feed starts a new reply
    used += p.feed(in.substr(used), ec);
    BOOST_TEST(used == 22u);
    BOOST_TEST(p.complete());
    BOOST_TEST(p.code() == 354);
    BOOST_TEST(p.text() == "go");
    BOOST_TEST(p.feed(in.substr(used), ec) == 3u);
    BOOST_TEST(!p.complete());
    BOOST_TEST(p.feed(" bye\r\n", ec) == 6u);
    BOOST_TEST(p.code() == 221);
    BOOST_TEST(p.text() == "bye");
    BOOST_TEST(!ec);
}

BOOST_AUTO_TEST_CASE(reset_forgets_a_partial_reply)
{
    reply_parser p;
    boost::system::error_code ec;
    p.feed("250-one\r\n250 tw", ec);
    p.reset();
    BOOST_TEST(!p.complete());
    BOOST_TEST(p.code() == 0);
    BOOST_TEST(p.text() == "");
    p.feed("421 x\r\n", ec);
    BOOST_TEST(p.complete());
    BOOST_TEST(p.code() == 421);
    BOOST_TEST(p.text() == "x");
    BOOST_TEST(p.lines() == "421 x");

    // and a reset clears the too-long count
    const std::string big(2 * reply_parser::max_line, 'x');
    p.reset();
    p.feed(big, ec);
    p.reset();
    p.feed("xx\n", ec);
    BOOST_TEST(!ec);
    BOOST_TEST(p.complete());
}

BOOST_AUTO_TEST_CASE(empty_input)
{
    reply_parser p;
    boost::system::error_code ec;
    BOOST_TEST(p.feed("", ec) == 0u);
    BOOST_TEST(!p.complete());
    BOOST_TEST(!ec);
}

BOOST_AUTO_TEST_SUITE_END()
