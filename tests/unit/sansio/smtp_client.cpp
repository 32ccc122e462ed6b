// Test that header file is self-contained.
#include <mailload/sansio/smtp_client.hpp>

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "support/algo_test.hpp"

using namespace mailload::sansio;
using mailload::test::algo_test;
using mailload::test::recorded_event;
namespace errc = boost::system::errc;

namespace {

const char* stage_name(client_stage s)
{
    static constexpr const char* names[] =
        {"greeting", "helo", "mail", "rcpt", "data", "dot", "rset", "quit"};
    return names[static_cast<int>(s)];
}

const char* kind_name(client_event::kind_t k)
{
    switch (k)
    {
    case client_event::sent: return "sent";
    case client_event::reply: return "reply";
    case client_event::message_sent: return "message_sent";
    case client_event::accepted: return "accepted";
    case client_event::rejected: return "rejected";
    }
    return "?";
}

}  // namespace

namespace mailload::sansio {
inline std::ostream& boost_test_print_type(std::ostream& os, client_stage s) { return os << stage_name(s); }
}  // namespace mailload::sansio

template <>
struct mailload::test::algo_traits<smtp_client>
{
    static recorded_event event(const smtp_client& c)
    {
        const client_event& e = c.event();
        return {kind_name(e.kind), stage_name(e.stage), e.code, std::string(e.text)};
    }
    static std::string stage(const smtp_client& c) { return stage_name(c.stage()); }
    static std::string stage_of_write(std::string_view w)
    {
        if (w.starts_with("HELO ") || w.starts_with("LHLO ") || w.starts_with("EHLO "))
            return "helo";
        if (w.starts_with("MAIL FROM:"))
            return "mail";
        if (w.starts_with("RCPT TO:"))
            return "rcpt";
        if (w == "DATA\r\n")
            return "data";
        if (w == "RSET\r\n")
            return "rset";
        if (w == "QUIT\r\n")
            return "quit";
        return "dot";  // the message content and its "."
    }
    static constexpr std::string_view initial_stage = "greeting";
    static bool closes_on_error(std::string_view stage) { return stage == "quit"; }
};

namespace {

using script = algo_test<smtp_client>;
using mailload::error;

constexpr std::string_view date = "Tue, 24 Nov 2026 09:02:10 +0000 (UTC)";
constexpr std::string_view
    la_de_da = "La de da de da 1.\r\nLa de da de da 2.\r\nLa de da de da 3.\r\nLa de da de da 4.\r\n.\r\n";

// The generated headers of obs 1 (pid 0x7aeb), with To: and the fd and "left" fields given.
std::string headers(
    std::string_view to = "foo@vm",
    std::string_view left = "0000",
    std::string_view fd = "0003"
)
{
    return "From: <foo@vm>\r\nTo: <" + std::string(to) + ">\r\nDate: " + std::string(date) +
           "\r\nMessage-Id: <7aeb." + std::string(fd) + "." + std::string(left) + "@vm>\r\n\r\n";
}

std::string message(
    std::string_view to = "foo@vm",
    std::string_view left = "0000",
    std::string_view fd = "0003"
)
{
    return headers(to, left, fd) + std::string(la_de_da);
}

recorded_event ev(const char* kind, const char* stage, int code = 0, std::string text = {})
{
    return {kind, stage, code, std::move(text)};
}

/// smtp-source's defaults on host "vm" (obs 1), pid 0x7aeb, fd 3, nothing left to claim.
struct fixture
{
    client_config cfg;
    message_options msg;
    std::unique_ptr<message_builder> builder;
    std::atomic<std::uint64_t> seq{0};
    std::uint32_t fd = 3, left = 0;

    fixture()
    {
        cfg.helo_name = "vm";
        cfg.sender = "foo@vm";
        cfg.recipient = "foo@vm";
        msg.sender = "foo@vm";
        msg.myhostname = "vm";
        msg.date = std::string(date);
        msg.pid = 0x7aeb;
    }

