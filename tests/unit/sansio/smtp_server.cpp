// Test that header file is self-contained.
#include <mailload/sansio/smtp_server.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "support/algo_test.hpp"

// The server algorithm against a scripted client. The harness's roles are reversed: the
// algorithm's writes are the server's replies, the script's respond() steps are client bytes.

using namespace mailload::sansio;
using namespace std::chrono_literals;
using namespace std::string_literals;
using mailload::test::algo_test;
using mailload::test::outcome;
using mailload::test::plan;
using mailload::test::recorded_event;
namespace errc = boost::system::errc;

namespace {

const char* kind_name(server_event::kind_t k)
{
    switch (k)
    {
    case server_event::command: return "command";
    case server_event::syslog: return "syslog";
    case server_event::line_too_long: return "line_too_long";
    case server_event::helo: return "helo";
    case server_event::mail: return "mail";
    case server_event::rcpt: return "rcpt";
    case server_event::data: return "data";
    case server_event::content: return "content";
    case server_event::message: return "message";
    case server_event::reset: return "reset";
    case server_event::quit: return "quit";
    }
    return "?";
}

std::string command_name(smtp_command c)
{
    return std::string(smtp_command_names[static_cast<std::size_t>(c)]);
}

}  // namespace

namespace mailload::sansio {
inline std::ostream& boost_test_print_type(std::ostream& os, client_proto p)
{
    return os << (p == client_proto::smtp ? "SMTP" : p == client_proto::esmtp ? "ESMTP" : "LMTP");
}
}  // namespace mailload::sansio

template <>
struct mailload::test::algo_traits<smtp_server>
{
    // {kind, command, 0, text}: the command only where it is part of the event (which hello was
    // accepted, which command -s logged), "-" otherwise; the text is the arguments of
    // helo/mail/rcpt, "typed|args" for syslog, the event's text otherwise.
    static recorded_event event(const smtp_server& s)
    {
        const server_event& e = s.event();
        std::string stage = "-";
        std::string text(e.text);
        switch (e.kind)
        {
        case server_event::syslog:
            stage = command_name(e.cmd);
            text = std::string(e.text) + '|' + std::string(e.args);
            break;
        case server_event::helo:
            stage = command_name(e.cmd);
            text = std::string(e.args);
            break;
        case server_event::mail:
        case server_event::rcpt: text = std::string(e.args); break;
        default: break;
        }
        return {kind_name(e.kind), stage, 0, text};
    }
    static std::string stage(const smtp_server&) { return "session"; }
    static std::string stage_of_write(std::string_view) { return "session"; }
    static constexpr std::string_view initial_stage = "session";
    static bool closes_on_error(std::string_view) { return false; }
};

namespace {

using script = algo_test<smtp_server>;
using traits = mailload::test::algo_traits<smtp_server>;
using mailload::error;

const std::string greeting = "220 smtp-sink ESMTP\r\n";
const std::string helo_ok = "250 smtp-sink\r\n";
const std::string ehlo_all =
    "250-smtp-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-AUTH PLAIN LOGIN\r\n250-XCLIENT NAME HELO\r\n"
    "250-XFORWARD NAME ADDR PROTO HELO\r\n250-ENHANCEDSTATUSCODES\r\n250-DSN\r\n250 \r\n";
const std::string mail_ok = "250 2.1.0 Ok\r\n";  // MAIL and RSET
const std::string rcpt_ok = "250 2.1.5 Ok\r\n";
const std::string go_ahead = "354 End data with <CR><LF>.<CR><LF>\r\n";
const std::string ok = "250 2.0.0 Ok\r\n";  // ".", NOOP, VRFY, AUTH, XCLIENT, XFORWARD
const std::string lmtp_ok = "250 2.2.0 Ok\r\n";
const std::string bye = "221 Bye\r\n";
const std::string unknown = "500 5.5.1 Error: unknown command\r\n";
const std::string empty_line = "500 5.5.2 Error: unknown command\r\n";
const std::string nested = "503 5.5.1 Error: nested MAIL command\r\n";
const std::string need_mail = "503 5.5.1 Error: need MAIL command\r\n";
const std::string need_rcpt = "503 5.5.1 Error: need RCPT command\r\n";
const std::string soft = "450 4.3.0 Error: command failed\r\n";
const std::string hard = "500 5.3.0 Error: command failed\r\n";
const std::string closing = "421 4.0.0 Server closing connection\r\n";
const std::string violation = "550 This violates SMTP\r\n";

std::string times(std::size_t n, const std::string& s)
{
    std::string out;
    for (std::size_t i = 0; i < n; ++i)
        out += s;
    return out;
}

recorded_event ev(std::string kind, std::string text = {}, std::string stage = "-")
{
    return {std::move(kind), std::move(stage), 0, std::move(text)};
}

std::vector<std::string> kinds(const std::vector<recorded_event>& events)
{
    std::vector<std::string> out;
    for (const auto& e : events)
        out.push_back(e.kind);
    return out;
}

std::vector<long long> ms(const std::vector<std::chrono::steady_clock::duration>& waits)
{
    std::vector<long long> out;
    for (auto w : waits)
        out.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(w).count());
    return out;
}

std::size_t position(
    const std::vector<std::string>& trace,
    std::string_view starts_with,
    std::size_t from = 0
)
{
    for (std::size_t i = from; i < trace.size(); ++i)
        if (trace[i].starts_with(starts_with))
            return i;
    return trace.size();
}

/// smtp-sink's defaults; a new server for each run.
struct fixture
{
    server_config cfg;
    std::uint64_t seed = 1;

    script::factory make()
    {
        return [this] {
            auto s = std::make_unique<smtp_server>(cfg, seed);
            s->start();
            return s;
        };
    }
};

// The greeting and a transaction up to the 354.
script& through_data(
    script& s,
    std::string_view hello = "HELO client\r\n",
    std::string_view hello_reply = helo_ok
)
{
    return s.expect_write(greeting)
        .respond(hello)
        .expect_write(hello_reply)
        .respond("MAIL FROM:<a@example>\r\n")
        .expect_write(mail_ok)
        .respond("RCPT TO:<b@example>\r\n")
        .expect_write(rcpt_ok)
        .respond("DATA\r\n")
        .expect_write(go_ahead);
}

script& quit(script& s) { return s.respond("QUIT\r\n").expect_write(bye).expect_close(); }

/// Checks a script across every delivery and returns the run with whole responses.
script::checked check_all(const script& s, fixture& f) { return s.check(f.make()); }

// ---------------------------------------------------------------------------------------------
// A direct driver for input whose replies are batched differently by different deliveries.

struct transcript
{
    std::string output;  // every write, joined
    std::vector<std::string> writes;
    std::vector<std::uint64_t> answered;  // stats().answered after each write
    std::vector<recorded_event> events;
    std::vector<std::chrono::steady_clock::duration> waits;
    std::optional<next_action> last;
};

/// Runs `s` over `chunks`, one chunk per read (a chunk larger than the read buffer takes
/// several); after the last chunk reads see the end of the stream.
transcript feed(smtp_server& s, const std::vector<std::string>& chunks)
{
    transcript t;
    std::size_t next = 0;
    std::string pending;
    next_action act = s.resume();
    for (std::size_t guard = 0; guard < 100'000'000; ++guard)
    {
        switch (act.type())
        {
        case action_type::write:
        {
            std::string data;
            for (auto p : act.out())
                data += p;
            t.output += data;
            t.writes.push_back(data);
            act = s.resume({}, data.size());
            t.answered.push_back(s.stats().answered);
            break;
        }
        case action_type::read:
        {
            if (pending.empty() && next < chunks.size())
                pending = chunks[next++];
            const std::size_t n = std::min(pending.size(), act.in().size());
            std::memcpy(act.in().data(), pending.data(), n);
            pending.erase(0, n);
            act = s.resume({}, n);
            break;
        }
        case action_type::event:
            t.events.push_back(traits::event(s));
            act = s.resume();
            break;
        case action_type::wait:
            t.waits.push_back(act.duration());
            act = s.resume();
            break;
        case action_type::close:
        case action_type::done: t.last = act; return t;
        case action_type::next_message: BOOST_FAIL("a server asked for a message"); return t;
        }
    }
    BOOST_FAIL("the server never finishes");
    return t;
}

/// The ways `input` can arrive: whole, cut in two at every point (a sample when long), one byte per read.
std::vector<std::vector<std::string>> deliveries(const std::string& input)
{
    std::vector<std::vector<std::string>> out{{input}};
    for (std::size_t k = 1; k < input.size(); ++k)
        if (input.size() <= 600 || k <= 64 || k + 64 >= input.size() || k % 97 == 0)
            out.push_back({input.substr(0, k), input.substr(k)});
    std::vector<std::string> bytes;
    for (char c : input)
        bytes.emplace_back(1, c);
    out.push_back(bytes);
    return out;
}

