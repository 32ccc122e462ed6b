// Test that header file is self-contained.
#include <mailload/sansio/message_builder.hpp>

#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

using mailload::sansio::mail_date;
using mailload::sansio::message_builder;
using mailload::sansio::message_options;

namespace {

// The -F file of obs 6, its last line without a newline.
constexpr std::string_view
    obs_6_file = "Subject: test F\nFrom: x@y\n\n.leading dot\n..two dots\nnormal\n.\nlast line no newline";

constexpr std::string_view
    la_de_da = "La de da de da 1.\r\nLa de da de da 2.\r\nLa de da de da 3.\r\nLa de da de da 4.\r\n";

message_options defaults()
{
    message_options o;
    o.sender = "foo@vm";
    o.myhostname = "vm";
    o.date = "Tue, 24 Nov 2026 09:02:10 +0000 (UTC)";
    o.pid = 0x7aeb;
    return o;
}

std::string x(std::size_t n) { return std::string(n, 'X'); }

/// Sets TZ for one test and puts the old value back.
struct time_zone
{
    std::optional<std::string> old;
    explicit time_zone(const char* tz)
    {
        if (const char* v = std::getenv("TZ"))
            old = v;
        ::setenv("TZ", tz, 1);
        ::tzset();
    }
    ~time_zone()
    {
        if (old)
            ::setenv("TZ", old->c_str(), 1);
        else
            ::unsetenv("TZ");
        ::tzset();
    }
};

constexpr std::time_t tue_24_nov_2026_090210 = 1795510930;  // 2026-11-24 09:02:10 UTC
constexpr std::time_t wed_4_nov_2026_090210 = 1793782930;   // 2026-11-04 09:02:10 UTC
constexpr std::time_t thu_31_dec_2026_2200 = 1798754400;    // 2026-12-31 22:00:00 UTC
constexpr std::time_t fri_1_jan_2027_0200 = 1798768800;     // 2027-01-01 02:00:00 UTC

}  // namespace

BOOST_AUTO_TEST_SUITE(message_builder_hpp)

// ---------------------------------------------------------------------------------------------
// -l payload (spec §2.6)

BOOST_AUTO_TEST_CASE(payload_short_lengths_are_all_x)
{
    BOOST_TEST(message_builder::payload(1) == "X");
    BOOST_TEST(message_builder::payload(78) == x(78));
    BOOST_TEST(message_builder::payload(79) == x(79));
    BOOST_TEST(message_builder::payload(80) == x(80));  // 80·1 < 80 is false: no line yet
}

BOOST_AUTO_TEST_CASE(payload_line_boundaries)
{
    BOOST_TEST(message_builder::payload(81) == "1" + x(77) + "\r\nX");
    BOOST_TEST(message_builder::payload(159) == "1" + x(77) + "\r\n" + x(79));
    BOOST_TEST(message_builder::payload(160) == "1" + x(77) + "\r\n" + x(80));  // obs 7
    BOOST_TEST(message_builder::payload(161) == "1" + x(77) + "\r\n2" + x(77) + "\r\nX");
    BOOST_TEST(message_builder::payload(200) == "1" + x(77) + "\r\n2" + x(77) + "\r\n" + x(40));  // obs 7
}

BOOST_AUTO_TEST_CASE(payload_rule_for_every_byte)
{
    for (std::size_t len : {1u, 78u, 79u, 80u, 81u, 159u, 160u, 161u, 200u, 801u, 1000u, 4097u})
    {
        const std::string p = message_builder::payload(len);
        BOOST_TEST_REQUIRE(p.size() == len);
        std::size_t wrong = 0;
        for (std::size_t i = 0; i < len; ++i)
        {
            char want = 'X';
            const std::size_t k = i / 80 + 1;  // the line this byte is on
            if (80 * k < len)
            {
                if (i == 80 * (k - 1))
                    want = static_cast<char>('0' + k % 10);
                if (i == 80 * k - 2)
                    want = '\r';
                if (i == 80 * k - 1)
                    want = '\n';
            }
            if (p[i] != want && wrong++ < 3)
                BOOST_ERROR("payload(" << len << ")[" << i << "] is " << int(p[i]));
        }
        BOOST_TEST(wrong == 0u, "payload(" << len << ")");
    }
    // the tenth line starts with 0, the eleventh with 1
    const std::string p = message_builder::payload(1000);
    BOOST_TEST(p[720] == '0');
    BOOST_TEST(p[800] == '1');
    BOOST_TEST(p.substr(958) == "\r\n" + x(40));
}