    /// A new client for each run (the recipient counter starts over); the content is built on
    /// first use, so set `msg` before.
    script::factory make()
    {
        return [this] {
            if (!builder)
                builder = std::make_unique<message_builder>(msg);
            seq = 0;
            auto c = std::make_unique<smtp_client>(cfg, *builder, seq);
            c->start(fd, left);
            return c;
        };
    }
    std::unique_ptr<smtp_client> one() { return make()(); }
};

// The dialog of obs 1 up to the reply to DATA.
script& through_data(script& s, std::string_view rcpt = "foo@vm")
{
    return s.respond("220 smtp-sink ESMTP\r\n")
        .expect_write("HELO vm\r\n")
        .respond("250 smtp-sink\r\n")
        .expect_write("MAIL FROM:<foo@vm>\r\n")
        .respond("250 2.1.0 Ok\r\n")
        .expect_write("RCPT TO:<" + std::string(rcpt) + ">\r\n")
        .respond("250 2.1.5 Ok\r\n")
        .expect_write("DATA\r\n")
        .respond("354 End data with <CR><LF>.<CR><LF>\r\n");
}

script default_dialog()
{
    script s;
    through_data(s)
        .expect_write(message())
        .respond("250 2.0.0 Ok\r\n")
        .expect_write("QUIT\r\n")
        .respond("221 Bye\r\n")
        .expect_close();
    return s;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(smtp_client_hpp)

// ---------------------------------------------------------------------------------------------
// The harness itself: a wrong script must be caught.

BOOST_FIXTURE_TEST_CASE(harness_reports_a_wrong_write, fixture)
{
    script s;
    s.respond("220 hi\r\n").expect_write("EHLO vm\r\n");
    auto c = one();
    const auto o = s.run(*c);
    BOOST_TEST(
        o.failure.find(R"(the algorithm writes "HELO vm\r\n", expected "EHLO vm\r\n")") != std::string::npos,
        o.failure
    );
    BOOST_TEST(o.writes.size() == 1u);
}

BOOST_FIXTURE_TEST_CASE(harness_reports_unread_bytes_and_missing_steps, fixture)
{
    script s = default_dialog();
    s.respond("250 never read\r\n");
    auto c = one();
    BOOST_TEST(s.run(*c).failure.find("the algorithm ended, the script goes on") != std::string::npos);

    script t;  // byte by byte, what follows the QUIT reply is never read
    through_data(t).expect_write(message()).respond("250 2.0.0 Ok\r\n");
    t.expect_write("QUIT\r\n").respond("221 Bye\r\nX").expect_close();
    auto d = one();
    const auto o = t.run(*d, mailload::test::plan::bytewise());
    BOOST_TEST(o.failure.find(R"(bytes never read: "X")") != std::string::npos, o.failure);
}

BOOST_FIXTURE_TEST_CASE(harness_reports_a_wrong_end, fixture)
{
    script s;
    through_data(s).expect_write(message()).respond("250 2.0.0 Ok\r\n").expect_done();
    auto c = one();
    const auto o = s.run(*c);
    BOOST_TEST(o.failure.find("the algorithm writes \"QUIT\\r\\n\"") != std::string::npos, o.failure);
}

// ---------------------------------------------------------------------------------------------
// The default dialog (obs 1)

BOOST_FIXTURE_TEST_CASE(default_dialog_is_obs_1, fixture)
{
    const auto [out, c] = default_dialog().check(make());
    BOOST_TEST(out.writes.size() == 6u);
    BOOST_TEST(
        out.writes.at(4) ==
        "From: <foo@vm>\r\nTo: <foo@vm>\r\nDate: Tue, 24 Nov 2026 09:02:10 +0000 (UTC)\r\n"
        "Message-Id: <7aeb.0003.0000@vm>\r\n\r\nLa de da de da 1.\r\nLa de da de da 2.\r\n"
        "La de da de da 3.\r\nLa de da de da 4.\r\n.\r\n"
    );
    BOOST_TEST(out.events == (std::vector<recorded_event>{ev("message_sent", "dot"), ev("accepted", "dot")}));
    BOOST_TEST(c->stats().messages_sent == 1u);
    BOOST_TEST(c->stats().messages_accepted == 1u);
    BOOST_TEST(c->stats().recipients_sent == 1u);
    BOOST_TEST(c->stats().recipients_accepted == 1u);
    for (auto r : c->stats().rejected)
        BOOST_TEST(r == 0u);
}

BOOST_FIXTURE_TEST_CASE(default_dialog_network_errors, fixture)
{
    // 7 reads and 6 writes, three errors each; after QUIT each ends in close.
    BOOST_TEST(default_dialog().check_network_errors(make()) == 39u);
}

BOOST_FIXTURE_TEST_CASE(message_is_one_write_of_headers_and_body, fixture)
{
    auto c = one();
    auto a = c->resume();
    for (std::string_view reply : {"220 x\r\n", "250 a\r\n", "250 b\r\n", "250 c\r\n", "354 d\r\n"})
    {
        if (a.type() == action_type::write)
            a = c->resume({}, a.out()[0].size());
        BOOST_TEST_REQUIRE(a.type() == action_type::read);
        BOOST_TEST_REQUIRE(a.in().size() >= reply.size());
        std::copy(reply.begin(), reply.end(), a.in().begin());
        a = c->resume({}, reply.size());
        BOOST_TEST_REQUIRE(a.type() == action_type::write);
        BOOST_TEST(a.out().size() == (reply[0] == '3' ? 2u : 1u));
    }
    BOOST_TEST_REQUIRE(a.type() == action_type::write);
    BOOST_TEST(a.out().size() == 2u);  // the headers, then the shared body with its "."
    BOOST_TEST(a.out()[0] == headers());
    BOOST_TEST(a.out()[1] == la_de_da);
    BOOST_TEST(c->config().helo_name == "vm");
}

BOOST_FIXTURE_TEST_CASE(fd_and_left_fill_the_message_id, fixture)
{
    fd = 0x1f;
    left = 0x12345;
    script s;
    through_data(s)
        .expect_write(
            "From: <foo@vm>\r\nTo: <foo@vm>\r\nDate: Tue, 24 Nov 2026 09:02:10 +0000 (UTC)\r\n"
            "Message-Id: <7aeb.001f.12345@vm>\r\n\r\n" +
            std::string(la_de_da)
        )
        .respond("250 2.0.0 Ok\r\n")
        .expect_write("QUIT\r\n")
        .respond("221 Bye\r\n")
        .expect_close();
    s.check(make());
}

BOOST_FIXTURE_TEST_CASE(trace_reports_every_command_and_reply, fixture)
{
    cfg.trace = true;
    const auto [out, c] = default_dialog().check(make());
    const std::vector<recorded_event> want{
        ev("reply", "greeting", 220, "220 smtp-sink ESMTP"),
        ev("sent", "helo", 0, "HELO vm"),
        ev("reply", "helo", 250, "250 smtp-sink"),
        ev("sent", "mail", 0, "MAIL FROM:<foo@vm>"),
        ev("reply", "mail", 250, "250 2.1.0 Ok"),
        ev("sent", "rcpt", 0, "RCPT TO:<foo@vm>"),
        ev("reply", "rcpt", 250, "250 2.1.5 Ok"),
        ev("sent", "data", 0, "DATA"),
        ev("reply", "data", 354, "354 End data with <CR><LF>.<CR><LF>"),
        ev("sent", "dot", 0, "."),
        ev("message_sent", "dot"),
        ev("reply", "dot", 250, "250 2.0.0 Ok"),
        ev("accepted", "dot"),
        ev("sent", "quit", 0, "QUIT"),
        ev("reply", "quit", 221, "221 Bye"),
    };
    BOOST_TEST(out.events == want);
}

BOOST_FIXTURE_TEST_CASE(multi_line_replies, fixture)
{
    cfg.trace = true;
    script s;
    s.respond("220-first line\r\n220 second line\r\n")
        .expect_write("HELO vm\r\n")
        .respond("250-smtp-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 \r\n")
        .expect_write("MAIL FROM:<foo@vm>\r\n")
        .respond("250 2.1.0 Ok\r\n")
        .expect_write("RCPT TO:<foo@vm>\r\n")
        .respond("250 2.1.5 Ok\r\n")
        .expect_write("DATA\r\n")
        .respond("354 go\r\n")
        .expect_write(message())
        .respond("250-2.0.0 Ok\r\n250 2.0.0 queued\r\n")
        .expect_write("QUIT\r\n")
        .respond("221 Bye\r\n")
        .expect_close();
    const auto [out, c] = s.check(make());
    BOOST_TEST_REQUIRE(out.events.size() == 15u);
    BOOST_TEST(out.events[0] == ev("reply", "greeting", 220, "220-first line\n220 second line"));
    BOOST_TEST(
        out.events[2] == ev("reply", "helo", 250, "250-smtp-sink\n250-PIPELINING\n250-8BITMIME\n250 ")
    );
    BOOST_TEST(out.events[11] == ev("reply", "dot", 250, "250-2.0.0 Ok\n250 2.0.0 queued"));
}

BOOST_FIXTURE_TEST_CASE(multi_line_rejection_text_is_joined, fixture)
{
    script s;
    s.respond("220 hi\r\n")
        .expect_write("HELO vm\r\n")
        .respond("250 hi\r\n")
        .expect_write("MAIL FROM:<foo@vm>\r\n")
        .respond("553-5.1.8 first\r\n553-  second\r\n553 5.1.8 third\r\n")
        .expect_done(error::rejected);
    const auto [out, c] = s.check(make());
    BOOST_TEST(c->stage() == client_stage::mail);
    BOOST_TEST(c->failure_code() == 553);
    BOOST_TEST(c->failure_text() == "5.1.8 first\nsecond\n5.1.8 third");
}

BOOST_FIXTURE_TEST_CASE(reply_longer_than_the_read_buffer, fixture)
{
    std::string big;
    for (int i = 0; i < 100; ++i)
        big += "250-" + std::string(76, static_cast<char>('a' + i % 26)) + "\r\n";
    big += "250 end\r\n";  // 8209 bytes: more than one 4096-byte read
    script s;
    s.respond("220 hi\r\n").expect_write("HELO vm\r\n").respond(big).expect_write("MAIL FROM:<foo@vm>\r\n");
    s.respond("421 bye\r\n").expect_done(error::rejected);
    const auto [out, c] = s.check(make());
    BOOST_TEST(c->failure_code() == 421);
}

BOOST_FIXTURE_TEST_CASE(overlong_reply_line_ends_the_dialog, fixture)
{
    script s;
    s.respond("220 " + std::string(2 * 10240, 'x') + "\r\n").expect_done(error::line_too_long);
    const auto [out, c] = s.check(make());
    BOOST_TEST(c->stage() == client_stage::greeting);

    script ok;  // a line of exactly 2 x 10240 bytes is still a (truncated) reply
    ok.respond("220" + std::string(2 * 10240 - 3, 'x') + "\n")
        .expect_write("HELO vm\r\n")
        .respond("421 x\r\n");
    ok.expect_done(error::rejected);
    ok.check(make());
}

// ---------------------------------------------------------------------------------------------
// -d, -o, -L

BOOST_FIXTURE_TEST_CASE(keep_alive_sends_the_next_message_on_the_same_connection, fixture)
{
    cfg.keep_alive = true;
    left = 2;
    script s;
    through_data(s)
        .expect_write(message("foo@vm", "0002"))
        .respond("250 2.0.0 Ok\r\n")
        .expect_next_message(true, [](smtp_client& c) { c.set_left(1); })
        .expect_write("MAIL FROM:<foo@vm>\r\n")  // no RSET, no second HELO (obs 2)
        .respond("250 2.1.0 Ok\r\n")
        .expect_write("RCPT TO:<foo@vm>\r\n")
        .respond("250 2.1.5 Ok\r\n")
        .expect_write("DATA\r\n")
        .respond("354 go\r\n")
        .expect_write(message("foo@vm", "0001"))
        .respond("250 2.0.0 Ok\r\n")
        .expect_next_message(true, [](smtp_client& c) { c.set_left(0); })
        .expect_write("MAIL FROM:<foo@vm>\r\n")
        .respond("250 2.1.0 Ok\r\n")
        .expect_write("RCPT TO:<foo@vm>\r\n")
        .respond("250 2.1.5 Ok\r\n")
        .expect_write("DATA\r\n")
        .respond("354 go\r\n")
        .expect_write(message("foo@vm", "0000"))
        .respond("250 2.0.0 Ok\r\n")
        .expect_next_message(false)
        .expect_write("QUIT\r\n")
        .respond("221 Bye\r\n")
        .expect_close();
    const auto [out, c] = s.check(make());
    BOOST_TEST(c->stats().messages_sent == 3u);
    BOOST_TEST(c->stats().messages_accepted == 3u);
    BOOST_TEST(out.events.size() == 6u);  // message_sent and accepted for each
    s.check_network_errors(make());
}

BOOST_FIXTURE_TEST_CASE(keep_alive_with_nothing_left_quits, fixture)
{
    cfg.keep_alive = true;
    script s;
    through_data(s)
        .expect_write(message())
        .respond("250 2.0.0 Ok\r\n")
        .expect_next_message(false)
        .expect_write("QUIT\r\n")
        .respond("221 Bye\r\n")
        .expect_close();
    s.check(make());
}

BOOST_FIXTURE_TEST_CASE(stage_between_messages_is_mail, fixture)
{
    cfg.keep_alive = true;
    script s;
    through_data(s).expect_write(message()).respond("250 2.0.0 Ok\r\n");
    s.expect_next_message(true, [](smtp_client& c) { BOOST_TEST(c.stage() == client_stage::mail); });
    s.expect_write("MAIL FROM:<foo@vm>\r\n").peer_closes().expect_done(error::lost_connection);
    s.check(make());
}

BOOST_FIXTURE_TEST_CASE(old_mode_sends_no_helo_and_no_headers, fixture)
{
    cfg.send_helo = false;
    msg.headers = false;
    script s;
    s.respond("220 smtp-sink ESMTP\r\n")  // obs 8
        .expect_write("MAIL FROM:<foo@vm>\r\n")
        .respond("250 2.1.0 Ok\r\n")
        .expect_write("RCPT TO:<foo@vm>\r\n")
        .respond("250 2.1.5 Ok\r\n")
        .expect_write("DATA\r\n")
        .respond("354 End data with <CR><LF>.<CR><LF>\r\n")
        .expect_write(la_de_da)
        .respond("250 2.0.0 Ok\r\n")
        .expect_write("QUIT\r\n")
        .respond("221 Bye\r\n")
        .expect_close();
    s.check(make());
    BOOST_TEST(s.check_network_errors(make()) == 33u);
}

BOOST_FIXTURE_TEST_CASE(lmtp_dialog_is_obs_4, fixture)
{
    cfg.lmtp = true;
    cfg.rcpt_count = 3;
    cfg.numbering = rcpt_numbering::prepend_countdown;
    cfg.trace = true;
    script s;
    s.respond("220 smtp-sink ESMTP\r\n")
        .expect_write("LHLO vm\r\n")
        .respond(
            "250-smtp-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-AUTH PLAIN LOGIN\r\n"
            "250-XCLIENT NAME HELO\r\n250-XFORWARD NAME ADDR PROTO HELO\r\n250-ENHANCEDSTATUSCODES\r\n"
            "250-DSN\r\n250 \r\n"
        )
        .expect_write("MAIL FROM:<foo@vm>\r\n")
        .respond("250 2.1.0 Ok\r\n")
        .expect_write("RCPT TO:<3foo@vm>\r\n")
        .respond("250 2.1.5 Ok\r\n")
        .expect_write("RCPT TO:<2foo@vm>\r\n")
        .respond("250 2.1.5 Ok\r\n")
        .expect_write("RCPT TO:<foo@vm>\r\n")
        .respond("250 2.1.5 Ok\r\n")
        .expect_write("DATA\r\n")
        .respond("354 End data with <CR><LF>.<CR><LF>\r\n")
        .expect_write(message())
        .respond("250 2.2.0 Ok\r\n250 2.2.0 Ok\r\n250 2.2.0 Ok\r\n")  // one reply per recipient
        .expect_write("QUIT\r\n")
        .respond("221 Bye\r\n")
        .expect_close();
    const auto [out, c] = s.check(make());
    int dot_replies = 0;
    for (const auto& e : out.events)
        dot_replies += e.kind == "reply" && e.stage == "dot";
    BOOST_TEST(dot_replies == 3);
    BOOST_TEST(out.events.at(1) == ev("sent", "helo", 0, "LHLO vm"));
    BOOST_TEST(c->stats().messages_accepted == 1u);
    BOOST_TEST(c->stats().recipients_accepted == 3u);
    s.check_network_errors(make());
}

BOOST_FIXTURE_TEST_CASE(lmtp_replies_in_separate_reads, fixture)
{
    cfg.lmtp = true;
    cfg.rcpt_count = 2;
    cfg.trace = true;
    script s;
    s.respond("220 x\r\n").expect_write("LHLO vm\r\n").respond("250 x\r\n");
    s.expect_write("MAIL FROM:<foo@vm>\r\n").respond("250 ok\r\n");
    s.expect_write("RCPT TO:<foo@vm>\r\n").respond("250 ok\r\n");
    s.expect_write("RCPT TO:<foo@vm>\r\n").respond("250 ok\r\n");
    s.expect_write("DATA\r\n").respond("354 go\r\n").expect_write(message());
    s.respond("250 one\r\n").respond("250 two\r\n").expect_write("QUIT\r\n").peer_closes().expect_close();
    const auto [out, c] = s.check(make());
    std::vector<recorded_event> dot;
    for (const auto& e : out.events)
        if (e.stage == "dot")
            dot.push_back(e);
    BOOST_TEST(
        dot == (std::vector<recorded_event>{
                   ev("sent", "dot", 0, "."),
                   ev("message_sent", "dot"),
                   ev("reply", "dot", 250, "250 one"),
                   ev("reply", "dot", 250, "250 two"),
                   ev("accepted", "dot")})
    );
    s.check_network_errors(make());
}

BOOST_FIXTURE_TEST_CASE(lmtp_waits_only_for_accepted_recipients, fixture)
{
    // obs 29, where Postfix waits for a third reply and dies with "lost connection"
    cfg.lmtp = true;
    cfg.ignore_rejects = true;
    cfg.rcpt_count = 3;
    cfg.numbering = rcpt_numbering::append_sequence;
    script s;
    s.respond("220 fake LMTP\r\n")
        .expect_write("LHLO vm\r\n")
        .respond("250 fake\r\n")
        .expect_write("MAIL FROM:<foo@vm>\r\n")
        .respond("250 ok\r\n")
        .expect_write("RCPT TO:<foo0@vm>\r\n")
        .respond("250 ok\r\n")
        .expect_write("RCPT TO:<foo1@vm>\r\n")
        .respond("550 5.1.1 no such user\r\n")
        .expect_write("RCPT TO:<foo2@vm>\r\n")
        .respond("250 ok\r\n")
        .expect_write("DATA\r\n")
        .respond("354 go\r\n")
        .expect_write(message("foo2@vm"))
        .respond("250 2.0.0 delivered to rcpt 1\r\n250 2.0.0 delivered to rcpt 3\r\n")
        .expect_write("QUIT\r\n")
        .respond("221 Bye\r\n")
        .expect_close();
    const auto [out, c] = s.check(make());
    BOOST_TEST(
        out.events == (std::vector<recorded_event>{
                          ev("rejected", "rcpt", 550, "5.1.1 no such user"),
                          ev("message_sent", "dot"),
                          ev("accepted", "dot")})
    );
    BOOST_TEST(c->stats().recipients_sent == 3u);
    BOOST_TEST(c->stats().recipients_accepted == 2u);
    BOOST_TEST(c->stats().messages_accepted == 1u);
    BOOST_TEST(c->stats().rejected[static_cast<int>(client_stage::rcpt)] == 1u);
}

BOOST_FIXTURE_TEST_CASE(lmtp_end_of_data_rejections, fixture)
{
    cfg.lmtp = true;
    cfg.rcpt_count = 2;
    auto prefix = [](script& s) -> script& {
        s.respond("220 x\r\n").expect_write("LHLO vm\r\n").respond("250 x\r\n");
        s.expect_write("MAIL FROM:<foo@vm>\r\n").respond("250 ok\r\n");
        s.expect_write("RCPT TO:<2foo@vm>\r\n").respond("250 ok\r\n");
        s.expect_write("RCPT TO:<foo@vm>\r\n").respond("250 ok\r\n");
        return s.expect_write("DATA\r\n").respond("354 go\r\n").expect_write(message());
    };
    cfg.numbering = rcpt_numbering::prepend_countdown;
    {  // without -A the first bad reply is fatal
        script s;
        prefix(s).respond("250 ok\r\n552 5.2.2 over quota\r\n").expect_done(error::rejected);
        const auto [out, c] = s.check(make());
        BOOST_TEST(c->stage() == client_stage::dot);
        BOOST_TEST(c->failure_code() == 552);
        BOOST_TEST(c->failure_text() == "5.2.2 over quota");
    }
    cfg.ignore_rejects = true;
    {  // with -A: one recipient took it, so it counts as accepted
        script s;
        prefix(s).respond("552 5.2.2 over quota\r\n250 ok\r\n").expect_write("QUIT\r\n").respond("221 x\r\n");
        s.expect_close();
        const auto [out, c] = s.check(make());
        BOOST_TEST(out.events.at(0) == ev("message_sent", "dot"));
        BOOST_TEST(out.events.at(1) == ev("rejected", "dot", 552, "5.2.2 over quota"));
        BOOST_TEST(c->stats().messages_accepted == 1u);
        BOOST_TEST(c->stats().rejected[static_cast<int>(client_stage::dot)] == 1u);
    }
    {  // no recipient took it
        script s;
        prefix(s).respond("552 a\r\n452 b\r\n").expect_write("QUIT\r\n").respond("221 x\r\n").expect_close();
        const auto [out, c] = s.check(make());
        BOOST_TEST(c->stats().messages_accepted == 0u);
        BOOST_TEST(c->stats().messages_sent == 1u);
        BOOST_TEST(c->stats().rejected[static_cast<int>(client_stage::dot)] == 2u);
    }
    {  // 421 for the first recipient closes at once
        script s;
        prefix(s).respond("421 4.3.0 bye\r\n").expect_close();
        s.check(make());
    }
}

// ---------------------------------------------------------------------------------------------
// -A: every row of spec §2.8

namespace {
struct ignore_fixture : fixture
{
    ignore_fixture() { cfg.ignore_rejects = true; }
};

std::string rejected_name(const std::unique_ptr<smtp_client>& c) { return stage_name(c->stage()); }
}  // namespace

BOOST_FIXTURE_TEST_CASE(banner_rejection_continues_with_helo, ignore_fixture)
{
    for (std::string_view code : {"554", "450"})
    {
        script s;
        s.respond(std::string(code) + " 5.3.2 go away\r\n").expect_write("HELO vm\r\n").respond("250 x\r\n");
        s.expect_write("MAIL FROM:<foo@vm>\r\n").respond("250 x\r\n");
        s.expect_write("RCPT TO:<foo@vm>\r\n").respond("250 x\r\n");
        s.expect_write("DATA\r\n").respond("354 x\r\n").expect_write(message()).respond("250 x\r\n");
        s.expect_write("QUIT\r\n").respond("221 x\r\n").expect_close();
        const auto [out, c] = s.check(make());
        BOOST_TEST(
            out.events.at(0) == ev("rejected", "greeting", std::stoi(std::string(code)), "5.3.2 go away")
        );
        BOOST_TEST(c->stats().rejected[static_cast<int>(client_stage::greeting)] == 1u);
        BOOST_TEST(c->stats().messages_accepted == 1u);
    }
}

BOOST_FIXTURE_TEST_CASE(banner_421_under_ignore_rejects_closes, ignore_fixture)
{
    // A deliberate difference (README): Postfix's read_banner() only warns and sends HELO to a
    // server that has announced it is closing; ours treats 421/521 at the banner as at every
    // other stage: warn, close, start again.
    for (std::string_view code : {"421", "521"})
    {
        script s;
        s.respond(std::string(code) + " 4.3.2 closing\r\n").expect_close();
        const auto o = s.run(*one());
        BOOST_TEST(o.failure.empty(), "banner " << code << ": " << o.failure);
        BOOST_TEST(
            o.events.at(0) == ev("rejected", "greeting", std::stoi(std::string(code)), "4.3.2 closing")
        );
    }
}

BOOST_FIXTURE_TEST_CASE(banner_rejection_without_helo_continues_with_mail, ignore_fixture)
{
    cfg.send_helo = false;
    script s;
    s.respond("554 no\r\n").expect_write("MAIL FROM:<foo@vm>\r\n").respond("421 bye\r\n").expect_close();
    const auto [out, c] = s.check(make());
    BOOST_TEST(
        out.events == (std::vector<recorded_event>{
                          ev("rejected", "greeting", 554, "no"),
                          ev("rejected", "mail", 421, "bye")})
    );
}

BOOST_FIXTURE_TEST_CASE(helo_rejection, ignore_fixture)
{
    {  // 421/521: close
        for (std::string_view code : {"421", "521"})
        {
            script s;
            s.respond("220 x\r\n").expect_write("HELO vm\r\n").respond(std::string(code) + " 4.7.0 bye\r\n");
            s.expect_close();
            const auto [out, c] = s.check(make());
            BOOST_TEST(
                out.events == (std::vector<recorded_event>{
                                  ev("rejected", "helo", std::stoi(std::string(code)), "4.7.0 bye")})
            );
            BOOST_TEST(rejected_name(c) == "helo");
        }
    }
    {  // otherwise: MAIL
        script s;
        s.respond("220 x\r\n").expect_write("HELO vm\r\n").respond("501 5.5.2 bad\r\n");
        s.expect_write("MAIL FROM:<foo@vm>\r\n").respond("521 x\r\n").expect_close();
        const auto [out, c] = s.check(make());
        BOOST_TEST(out.events.at(0) == ev("rejected", "helo", 501, "5.5.2 bad"));
        BOOST_TEST(c->stats().rejected[static_cast<int>(client_stage::helo)] == 1u);
        BOOST_TEST(c->stats().rejected[static_cast<int>(client_stage::mail)] == 1u);
    }
}

BOOST_FIXTURE_TEST_CASE(mail_rejection, ignore_fixture)
{
    {  // 421: close (obs 28)
        script s;
        s.respond("220 x\r\n").expect_write("HELO vm\r\n").respond("250 x\r\n");
        s.expect_write("MAIL FROM:<foo@vm>\r\n")
            .respond("421 4.0.0 Server closing connection\r\n")
            .expect_close();
        const auto [out, c] = s.check(make());
        BOOST_TEST(
            out.events ==
            (std::vector<recorded_event>{ev("rejected", "mail", 421, "4.0.0 Server closing connection")})
        );
    }
    {  // otherwise: RSET, then QUIT
        script s;
        s.respond("220 x\r\n").expect_write("HELO vm\r\n").respond("250 x\r\n");
        s.expect_write("MAIL FROM:<foo@vm>\r\n").respond("553 5.1.8 bad sender\r\n");
        s.expect_write("RSET\r\n").respond("250 2.0.0 Ok\r\n").expect_write("QUIT\r\n").respond("221 x\r\n");
        s.expect_close();
        const auto [out, c] = s.check(make());
        BOOST_TEST(
            out.events == (std::vector<recorded_event>{ev("rejected", "mail", 553, "5.1.8 bad sender")})
        );
        BOOST_TEST(c->stats().messages_sent == 0u);
        BOOST_TEST(c->stats().recipients_sent == 0u);
        s.check_network_errors(make());
    }
}

BOOST_FIXTURE_TEST_CASE(rcpt_rejection, ignore_fixture)
{
    cfg.rcpt_count = 2;
    auto prefix = [](script& s) -> script& {
        return s.respond("220 x\r\n")
            .expect_write("HELO vm\r\n")
            .respond("250 x\r\n")
            .expect_write("MAIL FROM:<foo@vm>\r\n")
            .respond("250 x\r\n");
    };
    {  // 421 at the first RCPT: close
        script s;
        prefix(s).expect_write("RCPT TO:<foo@vm>\r\n").respond("421 4.4.5 later\r\n").expect_close();
        const auto [out, c] = s.check(make());
        BOOST_TEST(out.events == (std::vector<recorded_event>{ev("rejected", "rcpt", 421, "4.4.5 later")}));
        BOOST_TEST(c->stats().recipients_sent == 1u);
    }
    {  // one of two rejected: DATA
        script s;
        prefix(s).expect_write("RCPT TO:<foo@vm>\r\n").respond("550 5.1.1 no\r\n");
        s.expect_write("RCPT TO:<foo@vm>\r\n").respond("250 ok\r\n");
        s.expect_write("DATA\r\n").respond("354 x\r\n").expect_write(message()).respond("250 x\r\n");
        s.expect_write("QUIT\r\n").respond("221 x\r\n").expect_close();
        const auto [out, c] = s.check(make());
        BOOST_TEST(out.events.at(0) == ev("rejected", "rcpt", 550, "5.1.1 no"));
        BOOST_TEST(c->stats().recipients_accepted == 1u);
    }
    {  // all rejected: RSET (obs 28 with -d: the next message follows on the connection)
        cfg.keep_alive = true;
        script s;
        prefix(s).expect_write("RCPT TO:<foo@vm>\r\n").respond("500 5.3.0 Error: command failed\r\n");
        s.expect_write("RCPT TO:<foo@vm>\r\n").respond("550 5.1.1 no\r\n");
        s.expect_write("RSET\r\n").respond("250 2.1.0 Ok\r\n").expect_next_message(true);
        s.expect_write("MAIL FROM:<foo@vm>\r\n").respond("250 x\r\n");
        s.expect_write("RCPT TO:<foo@vm>\r\n").respond("550 5.1.1 no\r\n");
        s.expect_write("RCPT TO:<foo@vm>\r\n").respond("550 5.1.1 no\r\n");
        s.expect_write("RSET\r\n").respond("250 2.1.0 Ok\r\n").expect_next_message(false);
        s.expect_write("QUIT\r\n").respond("221 Bye\r\n").expect_close();
        const auto [out, c] = s.check(make());
        BOOST_TEST(out.events.size() == 4u);
        BOOST_TEST(out.events.at(0) == ev("rejected", "rcpt", 500, "5.3.0 Error: command failed"));
        BOOST_TEST(c->stats().recipients_sent == 4u);
        BOOST_TEST(c->stats().recipients_accepted == 0u);
        BOOST_TEST(c->stats().messages_sent == 0u);
        BOOST_TEST(c->stats().rejected[static_cast<int>(client_stage::rcpt)] == 4u);
        s.check_network_errors(make());
    }
}

BOOST_FIXTURE_TEST_CASE(data_rejection, ignore_fixture)
{
    for (std::string_view code : {"421", "521"})
    {
        script t;
        t.respond("220 x\r\n").expect_write("HELO vm\r\n").respond("250 x\r\n");
        t.expect_write("MAIL FROM:<foo@vm>\r\n").respond("250 x\r\n");
        t.expect_write("RCPT TO:<foo@vm>\r\n").respond("250 x\r\n");
        t.expect_write("DATA\r\n").respond(std::string(code) + " x\r\n").expect_close();
        const auto [out, c] = t.check(make());
        BOOST_TEST(
            out.events ==
            (std::vector<recorded_event>{ev("rejected", "data", std::stoi(std::string(code)), "x")})
        );
    }
    {  // otherwise RSET (obs 28); a 2xx that is not 354 is a rejection too
        for (std::string_view reply : {"500 5.3.0 Error: command failed", "250 2.0.0 Ok"})
        {
            script s;
            s.respond("220 x\r\n").expect_write("HELO vm\r\n").respond("250 x\r\n");
            s.expect_write("MAIL FROM:<foo@vm>\r\n").respond("250 x\r\n");
            s.expect_write("RCPT TO:<foo@vm>\r\n").respond("250 x\r\n");
            s.expect_write("DATA\r\n").respond(std::string(reply) + "\r\n");
            s.expect_write("RSET\r\n")
                .respond("250 2.1.0 Ok\r\n")
                .expect_write("QUIT\r\n")
                .respond("221 Bye\r\n");
            s.expect_close();
            const auto [out, c] = s.check(make());
            BOOST_TEST(out.events.at(0).kind == "rejected");
            BOOST_TEST(out.events.at(0).stage == "data");
            BOOST_TEST(out.events.at(0).code == std::stoi(std::string(reply.substr(0, 3))));
            BOOST_TEST(c->stats().messages_sent == 0u);
        }
    }
}

BOOST_FIXTURE_TEST_CASE(end_of_data_rejection, ignore_fixture)
{
    for (std::string_view code : {"421", "521"})
    {
        script s;
        through_data(s).expect_write(message()).respond(std::string(code) + " 4.3.0 bye\r\n").expect_close();
        const auto [out, c] = s.check(make());
        BOOST_TEST(
            out.events == (std::vector<recorded_event>{
                              ev("message_sent", "dot"),
                              ev("rejected", "dot", std::stoi(std::string(code)), "4.3.0 bye")})
        );
    }
    {  // otherwise as if it succeeded: QUIT, or the next message under -d
        cfg.keep_alive = true;
        script s;
        through_data(s).expect_write(message()).respond("554 5.7.1 spam\r\n").expect_next_message(false);
        s.expect_write("QUIT\r\n").respond("221 Bye\r\n").expect_close();
        const auto [out, c] = s.check(make());
        BOOST_TEST(out.events.at(1) == ev("rejected", "dot", 554, "5.7.1 spam"));
        BOOST_TEST(c->stats().messages_sent == 1u);  // counted when "." is sent
        BOOST_TEST(c->stats().messages_accepted == 0u);
    }
}

BOOST_FIXTURE_TEST_CASE(rset_rejection, ignore_fixture)
{
    auto prefix = [](script& s) -> script& {
        s.respond("220 x\r\n").expect_write("HELO vm\r\n").respond("250 x\r\n");
        return s.expect_write("MAIL FROM:<foo@vm>\r\n").respond("550 no\r\n").expect_write("RSET\r\n");
    };
    {
        script s;
        prefix(s).respond("421 4.3.0 bye\r\n").expect_close();
        const auto [out, c] = s.check(make());
        BOOST_TEST(out.events.at(1) == ev("rejected", "rset", 421, "4.3.0 bye"));
    }
    {  // otherwise continue
        script s;
        prefix(s).respond("500 5.5.1 what\r\n").expect_write("QUIT\r\n").respond("221 x\r\n").expect_close();
        const auto [out, c] = s.check(make());
        BOOST_TEST(out.events.at(1) == ev("rejected", "rset", 500, "5.5.1 what"));
        BOOST_TEST(c->stats().rejected[static_cast<int>(client_stage::rset)] == 1u);
    }
}

BOOST_FIXTURE_TEST_CASE(quit_reply_is_ignored, ignore_fixture)
{
    script s;
    through_data(s).expect_write(message()).respond("250 x\r\n").expect_write("QUIT\r\n");
    s.respond("500 what\r\n").expect_close();
    const auto [out, c] = s.check(make());
    BOOST_TEST(out.events.size() == 2u);  // message_sent, accepted
    BOOST_TEST(c->stats().rejected[static_cast<int>(client_stage::quit)] == 0u);
}

// ---------------------------------------------------------------------------------------------
// Without -A every unexpected reply ends the dialog

BOOST_FIXTURE_TEST_CASE(every_rejection_is_fatal_without_ignore_rejects, fixture)
{
    struct row
    {
        int upto;  // how many of the normal replies come first
        std::string_view reply;
        client_stage stage;
        int code;
        std::string_view text;
    };
    const row rows[] = {
        {0, "554 5.3.2 go away\r\n",               client_stage::greeting, 554, "5.3.2 go away"              },
        {0, "421 4.3.2 closing\r\n",               client_stage::greeting, 421, "4.3.2 closing"              },
        {1, "501 5.5.2 bad\r\n",                   client_stage::helo,     501, "5.5.2 bad"                  },
        {2, "553 5.1.8 bad sender\r\n",            client_stage::mail,     553, "5.1.8 bad sender"           },
        {3, "500 5.3.0 Error: command failed\r\n", client_stage::rcpt,     500, "5.3.0 Error: command failed"},
        {3, "hello\r\n",                           client_stage::rcpt,     0,   "hello"                      },
        {4, "554 5.5.1 no valid recipients\r\n",   client_stage::data,     554, "5.5.1 no valid recipients"  },
        {4, "250 2.0.0 Ok\r\n",                    client_stage::data,     250, "2.0.0 Ok"                   },
        {5, "552 5.3.4 too big\r\n",               client_stage::dot,      552, "5.3.4 too big"              },
        {5, "421 4.3.0 bye\r\n",                   client_stage::dot,      421, "4.3.0 bye"                  },
    };
    const std::string_view writes[] = {
        "HELO vm\r\n",
        "MAIL FROM:<foo@vm>\r\n",
        "RCPT TO:<foo@vm>\r\n",
        "DATA\r\n"};
    const std::string_view replies[] = {"220 x\r\n", "250 x\r\n", "250 x\r\n", "250 x\r\n", "354 x\r\n"};
    const std::string msg_bytes = message();
    for (const row& r : rows)
    {
        BOOST_TEST_CONTEXT("reply " << mailload::test::quoted(r.reply) << " in stage " << stage_name(r.stage))
        {
            script s;
            for (int i = 0; i < r.upto; ++i)
            {
                s.respond(replies[i]);
                s.expect_write(i < 4 ? writes[i] : std::string_view(msg_bytes));
            }
            s.respond(r.reply).expect_done(error::rejected);
            const auto [out, c] = s.check(make());
            BOOST_TEST(std::string(stage_name(c->stage())) == stage_name(r.stage));
            BOOST_TEST(c->failure_code() == r.code);
            BOOST_TEST(c->failure_text() == r.text);
            BOOST_TEST(c->stats().rejected[static_cast<int>(r.stage)] == 1u);
            for (const auto& e : out.events)
                BOOST_TEST(e.kind != "rejected");
        }
    }
}

BOOST_AUTO_TEST_CASE(rejection_and_activity_words)
{
    BOOST_TEST(rejection_name(client_stage::greeting, false) == "rejected at server banner");
    BOOST_TEST(rejection_name(client_stage::helo, false) == "HELO rejected");
    BOOST_TEST(rejection_name(client_stage::helo, true) == "LHLO rejected");
    BOOST_TEST(rejection_name(client_stage::mail, false) == "sender rejected");
    BOOST_TEST(rejection_name(client_stage::rcpt, true) == "recipient rejected");
    BOOST_TEST(rejection_name(client_stage::data, false) == "data rejected");
    BOOST_TEST(rejection_name(client_stage::dot, false) == "end of data rejected");
    BOOST_TEST(rejection_name(client_stage::rset, false) == "rset rejected");
    BOOST_TEST(stage_activity(client_stage::greeting, false) == "reading server greeting");
    BOOST_TEST(stage_activity(client_stage::helo, false) == "sending HELO");
    BOOST_TEST(stage_activity(client_stage::helo, true) == "sending LHLO");
    BOOST_TEST(stage_activity(client_stage::mail, false) == "sending sender");
    BOOST_TEST(stage_activity(client_stage::rcpt, false) == "sending recipient");
    BOOST_TEST(stage_activity(client_stage::data, false) == "sending DATA command");
    BOOST_TEST(stage_activity(client_stage::dot, true) == "sending message");
}

// ---------------------------------------------------------------------------------------------
// Recipient numbering (spec §2.7)

namespace {
// One transaction with `rcpts` accepted recipients and To: showing `to`.
script numbered(
    std::initializer_list<std::string_view> rcpts,
    std::string_view to,
    std::string_view fd = "0003"
)
{
    script s;
    s.respond("220 x\r\n").expect_write("HELO vm\r\n").respond("250 x\r\n");
    s.expect_write("MAIL FROM:<foo@vm>\r\n").respond("250 x\r\n");
    for (auto r : rcpts)
        s.expect_write("RCPT TO:<" + std::string(r) + ">\r\n").respond("250 x\r\n");
    s.expect_write("DATA\r\n")
        .respond("354 x\r\n")
        .expect_write(message(to, "0000", fd))
        .respond("250 x\r\n");
    s.expect_write("QUIT\r\n").respond("221 x\r\n").expect_close();
    return s;
}
}  // namespace

BOOST_FIXTURE_TEST_CASE(numbering_off, fixture)
{
    cfg.rcpt_count = 3;
    numbered({"foo@vm", "foo@vm", "foo@vm"}, "foo@vm").check(make());
}

BOOST_FIXTURE_TEST_CASE(numbering_prepend_countdown, fixture)
{
    cfg.rcpt_count = 3;
    cfg.numbering = rcpt_numbering::prepend_countdown;  // obs 3b
    numbered({"3foo@vm", "2foo@vm", "foo@vm"}, "foo@vm").check(make());
    cfg.rcpt_count = 1;
    numbered({"foo@vm"}, "foo@vm").check(make());
}

BOOST_FIXTURE_TEST_CASE(numbering_prepend_countdown_repeats_per_transaction, fixture)
{
    cfg.rcpt_count = 2;
    cfg.keep_alive = true;
    cfg.numbering = rcpt_numbering::prepend_countdown;
    script s;
    s.respond("220 x\r\n").expect_write("HELO vm\r\n").respond("250 x\r\n");
    for (int m = 0; m < 2; ++m)
    {
        s.expect_write("MAIL FROM:<foo@vm>\r\n").respond("250 x\r\n");
        s.expect_write("RCPT TO:<2foo@vm>\r\n").respond("250 x\r\n");
        s.expect_write("RCPT TO:<foo@vm>\r\n").respond("250 x\r\n");
        s.expect_write("DATA\r\n").respond("354 x\r\n").expect_write(message()).respond("250 x\r\n");
        s.expect_next_message(m == 0);
    }
    s.expect_write("QUIT\r\n").respond("221 x\r\n").expect_close();
    s.check(make());
}

BOOST_FIXTURE_TEST_CASE(numbering_prepend_sequence_is_shared_between_clients, fixture)
{
    cfg.rcpt_count = 3;
    cfg.numbering = rcpt_numbering::prepend_sequence;  // obs 3a: from 1, one counter per process
    const message_builder b(msg);
    std::atomic<std::uint64_t> counter{0};
    smtp_client first(cfg, b, counter), second(cfg, b, counter);
    first.start(3, 0);
    second.start(5, 0);
    const auto o1 = numbered({"1foo@vm", "2foo@vm", "3foo@vm"}, "foo@vm").run(first);
    BOOST_TEST(o1.failure.empty(), o1.failure);
    const auto o2 = numbered({"4foo@vm", "5foo@vm", "6foo@vm"}, "foo@vm", "0005").run(second);
    BOOST_TEST(o2.failure.empty(), o2.failure);
    BOOST_TEST(counter.load() == 6u);
    // and from the start again on a new connection of the first client
    first.start(3, 0);
    const auto o3 = numbered({"7foo@vm", "8foo@vm", "9foo@vm"}, "foo@vm").run(first);
    BOOST_TEST(o3.failure.empty(), o3.failure);
    BOOST_TEST(first.stats().recipients_sent == 6u);  // tallies add up over connections
    BOOST_TEST(first.stats().messages_sent == 2u);
}

BOOST_FIXTURE_TEST_CASE(numbering_append_sequence, fixture)
{
    cfg.rcpt_count = 3;
    cfg.numbering = rcpt_numbering::append_sequence;  // obs 3c: from 0, To: shows the last one
    numbered({"foo0@vm", "foo1@vm", "foo2@vm"}, "foo2@vm").check(make());
}

BOOST_FIXTURE_TEST_CASE(numbering_append_sequence_goes_on_over_messages, fixture)
{
    cfg.numbering = rcpt_numbering::append_sequence;  // obs 3e: -N alone, -m 3 -d
    cfg.keep_alive = true;
    left = 2;
    script s;
    s.respond("220 x\r\n").expect_write("HELO vm\r\n").respond("250 x\r\n");
    for (int m = 0; m < 3; ++m)
    {
        const std::string rcpt = "foo" + std::to_string(m) + "@vm";
        const std::string left_field = "000" + std::to_string(2 - m);
        s.expect_write("MAIL FROM:<foo@vm>\r\n").respond("250 x\r\n");
        s.expect_write("RCPT TO:<" + rcpt + ">\r\n").respond("250 x\r\n");
        s.expect_write("DATA\r\n")
            .respond("354 x\r\n")
            .expect_write(message(rcpt, left_field))
            .respond("250 x\r\n");
        s.expect_next_message(m < 2, [m](smtp_client& c) { c.set_left(static_cast<std::uint32_t>(1 - m)); });
    }
    s.expect_write("QUIT\r\n").respond("221 x\r\n").expect_close();
    s.check(make());
}

BOOST_FIXTURE_TEST_CASE(numbering_append_sequence_address_forms, fixture)
{
    cfg.rcpt_count = 2;
    cfg.numbering = rcpt_numbering::append_sequence;
    cfg.recipient = "bar+@example.com";  // obs 3d
    numbered({"bar+0@example.com", "bar+1@example.com"}, "bar+1@example.com").check(make());
    cfg.recipient = "rcpt-no-domain";
    numbered({"rcpt-no-domain0", "rcpt-no-domain1"}, "rcpt-no-domain1").check(make());
    cfg.recipient = "a@b@c";  // split at the last '@'
    numbered({"a@b0@c", "a@b1@c"}, "a@b1@c").check(make());
}

BOOST_FIXTURE_TEST_CASE(append_sequence_to_header_counts_rejected_recipients_too, ignore_fixture)
{
    cfg.rcpt_count = 2;
    cfg.numbering = rcpt_numbering::append_sequence;
    script s;
    s.respond("220 x\r\n").expect_write("HELO vm\r\n").respond("250 x\r\n");
    s.expect_write("MAIL FROM:<foo@vm>\r\n").respond("250 x\r\n");
    s.expect_write("RCPT TO:<foo0@vm>\r\n").respond("250 x\r\n");
    s.expect_write("RCPT TO:<foo1@vm>\r\n").respond("550 x\r\n");
    s.expect_write("DATA\r\n").respond("354 x\r\n").expect_write(message("foo1@vm")).respond("250 x\r\n");
    s.expect_write("QUIT\r\n").respond("221 x\r\n").expect_close();
    s.check(make());
}

// ---------------------------------------------------------------------------------------------
// Connection ends and pipelining

BOOST_FIXTURE_TEST_CASE(quit_without_reply_ends_in_close, fixture)
{
    script s;
    through_data(s).expect_write(message()).respond("250 2.0.0 Ok\r\n").expect_write("QUIT\r\n");
    s.peer_closes().expect_close();
    const auto [out, c] = s.check(make());
    BOOST_TEST(c->stage() == client_stage::quit);
    script t;
    through_data(t).expect_write(message()).respond("250 2.0.0 Ok\r\n").expect_write("QUIT\r\n");
    t.read_error(make_error_code(errc::connection_reset)).expect_close();
    t.check(make());
}

BOOST_FIXTURE_TEST_CASE(peer_closing_after_dot_is_lost_connection_while_sending_message, fixture)
{
    script s;  // obs 19: "lost connection while sending message"
    through_data(s).expect_write(message()).peer_closes().expect_done(error::lost_connection);
    const auto [out, c] = s.check(make());
    BOOST_TEST(c->stage() == client_stage::dot);
    BOOST_TEST(stage_activity(c->stage(), false) == "sending message");
    BOOST_TEST(c->stats().messages_sent == 1u);
    BOOST_TEST(c->stats().messages_accepted == 0u);
}

BOOST_FIXTURE_TEST_CASE(half_a_reply_then_end_of_stream, fixture)
{
    script s;
    s.respond("220 x\r\n").expect_write("HELO vm\r\n").respond("250 no line end").peer_closes();
    s.expect_done(error::lost_connection);
    const auto [out, c] = s.check(make());
    BOOST_TEST(c->stage() == client_stage::helo);
}

BOOST_FIXTURE_TEST_CASE(other_read_errors_pass_through, fixture)
{
    script s;
    s.respond("220 x\r\n").expect_write("HELO vm\r\n");
    s.read_error(make_error_code(errc::operation_canceled))
        .expect_done(make_error_code(errc::operation_canceled));
    s.check(make());
}

BOOST_FIXTURE_TEST_CASE(pipelined_replies_stay_buffered, fixture)
{
    cfg.trace = true;
    script s;
    s.respond("220 hi\r\n250 early helo\r\n250-early\r\n250 mail\r\n")
        .expect_write("HELO vm\r\n")
        .expect_write("MAIL FROM:<foo@vm>\r\n")
        .expect_write("RCPT TO:<foo@vm>\r\n")
        .respond("250 rcpt\r\n354 go\r\n")
        .expect_write("DATA\r\n")
        .expect_write(message())
        .respond("250 ok\r\n221 bye\r\n")
        .expect_write("QUIT\r\n")
        .expect_close();
    const auto [out, c] = s.check(make());
    std::vector<recorded_event> replies;
    for (const auto& e : out.events)
        if (e.kind == "reply")
            replies.push_back(e);
    BOOST_TEST(
        replies == (std::vector<recorded_event>{
                       ev("reply", "greeting", 220, "220 hi"),
                       ev("reply", "helo", 250, "250 early helo"),
                       ev("reply", "mail", 250, "250-early\n250 mail"),
                       ev("reply", "rcpt", 250, "250 rcpt"),
                       ev("reply", "data", 354, "354 go"),
                       ev("reply", "dot", 250, "250 ok"),
                       ev("reply", "quit", 221, "221 bye")})
    );
    BOOST_TEST(out.reads <= 3u);  // whole run: the three responses, nothing more
}

BOOST_FIXTURE_TEST_CASE(start_forgets_buffered_input, fixture)
{
    auto c = one();
    script s;  // a whole stale reply is buffered when the connection ends
    s.respond("220 hi\r\n554 stale\r\n").expect_write("HELO vm\r\n").expect_done(error::rejected);
    auto o = s.run(*c);
    BOOST_TEST(o.failure.empty(), o.failure);
    c->start(3, 0);
    o = default_dialog().run(*c);
    BOOST_TEST(o.failure.empty(), "after a whole stale reply: " << o.failure);

    script t;  // half a reply is in the parser when the connection ends
    t.respond("220 hi\r\n").expect_write("HELO vm\r\n").respond("554 sta").peer_closes();
    t.expect_done(error::lost_connection);
    c->start(3, 0);
    o = t.run(*c);
    BOOST_TEST(o.failure.empty(), o.failure);
    c->start(3, 0);
    o = default_dialog().run(*c);
    BOOST_TEST(o.failure.empty(), "after half a stale reply: " << o.failure);
    BOOST_TEST(c->stats().messages_sent == 2u);
}


// ---------------------------------------------------------------------------------------------
// ESMTP PIPELINING (RFC 2920), --pipelining

namespace {
const std::string ehlo_pipelining = "250-smtp-sink\r\n250-PIPELINING\r\n250 8BITMIME\r\n";
const std::string batch = "MAIL FROM:<foo@vm>\r\nRCPT TO:<foo@vm>\r\nDATA\r\n";
}  // namespace

BOOST_FIXTURE_TEST_CASE(pipelining_sends_each_transaction_in_two_writes, fixture)
{
    cfg.pipelining = true;
    script s;
    s.respond("220 hi\r\n")
        .expect_write("EHLO vm\r\n")
        .respond(ehlo_pipelining)
        .expect_write(batch)
        .respond("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n")
        .expect_write(message() + "QUIT\r\n")
        .respond("250 2.0.0 Ok\r\n221 Bye\r\n")
        .expect_close();
    const auto [out, c] = s.check(make());
    BOOST_TEST(c->pipelined());
    BOOST_TEST(c->stats().messages_accepted == 1u);
    BOOST_TEST(out.events == (std::vector<recorded_event>{ev("message_sent", "dot"), ev("accepted", "dot")}));
    s.check_network_errors(make());
}

BOOST_FIXTURE_TEST_CASE(pipelining_with_keep_alive_sends_the_next_commands_with_the_dot, fixture)
{
    cfg.pipelining = true;
    cfg.keep_alive = true;
    script s;
    s.respond("220 hi\r\n")
        .expect_write("EHLO vm\r\n")
        .respond(ehlo_pipelining)
        .expect_write(batch)
        .respond("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n")
        .expect_next_message(true, [](smtp_client& c) { c.set_left(1); })
        .expect_write(message() + batch)  // this message's Message-Id was made before the claim
        .respond("250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n")
        .expect_next_message(false)
        .expect_write(message("foo@vm", "0001") + "QUIT\r\n")
        .respond("250 2.0.0 Ok\r\n221 Bye\r\n")
        .expect_close();
    const auto [out, c] = s.check(make());
    BOOST_TEST(c->stats().messages_sent == 2u);
    BOOST_TEST(c->stats().messages_accepted == 2u);
    s.check_network_errors(make());
}

BOOST_FIXTURE_TEST_CASE(pipelining_without_the_announcement_is_lock_step, fixture)
{
    cfg.pipelining = true;
    script s;
    s.respond("220 hi\r\n")
        .expect_write("EHLO vm\r\n")
        .respond("250-smtp-sink\r\n250 8BITMIME\r\n")
        .expect_write("MAIL FROM:<foo@vm>\r\n")
        .respond("250 ok\r\n")
        .expect_write("RCPT TO:<foo@vm>\r\n")
        .respond("250 ok\r\n")
        .expect_write("DATA\r\n")
        .respond("354 go\r\n")
        .expect_write(message())
        .respond("250 ok\r\n")
        .expect_write("QUIT\r\n")
        .respond("221 Bye\r\n")
        .expect_close();
    const auto [out, c] = s.check(make());
    BOOST_TEST(!c->pipelined());
}

BOOST_FIXTURE_TEST_CASE(pipelining_falls_back_to_helo_when_ehlo_is_refused, fixture)
{
    cfg.pipelining = true;
    script s;
    s.respond("220 hi\r\n")
        .expect_write("EHLO vm\r\n")
        .respond("500 5.5.1 Error: unknown command\r\n")
        .expect_write("HELO vm\r\n")
        .respond("250 hi\r\n")
        .expect_write("MAIL FROM:<foo@vm>\r\n")
        .respond("250 ok\r\n")
        .expect_write("RCPT TO:<foo@vm>\r\n")
        .respond("250 ok\r\n")
        .expect_write("DATA\r\n")
        .respond("354 go\r\n")
        .expect_write(message())
        .respond("250 ok\r\n")
        .expect_write("QUIT\r\n")
        .respond("221 Bye\r\n")
        .expect_close();
    const auto [out, c] = s.check(make());
    BOOST_TEST(!c->pipelined());
    BOOST_TEST(out.events.empty() == false);
    BOOST_TEST(c->stats().rejected[static_cast<int>(client_stage::helo)] == 0u);  // a fallback, not a rejection
}

BOOST_FIXTURE_TEST_CASE(pipelining_keeps_per_recipient_results_exact, ignore_fixture)
{
    cfg.pipelining = true;
    cfg.rcpt_count = 3;
    cfg.numbering = rcpt_numbering::prepend_countdown;
    script s;
    s.respond("220 hi\r\n")
        .expect_write("EHLO vm\r\n")
        .respond(ehlo_pipelining)
        .expect_write("MAIL FROM:<foo@vm>\r\nRCPT TO:<3foo@vm>\r\nRCPT TO:<2foo@vm>\r\nRCPT TO:<foo@vm>\r\nDATA\r\n")
        .respond("250 ok\r\n250 ok\r\n550 5.1.1 no such user\r\n250 ok\r\n354 go\r\n")
        .expect_write(message() + "QUIT\r\n")
        .respond("250 ok\r\n221 Bye\r\n")
        .expect_close();
    const auto [out, c] = s.check(make());
    BOOST_TEST(c->stats().recipients_sent == 3u);
    BOOST_TEST(c->stats().recipients_accepted == 2u);
    BOOST_TEST(c->stats().rejected[static_cast<int>(client_stage::rcpt)] == 1u);
    BOOST_TEST(out.events.at(0) == ev("rejected", "rcpt", 550, "5.1.1 no such user"));
}

BOOST_FIXTURE_TEST_CASE(pipelining_with_every_recipient_refused_resets, ignore_fixture)
{
    cfg.pipelining = true;
    for (const std::string data_reply : {"503 5.5.1 Error: need RCPT command\r\n", "354 go\r\n"})
    {
        script s;
        s.respond("220 hi\r\n")
            .expect_write("EHLO vm\r\n")
            .respond(ehlo_pipelining)
            .expect_write(batch)
            .respond("250 ok\r\n550 no\r\n" + data_reply);
        if (data_reply.starts_with("354"))  // DATA accepted anyway: a lone "." ends it (RFC 2920 3.1)
            s.expect_write(".\r\n").respond("554 no valid recipients\r\n").expect_write("QUIT\r\n");
        else
            s.expect_write("RSET\r\n").respond("250 ok\r\n").expect_write("QUIT\r\n");
        s.respond("221 Bye\r\n").expect_close();
        const auto [out, c] = s.check(make());
        BOOST_TEST(c->stats().messages_sent == 0u);
        BOOST_TEST(c->stats().messages_accepted == 0u);
    }
}

BOOST_FIXTURE_TEST_CASE(pipelining_without_ignore_rejects_stops_at_the_first_rejection, fixture)
{
    cfg.pipelining = true;
    script s;
    s.respond("220 hi\r\n")
        .expect_write("EHLO vm\r\n")
        .respond(ehlo_pipelining)
        .expect_write(batch)
        .respond("250 ok\r\n550 5.1.1 no such user\r\n503 need RCPT\r\n")
        .expect_done(error::rejected);
    const auto [out, c] = s.check(make());
    BOOST_TEST(c->failure_message(error::rejected) == "recipient rejected: 550 5.1.1 no such user");
}

BOOST_AUTO_TEST_SUITE_END()
