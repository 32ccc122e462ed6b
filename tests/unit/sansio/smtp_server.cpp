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
    case server_event::auth: return "auth";
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
    // {kind, command, code, text}: the command only where it is part of the event (which hello was
    // accepted, which command -s logged, "bdat" for a BDAT transaction's data, content and message),
    // "-" otherwise; the text is the arguments of helo/mail/rcpt, "typed|args" for syslog,
    // "mechanism|user" for auth, the event's text otherwise; the code is an auth event's reply code
    // or a BDAT message's size (both in server_event::size), else 0.
    static recorded_event event(const smtp_server& s)
    {
        const server_event& e = s.event();
        std::string stage = "-";
        std::string text(e.text);
        int code = 0;
        if (e.cmd == smtp_command::bdat && (e.kind == server_event::data || e.kind == server_event::content ||
                                            e.kind == server_event::message))
        {
            stage = "bdat";
            code = static_cast<int>(e.size);
        }
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
        case server_event::auth:
            code = static_cast<int>(e.size);
            text = std::string(e.text) + '|' + std::string(e.args);
            break;
        default: break;
        }
        return {kind_name(e.kind), stage, code, text};
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
    std::size_t handshakes = 0;  // answered with success (the chunk being read is dropped, as algo_test does)
    std::size_t largest_read = 0;  // the largest read buffer offered
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
            t.largest_read = std::max(t.largest_read, act.in().size());
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
        case action_type::handshake:
            ++t.handshakes;
            pending.clear();
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

// ---------------------------------------------------------------------------------------------
// ESMTP extensions (server_config: chunking, size_limit, smtputf8, starttls, tls_on_connect,
// users), all off by default