BOOST_AUTO_TEST_CASE(body_of_l_200_is_obs_7)
{
    auto o = defaults();
    o.length = 200;
    const message_builder b(o);
    BOOST_TEST(
        b.body() ==
        "1XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\r\n"
        "2XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\r\n"
        "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\r\n.\r\n"
    );
    o.length = 160;
    const message_builder c(o);
    BOOST_TEST(
        c.body() ==
        "1XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\r\n"
        "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
        "XXXXXXXX\r\n.\r\n"
    );
    o.length = 1;
    BOOST_TEST(message_builder(o).body() == "X\r\n.\r\n");
}

BOOST_AUTO_TEST_CASE(default_body_is_la_de_da)
{
    const message_builder b(defaults());
    BOOST_TEST(b.body() == std::string(la_de_da) + ".\r\n");
    BOOST_TEST(b.body().ends_with("\r\n.\r\n"));
    BOOST_TEST(b.has_headers());
}

// ---------------------------------------------------------------------------------------------
// -F file content

BOOST_AUTO_TEST_CASE(file_is_dot_stuffed_as_obs_6)
{
    auto o = defaults();
    o.headers = false;
    o.file_content = obs_6_file;
    const message_builder b(o);
    BOOST_TEST(
        b.body() ==
        "Subject: test F\r\nFrom: x@y\r\n\r\n..leading dot\r\n...two dots\r\nnormal\r\n..\r\n"
        "last line no newline\r\n\r\n.\r\n"
    );
    BOOST_TEST(!b.has_headers());
}

BOOST_AUTO_TEST_CASE(dot_stuff_lines_details)
{
    BOOST_TEST(
        message_builder::dot_stuff_lines(".leading dot\n..two dots\n.\nlast") ==
        "..leading dot\r\n...two dots\r\n..\r\nlast\r\n"
    );                                                                         // spec §2.6
    BOOST_TEST(message_builder::dot_stuff_lines("a\r\nb") == "a\r\r\nb\r\n");  // a CR before the LF is kept
    BOOST_TEST(message_builder::dot_stuff_lines("\n") == "\r\n");
    BOOST_TEST(message_builder::dot_stuff_lines("x\n\n") == "x\r\n\r\n");
    BOOST_TEST(message_builder::dot_stuff_lines("x\n") == "x\r\n");
    BOOST_TEST(message_builder::dot_stuff_lines(".") == "..\r\n");
    BOOST_TEST(message_builder::dot_stuff_lines(" .not first") == " .not first\r\n");
    BOOST_TEST(message_builder::dot_stuff_lines("a.\n.b\n") == "a.\r\n..b\r\n");
    BOOST_TEST(message_builder::dot_stuff_lines("") == "");
}

BOOST_AUTO_TEST_CASE(empty_file_falls_back_to_la_de_da)
{
    auto o = defaults();
    o.headers = false;
    o.file_content = "";
    const message_builder b(o);
    BOOST_TEST(b.body() == std::string(la_de_da) + ".\r\n");
    BOOST_TEST(!b.has_headers());  // still without headers
}

BOOST_AUTO_TEST_CASE(file_wins_over_length)
{
    auto o = defaults();
    o.file_content = "hello";
    o.length = 100;
    BOOST_TEST(message_builder(o).body() == "hello\r\n\r\n.\r\n");
}

// ---------------------------------------------------------------------------------------------
// Headers

BOOST_AUTO_TEST_CASE(headers_of_obs_1)
{
    const message_builder b(defaults());
    std::string h = "stale content that must go";
    b.headers(h, "foo@vm", 3, 0);
    BOOST_TEST(
        h ==
        "From: <foo@vm>\r\nTo: <foo@vm>\r\nDate: Tue, 24 Nov 2026 09:02:10 +0000 (UTC)\r\n"
        "Message-Id: <7aeb.0003.0000@vm>\r\n\r\n"
    );
}