std::string describe(const std::vector<std::string>& chunks)
{
    if (chunks.size() == 1)
        return "whole";
    if (chunks.size() == 2)
        return "split after " + std::to_string(chunks[0].size());
    return "bytewise";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(smtp_server_hpp)

// ---------------------------------------------------------------------------------------------
// Greeting and the hello commands (spec §3.3, §3.4, §3.6)

BOOST_FIXTURE_TEST_CASE(greeting_default, fixture)
{
    script s;
    s.expect_write("220 smtp-sink ESMTP\r\n");
    quit(s);
    const auto r = check_all(s, *this);
    BOOST_TEST(r.out.events == (std::vector<recorded_event>{ev("quit")}));
}

BOOST_FIXTURE_TEST_CASE(greeting_without_esmtp, fixture)
{
    cfg.esmtp = false;  // -e
    script s;
    s.expect_write("220 smtp-sink\r\n");
    quit(s);
    check_all(s, *this);
}

BOOST_FIXTURE_TEST_CASE(greeting_pix, fixture)
{
    cfg.pix = true;  // -P (which implies -e, but the flag alone decides the greeting)
    for (bool esmtp : {true, false})
    {
        cfg.esmtp = esmtp;
        script s;
        s.expect_write("220 ********\r\n");
        quit(s);
        check_all(s, *this);
    }
}

BOOST_FIXTURE_TEST_CASE(greeting_with_hostname, fixture)
{
    cfg.hostname = "mx.example.com";  // -h
    script s;
    s.expect_write("220 mx.example.com ESMTP\r\n")
        .respond("HELO client\r\n")
        .expect_write("250 mx.example.com\r\n")
        .respond("EHLO client\r\n")
        .expect_write(
            "250-mx.example.com\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-AUTH PLAIN LOGIN\r\n"
            "250-XCLIENT NAME HELO\r\n250-XFORWARD NAME ADDR PROTO HELO\r\n250-ENHANCEDSTATUSCODES\r\n"
            "250-DSN\r\n250 \r\n"
        );
    quit(s);
    check_all(s, *this);
}

BOOST_FIXTURE_TEST_CASE(greeting_says_esmtp_in_lmtp_mode_too, fixture)
{
    cfg.lmtp = true;
    script s;
    s.expect_write("220 smtp-sink ESMTP\r\n");
    quit(s);
    check_all(s, *this);
}

BOOST_FIXTURE_TEST_CASE(ehlo_list_for_each_capability_flag, fixture)
{
    struct flag
    {
        bool server_config::*member;
        std::string line;
    };
    const flag flags[] = {
        {&server_config::pipelining,            "250-PIPELINING\r\n"                   },
        {&server_config::eightbitmime,          "250-8BITMIME\r\n"                     },
        {&server_config::auth,                  "250-AUTH PLAIN LOGIN\r\n"             },
        {&server_config::xclient,               "250-XCLIENT NAME HELO\r\n"            },
        {&server_config::xforward,              "250-XFORWARD NAME ADDR PROTO HELO\r\n"},
        {&server_config::enhanced_status_codes, "250-ENHANCEDSTATUSCODES\r\n"          },
        {&server_config::dsn,                   "250-DSN\r\n"                          },
    };
    for (const flag& f : flags)
    {
        BOOST_TEST_CONTEXT("without " << f.line.substr(4, f.line.size() - 6))
        {
            cfg = {};
            cfg.*f.member = false;
            std::string want = ehlo_all;
            want.erase(want.find(f.line), f.line.size());
            script s;
            s.expect_write(greeting).respond("EHLO client\r\n").expect_write(want);
            quit(s);
            check_all(s, *this);
        }
    }

    cfg = {};
    for (const flag& f : flags)
        cfg.*f.member = false;
    script s;
    s.expect_write(greeting).respond("EHLO client\r\n").expect_write("250-smtp-sink\r\n250 \r\n");
    quit(s);
    check_all(s, *this);
}

BOOST_FIXTURE_TEST_CASE(lhlo_gets_the_ehlo_list, fixture)
{
    cfg.lmtp = true;
    cfg.dsn = false;
    std::string want = ehlo_all;
    want.erase(want.find("250-DSN\r\n"), 9);
    script s;
    s.expect_write(greeting).respond("LHLO client\r\n").expect_write(want);
    quit(s);
    check_all(s, *this);
}

BOOST_FIXTURE_TEST_CASE(hello_commands_enabled_in_smtp_mode, fixture)
{
    script s;
    s.expect_write(greeting)
        .respond("HELO a\r\n")
        .expect_write(helo_ok)
        .respond("EHLO b\r\n")
        .expect_write(ehlo_all)
        .respond("LHLO c\r\n")
        .expect_write(unknown);
    quit(s);
    const auto r = check_all(s, *this);
    BOOST_TEST(
        r.out.events ==
        (std::vector<recorded_event>{ev("helo", "a", "helo"), ev("helo", "b", "ehlo"), ev("quit")})
    );
}

BOOST_FIXTURE_TEST_CASE(hello_commands_enabled_in_lmtp_mode, fixture)
{
    cfg.lmtp = true;  // -L: only LHLO
    script s;
    s.expect_write(greeting)
        .respond("HELO a\r\n")
        .expect_write(unknown)
        .respond("EHLO b\r\n")
        .expect_write(unknown)
        .respond("LHLO c\r\n")
        .expect_write(ehlo_all);
    quit(s);
    const auto r = check_all(s, *this);
    BOOST_TEST(r.out.events == (std::vector<recorded_event>{ev("helo", "c", "lhlo"), ev("quit")}));
}

BOOST_FIXTURE_TEST_CASE(hello_commands_enabled_without_esmtp, fixture)
{
    for (int mode = 0; mode < 2; ++mode)
    {
        BOOST_TEST_CONTEXT((mode == 0 ? "-e" : "-P"))
        {
            cfg = {};
            if (mode == 0)
                cfg.esmtp = false;
            else
                cfg.pix = true;
            script s;
            s.expect_write(mode == 0 ? "220 smtp-sink\r\n" : "220 ********\r\n")
                .respond("EHLO b\r\n")
                .expect_write(unknown)
                .respond("LHLO c\r\n")
                .expect_write(unknown)
                .respond("HELO a\r\n")
                .expect_write(helo_ok);
            quit(s);
            check_all(s, *this);
        }
    }
}

BOOST_FIXTURE_TEST_CASE(a_disabled_command_is_refused_before_any_action, fixture)
{
    // "-f ehlo together with -e never applies" (§3.7 note): 500 5.5.1, no -s, no -q
    cfg.esmtp = false;
    cfg.hard.add(smtp_command::ehlo);
    cfg.log.add(smtp_command::ehlo);
    cfg.drop.add(smtp_command::xclient);
    cfg.xclient = false;
    script s;
    s.expect_write("220 smtp-sink\r\n")
        .respond("EHLO b\r\n")
        .expect_write(unknown)
        .respond("XCLIENT NAME=x\r\n")
        .expect_write(unknown);
    quit(s);
    const auto r = check_all(s, *this);
    BOOST_TEST(r.out.events == (std::vector<recorded_event>{ev("quit")}));
}

// ---------------------------------------------------------------------------------------------
// The reply table (spec §3.5)

BOOST_FIXTURE_TEST_CASE(sequencing_replies, fixture)
{
    script s;
    s.expect_write(greeting)
        .respond("RCPT TO:<b@example>\r\n")
        .expect_write(need_mail)
        .respond("DATA\r\n")
        .expect_write(need_rcpt)
        .respond("MAIL FROM:<a@example>\r\n")
        .expect_write(mail_ok)
        .respond("MAIL FROM:<a@example>\r\n")
        .expect_write(nested)
        .respond("DATA\r\n")  // a transaction, but no recipient yet
        .expect_write(need_rcpt)
        .respond("RCPT TO:<b@example>\r\n")
        .expect_write(rcpt_ok)
        .respond("RSET\r\n")
        .expect_write(mail_ok)
        .respond("DATA\r\n")  // RSET closed the transaction
        .expect_write(need_rcpt)
        .respond("RCPT TO:<c@example>\r\n")
        .expect_write(need_mail)
        .respond("RSET\r\n")  // without a transaction
        .expect_write(mail_ok)
        .respond("MAIL FROM:<d@example>\r\n")
        .expect_write(mail_ok)
        .respond("RCPT TO:<e@example>\r\n")
        .expect_write(rcpt_ok)
        .respond("HELO client\r\n")  // HELO ends the transaction
        .expect_write(helo_ok)
        .respond("RCPT TO:<f@example>\r\n")
        .expect_write(need_mail)
        .respond("MAIL FROM:<g@example>\r\n")
        .expect_write(mail_ok)
        .respond("RCPT TO:<h@example>\r\n")
        .expect_write(rcpt_ok)
        .respond("EHLO client\r\n")  // so does EHLO
        .expect_write(ehlo_all)
        .respond("DATA\r\n")
        .expect_write(need_rcpt)
        .respond("NOOP\r\n")
        .expect_write(ok)
        .respond("VRFY someone\r\n")
        .expect_write(ok)
        .respond("XCLIENT NAME=spike.porcupine.org\r\n")
        .expect_write(ok)
        .respond("XFORWARD ADDR=192.0.2.1\r\n")
        .expect_write(ok)
        .respond("AUTH PLAIN dGVzdAB0ZXN0AHRlc3Q=\r\n")  // 250, not 235: nothing is authenticated
        .expect_write(ok)
        .respond(".\r\n")  // "." outside DATA, in SMTP mode
        .expect_write(ok)
        .respond("MAIL FROM:garbage\r\n")  // arguments are never checked
        .expect_write(mail_ok)
        .respond("RCPT TO:garbage\r\n")
        .expect_write(rcpt_ok)
        .respond("DATA\r\n")
        .expect_write(go_ahead)
        .respond(".\r\n")
        .expect_write(ok);
    quit(s);
    const auto r = check_all(s, *this);
    BOOST_TEST(
        r.out.events == (std::vector<recorded_event>{
                            ev("mail", "<a@example>"),
                            ev("rcpt", "<b@example>"),
                            ev("reset"),
                            ev("mail", "<d@example>"),
                            ev("rcpt", "<e@example>"),
                            ev("reset"),
                            ev("helo", "client", "helo"),
                            ev("mail", "<g@example>"),
                            ev("rcpt", "<h@example>"),
                            ev("reset"),
                            ev("helo", "client", "ehlo"),
                            ev("mail", "garbage"),
                            ev("rcpt", "garbage"),
                            ev("data"),
                            ev("message"),
                            ev("quit"),
                        })
    );
    BOOST_TEST(r.algo->stats().messages == 1u);
    BOOST_TEST(r.algo->stats().recipients == 1u);
}

BOOST_FIXTURE_TEST_CASE(commands_ignore_case, fixture)
{
    script s;
    s.expect_write(greeting)
        .respond("eHlO client\r\n")
        .expect_write(ehlo_all)
        .respond("helo client\r\n")
        .expect_write(helo_ok)
        .respond("mail from:<a@example>\r\n")
        .expect_write(mail_ok)
        .respond("RcPt To:<b@example>\r\n")
        .expect_write(rcpt_ok)
        .respond("data\r\n")
        .expect_write(go_ahead)
        .respond("x\r\n.\r\n")
        .expect_write(ok)
        .respond("noop\r\n")
        .expect_write(ok)
        .respond("rSeT\r\n")
        .expect_write(mail_ok)
        .respond("Vrfy x\r\n")
        .expect_write(ok)
        .respond("quit\r\n")
        .expect_write(bye)
        .expect_close();
    const auto r = check_all(s, *this);
    BOOST_TEST(r.algo->stats().messages == 1u);
    BOOST_TEST(r.algo->stats().quits == 1u);
}

BOOST_FIXTURE_TEST_CASE(empty_or_blank_line, fixture)
{
    script s;
    s.expect_write(greeting)
        .respond("\r\n")
        .expect_write(empty_line)
        .respond("   \r\n")
        .expect_write(empty_line)
        .respond("\t\r\n")
        .expect_write(empty_line)
        .respond(" \t \t\r\n")
        .expect_write(empty_line);
    quit(s);
    check_all(s, *this);
}

BOOST_FIXTURE_TEST_CASE(unknown_or_disabled_command, fixture)
{
    {
        script s;
        s.expect_write(greeting)
            .respond("FOO\r\n")
            .expect_write(unknown)
            .respond("STARTTLS\r\n")
            .expect_write(unknown)
            .respond("CONNECT\r\n")  // the pseudo-command cannot be typed
            .expect_write(unknown)
            .respond("MAILFROM:<a@example>\r\n")
            .expect_write(unknown)
            .respond("HELOx\r\n")
            .expect_write(unknown)
            .respond("XCLIENT NAME=x\r\n")  // enabled by default
            .expect_write(ok)
            .respond("XFORWARD NAME=x\r\n")
            .expect_write(ok);
        quit(s);
        check_all(s, *this);
    }
    cfg.xclient = false;   // -C
    cfg.xforward = false;  // -F
    script s;
    s.expect_write(greeting)
        .respond("XCLIENT NAME=x\r\n")
        .expect_write(unknown)
        .respond("xforward NAME=x\r\n")
        .expect_write(unknown);
    quit(s);
    check_all(s, *this);
}

BOOST_FIXTURE_TEST_CASE(a_nul_byte_cuts_the_line, fixture)
{
    cfg.trace = true;
    script s;
    s.expect_write(greeting)
        .respond("NOOP\0junk\r\n"s)
        .expect_write(ok)
        .respond("\0NOOP\r\n"s)
        .expect_write(empty_line)
        .respond("MAIL FROM:<a@example>\0<b@example>\r\n"s)
        .expect_write(mail_ok)
        .respond("FOO\0NOOP\r\n"s)
        .expect_write(unknown);
    quit(s);
    const auto r = check_all(s, *this);
    BOOST_TEST(
        r.out.events == (std::vector<recorded_event>{
                            ev("command", "NOOP"),
                            ev("command", ""),
                            ev("command", "MAIL FROM:<a@example>"),
                            ev("mail", "<a@example>"),
                            ev("command", "FOO"),
                            ev("command", "QUIT"),
                            ev("quit"),
                            ev("reset"),  // QUIT with a transaction open
                        })
    );
}

BOOST_FIXTURE_TEST_CASE(bare_lf_is_part_of_the_line, fixture)
{
    // obs 14: "HELO x\nNOOP\n" then "NOOP\r\n" is one HELO command
    script s;
    s.expect_write(greeting)
        .respond("HELO x\nNOOP\n")
        .respond("NOOP\r\n")
        .expect_write(helo_ok)
        .respond("NOOP\n\r\n")  // the command is "NOOP\n"
        .expect_write(unknown)
        .respond("NOOP\rX\r\n")  // a CR not followed by LF is ordinary too
        .expect_write(unknown)
        .respond("NOOP \r\r\n")  // and so is one right before the CR LF
        .expect_write(ok);
    quit(s);
    const auto r = check_all(s, *this);
    BOOST_TEST(kinds(r.out.events) == (std::vector<std::string>{"helo", "quit"}));
    BOOST_TEST_REQUIRE(r.algo->helo_args().has_value());
    BOOST_TEST(r.algo->helo_args()->size() == 11u);  // "x", LF, "NOOP", LF, "NOOP"
    BOOST_TEST(r.algo->helo_args()->starts_with("x"));
}

// ---------------------------------------------------------------------------------------------
// Line length (spec §3.4: at most 2048 bytes, CR LF included)

BOOST_FIXTURE_TEST_CASE(line_of_2046_characters_is_accepted, fixture)
{
    const std::string line = "NOOP " + std::string(2041, 'x');
    BOOST_TEST_REQUIRE(line.size() == 2046u);
    script s;
    s.expect_write(greeting).respond(line + "\r\n").expect_write(ok);
    quit(s);
    check_all(s, *this);
}

BOOST_FIXTURE_TEST_CASE(line_of_2047_characters_closes_without_reply, fixture)
{
    const std::string line = "NOOP " + std::string(2042, 'x');
    BOOST_TEST_REQUIRE(line.size() == 2047u);
    script s;
    s.expect_write(greeting).respond(line + "\r\nNOOP\r\n").expect_close_leaving_input();
    const auto r = check_all(s, *this);
    BOOST_TEST(r.out.events == (std::vector<recorded_event>{ev("line_too_long")}));
    BOOST_TEST(r.out.writes.size() == 1u);
}

BOOST_FIXTURE_TEST_CASE(input_without_crlf_past_2048_bytes_closes_without_reply, fixture)
{
    for (const std::string& input :
         {std::string(2049, 'x'),
          std::string(5000, 'x'),
          "NOOP " + std::string(3000, '\n'),
          std::string(2047, 'x') + "\r\r"})
    {
        script s;
        s.expect_write(greeting).respond(input).expect_close_leaving_input();
        const auto r = check_all(s, *this);
        BOOST_TEST(r.out.events == (std::vector<recorded_event>{ev("line_too_long")}));
    }
}

BOOST_FIXTURE_TEST_CASE(a_partial_line_below_the_limit_waits_for_more, fixture)
{
    // 2047 bytes and no LF yet: not too long; the peer leaving ends the session quietly
    script s;
    s.expect_write(greeting)
        .respond(std::string(2047, 'x'))
        .peer_closes()
        .expect_done(error::lost_connection);
    const auto r = check_all(s, *this);
    BOOST_TEST(r.out.events.empty());
}

BOOST_FIXTURE_TEST_CASE(long_lines_back_to_back, fixture)
{
    // five 2048-byte lines in one burst: more than the read buffer, so partial lines move
    const std::string line = "NOOP " + std::string(2041, 'x') + "\r\n";
    const std::string input = times(5, line) + "QUIT\r\n";
    for (const auto& chunks : deliveries(input))
    {
        smtp_server srv(cfg);
        srv.start();
        const transcript t = feed(srv, chunks);
        BOOST_TEST(t.output == greeting + times(5, ok) + bye, describe(chunks));
        BOOST_TEST(t.last.has_value());
        if (t.last)
            BOOST_TEST(t.last->type() == action_type::close);
    }
}

// ---------------------------------------------------------------------------------------------
// Pipelining and batching (spec §3.10)

BOOST_FIXTURE_TEST_CASE(pipelined_burst_is_answered_in_one_write, fixture)
{
    const std::string burst1 =
        "EHLO client\r\nMAIL FROM:<a@example>\r\nRCPT TO:<b@example>\r\nRCPT TO:<c@example>\r\nDATA\r\n";
    const std::string burst2 =
        "Subject: hi\r\n\r\nbody\r\n.\r\nMAIL FROM:<d@example>\r\nRCPT TO:<e@example>\r\nDATA\r\nsecond\r\n."
        "\r\nNOOP\r\nQUIT\r\n";
    const std::string replies1 = ehlo_all + mail_ok + rcpt_ok + rcpt_ok + go_ahead;
    const std::string replies2 = ok + mail_ok + rcpt_ok + go_ahead + ok + ok + bye;
    for (bool pipelining : {true, false})  // the same whether or not PIPELINING is announced
    {
        cfg.pipelining = pipelining;
        std::string ehlo = ehlo_all;
        if (!pipelining)
            ehlo.erase(ehlo.find("250-PIPELINING\r\n"), 16);
        script s;
        s.expect_write(greeting)
            .respond(burst1)
            .expect_write(ehlo + mail_ok + rcpt_ok + rcpt_ok + go_ahead)
            .respond(burst2)
            .expect_write(replies2)
            .expect_close();
        auto algo = make()();
        const outcome o = s.run(*algo);
        BOOST_TEST(o.failure.empty(), o.failure);
        BOOST_TEST(o.writes.size() == 3u);
        BOOST_TEST(algo->stats().messages == 2u);
        BOOST_TEST(algo->stats().recipients == 3u);
    }

    // however the bytes arrive, the same replies in the same order
    cfg.pipelining = true;
    for (const auto& chunks : deliveries(burst1 + burst2))
    {
        smtp_server srv(cfg);
        srv.start();
        const transcript t = feed(srv, chunks);
        BOOST_TEST(t.output == greeting + replies1 + replies2, describe(chunks));
    }
}

// ---------------------------------------------------------------------------------------------
// DATA (spec §3.8)

const std::vector<std::string>& messages()
{
    static const std::vector<std::string> m = {
        ".\r\n",  // an empty message: "." right after the 354
        "\r\n.\r\n",
        "\r\r\n.\r\n",
        "Subject: test\r\n\r\nline 1\r\nline 2\r\n.\r\n",
        "..stuffed\r\n...two\r\n.\r\n",
        "a\r\n..\r\n.\r\n",              // "\r\n..\r\n" is no end
        "lone\rCR\r\n\r\r\n.\r\n",       // lone CRs
        "bare\n.\nstill data\r\n.\r\n",  // "\n.\n" is no end
        "x\r\n.\r\r\n.\r\n",             // "\r\n.\r\r\n" is no end
        "x\r\n.x\r\n. \r\n.\r\n",
        std::string(20000, 'y') + "\r\n.\r\n",  // data lines have no length limit
    };
    return m;
}

BOOST_FIXTURE_TEST_CASE(end_of_data_is_found_across_every_split, fixture)
{
    for (const std::string& msg : messages())
    {
        BOOST_TEST_CONTEXT("message " << mailload::test::quoted(msg, 40))
        {
            script s;
            through_data(s).respond(msg).expect_write(ok);
            quit(s);
            const auto r = check_all(s, *this);
            BOOST_TEST(
                kinds(r.out.events) ==
                (std::vector<std::string>{"helo", "mail", "rcpt", "data", "message", "quit"})
            );
            BOOST_TEST(r.algo->stats().messages == 1u);
            BOOST_TEST(r.algo->stats().data_bytes == msg.size());
        }
    }
}

BOOST_FIXTURE_TEST_CASE(empty_message, fixture)
{
    script s;
    through_data(s).respond(".\r\n").expect_write(ok);
    quit(s);
    const auto r = check_all(s, *this);
    BOOST_TEST(r.algo->stats().messages == 1u);
    BOOST_TEST(r.algo->stats().data_bytes == 3u);
}

BOOST_FIXTURE_TEST_CASE(content_events_are_exactly_the_data_sent, fixture)
{
    cfg.content = true;
    for (const std::string& msg : messages())
    {
        script s;
        through_data(s).respond(msg).expect_write(ok);
        quit(s);
        std::vector<plan> plans{plan::whole(), plan::bytewise()};
        for (std::size_t k = 1; k < msg.size(); ++k)
            if (msg.size() <= 600 || k <= 64 || k + 64 >= msg.size() || k % 97 == 0)
                plans.push_back(plan::split(4, k));  // respond steps: HELO, MAIL, RCPT, DATA, the data
        for (const plan& p : plans)
        {
            BOOST_TEST_CONTEXT("message " << mailload::test::quoted(msg, 40) << ", " << p)
            {
                auto algo = make()();
                const outcome o = s.run(*algo, p);
                BOOST_TEST(o.failure.empty(), o.failure);
                std::string content;
                std::size_t data_at = o.events.size(), message_at = o.events.size(), count = 0;
                for (std::size_t i = 0; i < o.events.size(); ++i)
                {
                    const auto& e = o.events[i];
                    if (e.kind == "data")
                        data_at = i;
                    if (e.kind == "message")
                        message_at = i;
                    if (e.kind == "content")
                    {
                        BOOST_TEST(i > data_at);
                        BOOST_TEST(message_at == o.events.size());
                        BOOST_TEST(!e.text.empty());
                        content += e.text;
                        ++count;
                    }
                }
                BOOST_TEST(content == msg);
                BOOST_TEST(count >= 1u);
            }
        }
    }
}

BOOST_FIXTURE_TEST_CASE(content_stops_at_the_end_marker, fixture)
{
    // the data and the commands after it in one read: only the data is content
    cfg.content = true;
    const std::string msg = "Subject: x\r\n\r\n..dot\r\n.\r\n";
    script s;
    through_data(s).respond(msg + "NOOP\r\nQUIT\r\n").expect_write(ok + ok + bye).expect_close();
    auto algo = make()();
    const outcome o = s.run(*algo);
    BOOST_TEST(o.failure.empty(), o.failure);
    std::string content;
    for (const auto& e : o.events)
        if (e.kind == "content")
            content += e.text;
    BOOST_TEST(content == msg);
    BOOST_TEST(algo->stats().data_bytes == msg.size());
}

BOOST_FIXTURE_TEST_CASE(no_content_events_unless_asked, fixture)
{
    for (const std::string& msg : messages())
    {
        script s;
        through_data(s).respond(msg).expect_write(ok);
        quit(s);
        auto algo = make()();
        const outcome o = s.run(*algo, plan::bytewise());
        BOOST_TEST(o.failure.empty(), o.failure);
        for (const auto& e : o.events)
            BOOST_TEST(e.kind != "content");
    }
}

BOOST_FIXTURE_TEST_CASE(message_event_comes_before_the_dot_reply, fixture)
{
    cfg.trace = true;
    script s;
    through_data(s).respond("body\r\n.\r\n").expect_write(ok);
    quit(s);
    const auto r = check_all(s, *this);
    const auto& t = r.out.trace;
    const std::size_t message = position(t, "event {message");
    const std::size_t dot_command = position(t, "event {command - 0 \".\"}");
    const std::size_t reply = position(t, "write \"250 2.0.0 Ok\\r\\n\"");
    BOOST_TEST(message < t.size());
    BOOST_TEST(message < dot_command);  // then "." is handled as a command
    BOOST_TEST(dot_command < reply);
    BOOST_TEST(reply < t.size());
}

BOOST_FIXTURE_TEST_CASE(lmtp_dot_replies_once_per_recipient_of_the_last_mail, fixture)
{
    cfg.lmtp = true;
    script s;
    s.expect_write(greeting)
        .respond("LHLO client\r\n")
        .expect_write(ehlo_all)
        .respond(".\r\n")  // a stray "." before any transaction: one reply
        .expect_write(ok)
        .respond("MAIL FROM:<a@example>\r\n")
        .expect_write(mail_ok)
        .respond("RCPT TO:<b@example>\r\n")
        .expect_write(rcpt_ok)
        .respond("RCPT TO:<c@example>\r\n")
        .expect_write(rcpt_ok)
        .respond("RCPT TO:<d@example>\r\n")
        .expect_write(rcpt_ok)
        .respond("DATA\r\n")
        .expect_write(go_ahead)
        .respond("one\r\n.\r\n")
        .expect_write(times(3, lmtp_ok))  // in one write
        .respond(".\r\n")                 // a stray "." after the message: one reply (Postfix: none)
        .expect_write(ok)
        .respond("MAIL FROM:<e@example>\r\n")
        .expect_write(mail_ok)
        .respond("RCPT TO:<f@example>\r\n")
        .expect_write(rcpt_ok)
        .respond("DATA\r\n")
        .expect_write(go_ahead)
        .respond("two\r\n.\r\n")
        .expect_write(lmtp_ok)
        .respond("MAIL FROM:<g@example>\r\n")
        .expect_write(mail_ok)
        .respond("RCPT TO:<h@example>\r\n")
        .expect_write(rcpt_ok)
        .respond("RCPT TO:<i@example>\r\n")
        .expect_write(rcpt_ok)
        .respond(".\r\n")  // stray, in a transaction with recipients
        .expect_write(ok);
    quit(s);
    const auto r = check_all(s, *this);
    BOOST_TEST(r.algo->stats().messages == 2u);
    BOOST_TEST(r.algo->stats().recipients == 4u);
}

// ---------------------------------------------------------------------------------------------
// Per-command actions and their precedence (spec §3.7)

BOOST_FIXTURE_TEST_CASE(syslog_reports_the_command_as_typed, fixture)
{
    cfg.log.add(smtp_command::noop);
    cfg.log.add(smtp_command::mail);
    script s;
    s.expect_write(greeting)
        .respond("nOoP some  args\r\n")
        .expect_write(ok)
        .respond("MAIL FROM:<a@example>\r\n")
        .expect_write(mail_ok)
        .respond("VRFY x\r\n")
        .expect_write(ok);
    quit(s);
    const auto r = check_all(s, *this);
    BOOST_TEST(
        r.out.events == (std::vector<recorded_event>{
                            ev("syslog", "nOoP|some  args", "noop"),
                            ev("syslog", "MAIL|FROM:<a@example>", "mail"),
                            ev("mail", "<a@example>"),
                            ev("quit"),
                            ev("reset"),  // QUIT with a transaction open
                        })
    );
}

BOOST_FIXTURE_TEST_CASE(precedence_for_a_normal_command, fixture)
{
    const auto noop = smtp_command::noop;
    // -s and -q: logged, then closed without a reply
    {
        cfg = {};
        cfg.log.add(noop);
        cfg.drop.add(noop);
        cfg.close.add(noop);
        cfg.hard.add(noop);
        cfg.soft.add(noop);
        cfg.delays[static_cast<std::size_t>(noop)] = command_delay{5s};
        script s;
        s.expect_write(greeting).respond("NOOP\r\n").expect_close();
        const auto r = check_all(s, *this);
        BOOST_TEST(r.out.events == (std::vector<recorded_event>{ev("syslog", "NOOP|", "noop")}));
        BOOST_TEST(r.out.waits.empty());
        BOOST_TEST(!r.algo->hung_up());  // closed in answer to a command
    }
    // -Q before -f, -r and -W: 421, then close
    {
        cfg = {};
        cfg.close.add(noop);
        cfg.hard.add(noop);
        cfg.soft.add(noop);
        cfg.delays[static_cast<std::size_t>(noop)] = command_delay{5s};
        script s;
        s.expect_write(greeting).respond("NOOP\r\n").expect_write(closing).expect_close();
        const auto r = check_all(s, *this);
        BOOST_TEST(r.out.waits.empty());
        BOOST_TEST(!r.algo->hung_up());
    }
    // -f before -r and -W; the session goes on
    {
        cfg = {};
        cfg.hard.add(noop);
        cfg.soft.add(noop);
        cfg.delays[static_cast<std::size_t>(noop)] = command_delay{5s};
        script s;
        s.expect_write(greeting)
            .respond("NOOP\r\n")
            .expect_write(hard)
            .respond("NOOP\r\n")
            .expect_write(hard);
        quit(s);
        const auto r = check_all(s, *this);
        BOOST_TEST(r.out.waits.empty());
    }
    // -r before -W
    {
        cfg = {};
        cfg.soft.add(noop);
        cfg.delays[static_cast<std::size_t>(noop)] = command_delay{5s};
        script s;
        s.expect_write(greeting).respond("NOOP\r\n").expect_write(soft);
        quit(s);
        const auto r = check_all(s, *this);
        BOOST_TEST(r.out.waits.empty());
    }
    // -W alone
    {
        cfg = {};
        cfg.delays[static_cast<std::size_t>(noop)] = command_delay{5s};
        script s;
        s.expect_write(greeting).respond("NOOP\r\n").expect_write(ok);
        quit(s);
        const auto r = check_all(s, *this);
        BOOST_TEST(ms(r.out.waits) == (std::vector<long long>{5000}));
    }
    // -b / -B texts
    {
        cfg = {};
        cfg.soft_reply = "421";
        cfg.hard_reply = "554 5.7.1 go away";
        cfg.soft.add(smtp_command::vrfy);
        cfg.hard.add(noop);
        script s;
        s.expect_write(greeting)
            .respond("VRFY x\r\n")
            .expect_write("421\r\n")  // a 421 text does not close the session
            .respond("NOOP\r\n")
            .expect_write("554 5.7.1 go away\r\n");
        quit(s);
        check_all(s, *this);
    }
}

BOOST_FIXTURE_TEST_CASE(refused_commands_have_no_side_effects, fixture)
{
    cfg.hard.add(smtp_command::mail);
    cfg.soft.add(smtp_command::helo);
    cfg.hard.add(smtp_command::quit);
    {
        script s;
        s.expect_write(greeting)
            .respond("HELO client\r\n")
            .expect_write(soft)
            .respond("MAIL FROM:<a@example>\r\n")
            .expect_write(hard)
            .respond("RCPT TO:<b@example>\r\n")  // no transaction was opened
            .expect_write(need_mail)
            .respond("QUIT\r\n")  // QUIT refused: the session goes on
            .expect_write(hard)
            .respond("NOOP\r\n")
            .expect_write(ok)
            .peer_closes()
            .expect_done(error::lost_connection);
        const auto r = check_all(s, *this);
        BOOST_TEST(r.out.events.empty());
        BOOST_TEST(!r.algo->helo_args().has_value());
        BOOST_TEST(r.algo->stats().quits == 0u);
    }
    cfg = {};
    cfg.soft.add(smtp_command::rcpt);
    cfg.hard.add(smtp_command::rset);
    cfg.hard.add(smtp_command::data);
    script s;
    s.expect_write(greeting)
        .respond("MAIL FROM:<a@example>\r\n")
        .expect_write(mail_ok)
        .respond("RCPT TO:<b@example>\r\n")
        .expect_write(soft)
        .respond("RSET\r\n")
        .expect_write(hard)
        .respond("MAIL FROM:<a@example>\r\n")  // RSET did not end the transaction
        .expect_write(nested)
        .respond("DATA\r\n")
        .expect_write(hard)
        .respond("NOOP\r\n")  // not in DATA
        .expect_write(ok)
        .peer_closes()
        .expect_done(error::lost_connection);
    const auto r = check_all(s, *this);
    BOOST_TEST(kinds(r.out.events) == (std::vector<std::string>{"mail", "reset"}));
}

BOOST_FIXTURE_TEST_CASE(precedence_for_connect, fixture)
{
    const auto connect = smtp_command::connect;
    {
        cfg = {};  // -q connect: close at once
        cfg.log.add(connect);
        cfg.drop.add(connect);
        cfg.close.add(connect);
        script s;
        s.expect_close();
        const auto r = check_all(s, *this);
        BOOST_TEST(r.out.writes.empty());
        BOOST_TEST(r.out.events == (std::vector<recorded_event>{ev("syslog", "connect|", "connect")}));
        BOOST_TEST(r.algo->hung_up());  // unprompted: no command line came
    }
    {
        cfg = {};  // -Q connect
        cfg.close.add(connect);
        cfg.hard.add(connect);
        script s;
        s.expect_write(closing).expect_close();
        BOOST_TEST(check_all(s, *this).algo->hung_up());
    }
    {
        cfg = {};  // -f connect: the session goes on (obs 16)
        cfg.hard.add(connect);
        cfg.soft.add(connect);
        script s;
        s.expect_write(hard).respond("HELO client\r\n").expect_write(helo_ok);
        quit(s);
        check_all(s, *this);
    }
    {
        cfg = {};  // -r connect
        cfg.soft.add(connect);
        cfg.delays[static_cast<std::size_t>(connect)] = command_delay{3s};
        script s;
        s.expect_write(soft).respond("NOOP\r\n").expect_write(ok);
        quit(s);
        const auto r = check_all(s, *this);
        BOOST_TEST(r.out.waits.empty());
    }
    {
        cfg = {};  // -W connect:3: the greeting comes late
        cfg.delays[static_cast<std::size_t>(connect)] = command_delay{3s};
        script s;
        s.expect_write(greeting);
        quit(s);
        const auto r = check_all(s, *this);
        BOOST_TEST(ms(r.out.waits) == (std::vector<long long>{3000}));
        BOOST_TEST(position(r.out.trace, "wait 3000 ms") < position(r.out.trace, "write"));
    }
}

BOOST_FIXTURE_TEST_CASE(precedence_for_dot, fixture)
{
    const auto dot = smtp_command::dot;
    struct case_t
    {
        const char* name;
        command_set server_config::*list;  // the option's list, or none: -W .:2
        std::vector<std::string> after;    // what the server writes after the data; empty: nothing
        bool closes;
        long long wait_ms;
    };
    const case_t cases[] = {
        {"-s .",   &server_config::log,   {ok},      false, -1  },
        {"-q .",   &server_config::drop,  {},        true,  -1  },
        {"-Q .",   &server_config::close, {closing}, true,  -1  },
        {"-f .",   &server_config::hard,  {hard},    false, -1  },
        {"-r .",   &server_config::soft,  {soft},    false, -1  },
        {"-W .:2", nullptr,               {ok},      false, 2000},
    };
    for (const case_t& c : cases)
    {
        BOOST_TEST_CONTEXT(c.name)
        {
            cfg = {};
            if (c.list)
                (cfg.*c.list).add(dot);
            else
                cfg.delays[static_cast<std::size_t>(dot)] = command_delay{2s};
            script s;
            through_data(s).respond("body\r\n.\r\n");
            for (const auto& w : c.after)
                s.expect_write(w);
            if (c.closes)
                s.expect_close();
            else
                quit(s);
            const auto r = check_all(s, *this);
            BOOST_TEST(r.algo->stats().messages == 1u);  // counted whatever the "." reply
            const auto k = kinds(r.out.events);
            BOOST_TEST((std::find(k.begin(), k.end(), "message") != k.end()));
            if (cfg.log.has(dot))
                BOOST_TEST(r.out.events[position(k, "message") + 1] == ev("syslog", ".|", "."));
            BOOST_TEST(
                ms(r.out.waits) ==
                (c.wait_ms < 0 ? std::vector<long long>{} : std::vector<long long>{c.wait_ms})
            );
        }
    }
}

BOOST_FIXTURE_TEST_CASE(lmtp_dot_hard_and_soft_replies_once_per_recipient, fixture)
{
    for (bool hard_error : {true, false})
    {
        cfg = {};
        cfg.lmtp = true;
        (hard_error ? cfg.hard : cfg.soft).add(smtp_command::dot);
        script s;
        s.expect_write(greeting)
            .respond("LHLO client\r\n")
            .expect_write(ehlo_all)
            .respond("MAIL FROM:<a@example>\r\n")
            .expect_write(mail_ok);
        for (int i = 0; i < 3; ++i)
            s.respond("RCPT TO:<b@example>\r\n").expect_write(rcpt_ok);
        s.respond("DATA\r\n")
            .expect_write(go_ahead)
            .respond("body\r\n.\r\n")
            .expect_write(times(3, hard_error ? hard : soft));
        s.respond(".\r\n").expect_write(hard_error ? hard : soft);  // a stray ".": once
        quit(s);
        const auto r = check_all(s, *this);
        BOOST_TEST(r.algo->stats().messages == 1u);  // still counted
        BOOST_TEST(r.algo->stats().recipients == 3u);
    }
}

BOOST_FIXTURE_TEST_CASE(lmtp_delayed_dot, fixture)
{
    cfg.lmtp = true;
    cfg.delays[static_cast<std::size_t>(smtp_command::dot)] = command_delay{2s};
    script s;
    s.expect_write(greeting)
        .respond(
            "LHLO client\r\nMAIL FROM:<a@example>\r\nRCPT TO:<b@example>\r\nRCPT TO:<c@example>\r\nDATA\r\n"
        )
        .expect_write(ehlo_all + mail_ok + rcpt_ok + rcpt_ok + go_ahead)
        .respond("body\r\n.\r\n")
        .expect_write(lmtp_ok + lmtp_ok);
    quit(s);
    auto algo = make()();
    const outcome o = s.run(*algo);
    BOOST_TEST(o.failure.empty(), o.failure);
    BOOST_TEST(ms(o.waits) == (std::vector<long long>{2000}));
}

// ---------------------------------------------------------------------------------------------
// Delays (-W, -w), -A, -H

BOOST_FIXTURE_TEST_CASE(delays_are_wait_actions_before_the_reply, fixture)
{
    cfg.delays[static_cast<std::size_t>(smtp_command::data)] = command_delay{2s};  // -w 2
    cfg.delays[static_cast<std::size_t>(smtp_command::mail)] = command_delay{250ms};
    cfg.delays[static_cast<std::size_t>(smtp_command::quit)] = command_delay{1500ms};
    script s;
    s.expect_write(greeting)
        .respond("HELO client\r\n")
        .expect_write(helo_ok)
        .respond("MAIL FROM:<a@example>\r\n")
        .expect_write(mail_ok)
        .respond("RCPT TO:<b@example>\r\n")  // the transaction was opened when the reply went
        .expect_write(rcpt_ok)
        .respond("DATA\r\n")
        .expect_write(go_ahead)
        .respond("body\r\n.\r\n")
        .expect_write(ok)
        .respond("QUIT\r\n")  // a delayed QUIT disconnects after its reply
        .expect_write(bye)
        .expect_close();
    const auto r = check_all(s, *this);
    BOOST_TEST(ms(r.out.waits) == (std::vector<long long>{250, 2000, 1500}));
    BOOST_TEST((r.out.waits[0] == std::chrono::steady_clock::duration(250ms)));
    const auto& t = r.out.trace;
    const std::size_t w1 = position(t, "wait 250 ms"), w2 = position(t, "wait 2000 ms"),
                      w3 = position(t, "wait 1500 ms");
    BOOST_TEST(w1 < position(t, "event {mail"));  // the side effect comes with the reply
    BOOST_TEST(w1 < position(t, "write \"250 2.1.0"));
    BOOST_TEST(w2 < position(t, "write \"354"));
    BOOST_TEST(position(t, "write \"250 2.1.5") < w2);
    BOOST_TEST(w3 < position(t, "write \"221"));
    BOOST_TEST(position(t, "write \"250 2.0.0") < w3);
    BOOST_TEST(t.back() == "close");
}

BOOST_FIXTURE_TEST_CASE(delayed_reply_keeps_later_pipelined_replies_after_it, fixture)
{
    // Postfix answers the later commands at once (obs 33); mailload keeps the order
    cfg.delays[static_cast<std::size_t>(smtp_command::noop)] = command_delay{1s};
    const std::string burst = "MAIL FROM:<a@example>\r\nNOOP\r\nRCPT TO:<b@example>\r\nNOOP\r\nDATA\r\n";
    script s;
    s.expect_write(greeting)
        .respond(burst)
        .expect_write(mail_ok)  // what was due before the delayed reply goes first
        .expect_write(ok + rcpt_ok)
        .expect_write(ok + go_ahead)
        .respond(".\r\n")
        .expect_write(ok);
    quit(s);
    auto algo = make()();
    const outcome o = s.run(*algo);
    BOOST_TEST(o.failure.empty(), o.failure);
    BOOST_TEST(ms(o.waits) == (std::vector<long long>{1000, 1000}));
    BOOST_TEST(
        o.trace == (std::vector<std::string>{
                       "write \"220 smtp-sink ESMTP\\r\\n\"",
                       "event {mail - 0 \"<a@example>\"}",
                       "write \"250 2.1.0 Ok\\r\\n\"",
                       "wait 1000 ms",
                       "event {rcpt - 0 \"<b@example>\"}",
                       "write \"250 2.0.0 Ok\\r\\n250 2.1.5 Ok\\r\\n\"",
                       "wait 1000 ms",
                       "event {data - 0 \"\"}",
                       "write \"250 2.0.0 Ok\\r\\n354 End data with <CR><LF>.<CR><LF>\\r\\n\"",
                       "event {message - 0 \"\"}",
                       "write \"250 2.0.0 Ok\\r\\n\"",
                       "event {quit - 0 \"\"}",
                       "write \"221 Bye\\r\\n\"",
                       "close",
                   })
    );

    for (const auto& chunks : deliveries(burst + ".\r\nQUIT\r\n"))
    {
        smtp_server srv(cfg);
        srv.start();
        const transcript t = feed(srv, chunks);
        BOOST_TEST(
            t.output == greeting + mail_ok + ok + rcpt_ok + ok + go_ahead + ok + bye,
            describe(chunks)
        );
        BOOST_TEST(t.waits.size() == 2u);
    }
}

BOOST_FIXTURE_TEST_CASE(commands_after_a_message_in_one_large_read, fixture)
{
    // DATA is read into the bulk buffer; what follows the message's end there (here 3,000
    // pipelined NOOPs, more than the command buffer holds) is served from it before reads go
    // back to the command buffer.
    const std::string body = times(5000, "0123456789abcdef\r\n");
    const std::string tail = times(3000, "NOOP\r\n") + "QUIT\r\n";
    for (std::size_t piece : {std::size_t(1) << 20, std::size_t(70000), std::size_t(4096)})
    {
        smtp_server srv(cfg);
        srv.start();
        const std::string input = "HELO x\r\nMAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\n" + body + ".\r\n" + tail;
        std::vector<std::string> chunks;
        for (std::size_t at = 0; at < input.size(); at += piece)
            chunks.push_back(input.substr(at, piece));
        const transcript t = feed(srv, chunks);
        BOOST_TEST(t.output == greeting + helo_ok + mail_ok + rcpt_ok + go_ahead + ok + times(3000, ok) + bye,
                   "pieces of " << piece);
        BOOST_TEST(srv.stats().messages == 1u);
        BOOST_TEST(srv.stats().data_bytes == body.size() + 3);
    }
}

BOOST_FIXTURE_TEST_CASE(answered_counts_written_dot_replies, fixture)
{
    // -M stops a sink once its last message's reply is out: the count moves with the write that
    // carries a "." reply (however it is delayed, whatever it says), and never for a dropped one.
    const std::string burst = "HELO x\r\nMAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\nx\r\n.\r\n";
    {
        cfg.delays[static_cast<std::size_t>(smtp_command::dot)] = command_delay{1s, 0};
        smtp_server srv(cfg);
        srv.start();
        const transcript t = feed(srv, {burst, "QUIT\r\n"});
        BOOST_TEST(t.writes == (std::vector<std::string>{greeting, helo_ok + mail_ok + rcpt_ok + go_ahead, ok, bye}));
        BOOST_TEST(t.answered == (std::vector<std::uint64_t>{0, 0, 1, 1}));
        cfg.delays = {};
    }
    {
        cfg.hard.add(smtp_command::dot);
        smtp_server srv(cfg);
        srv.start();
        const transcript t = feed(srv, {burst + "QUIT\r\n"});
        BOOST_TEST(t.writes == (std::vector<std::string>{greeting, helo_ok + mail_ok + rcpt_ok + go_ahead + hard + bye}));
        BOOST_TEST(t.answered == (std::vector<std::uint64_t>{0, 1}));
        cfg.hard = {};
    }
    {
        cfg.drop.add(smtp_command::dot);
        smtp_server srv(cfg);
        srv.start();
        const transcript t = feed(srv, {burst});
        BOOST_TEST(t.writes == (std::vector<std::string>{greeting, helo_ok + mail_ok + rcpt_ok + go_ahead}));
        BOOST_TEST(t.answered == (std::vector<std::uint64_t>{0, 0}));
        BOOST_TEST(srv.stats().messages == 1u);
    }
}

BOOST_FIXTURE_TEST_CASE(delay_odds_zero_always_waits_the_full_delay, fixture)
{
    // Postfix rolls dice only when odds > 0: -W noop:1:0 delays every reply by 1 s.
    cfg.delays[static_cast<std::size_t>(smtp_command::noop)] = command_delay{1s, 0};
    smtp_server srv(cfg, 42);
    srv.start();
    const transcript t = feed(srv, {times(100, "NOOP\r\n") + "QUIT\r\n"});
    BOOST_TEST(t.waits == std::vector<std::chrono::steady_clock::duration>(100, 1s));
    BOOST_TEST(t.output == greeting + times(100, ok) + bye);
}

BOOST_FIXTURE_TEST_CASE(delay_odds_distribution, fixture)
{
    // k = rolls of 0-99 below `odds` before the first that is not: geometric, P(k >= j) = (odds/100)^j
    constexpr std::size_t n = 4000;
    const std::string input = times(n, "NOOP\r\n") + "QUIT\r\n";
    struct expect_t
    {
        int odds;
        double mean_lo, mean_hi;
    };
    for (const expect_t e : {
             expect_t{50, 0.85, 1.15},
             expect_t{90, 8.0,  10.0},
             expect_t{10, 0.08, 0.14}
    })
    {
        BOOST_TEST_CONTEXT("odds " << e.odds)
        {
            cfg.delays[static_cast<std::size_t>(smtp_command::noop)] = command_delay{1s, e.odds};
            smtp_server srv(cfg, 7);
            srv.start();
            const transcript t = feed(srv, {input});
            BOOST_TEST(t.output == greeting + times(n, ok) + bye);  // every reply, in order
            std::size_t total = 0, at_least_two = 0;
            for (auto w : t.waits)
            {
                const auto k = std::chrono::duration_cast<std::chrono::seconds>(w).count();
                BOOST_TEST((w == std::chrono::steady_clock::duration(std::chrono::seconds(k))));  // delay × k
                BOOST_TEST(k >= 1);
                total += static_cast<std::size_t>(k);
                at_least_two += k >= 2;
            }
            const double p = e.odds / 100.0;
            const double zero = double(n - t.waits.size()) / n;
            const double mean = double(total) / n;
            const double two = double(at_least_two) / n;
            BOOST_TEST(zero > (1 - p) - 0.05);
            BOOST_TEST(zero < (1 - p) + 0.05);
            BOOST_TEST(two > p * p - 0.05);
            BOOST_TEST(two < p * p + 0.05);
            BOOST_TEST(mean > e.mean_lo);
            BOOST_TEST(mean < e.mean_hi);
        }
    }

    // the seed decides the rolls
    cfg.delays[static_cast<std::size_t>(smtp_command::noop)] = command_delay{1s, 50};
    auto rolls = [&](std::uint64_t seed) {
        smtp_server srv(cfg, seed);
        srv.start();
        return ms(feed(srv, {times(200, "NOOP\r\n") + "QUIT\r\n"}).waits);
    };
    BOOST_TEST(rolls(3) == rolls(3));
    BOOST_TEST((rolls(3) != rolls(4)));
}

BOOST_FIXTURE_TEST_CASE(abort_after_data, fixture)
{
    for (auto delay : {std::chrono::steady_clock::duration(2s), std::chrono::steady_clock::duration(0s)})
    {
        cfg.abort_delay = delay;  // -A
        script s;
        through_data(s).expect_write(violation).expect_close_leaving_input();
        const auto r = check_all(s, *this);
        const auto want_wait = std::chrono::duration_cast<std::chrono::milliseconds>(delay).count();
        BOOST_TEST(ms(r.out.waits) == (std::vector<long long>{want_wait}));
        const auto& t = r.out.trace;
        BOOST_TEST_REQUIRE(t.size() >= 5u);
        BOOST_TEST(t[t.size() - 5].starts_with("write \"354"));
        BOOST_TEST(t[t.size() - 4] == "wait " + std::to_string(want_wait) + " ms");
        BOOST_TEST(t[t.size() - 3] == "write \"550 This violates SMTP\\r\\n\"");
        BOOST_TEST(t[t.size() - 2].starts_with("event {reset"));  // the transaction ends unfinished
        BOOST_TEST(t[t.size() - 1] == "close");
        BOOST_TEST(r.algo->stats().messages == 0u);
        BOOST_TEST(r.algo->hung_up());
    }

    // the data sent along is never read
    script s;
    s.expect_write(greeting)
        .respond("MAIL FROM:<a@example>\r\nRCPT TO:<b@example>\r\nDATA\r\nbody\r\n.\r\nQUIT\r\n")
        .expect_write(mail_ok + rcpt_ok + go_ahead)
        .expect_write(violation)
        .expect_close_leaving_input();
    auto algo = make()();
    const outcome o = s.run(*algo);
    BOOST_TEST(o.failure.empty(), o.failure);
    BOOST_TEST(algo->stats().messages == 0u);
}

BOOST_FIXTURE_TEST_CASE(pause_after_data, fixture)
{
    cfg.data_pause = 3s;  // -H 3
    script s;
    through_data(s).respond("body\r\n.\r\n").expect_write(ok);
    quit(s);
    const auto r = check_all(s, *this);
    BOOST_TEST(ms(r.out.waits) == (std::vector<long long>{3000}));
    const auto& t = r.out.trace;
    const std::size_t wait = position(t, "wait 3000 ms");
    BOOST_TEST(position(t, "write \"354") < wait);
    BOOST_TEST(wait < position(t, "event {message"));
    BOOST_TEST(r.algo->stats().messages == 1u);
}

// ---------------------------------------------------------------------------------------------
// The end of a session

BOOST_FIXTURE_TEST_CASE(quit_closes_even_with_more_pipelined_input, fixture)
{
    {
        script s;
        s.expect_write(greeting)
            .respond("QUIT\r\nNOOP\r\nNOOP\r\n")
            .expect_write(bye)
            .expect_close_leaving_input();
        const auto r = check_all(s, *this);
        BOOST_TEST(r.algo->stats().quits == 1u);
    }
    script s;
    s.expect_write(greeting).respond("NOOP\r\nQUIT\r\nNOOP\r\n").expect_write(ok + bye).expect_close();
    auto algo = make()();
    const outcome o = s.run(*algo);
    BOOST_TEST(o.failure.empty(), o.failure);
}

BOOST_FIXTURE_TEST_CASE(network_errors_at_every_step, fixture)
{
    script s;
    through_data(s).respond("body\r\n.\r\n").expect_write(ok);
    quit(s);
    BOOST_TEST(s.check_network_errors(make()) == 39u);  // 7 writes and 6 reads, 3 errors each
}

BOOST_FIXTURE_TEST_CASE(end_of_stream_mid_transaction_resets_it, fixture)
{
    {
        script s;  // after MAIL
        s.expect_write(greeting)
            .respond("HELO client\r\n")
            .expect_write(helo_ok)
            .respond("MAIL FROM:<a@example>\r\n")
            .expect_write(mail_ok)
            .peer_closes()
            .expect_done(error::lost_connection);
        const auto r = check_all(s, *this);
        BOOST_TEST(kinds(r.out.events) == (std::vector<std::string>{"helo", "mail", "reset"}));
        BOOST_TEST(r.out.trace.back() == "done [lost connection]");
        BOOST_TEST(!r.algo->failed_while_writing());
    }
    {
        script s;  // in the middle of the data
        through_data(s).respond("partial data\r\n.").peer_closes().expect_done(error::lost_connection);
        const auto r = check_all(s, *this);
        BOOST_TEST(
            kinds(r.out.events) == (std::vector<std::string>{"helo", "mail", "rcpt", "data", "reset"})
        );
        BOOST_TEST(r.algo->stats().messages == 0u);
    }
    {
        script s;  // no transaction: no reset
        s.expect_write(greeting)
            .respond("HELO client\r\n")
            .expect_write(helo_ok)
            .peer_closes()
            .expect_done(error::lost_connection);
        const auto r = check_all(s, *this);
        BOOST_TEST(kinds(r.out.events) == (std::vector<std::string>{"helo"}));
    }
}

BOOST_FIXTURE_TEST_CASE(io_errors_mid_transaction_reset_it, fixture)
{
    // a reset connection reads as a lost connection, as in the client (error.hpp: "the peer
    // closed or reset the connection"); a timeout stays a timeout
    {
        script s;
        through_data(s)
            .read_error(make_error_code(errc::connection_reset))
            .expect_done(error::lost_connection);
        auto algo = make()();
        const outcome o = s.run(*algo);
        BOOST_TEST(o.failure.empty(), o.failure);
        BOOST_TEST(kinds(o.events).back() == "reset");
    }
    {
        script s;
        through_data(s).read_error(error::timeout).expect_done(error::timeout);
        auto algo = make()();
        const outcome o = s.run(*algo);
        BOOST_TEST(o.failure.empty(), o.failure);
        BOOST_TEST(kinds(o.events).back() == "reset");
        BOOST_TEST(!algo->failed_while_writing());
    }
    // a failed write: the reply to RCPT (script step 6) cannot be sent
    for (const boost::system::error_code ec :
         {make_error_code(errc::broken_pipe),
          make_error_code(errc::connection_reset),
          boost::system::error_code(error::timeout)})
    {
        BOOST_TEST_CONTEXT(ec.message())
        {
            script s;
            through_data(s);
            BOOST_TEST_REQUIRE(s.steps()[6].kind == script::step::write);
            plan p;
            p.inject_step = 6;
            p.inject_ec = ec;
            auto algo = make()();
            const outcome o = s.run(*algo, p);
            BOOST_TEST(o.injected);
            BOOST_TEST_REQUIRE(o.last.has_value());
            BOOST_TEST(*o.last == next_action::done(script::mapped(ec)));
            BOOST_TEST(kinds(o.events).back() == "reset");
            BOOST_TEST(algo->failed_while_writing());
        }
    }
}

BOOST_FIXTURE_TEST_CASE(every_transaction_ends_in_message_or_reset, fixture)
{
    // server_event::reset: "the open transaction ended without a message" - also when the
    // session ends with it open (QUIT, -q, -Q, -A, an overlong line), as the dump goes then too
    struct case_t
    {
        const char* name;
        command_set server_config::*list;  // NOOP is in it
        bool abort;                        // -A 1
        std::string last_command;
    };
    const std::string overlong(3000, 'x');
    const case_t cases[] = {
        {"QUIT",          nullptr,               false, "QUIT\r\n"},
        {"-q noop",       &server_config::drop,  false, "NOOP\r\n"},
        {"-Q noop",       &server_config::close, false, "NOOP\r\n"},
        {"-A 1",          nullptr,               true,  "DATA\r\n"},
        {"overlong line", nullptr,               false, overlong  },
    };
    for (const case_t& c : cases)
    {
        BOOST_TEST_CONTEXT(c.name)
        {
            cfg = {};
            if (c.list)
                (cfg.*c.list).add(smtp_command::noop);
            if (c.abort)
                cfg.abort_delay = 1s;
            smtp_server srv(cfg);
            srv.start();
            const transcript t = feed(
                srv,
                {"MAIL FROM:<a@example>\r\nRCPT TO:<b@example>\r\n", c.last_command}
            );
            BOOST_TEST_REQUIRE(t.last.has_value());
            BOOST_TEST(t.last->type() == action_type::close);
            const auto k = kinds(t.events);
            BOOST_TEST(std::count(k.begin(), k.end(), "mail") == 1);
            BOOST_TEST(std::count(k.begin(), k.end(), "reset") == 1, "events " << t.events);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Accessors

BOOST_FIXTURE_TEST_CASE(stats_count_messages_recipients_bytes_and_quits, fixture)
{
    {
        auto fresh = make()();
        BOOST_TEST(fresh->stats().messages == 0u);
        BOOST_TEST(fresh->stats().recipients == 0u);
        BOOST_TEST(fresh->stats().data_bytes == 0u);
        BOOST_TEST(fresh->stats().quits == 0u);
    }
    const std::string m1 = "Subject: one\r\n\r\n..x\r\n.\r\n", m2 = ".\r\n";
    script s;
    through_data(s)
        .respond(m1)
        .expect_write(ok)
        .respond("MAIL FROM:<c@example>\r\n")
        .expect_write(mail_ok)
        .respond("RCPT TO:<d@example>\r\n")
        .expect_write(rcpt_ok)
        .respond("RCPT TO:<e@example>\r\n")
        .expect_write(rcpt_ok)
        .respond("DATA\r\n")
        .expect_write(go_ahead)
        .respond(m2)
        .expect_write(ok)
        .respond("MAIL FROM:<f@example>\r\n")  // recipients of an unfinished transaction do not count
        .expect_write(mail_ok)
        .respond("RCPT TO:<g@example>\r\n")
        .expect_write(rcpt_ok)
        .respond("RSET\r\n")
        .expect_write(mail_ok);
    quit(s);
    const auto r = check_all(s, *this);
    const server_stats& st = r.algo->stats();
    BOOST_TEST(st.messages == 2u);
    BOOST_TEST(st.recipients == 3u);
    BOOST_TEST(st.data_bytes == m1.size() + m2.size());
    BOOST_TEST(st.quits == 1u);
}

BOOST_FIXTURE_TEST_CASE(helo_args_and_proto, fixture)
{
    {
        auto fresh = make()();
        BOOST_TEST(!fresh->helo_args().has_value());
        BOOST_TEST(fresh->proto() == client_proto::smtp);
    }
    auto after = [&](std::vector<std::pair<std::string, std::string>> dialog) {
        script s;
        s.expect_write(greeting);
        for (const auto& [command, reply] : dialog)
            s.respond(command).expect_write(reply);
        s.peer_closes().expect_done(error::lost_connection);
        return s.check(make());
    };
    {
        const auto r = after({
            {"EHLO \t client.example  x\r\n", ehlo_all}
        });
        // Postfix's printable() turns the tab into '?' first, then only spaces are skipped
        BOOST_TEST(r.algo->helo_args().value_or("(none)") == "? client.example  x");
        BOOST_TEST(r.algo->proto() == client_proto::esmtp);
    }
    {
        const auto r = after({
            {"EHLO one\r\n", ehlo_all},
            {"HELO two\r\n", helo_ok }
        });
        BOOST_TEST(r.algo->helo_args().value_or("(none)") == "two");
        BOOST_TEST(r.algo->proto() == client_proto::smtp);
    }
    {
        const auto r = after({
            {"HELO\r\n", helo_ok}
        });  // a hello without arguments still counts
        BOOST_TEST(r.algo->helo_args().value_or("(none)") == "");
        BOOST_TEST(r.algo->proto() == client_proto::smtp);
    }
    {
        const auto r = after({
            {"NOOP\r\n",                  ok     },
            {"MAIL FROM:<a@example>\r\n", mail_ok}
        });
        BOOST_TEST(!r.algo->helo_args().has_value());
        BOOST_TEST(r.algo->proto() == client_proto::smtp);
    }
    cfg.lmtp = true;
    {
        auto fresh = make()();
        BOOST_TEST(fresh->proto() == client_proto::lmtp);
        const auto r = after({
            {"LHLO lmtp.example\r\n", ehlo_all}
        });
        BOOST_TEST(r.algo->helo_args().value_or("(none)") == "lmtp.example");
        BOOST_TEST(r.algo->proto() == client_proto::lmtp);
    }
}

BOOST_FIXTURE_TEST_CASE(trace_reports_every_command_line, fixture)
{
    cfg.trace = true;
    script s;
    through_data(s).respond("a\r\n.\r\n").expect_write(ok);
    quit(s);
    const auto r = check_all(s, *this);
    std::vector<std::string> lines;
    for (const auto& e : r.out.events)
        if (e.kind == "command")
            lines.push_back(e.text);
    BOOST_TEST(
        lines ==
        (std::vector<
            std::string>{"HELO client", "MAIL FROM:<a@example>", "RCPT TO:<b@example>", "DATA", ".", "QUIT"})
    );
}

BOOST_FIXTURE_TEST_CASE(start_begins_a_new_connection, fixture)
{
    smtp_server srv(cfg);
    srv.start();
    feed(srv, {"EHLO x\r\nMAIL FROM:<a@example>\r\nRCPT TO:<b@example>\r\nDATA\r\npartial"});
    srv.start();
    const transcript t = feed(srv, {"DATA\r\nQUIT\r\n"});
    BOOST_TEST(t.output == greeting + need_rcpt + bye);
    BOOST_TEST(!srv.helo_args().has_value());
    BOOST_TEST(srv.proto() == client_proto::smtp);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(reply_tally_counts_by_code_and_overflows_into_0)
{
    reply_tally t;
    t.add_reply("250 2.0.0 Ok\r\n");
    t.add_reply("250-smtp-sink\r\n250 DSN\r\n");  // one reply however many lines
    t.add_reply("354 End data\r\n", 3);
    t.add_reply("x");  // no code
    for (int code = 400; code < 400 + int(reply_tally::slots); ++code) t.add(code);  // 13 fit, 2 overflow
    std::vector<std::pair<int, std::uint64_t>> seen;
    t.for_each([&](int code, std::uint64_t n) { seen.emplace_back(code, n); });
    BOOST_TEST_REQUIRE(seen.size() == reply_tally::slots + 1);
    BOOST_TEST((seen[0] == std::pair<int, std::uint64_t>{250, 2}));
    BOOST_TEST((seen[1] == std::pair<int, std::uint64_t>{354, 3}));
    BOOST_TEST((seen[2] == std::pair<int, std::uint64_t>{400, 1}));
    BOOST_TEST((seen[reply_tally::slots - 1] == std::pair<int, std::uint64_t>{412, 1}));
    BOOST_TEST((seen.back() == std::pair<int, std::uint64_t>{0, 3}));  // "x", 413 and 414
    reply_tally sum;
    sum += t;
    sum += t;
    std::uint64_t total = 0;
    sum.for_each([&](int, std::uint64_t n) { total += n; });
    BOOST_TEST(total == 2 * (2 + 3 + 1 + reply_tally::slots));
}