namespace {

/// The default EHLO list with `lines` added before its last line.
std::string ehlo_plus(std::string_view lines)
{
    std::string e = ehlo_all;
    e.insert(e.size() - std::string_view("250 \r\n").size(), lines);
    return e;
}

const std::string ehlo_chunking = ehlo_plus("250-CHUNKING\r\n250-BINARYMIME\r\n");
const std::string ehlo_starttls = ehlo_plus("250-STARTTLS\r\n");
const std::string bdat_syntax = "501 5.5.4 Syntax: BDAT count [LAST]\r\n";
const std::string too_big = "552 5.3.4 Message size exceeds fixed limit\r\n";
const std::string tls_ready = "220 2.0.0 Ready to start TLS\r\n";
const std::string tls_active = "554 5.5.1 Error: TLS already active\r\n";
const std::string in_transaction = "503 5.5.1 Error: MAIL transaction in progress\r\n";
const std::string auth_ok = "235 2.7.0 Authentication successful\r\n";
const std::string auth_failed = "535 5.7.8 Error: authentication failed\r\n";
const std::string auth_aborted = "501 5.7.0 Authentication aborted\r\n";
const std::string undecodable = "501 5.5.2 Cannot decode response\r\n";
const std::string ask_user = "334 VXNlcm5hbWU6\r\n";      // "Username:"
const std::string ask_password = "334 UGFzc3dvcmQ6\r\n";  // "Password:"

std::string octets(std::size_t n) { return "250 2.0.0 Ok: " + std::to_string(n) + " octets received\r\n"; }

std::string b64(std::string_view s)
{
    std::string out;
    base64_encode(s, out);
    return out;
}

/// An event of a BDAT transaction: data, content (its bytes) or message (its size).
recorded_event bev(std::string kind, int size = 0, std::string text = {})
{
    return {std::move(kind), "bdat", size, std::move(text)};
}

recorded_event auth_ev(int code, std::string mechanism = {}, std::string user = {})
{
    return {"auth", "-", code, mechanism + '|' + user};
}

// The greeting, EHLO, MAIL and RCPT.
script& through_rcpt(script& s, const std::string& ehlo = ehlo_chunking)
{
    return s.expect_write(greeting)
        .respond("EHLO client\r\n")
        .expect_write(ehlo)
        .respond("MAIL FROM:<a@example>\r\n")
        .expect_write(mail_ok)
        .respond("RCPT TO:<b@example>\r\n")
        .expect_write(rcpt_ok);
}

const std::vector<recorded_event> envelope{
    ev("helo", "client", "ehlo"),
    ev("mail", "<a@example>"),
    ev("rcpt", "<b@example>"),
};

std::vector<recorded_event> after_envelope(std::vector<recorded_event> rest)
{
    std::vector<recorded_event> all = envelope;
    all.insert(all.end(), rest.begin(), rest.end());
    return all;
}

/// The content events' bytes, joined.
std::string joined_content(const std::vector<recorded_event>& events)
{
    std::string out;
    for (const auto& e : events)
        if (e.kind == "content")
            out += e.text;
    return out;
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(extensions_are_off_by_default, fixture)
{
    BOOST_TEST(!cfg.chunking);
    BOOST_TEST(cfg.size_limit == 0u);
    BOOST_TEST(!cfg.smtputf8);
    BOOST_TEST(!cfg.starttls);
    BOOST_TEST(!cfg.tls_on_connect);
    BOOST_TEST(cfg.users.empty());
    script s;
    s.expect_write(greeting)  // the first action is the greeting, no handshake
        .respond("EHLO client\r\n")
        .expect_write(ehlo_all)  // byte for byte smtp-sink's list
        .respond("BDAT 0 LAST\r\n")
        .expect_write(unknown)
        .respond("STARTTLS\r\n")
        .expect_write(unknown)
        .respond("AUTH CRAM-MD5\r\n")  // any AUTH line: 250, no event
        .expect_write(ok)
        .respond("MAIL FROM:<a@example> SIZE=99999999999999999999999\r\n")  // SIZE= is not looked at
        .expect_write(mail_ok)
        .respond("RCPT TO:<b@example>\r\n")
        .expect_write(rcpt_ok)
        .respond("DATA\r\n")
        .expect_write(go_ahead)
        .respond(std::string(5000, 'x') + "\r\n.\r\n")
        .expect_write(ok);
    quit(s);
    const auto r = check_all(s, *this);
    BOOST_TEST(
        kinds(r.out.events) == (std::vector<std::string>{"helo", "mail", "rcpt", "data", "message", "quit"})
    );
    BOOST_TEST(r.out.trace.front() == "write \"220 smtp-sink ESMTP\\r\\n\"");
    BOOST_TEST(!r.algo->secured());
}

BOOST_FIXTURE_TEST_CASE(ehlo_lists_each_extension_after_dsn, fixture)
{
    struct case_t
    {
        const char* name;
        void (*set)(server_config&);
        std::string lines;
    };
    const case_t cases[] = {
        {"chunking",                                                                          [](server_config& c) { c.chunking = true; },       "250-CHUNKING\r\n250-BINARYMIME\r\n"},
        {"size_limit",                                                                        [](server_config& c) { c.size_limit = 10240000; }, "250-SIZE 10240000\r\n"             },
        {"smtputf8",                                                                          [](server_config& c) { c.smtputf8 = true; },       "250-SMTPUTF8\r\n"                  },
        {"starttls",                                                                          [](server_config& c) { c.starttls = true; },       "250-STARTTLS\r\n"                  },
        {"users",
         [](server_config& c) {
             c.users = {
                 {                                                                                 "u", "p"}};
         },                                                                                                                                                ""                                                                                                                                                                                    },
        {"all",
         [](server_config& c) {
             c.chunking = c.smtputf8 = c.starttls = true;
             c.size_limit = 1;
         },"250-SIZE 1\r\n250-STARTTLS\r\n250-SMTPUTF8\r\n250-CHUNKING\r\n250-BINARYMIME\r\n"},
    };
    for (const case_t& c : cases)
    {
        BOOST_TEST_CONTEXT(c.name)
        {
            cfg = {};
            c.set(cfg);
            script s;
            s.expect_write(greeting).respond("EHLO client\r\n").expect_write(ehlo_plus(c.lines));
            quit(s);
            check_all(s, *this);
        }
    }
    // the new lines come after DSN whatever else is off; LHLO gets the same list
    cfg = {};
    cfg.lmtp = true;
    cfg.pipelining = cfg.eightbitmime = cfg.auth = cfg.xclient = cfg.xforward = cfg.enhanced_status_codes =
        false;
    cfg.chunking = true;
    script s;
    s.expect_write(greeting)
        .respond("LHLO client\r\n")
        .expect_write("250-smtp-sink\r\n250-DSN\r\n250-CHUNKING\r\n250-BINARYMIME\r\n250 \r\n");
    quit(s);
    check_all(s, *this);
}

// ---------------------------------------------------------------------------------------------
// BDAT (RFC 3030)

BOOST_FIXTURE_TEST_CASE(bdat_single_chunk, fixture)
{
    cfg.chunking = true;
    const std::string chunk = "Subject: x\r\n\r\nbody\r\n";
    script s;
    through_rcpt(s).respond("BDAT " + std::to_string(chunk.size()) + " LAST\r\n" + chunk).expect_write(ok);
    quit(s);
    const auto r = check_all(s, *this);
    BOOST_TEST(r.out.events == after_envelope({bev("data"), bev("message", int(chunk.size())), ev("quit")}));
    BOOST_TEST(r.algo->stats().messages == 1u);
    BOOST_TEST(r.algo->stats().recipients == 1u);
    BOOST_TEST(r.algo->stats().data_bytes == chunk.size());
    BOOST_TEST(r.algo->stats().answered == 1u);
}

BOOST_FIXTURE_TEST_CASE(bdat_multiple_chunks_and_messages, fixture)
{
    cfg.chunking = true;
    script s;
    through_rcpt(s)
        .respond("BDAT 5\r\nhello")
        .expect_write(octets(5))
        .respond("BDAT 0\r\n")  // an empty chunk
        .expect_write(octets(0))
        .respond("bdat 7 last\r\n world\n")  // any case
        .expect_write(ok)
        .respond("MAIL FROM:<c@example>\r\n")
        .expect_write(mail_ok)
        .respond("RCPT TO:<d@example>\r\n")
        .expect_write(rcpt_ok)
        .respond("RCPT TO:<e@example>\r\n")
        .expect_write(rcpt_ok)
        .respond("BDAT 3\r\nabc")
        .expect_write(octets(3))
        .respond("NOOP\r\n")  // commands between chunks
        .expect_write(ok)
        .respond("BDAT 0 LAST\r\n")  // LAST with no bytes ends the message
        .expect_write(ok);
    quit(s);
    const auto r = check_all(s, *this);
    BOOST_TEST(
        r.out.events == after_envelope({
                            bev("data"),
                            bev("message", 12),
                            ev("mail", "<c@example>"),
                            ev("rcpt", "<d@example>"),
                            ev("rcpt", "<e@example>"),
                            bev("data"),
                            bev("message", 3),
                            ev("quit"),
                        })
    );
    const server_stats& st = r.algo->stats();
    BOOST_TEST(st.messages == 2u);
    BOOST_TEST(st.recipients == 3u);
    BOOST_TEST(st.data_bytes == 15u);
    BOOST_TEST(st.answered == 2u);

    // with content events: each chunk's bytes as read (one read each here)
    cfg.content = true;
    auto algo = make()();
    const outcome o = s.run(*algo);
    BOOST_TEST(o.failure.empty(), o.failure);
    std::vector<recorded_event> content;
    for (const auto& e : o.events)
        if (e.kind == "content")
            content.push_back(e);
    BOOST_TEST(
        content == (std::vector<recorded_event>{
                       bev("content", 0, "hello"),
                       bev("content", 0, " world\n"),
                       bev("content", 0, "abc")})
    );
    const auto k = kinds(o.events);
    BOOST_TEST(position(k, "content") > position(k, "data"));
    BOOST_TEST(position(k, "content") < position(k, "message"));
}

BOOST_FIXTURE_TEST_CASE(bdat_chunks_are_binary_and_split_anywhere, fixture)
{
    // not scanned for a dot, not unstuffed, no line limit: a chunk may hold anything
    cfg.chunking = true;
    cfg.content = true;
    const std::vector<std::string> chunks = {
        "x\r\n.\r\nQUIT\r\n",
        std::string("\0\x01\xff\r\r\n.\n", 8),
        std::string(5000, 'y'),  // longer than a command line may be
        "..stuffed?\r\n",
        "\r",  // a CR at the end of one chunk, its LF in the next
        "\nlast\r\n",
    };
    std::string input, all;
    for (std::size_t i = 0; i < chunks.size(); ++i)
    {
        input += "BDAT " + std::to_string(chunks[i].size()) + (i + 1 == chunks.size() ? " LAST" : "") +
                 "\r\n";
        input += chunks[i];
        all += chunks[i];
    }
    std::string replies;
    for (std::size_t i = 0; i + 1 < chunks.size(); ++i)
        replies += octets(chunks[i].size());
    // however the bytes arrive (the last chunk's CR LF split among them)
    const std::string session = "EHLO client\r\nMAIL FROM:<a@example>\r\nRCPT TO:<b@example>\r\n" + input +
                                "NOOP\r\nQUIT\r\n";
    for (const auto& delivered : deliveries(session))
    {
        BOOST_TEST_CONTEXT(describe(delivered))
        {
            smtp_server srv(cfg);
            srv.start();
            const transcript t = feed(srv, delivered);
            BOOST_TEST(t.output == greeting + ehlo_chunking + mail_ok + rcpt_ok + replies + ok + ok + bye);
            BOOST_TEST(joined_content(t.events) == all);
            for (const auto& e : t.events)
                if (e.kind == "content")
                    BOOST_TEST(e.stage == "bdat");
            BOOST_TEST(srv.stats().messages == 1u);
            BOOST_TEST(srv.stats().data_bytes == all.size());
            BOOST_TEST_REQUIRE(t.events.size() >= 2u);
            BOOST_TEST(t.events[t.events.size() - 2] == bev("message", int(all.size())));
        }
    }
}

BOOST_FIXTURE_TEST_CASE(bdat_large_chunk_is_never_held_in_memory, fixture)
{
    // 3 MiB in one chunk, sent in 1 MiB writes: it goes through the 64 KiB bulk buffer in pieces,
    // and the commands behind it in the same read are served from there
    cfg.chunking = true;
    cfg.content = true;
    const std::size_t size = std::size_t(3) << 20;
    std::string body;
    body.reserve(size);
    for (std::size_t i = 0; body.size() < size; ++i)
        body += "line " + std::to_string(i) + "\r\n.\r\n";
    body.resize(size);
    const std::string input = "EHLO x\r\nMAIL FROM:<a>\r\nRCPT TO:<b>\r\nBDAT " + std::to_string(size) +
                              " LAST\r\n" + body + times(3000, "NOOP\r\n") + "QUIT\r\n";
    for (std::size_t piece : {std::size_t(1) << 20, std::size_t(4096)})
    {
        std::vector<std::string> pieces;
        for (std::size_t at = 0; at < input.size(); at += piece)
            pieces.push_back(input.substr(at, piece));
        smtp_server srv(cfg);
        srv.start();
        const transcript t = feed(srv, pieces);
        BOOST_TEST(t.output == greeting + ehlo_chunking + mail_ok + rcpt_ok + ok + times(3000, ok) + bye);
        BOOST_TEST(t.largest_read <= 65536u);
        BOOST_TEST(t.largest_read > 8192u);  // in the bulk buffer, not the command line one
        std::size_t largest_content = 0;
        for (const auto& e : t.events)
            if (e.kind == "content")
                largest_content = std::max(largest_content, e.text.size());
        BOOST_TEST(largest_content <= 65536u);
        BOOST_TEST(joined_content(t.events) == body);
        BOOST_TEST(srv.stats().data_bytes == size);
        BOOST_TEST(srv.stats().messages == 1u);
    }
}

BOOST_FIXTURE_TEST_CASE(bdat_lmtp_last_replies_once_per_recipient, fixture)
{
    cfg.lmtp = true;
    cfg.chunking = true;
    script s;
    s.expect_write(greeting)
        .respond("LHLO client\r\n")
        .expect_write(ehlo_chunking)
        .respond("MAIL FROM:<a@example>\r\n")
        .expect_write(mail_ok);
    for (int i = 0; i < 3; ++i)
        s.respond("RCPT TO:<r@example>\r\n").expect_write(rcpt_ok);
    s.respond("BDAT 4\r\nabcd")
        .expect_write(octets(4))  // one reply to a chunk
        .respond("BDAT 2 LAST\r\nef")
        .expect_write(times(3, lmtp_ok))  // one per recipient to the last, in one write
        .respond("BDAT 1 LAST\r\nx")      // outside a transaction: one 503
        .expect_write(need_rcpt);
    quit(s);
    const auto r = check_all(s, *this);
    BOOST_TEST(r.algo->stats().messages == 1u);
    BOOST_TEST(r.algo->stats().recipients == 3u);
    BOOST_TEST(r.algo->stats().answered == 1u);

    // -f/-r bdat: the error reply once for a chunk, once per recipient for the last one
    for (bool hard_error : {true, false})
    {
        cfg.hard = cfg.soft = {};
        (hard_error ? cfg.hard : cfg.soft).add(smtp_command::bdat);
        const std::string& refused = hard_error ? hard : soft;
        script t;
        t.expect_write(greeting).respond("LHLO client\r\n").expect_write(ehlo_chunking);
        for (int round = 0; round < 2; ++round)
            t.respond("MAIL FROM:<a@example>\r\n")
                .expect_write(mail_ok)
                .respond("RCPT TO:<b@example>\r\n")
                .expect_write(rcpt_ok)
                .respond("RCPT TO:<c@example>\r\n")
                .expect_write(rcpt_ok)
                .respond(round == 0 ? "BDAT 2 LAST\r\nab" : "BDAT 2\r\nab")
                .expect_write(round == 0 ? refused + refused : refused);
        t.respond("BDAT 2 LAST\r\nab")  // the transaction ended: not one per recipient either
            .expect_write(refused);
        quit(t);
        const auto rt = check_all(t, *this);
        BOOST_TEST(rt.algo->stats().messages == 0u);
        BOOST_TEST(std::count(rt.out.events.begin(), rt.out.events.end(), ev("reset")) == 2);
    }
}

BOOST_FIXTURE_TEST_CASE(bdat_pipelined_with_other_commands, fixture)
{
    cfg.chunking = true;
    const std::string burst =
        "EHLO client\r\nMAIL FROM:<a@example>\r\nRCPT TO:<b@example>\r\nBDAT 3\r\nabcBDAT 4 LAST"
        "\r\ndefgMAIL FROM:<c@example>\r\nRCPT TO:<d@example>\r\nBDAT 1 LAST\r\nxNOOP\r\nQUIT\r\n";
    const std::string replies = ehlo_chunking + mail_ok + rcpt_ok + octets(3) + ok + mail_ok + rcpt_ok + ok +
                                ok + bye;
    script s;
    s.expect_write(greeting).respond(burst).expect_write(replies).expect_close();
    auto algo = make()();
    const outcome o = s.run(*algo);
    BOOST_TEST(o.failure.empty(), o.failure);
    BOOST_TEST(o.writes.size() == 2u);  // the whole burst answered in one write
    BOOST_TEST(algo->stats().messages == 2u);
    BOOST_TEST(algo->stats().data_bytes == 8u);
    for (const auto& chunks : deliveries(burst))
    {
        smtp_server srv(cfg);
        srv.start();
        const transcript t = feed(srv, chunks);
        BOOST_TEST(t.output == greeting + replies, describe(chunks));
        BOOST_TEST(srv.stats().messages == 2u);
    }
}

BOOST_FIXTURE_TEST_CASE(bdat_without_rcpt_gets_503_and_its_bytes_are_discarded, fixture)
{
    cfg.chunking = true;
    script s;
    s.expect_write(greeting)
        .respond("BDAT 6 LAST\r\nNOOP\r\n")  // no MAIL: the chunk is read, never executed
        .expect_write(need_rcpt)
        .respond("MAIL FROM:<a@example>\r\n")
        .expect_write(mail_ok)
        .respond("BDAT 6\r\nQUIT\r\n")  // MAIL but no RCPT
        .expect_write(need_rcpt)
        .respond("RCPT TO:<b@example>\r\n")  // still a transaction: RCPT is fine
        .expect_write(rcpt_ok)
        .respond("BDAT 2 LAST\r\nok")
        .expect_write(ok);
    quit(s);
    const auto r = check_all(s, *this);
    BOOST_TEST(
        r.out.events == (std::vector<recorded_event>{
                            ev("mail", "<a@example>"),
                            ev("rcpt", "<b@example>"),
                            bev("data"),
                            bev("message", 2),
                            ev("quit"),
                        })
    );
    BOOST_TEST(r.algo->stats().data_bytes == 2u);  // only the message's
    cfg.content = true;
    for (const auto& chunks : deliveries(
             "BDAT 6 LAST\r\nNOOP\r\nMAIL FROM:<a>\r\nBDAT 6\r\nQUIT\r\nRCPT TO:<b>\r\nBDAT 2 LAST\r\nok"
         ))
    {
        smtp_server srv(cfg);
        srv.start();
        const transcript t = feed(srv, chunks);
        BOOST_TEST(joined_content(t.events) == "ok", describe(chunks));  // no content but the message's
        BOOST_TEST(t.output == greeting + need_rcpt + mail_ok + need_rcpt + rcpt_ok + ok, describe(chunks));
    }
}

BOOST_FIXTURE_TEST_CASE(rcpt_and_data_after_bdat_are_refused, fixture)
{
    cfg.chunking = true;
    script s;
    through_rcpt(s)
        .respond("BDAT 3\r\nabc")
        .expect_write(octets(3))
        .respond("RCPT TO:<c@example>\r\n")
        .expect_write("503 5.5.1 Error: RCPT after BDAT\r\n")
        .respond("DATA\r\n")
        .expect_write("503 5.5.1 Error: DATA after BDAT\r\n")
        .respond("MAIL FROM:<x@example>\r\n")
        .expect_write(nested)
        .respond("BDAT 0 LAST\r\n")
        .expect_write(ok)
        .respond("MAIL FROM:<c@example>\r\n")  // a new transaction may use DATA
        .expect_write(mail_ok)
        .respond("RCPT TO:<d@example>\r\n")
        .expect_write(rcpt_ok)
        .respond("DATA\r\n")
        .expect_write(go_ahead)
        .respond(".\r\n")
        .expect_write(ok);
    quit(s);
    const auto r = check_all(s, *this);
    BOOST_TEST(r.algo->stats().messages == 2u);
    BOOST_TEST(r.algo->stats().recipients == 2u);
}

BOOST_FIXTURE_TEST_CASE(rset_or_ehlo_ends_a_chunked_transaction, fixture)
{
    cfg.chunking = true;
    for (const std::string ender : {"RSET\r\n", "EHLO again\r\n"})
    {
        script s;
        through_rcpt(s)
            .respond("BDAT 3\r\nabc")
            .expect_write(octets(3))
            .respond(ender)
            .expect_write(ender == "RSET\r\n" ? mail_ok : ehlo_chunking)
            .respond("BDAT 1 LAST\r\nx")
            .expect_write(need_rcpt);
        quit(s);
        const auto r = check_all(s, *this);
        const auto k = kinds(r.out.events);
        BOOST_TEST(std::count(k.begin(), k.end(), "reset") == 1);
        BOOST_TEST(std::count(k.begin(), k.end(), "data") == 1);
        BOOST_TEST(r.algo->stats().messages == 0u);
    }
}

BOOST_FIXTURE_TEST_CASE(precedence_for_bdat, fixture)
{
    // applied once the chunk is read, as "." is once the data is
    struct case_t
    {
        const char* name;
        command_set server_config::*list;  // the option's list, or none: -W bdat:2
        std::vector<std::string> after;    // what the server writes after the chunk
        bool closes;
        bool message;
        long long wait_ms;
    };
    const case_t cases[] = {
        {"-s bdat",   &server_config::log,   {ok},      false, true,  -1  },
        {"-q bdat",   &server_config::drop,  {},        true,  false, -1  },
        {"-Q bdat",   &server_config::close, {closing}, true,  false, -1  },
        {"-f bdat",   &server_config::hard,  {hard},    false, false, -1  },
        {"-r bdat",   &server_config::soft,  {soft},    false, false, -1  },
        {"-W bdat:2", nullptr,               {ok},      false, true,  2000},
    };
    for (const case_t& c : cases)
    {
        BOOST_TEST_CONTEXT(c.name)
        {
            cfg = {};
            cfg.chunking = true;
            if (c.list)
                (cfg.*c.list).add(smtp_command::bdat);
            else
                cfg.delays[static_cast<std::size_t>(smtp_command::bdat)] = command_delay{2s};
            script s;
            through_rcpt(s).respond("Bdat 3  LAST\r\nabc");
            for (const auto& w : c.after)
                s.expect_write(w);
            if (c.closes)
                s.expect_close();
            else
                quit(s);
            const auto r = check_all(s, *this);
            BOOST_TEST(r.algo->stats().messages == (c.message ? 1u : 0u));
            BOOST_TEST(r.algo->stats().answered == (c.message ? 1u : 0u));
            const auto k = kinds(r.out.events);
            BOOST_TEST((std::find(k.begin(), k.end(), "message") != k.end()) == c.message);
            BOOST_TEST(
                (std::find(k.begin(), k.end(), "reset") != k.end()) == !c.message
            );  // the transaction ends
            // the command is applied after the chunk is read
            cfg.content = true;
            auto algo = make()();
            const outcome o = s.run(*algo);
            BOOST_TEST(o.failure.empty(), o.failure);
            const std::size_t content = position(o.trace, "event {content bdat 0 \"abc\"}");
            BOOST_TEST(content < o.trace.size());
            if (cfg.log.has(smtp_command::bdat))
            {
                const std::size_t syslog = position(o.trace, "event {syslog bdat 0 \"Bdat|3  LAST\"}");
                BOOST_TEST(syslog < o.trace.size());
                BOOST_TEST(syslog > content);
            }
            if (c.wait_ms > 0)
                BOOST_TEST(position(o.trace, "wait") > content);
            BOOST_TEST(
                ms(r.out.waits) ==
                (c.wait_ms < 0 ? std::vector<long long>{} : std::vector<long long>{c.wait_ms})
            );
        }
    }
}

BOOST_FIXTURE_TEST_CASE(bdat_bad_size_gets_501_and_closes, fixture)
{
    cfg.chunking = true;
    for (const std::string args :
         {"",
          " ",
          " x",
          " -1",
          " +5",
          " 1x",
          " 0x10",
          " 5LAST",
          " LAST",
          " 5 FIRST",
          " 5 LAST x",
          " 12345678901234567890",  // 20 digits
          " 1073741825"})           // max_chunk + 1
    {
        BOOST_TEST_CONTEXT(mailload::test::quoted(args))
        {
            script s;
            through_rcpt(s)
                .respond("BDAT" + args + "\r\nabcdeNOOP\r\n")
                .expect_write(bdat_syntax)
                .expect_close_leaving_input();
            const auto r = check_all(s, *this);
            BOOST_TEST(
                r.out.events == after_envelope({ev("reset")})
            );  // the transaction ends with the session
            BOOST_TEST(!r.algo->hung_up());
        }
    }
    // the largest sizes taken: 19 digits, and max_chunk
    BOOST_TEST(smtp_server::max_chunk == 1073741824u);
    for (const std::string size : {"0000000000000000009", "1073741824"})
    {
        BOOST_TEST_CONTEXT(size)
        {
            script s;
            through_rcpt(s)
                .respond("BDAT " + size + "\r\nabc")
                .peer_closes()
                .expect_done(error::lost_connection);
            const auto r = check_all(s, *this);
            BOOST_TEST(r.out.events == after_envelope({bev("data"), ev("reset")}));
        }
    }
}

BOOST_FIXTURE_TEST_CASE(bdat_end_of_stream_mid_chunk_resets, fixture)
{
    cfg.chunking = true;
    script s;
    through_rcpt(s).respond("BDAT 10 LAST\r\nabc").peer_closes().expect_done(error::lost_connection);
    const auto r = check_all(s, *this);
    BOOST_TEST(r.out.events == after_envelope({bev("data"), ev("reset")}));
    BOOST_TEST(r.algo->stats().messages == 0u);
}

BOOST_FIXTURE_TEST_CASE(bdat_network_errors_at_every_step, fixture)
{
    cfg.chunking = true;
    script s;
    through_rcpt(s)
        .respond("BDAT 3\r\nabc")
        .expect_write(octets(3))
        .respond("BDAT 2 LAST\r\nde")
        .expect_write(ok);
    quit(s);
    BOOST_TEST(s.check_network_errors(make()) == 39u);  // 7 writes and 6 reads, 3 errors each
}

BOOST_FIXTURE_TEST_CASE(bdat_counts_as_data_does, fixture)
{
    // the same message by DATA and by BDAT: the same counts (data_bytes: what was sent)
    cfg.chunking = true;
    const std::string message = "Subject: x\r\n\r\nbody\r\n";
    smtp_server by_data(cfg), by_bdat(cfg);
    by_data.start();
    by_bdat.start();
    const std::string envelope_lines = "EHLO c\r\nMAIL FROM:<a>\r\nRCPT TO:<b>\r\nRCPT TO:<c>\r\n";
    const transcript d = feed(by_data, {envelope_lines + "DATA\r\n" + message + ".\r\nQUIT\r\n"});
    const transcript b = feed(
        by_bdat,
        {envelope_lines + "BDAT " + std::to_string(message.size()) + " LAST\r\n" + message + "QUIT\r\n"}
    );
    BOOST_TEST(
        d.output == b.output.substr(0, b.output.size() - bye.size() - ok.size()) + go_ahead + ok + bye
    );
    BOOST_TEST(by_data.stats().messages == by_bdat.stats().messages);
    BOOST_TEST(by_data.stats().recipients == by_bdat.stats().recipients);
    BOOST_TEST(by_data.stats().recipients == 2u);
    BOOST_TEST(by_data.stats().answered == by_bdat.stats().answered);
    BOOST_TEST(by_data.stats().data_bytes == message.size() + 3);
    BOOST_TEST(by_bdat.stats().data_bytes == message.size());
}

// ---------------------------------------------------------------------------------------------
// SIZE (RFC 1870)

BOOST_FIXTURE_TEST_CASE(size_limit_on_mail, fixture)
{
    cfg.size_limit = 100;
    const std::string ehlo = ehlo_plus("250-SIZE 100\r\n");
    const std::string bad_size = "501 5.5.4 Bad message size syntax\r\n";
    const std::pair<std::string, std::string> cases[] = {
        {"MAIL FROM:<a@example> SIZE=101",                         too_big },
        {"MAIL FROM:<a@example> size=99999999999999999",           too_big }, // any case
        {"MAIL FROM:<a@example> BODY=8BITMIME SIZE=1000 RET=HDRS", too_big },
        {"MAIL FROM:<a@example> SIZE=abc",                         bad_size},
        {"MAIL FROM:<a@example> SIZE=",                            bad_size},
        {"MAIL FROM:<a@example> SIZE=-1",                          bad_size},
        {"MAIL FROM:<a@example> SIZE=12345678901234567890",        bad_size}, // 20 digits
        {"MAIL FROM:<a@example> SIZE=100",                         mail_ok },
        {"MAIL FROM: <a@example>  Size=0",                         mail_ok },
        {"MAIL FROM:<a@example>",                                  mail_ok },
        {"MAIL FROM:<SIZE=1000@example>",                          mail_ok }, // the address is no parameter
        {"MAIL FROM:<a@example> SIZEX=1000",                       mail_ok },
    };
    for (const auto& [mail, reply] : cases)
    {
        BOOST_TEST_CONTEXT(mail)
        {
            script s;
            s.expect_write(greeting)
                .respond("EHLO client\r\n")
                .expect_write(ehlo)
                .respond(mail + "\r\n")
                .expect_write(reply)
                .respond("RCPT TO:<b@example>\r\n")
                .expect_write(reply == mail_ok ? rcpt_ok : need_mail);  // a refused MAIL starts nothing
            quit(s);
            const auto r = check_all(s, *this);
            BOOST_TEST(
                (std::find(r.out.events.begin(), r.out.events.end(), ev("reset")) != r.out.events.end()) ==
                (reply == mail_ok)
            );
        }
    }
}

BOOST_FIXTURE_TEST_CASE(size_limit_on_data, fixture)
{
    // counted: the data as sent (dot-stuffing included) without the final ".\r\n"
    cfg.size_limit = 10;
    const std::string ehlo = ehlo_plus("250-SIZE 10\r\n");
    auto check = [&](const std::string& data, bool fits) {
        BOOST_TEST_CONTEXT(mailload::test::quoted(data, 40))
        {
            script s;
            through_data(s, "EHLO client\r\n", ehlo)
                .respond(data)
                .expect_write(fits ? ok : too_big)
                .respond("NOOP\r\n")  // read to its end all the same
                .expect_write(ok);
            quit(s);
            const auto r = check_all(s, *this);
            const auto k = kinds(r.out.events);
            BOOST_TEST((std::find(k.begin(), k.end(), "message") != k.end()) == fits);
            BOOST_TEST((std::find(k.begin(), k.end(), "reset") != k.end()) == !fits);  // a dump is abandoned
            BOOST_TEST(r.algo->stats().messages == (fits ? 1u : 0u));
            BOOST_TEST(r.algo->stats().answered == (fits ? 1u : 0u));
            BOOST_TEST(r.algo->stats().recipients == (fits ? 1u : 0u));
        }
    };
    check(".\r\n", true);
    check("12345678\r\n.\r\n", true);  // 10 bytes
    check("123456789\r\n.\r\n", false);
    check("..234567\r\n.\r\n", true);    // ".234567" stuffed: 10 bytes
    check("..2345678\r\n.\r\n", false);  // 9 bytes unstuffed, 11 as sent
    check(std::string(5000, 'x') + "\r\n.\r\n", false);
    // LMTP: the 552 once per recipient; the session goes on
    cfg.lmtp = true;
    script s;
    s.expect_write(greeting).respond("LHLO client\r\n").expect_write(ehlo);
    for (const std::string data : {"123456789\r\n.\r\n", "1234\r\n.\r\n"})
        s.respond("MAIL FROM:<a>\r\n")
            .expect_write(mail_ok)
            .respond("RCPT TO:<b>\r\n")
            .expect_write(rcpt_ok)
            .respond("RCPT TO:<c>\r\n")
            .expect_write(rcpt_ok)
            .respond("DATA\r\n")
            .expect_write(go_ahead)
            .respond(data)
            .expect_write(data.size() > 12 ? too_big + too_big : lmtp_ok + lmtp_ok);
    quit(s);
    const auto r = check_all(s, *this);
    BOOST_TEST(r.algo->stats().messages == 1u);
    BOOST_TEST(r.algo->stats().recipients == 2u);
}

BOOST_FIXTURE_TEST_CASE(size_limit_on_bdat, fixture)
{
    cfg.size_limit = 10;
    cfg.chunking = true;
    const std::string ehlo = ehlo_plus("250-SIZE 10\r\n250-CHUNKING\r\n250-BINARYMIME\r\n");
    {
        script s;  // exactly at the limit
        through_rcpt(s, ehlo)
            .respond("BDAT 6\r\n123456")
            .expect_write(octets(6))
            .respond("BDAT 4 LAST\r\n7890")
            .expect_write(ok);
        quit(s);
        const auto r = check_all(s, *this);
        BOOST_TEST(r.algo->stats().messages == 1u);
    }
    {
        script s;  // the chunk that goes over is answered 552, the transaction ends, later chunks get 503
        through_rcpt(s, ehlo)
            .respond("BDAT 6\r\n123456")
            .expect_write(octets(6))
            .respond("BDAT 5\r\n78901")
            .expect_write(too_big)
            .respond("BDAT 1 LAST\r\nx")
            .expect_write(need_rcpt);
        quit(s);
        const auto r = check_all(s, *this);
        BOOST_TEST(r.out.events == after_envelope({bev("data"), ev("reset"), ev("quit")}));
        BOOST_TEST(r.algo->stats().messages == 0u);
        BOOST_TEST(r.algo->stats().answered == 0u);
    }
    {
        script s;  // one LAST chunk over the limit
        through_rcpt(s, ehlo).respond("BDAT 11 LAST\r\n12345678901").expect_write(too_big);
        quit(s);
        const auto r = check_all(s, *this);
        BOOST_TEST(r.out.events == after_envelope({bev("data"), ev("reset"), ev("quit")}));
    }
    {
        cfg.lmtp = true;  // LMTP: a LAST chunk over the limit gets one 552 per recipient
        script s;
        s.expect_write(greeting)
            .respond(
                "LHLO client\r\nMAIL FROM:<a>\r\nRCPT TO:<b>\r\nRCPT TO:<c>\r\nBDAT 11 LAST\r\n12345678901"
            )
            .expect_write(ehlo + mail_ok + rcpt_ok + rcpt_ok + too_big + too_big);
        quit(s);
        auto algo = make()();
        const outcome o = s.run(*algo);
        BOOST_TEST(o.failure.empty(), o.failure);
    }
}

// ---------------------------------------------------------------------------------------------
// STARTTLS (RFC 3207) and TLS on connect

BOOST_FIXTURE_TEST_CASE(starttls_handshake_then_a_new_session, fixture)
{
    cfg.starttls = true;
    script s;
    s.expect_write(greeting)
        .respond("EHLO client\r\n")
        .expect_write(ehlo_starttls)
        .respond("STARTTLS\r\n")
        .expect_write(tls_ready)
        .expect_handshake()
        .respond("EHLO secure\r\n")
        .expect_write(ehlo_all)  // no STARTTLS once secured
        .respond("STARTTLS\r\n")
        .expect_write(tls_active);
    quit(s);
    const auto r = check_all(s, *this);
    BOOST_TEST(r.algo->secured());
    BOOST_TEST(
        r.out.events ==
        (std::vector<recorded_event>{ev("helo", "client", "ehlo"), ev("helo", "secure", "ehlo"), ev("quit")})
    );
    const auto& t = r.out.trace;
    BOOST_TEST(
        position(t, "handshake") == position(t, "write \"220 2.0.0") + 1
    );  // right after the reply is out

    // what the client said before the handshake is forgotten: no HELO until it greets again
    script t2;
    t2.expect_write(greeting)
        .respond("EHLO client\r\n")
        .expect_write(ehlo_starttls)
        .respond("STARTTLS\r\n")
        .expect_write(tls_ready)
        .expect_handshake()
        .peer_closes()
        .expect_done(error::lost_connection);
    const auto r2 = check_all(t2, *this);
    BOOST_TEST(!r2.algo->helo_args().has_value());
    BOOST_TEST(r2.algo->proto() == client_proto::smtp);
    BOOST_TEST(r2.algo->secured());
}

BOOST_FIXTURE_TEST_CASE(starttls_drops_what_came_with_it, fixture)
{
    // a man in the middle's commands behind STARTTLS in the same packet are never executed
    cfg.starttls = true;
    cfg.trace = true;
    script s;
    s.expect_write(greeting)
        .respond("STARTTLS\r\nMAIL FROM:<evil@example>\r\nRCPT TO:<victim@example>\r\nQUIT\r\n")
        .expect_write(tls_ready)
        .expect_handshake()
        .respond("MAIL FROM:<a@example>\r\n")
        .expect_write(mail_ok);
    quit(s);
    const auto r = check_all(s, *this);
    BOOST_TEST(
        r.out.events == (std::vector<recorded_event>{
                            ev("command", "STARTTLS"),
                            ev("command", "MAIL FROM:<a@example>"),
                            ev("mail", "<a@example>"),
                            ev("command", "QUIT"),
                            ev("quit"),
                            ev("reset"),
                        })
    );
    BOOST_TEST(r.algo->stats().quits == 1u);

    // the replies due before it go out with the 220
    script p;
    p.expect_write(greeting)
        .respond("NOOP\r\nSTARTTLS\r\nQUIT\r\n")
        .expect_write(ok + tls_ready)
        .expect_handshake()
        .respond("QUIT\r\n")
        .expect_write(bye)
        .expect_close();
    auto algo = make()();
    const outcome o = p.run(*algo);
    BOOST_TEST(o.failure.empty(), o.failure);

    // also when the buffer holds a partial line
    smtp_server srv(cfg);
    srv.start();
    const transcript t = feed(srv, {"STARTTLS\r\nMAIL FROM:<evil", "QUIT\r\n"});
    BOOST_TEST(t.handshakes == 1u);
    BOOST_TEST(t.output == greeting + tls_ready + bye);
}

BOOST_FIXTURE_TEST_CASE(starttls_refused_in_a_transaction_or_with_arguments, fixture)
{
    cfg.starttls = true;
    script s;
    s.expect_write(greeting)
        .respond("MAIL FROM:<a@example>\r\n")
        .expect_write(mail_ok)
        .respond("STARTTLS\r\n")
        .expect_write(in_transaction)
        .respond("RSET\r\n")
        .expect_write(mail_ok)
        .respond("STARTTLS now\r\n")
        .expect_write("501 5.5.4 Syntax: STARTTLS\r\n")
        .respond("starttls\r\n")
        .expect_write(tls_ready)
        .expect_handshake();
    quit(s);
    const auto r = check_all(s, *this);
    BOOST_TEST(r.algo->secured());
}

BOOST_FIXTURE_TEST_CASE(failed_handshake_ends_the_connection, fixture)
{
    cfg.starttls = true;
    for (const boost::system::error_code ec :
         {make_error_code(errc::protocol_error), boost::system::error_code(error::timeout)})
    {
        BOOST_TEST_CONTEXT(ec.message())
        {
            script s;
            s.expect_write(greeting)
                .respond("STARTTLS\r\n")
                .expect_write(tls_ready)
                .expect_handshake(ec)
                .expect_done(ec);
            const auto r = check_all(s, *this);
            BOOST_TEST(!r.algo->secured());
            BOOST_TEST(r.out.events.empty());
        }
    }
}

BOOST_FIXTURE_TEST_CASE(tls_on_connect_handshakes_before_the_greeting, fixture)
{
    cfg.tls_on_connect = true;
    cfg.starttls = true;  // not announced: the connection is secured from the start
    {
        script s;
        s.expect_handshake()
            .expect_write(greeting)
            .respond("EHLO client\r\n")
            .expect_write(ehlo_all)
            .respond("STARTTLS\r\n")
            .expect_write(tls_active);
        quit(s);
        const auto r = check_all(s, *this);
        BOOST_TEST(r.out.trace.front() == "handshake");
        BOOST_TEST(r.algo->secured());
    }
    cfg.starttls = false;  // STARTTLS is still a command, refused the same way
    {
        script s;
        s.expect_handshake().expect_write(greeting).respond("STARTTLS\r\n").expect_write(tls_active);
        quit(s);
        check_all(s, *this);
    }
    {
        const boost::system::error_code ec = make_error_code(errc::protocol_error);
        script s;
        s.expect_handshake(ec).expect_done(ec);
        const auto r = check_all(s, *this);
        BOOST_TEST(r.out.writes.empty());
        BOOST_TEST(!r.algo->secured());
    }
    {
        cfg.drop.add(smtp_command::connect);  // -q connect: after the handshake, close
        script s;
        s.expect_handshake().expect_close();
        const auto r = check_all(s, *this);
        BOOST_TEST(r.out.writes.empty());
        BOOST_TEST(r.algo->hung_up());
    }
    {
        cfg.drop = {};
        cfg.delays[static_cast<std::size_t>(smtp_command::connect)] = command_delay{1s};  // -W connect:1
        script s;
        s.expect_handshake().expect_write(greeting);
        quit(s);
        const auto r = check_all(s, *this);
        BOOST_TEST(position(r.out.trace, "handshake") < position(r.out.trace, "wait 1000 ms"));
    }
}

BOOST_FIXTURE_TEST_CASE(starttls_network_errors_at_every_step, fixture)
{
    cfg.starttls = true;
    script s;
    s.expect_write(greeting)
        .respond("EHLO client\r\n")
        .expect_write(ehlo_starttls)
        .respond("STARTTLS\r\n")
        .expect_write(tls_ready)
        .expect_handshake()
        .respond("EHLO client\r\n")
        .expect_write(ehlo_all);
    quit(s);
    BOOST_TEST(s.check_network_errors(make()) == 27u);  // 5 writes and 4 reads, 3 errors each
    cfg.tls_on_connect = true;
    script t;
    t.expect_handshake().expect_write(greeting).respond("EHLO client\r\n").expect_write(ehlo_all);
    quit(t);
    BOOST_TEST(t.check_network_errors(make()) == 15u);
}

// ---------------------------------------------------------------------------------------------
// AUTH (RFC 4954) against configured users

BOOST_FIXTURE_TEST_CASE(auth_plain, fixture)
{
    cfg.users = {
        {"alice", "secret" },
        {"bob",   "hunter2"},
        {"carol", ""       },
        {"alice", "second" }
    };
    struct case_t
    {
        std::string response;  // decoded
        std::string reply;
        std::string user;
    };
    const case_t cases[] = {
        {std::string("\0alice\0secret", 13),            auth_ok,                             "alice"},
        {std::string("\0alice\0second",                             13),               auth_ok,                   "alice"}, // a user may have two
        {std::string("alice\0alice\0secret",                      18),                                    auth_ok,                    "alice"}, // authzid = authcid
        {std::string("\0bob\0hunter2",                      12),auth_ok,          "bob"},
        {std::string("\0carol\0",     7),                   auth_ok,                                        "carol"}, // an empty password
        {std::string("\0alice\0secre",       12),               auth_failed,                         "alice"}, // a prefix
        {std::string("\0alice\0secret2",                             14),                auth_failed,                                          "alice"},
        {std::string("\0alice\0hunter2",                      14),                                    auth_failed,                  "alice"}, // another user's password
        {std::string("\0alice\0",                  7),          auth_failed,    "alice"},
        {std::string("\0mallory\0secret",     15),auth_failed,"mallory"},
        {std::string("bob\0alice\0secret",       16),  auth_failed,                 "alice"}, // another authzid
        {std::string("\0al\x01ice\0secret",                             14),             auth_failed,                                         "al?ice"}, // reported printable
        {std::string("alice\0secret",                    12),                                  undecodable,                                                       ""}, // one NUL
        {std::string("\0alice\0secret\0",                  14),                        undecodable,                                           ""}, // three
        {"",undecodable,""},
    };
    for (const case_t& c : cases)
    {
        BOOST_TEST_CONTEXT(mailload::test::quoted(c.response))
        {
            const int code = std::stoi(c.reply.substr(0, 3));
            // with an initial response ("=" for an empty one), and after a "334 " challenge
            script s;
            s.expect_write(greeting)
                .respond("AUTH PLAIN " + (c.response.empty() ? std::string("=") : b64(c.response)) + "\r\n")
                .expect_write(c.reply)
                .respond("AUTH plain\r\n")
                .expect_write(c.reply == auth_ok ? "503 5.5.1 Error: already authenticated\r\n" : "334 \r\n");
            if (c.reply != auth_ok)
                s.respond(b64(c.response) + "\r\n").expect_write(c.reply);
            quit(s);
            const auto r = check_all(s, *this);
            const std::vector<recorded_event>
                want = c.reply == auth_ok
                           ? std::vector<
                                 recorded_event>{auth_ev(code, "PLAIN", c.user), auth_ev(503), ev("quit")}
                           : std::vector<recorded_event>{
                                 auth_ev(code, "PLAIN", c.user),
                                 auth_ev(code, "PLAIN", c.user),
                                 ev("quit")};
            BOOST_TEST(r.out.events == want);
        }
    }
}

BOOST_FIXTURE_TEST_CASE(auth_login, fixture)
{
    cfg.users = {
        {"alice", "secret"}
    };
    {
        script s;
        s.expect_write(greeting)
            .respond("AUTH LOGIN\r\n")
            .expect_write(ask_user)
            .respond(b64("alice") + "\r\n")
            .expect_write(ask_password)
            .respond(b64("secret") + "\r\n")
            .expect_write(auth_ok);
        quit(s);
        const auto r = check_all(s, *this);
        BOOST_TEST(r.out.events == (std::vector<recorded_event>{auth_ev(235, "LOGIN", "alice"), ev("quit")}));
    }
    {
        script s;  // the user name as the initial response; a wrong password
        s.expect_write(greeting)
            .respond("auth login " + b64("alice") + "\r\n")
            .expect_write(ask_password)
            .respond(b64("Secret") + "\r\n")
            .expect_write(auth_failed)
            .respond("AUTH LOGIN " + b64("alice") + "\r\n")
            .expect_write(ask_password)
            .respond(b64("secret") + "\r\n")
            .expect_write(auth_ok);
        quit(s);
        const auto r = check_all(s, *this);
        BOOST_TEST(
            r.out.events == (std::vector<recorded_event>{
                                auth_ev(535, "LOGIN", "alice"),
                                auth_ev(235, "LOGIN", "alice"),
                                ev("quit")})
        );
    }
}

BOOST_FIXTURE_TEST_CASE(auth_cancel_malformed_and_unknown, fixture)
{
    cfg.users = {
        {"alice", "secret"}
    };
    script s;
    s.expect_write(greeting)
        .respond("AUTH PLAIN\r\n")
        .expect_write("334 \r\n")
        .respond("*\r\n")
        .expect_write(auth_aborted)
        .respond("AUTH LOGIN\r\n")
        .expect_write(ask_user)
        .respond("*\r\n")
        .expect_write(auth_aborted)
        .respond("AUTH LOGIN\r\n")
        .expect_write(ask_user)
        .respond(b64("alice") + "\r\n")
        .expect_write(ask_password)
        .respond("*\r\n")
        .expect_write(auth_aborted)
        .respond("AUTH PLAIN !!!!\r\n")  // not base64
        .expect_write(undecodable)
        .respond("AUTH PLAIN\r\n")
        .expect_write("334 \r\n")
        .respond("AGFsaWNlAHNlY3JldA=\r\n")  // bad length
        .expect_write(undecodable)
        .respond("AUTH LOGIN\r\n")
        .expect_write(ask_user)
        .respond("YWxpY2U=\0\r\n"s)  // a NUL is no base64 either
        .expect_write(undecodable)
        .respond("AUTH LOGIN\r\n")
        .expect_write(ask_user)
        .respond(std::string(2044, 'A') + "\r\n")  // 1533 bytes: a response may be that long
        .expect_write(ask_password)
        .respond("\r\n")  // an empty password
        .expect_write(auth_failed)
        .respond("AUTH\r\n")
        .expect_write("501 5.5.4 Syntax: AUTH mechanism\r\n")
        .respond("AUTH CRAM-MD5\r\n")
        .expect_write("504 5.5.4 Unsupported authentication mechanism\r\n")
        .respond("NOOP\r\n")
        .expect_write(ok);
    quit(s);
    const auto r = check_all(s, *this);
    BOOST_TEST(
        r.out.events == (std::vector<recorded_event>{
                            auth_ev(501, "PLAIN"),
                            auth_ev(501, "LOGIN"),
                            auth_ev(501, "LOGIN", "alice"),
                            auth_ev(501, "PLAIN"),
                            auth_ev(501, "PLAIN"),
                            auth_ev(501, "LOGIN"),
                            auth_ev(535, "LOGIN", std::string(1533, '?')),
                            auth_ev(501),
                            auth_ev(504),
                            ev("quit"),
                        })
    );
    // a response over the line limit closes, as a long command line does
    script t;
    t.expect_write(greeting)
        .respond("AUTH PLAIN\r\n")
        .expect_write("334 \r\n")
        .respond(std::string(3000, 'A') + "\r\n")
        .expect_close_leaving_input();
    check_all(t, *this);
}

BOOST_FIXTURE_TEST_CASE(auth_responses_are_not_commands, fixture)
{
    cfg.users = {
        {"alice", "secret"}
    };
    cfg.trace = true;
    cfg.log.add(smtp_command::quit);
    script s;
    s.expect_write(greeting)
        .respond("AUTH LOGIN\r\n")
        .expect_write(ask_user)
        .respond("QUIT\r\n")  // base64 for three bytes: a user name, not a command
        .expect_write(ask_password)
        .respond("RSET\r\n")
        .expect_write(auth_failed);
    quit(s);
    const auto r = check_all(s, *this);
    BOOST_TEST(
        r.out.events == (std::vector<recorded_event>{
                            ev("command", "AUTH LOGIN"),
                            auth_ev(535, "LOGIN", "AB?"),  // the responses are not traced
                            ev("command", "QUIT"),
                            ev("syslog", "QUIT|", "quit"),
                            ev("quit"),
                        })
    );
    BOOST_TEST(r.algo->stats().quits == 1u);
}

BOOST_FIXTURE_TEST_CASE(auth_refused_when_authenticated_or_in_a_transaction, fixture)
{
    cfg.users = {
        {"alice", "secret"}
    };
    const std::string plain = "AUTH PLAIN " + b64(std::string("\0alice\0secret", 13)) + "\r\n";
    script s;
    s.expect_write(greeting)
        .respond("MAIL FROM:<a@example>\r\n")
        .expect_write(mail_ok)
        .respond(plain)
        .expect_write(in_transaction)
        .respond("RSET\r\n")
        .expect_write(mail_ok)
        .respond(plain)
        .expect_write(auth_ok)
        .respond(plain)
        .expect_write("503 5.5.1 Error: already authenticated\r\n")
        .respond("AUTH LOGIN\r\n")
        .expect_write("503 5.5.1 Error: already authenticated\r\n");
    quit(s);
    const auto r = check_all(s, *this);
    BOOST_TEST(
        r.out.events == (std::vector<recorded_event>{
                            ev("mail", "<a@example>"),
                            auth_ev(503),
                            ev("reset"),
                            auth_ev(235, "PLAIN", "alice"),
                            auth_ev(503),
                            auth_ev(503),
                            ev("quit"),
                        })
    );
}

BOOST_FIXTURE_TEST_CASE(starttls_forgets_the_authentication, fixture)
{
    cfg.users = {
        {"alice", "secret"}
    };
    cfg.starttls = true;
    const std::string plain = "AUTH PLAIN " + b64(std::string("\0alice\0secret", 13)) + "\r\n";
    script s;
    s.expect_write(greeting)
        .respond(plain)
        .expect_write(auth_ok)
        .respond("STARTTLS\r\n")
        .expect_write(tls_ready)
        .expect_handshake()
        .respond(plain)
        .expect_write(auth_ok);
    quit(s);
    check_all(s, *this);
}

BOOST_FIXTURE_TEST_CASE(precedence_for_auth, fixture)
{
    cfg.users = {
        {"alice", "secret"}
    };
    {
        cfg.hard.add(smtp_command::auth);  // -f auth: no exchange begins, the next line is a command
        script s;
        s.expect_write(greeting)
            .respond("AUTH LOGIN\r\n")
            .expect_write(hard)
            .respond("NOOP\r\n")
            .expect_write(ok);
        quit(s);
        const auto r = check_all(s, *this);
        BOOST_TEST(r.out.events == (std::vector<recorded_event>{ev("quit")}));
    }
    {
        cfg.hard = {};
        cfg.delays[static_cast<std::size_t>(smtp_command::auth)] = command_delay{1s};  // -W auth:1
        cfg.log.add(smtp_command::auth);
        script s;
        s.expect_write(greeting)
            .respond("AUTH LOGIN\r\n" + b64("alice") + "\r\n" + b64("secret") + "\r\n")
            .expect_write(ask_user + ask_password + auth_ok);
        quit(s);
        auto algo = make()();
        const outcome o = s.run(*algo);
        BOOST_TEST(o.failure.empty(), o.failure);
        BOOST_TEST(ms(o.waits) == (std::vector<long long>{1000}));  // the AUTH command's reply only
        BOOST_TEST(
            o.events == (std::vector<recorded_event>{
                            ev("syslog", "AUTH|LOGIN", "auth"),
                            auth_ev(235, "LOGIN", "alice"),
                            ev("quit")})
        );
    }
}

BOOST_FIXTURE_TEST_CASE(auth_network_errors_at_every_step, fixture)
{
    cfg.users = {
        {"alice", "secret"}
    };
    script s;
    s.expect_write(greeting)
        .respond("AUTH LOGIN\r\n")
        .expect_write(ask_user)
        .respond(b64("alice") + "\r\n")
        .expect_write(ask_password)
        .respond(b64("secret") + "\r\n")
        .expect_write(auth_ok);
    quit(s);
    BOOST_TEST(s.check_network_errors(make()) == 27u);  // 5 writes and 4 reads, 3 errors each
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