BOOST_AUTO_TEST_CASE(message_id_fields_are_at_least_four_hex_digits)
{
    auto o = defaults();
    o.pid = 0x12345;
    const message_builder b(o);
    std::string h;
    b.headers(h, "to@x", 0xffff, 0xffffffff);  // obs 30: the counter printed as ffffffff
    BOOST_TEST(h.find("Message-Id: <12345.ffff.ffffffff@vm>\r\n") != std::string::npos, h);
    b.headers(h, "to@x", 0x1a, 0xabc);
    BOOST_TEST(h.find("Message-Id: <12345.001a.0abc@vm>\r\n") != std::string::npos, h);
    b.headers(h, "to@x", 0x10000, 0);
    BOOST_TEST(h.find("Message-Id: <12345.10000.0000@vm>\r\n") != std::string::npos, h);

    o.pid = 0;
    const message_builder z(o);
    z.headers(h, "to@x", 0, 0);
    BOOST_TEST(h.find("Message-Id: <0000.0000.0000@vm>\r\n") != std::string::npos, h);
    o.pid = 0xfff;
    const message_builder f(o);
    f.headers(h, "to@x", 0xffff, 0x10);
    BOOST_TEST(h.find("Message-Id: <0fff.ffff.0010@vm>\r\n") != std::string::npos, h);
}

BOOST_AUTO_TEST_CASE(subject_comes_after_message_id)
{
    auto o = defaults();  // obs 5: -S subj -f a@b -t c@d -M myhost.example
    o.sender = "a@b";
    o.myhostname = "myhost.example";
    o.subject = "subj";
    o.pid = 0x7e12;
    const message_builder b(o);
    std::string h;
    b.headers(h, "c@d", 3, 0);
    BOOST_TEST(
        h ==
        "From: <a@b>\r\nTo: <c@d>\r\nDate: Tue, 24 Nov 2026 09:02:10 +0000 (UTC)\r\n"
        "Message-Id: <7e12.0003.0000@myhost.example>\r\nSubject: subj\r\n\r\n"
    );
}

BOOST_AUTO_TEST_CASE(to_header_varies_per_message)
{
    const message_builder b(defaults());
    std::string h;
    b.headers(h, "foo2@vm", 3, 0);
    BOOST_TEST(h.find("\r\nTo: <foo2@vm>\r\n") != std::string::npos);
    b.headers(h, "foo5@vm", 5, 1);
    BOOST_TEST(h.find("\r\nTo: <foo5@vm>\r\n") != std::string::npos);
    BOOST_TEST(h.find("foo2") == std::string::npos);
    BOOST_TEST(h.find("<7aeb.0005.0001@vm>") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(headers_flag)
{
    auto o = defaults();
    o.headers = false;
    BOOST_TEST(!message_builder(o).has_headers());
    o.headers = true;
    BOOST_TEST(message_builder(o).has_headers());
}

// ---------------------------------------------------------------------------------------------
// mail_date (spec §1.6)

BOOST_AUTO_TEST_CASE(mail_date_in_utc)
{
    const time_zone tz("UTC");
    BOOST_TEST(mail_date(tue_24_nov_2026_090210, true) == "Tue, 24 Nov 2026 09:02:10 +0000 (UTC)");
    BOOST_TEST(mail_date(tue_24_nov_2026_090210, false) == "Tue, 24 Nov 2026 09:02:10 +0000 (UTC)");
    BOOST_TEST(mail_date(wed_4_nov_2026_090210, true) == "Wed, 04 Nov 2026 09:02:10 +0000 (UTC)");   // >= 3.9
    BOOST_TEST(mail_date(wed_4_nov_2026_090210, false) == "Wed,  4 Nov 2026 09:02:10 +0000 (UTC)");  // <= 3.8
    BOOST_TEST(mail_date(0, true) == "Thu, 01 Jan 1970 00:00:00 +0000 (UTC)");
}

BOOST_AUTO_TEST_CASE(mail_date_offsets)
{
    {
        const time_zone tz("XST-5:30");
        BOOST_TEST(mail_date(tue_24_nov_2026_090210, true) == "Tue, 24 Nov 2026 14:32:10 +0530 (XST)");
        // local time is already in the next year
        BOOST_TEST(mail_date(thu_31_dec_2026_2200, true) == "Fri, 01 Jan 2027 03:30:00 +0530 (XST)");
    }
    {
        const time_zone tz("EST5");
        BOOST_TEST(mail_date(tue_24_nov_2026_090210, false) == "Tue, 24 Nov 2026 04:02:10 -0500 (EST)");
        // local time is still in the previous year
        BOOST_TEST(mail_date(fri_1_jan_2027_0200, true) == "Thu, 31 Dec 2026 21:00:00 -0500 (EST)");
    }
    {
        const time_zone tz("NST3:30");
        BOOST_TEST(mail_date(tue_24_nov_2026_090210, true) == "Tue, 24 Nov 2026 05:32:10 -0330 (NST)");
    }
}

BOOST_AUTO_TEST_SUITE_END()
