// Test that header file is self-contained.
#include <mailload/sansio/qmqp.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "support/algo_test.hpp"

using namespace mailload::sansio;
using mailload::error;
using mailload::test::algo_test;
using mailload::test::plan;
using mailload::test::recorded_event;
namespace errc = boost::system::errc;

namespace {

const char* client_kind_name(client_event::kind_t k)
{
    switch (k)
    {
    case client_event::sent: return "sent";
    case client_event::reply: return "reply";
    case client_event::message_sent: return "message_sent";
    case client_event::accepted: return "accepted";
    case client_event::rejected: return "rejected";
    case client_event::not_announced: return "not_announced";
    case client_event::secured: return "secured";
    }
    return "?";
}

const char* server_kind_name(server_event::kind_t k)
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

}  // namespace

// qmqp_client has one stage: the message ("dot"), whose write and reply are the whole dialog.
template <>
struct mailload::test::algo_traits<qmqp_client>
{
    static recorded_event event(const qmqp_client& c)
    {
        const client_event& e = c.event();
        return {client_kind_name(e.kind), e.stage == client_stage::dot ? "dot" : "other", e.code, std::string(e.text)};
    }
    static std::string stage(const qmqp_client& c) { return c.stage() == client_stage::dot ? "dot" : "other"; }
    static std::string stage_of_write(std::string_view) { return "dot"; }
    static constexpr std::string_view initial_stage = "dot";
    static bool closes_on_error(std::string_view) { return false; }
};

template <>
struct mailload::test::algo_traits<qmqp_server>
{
    static recorded_event event(const qmqp_server& s)
    {
        const server_event& e = s.event();
        return {server_kind_name(e.kind), "-", 0, std::string(e.text)};
    }
    static std::string stage(const qmqp_server&) { return "session"; }
    static std::string stage_of_write(std::string_view) { return "session"; }
    static constexpr std::string_view initial_stage = "session";
    static bool closes_on_error(std::string_view) { return false; }
};

namespace {

using client_script = algo_test<qmqp_client>;
using server_script = algo_test<qmqp_server>;

// a reply's code is its status byte ('K', 'Z', 'D' ...)
recorded_event ev(const char* kind, std::string text = {}) {
    const int code = std::string_view(kind) == "reply" && !text.empty() ? static_cast<unsigned char>(text[0]) : 0;
    return {kind, "dot", code, std::move(text)};
}
recorded_event message_event() { return {"message", "-", 0, {}}; }

// ---------------------------------------------------------------------------------------------
// The requests of obs 24, 25 and 25b, byte for byte.

const std::string obs24 =
    "223:200:From: <foo@vm>\nTo: <foo@vm>\nDate: Tue, 24 Nov 2026 09:04:19 +0000 (UTC)\n"
    "Message-Id: <3777@vm>\n\nX\nXX\nXXX\nXXXX\nXXXXX\nXXXXXX\nXXXXXXX\nXXXXXXXX\n"
    "XXXXXXXXX\nXXXXXXXXXX\nXXXXXXXXXXX\nXXXXXXXXXXXX\nXXXXXXXXXXXXX\n\n,6:foo@vm,6:foo@vm,,";

const std::string obs25 =
    "132:100:From: <s@x>\nTo: <r@y>\nDate: Tue, 24 Nov 2026 09:04:20 +0000 (UTC)\n"
    "Message-Id: <3851@h.example>\n\nX\nX\n,3:s@x,4:0r@y,4:1r@y,4:2r@y,,";

const std::string obs25b =
    "1048:1024:From: <foo@vm>\nTo: <foo@vm>\nDate: Tue, 24 Nov 2026 09:04:22 +0000 (UTC)\n"
    "Message-Id: <3923@vm>\n\nX\nXX\nXXX\nXXXX\nXXXXX\nXXXXXX\nXXXXXXX\nXXXXXXXX\n"
    "XXXXXXXXX\nXXXXXXXXXX\nXXXXXXXXXXX\nXXXXXXXXXXXX\nXXXXXXXXXXXXX\nXXXXXXXXXXXXXX\n"
    "XXXXXXXXXXXXXXX\nXXXXXXXXXXXXXXXX\nXXXXXXXXXXXXXXXXX\nXXXXXXXXXXXXXXXXXX\n"
    "XXXXXXXXXXXXXXXXXXX\nXXXXXXXXXXXXXXXXXXXX\nXXXXXXXXXXXXXXXXXXXXX\nXXXXXXXXXXXXXXXXXXXXXX\n"
    "XXXXXXXXXXXXXXXXXXXXXXX\nXXXXXXXXXXXXXXXXXXXXXXXX\nXXXXXXXXXXXXXXXXXXXXXXXXX\n"
    "XXXXXXXXXXXXXXXXXXXXXXXXXX\nXXXXXXXXXXXXXXXXXXXXXXXXXXX\nXXXXXXXXXXXXXXXXXXXXXXXXXXXX\n"
    "XXXXXXXXXXXXXXXXXXXXXXXXXXXXX\nXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\nXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\n"
    "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\nXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\nXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\n"
    "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\nXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\n"
    "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\nXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\n"
    "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\nXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\n"
    "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\nXXXXXXXXXXXXXXXXXXXXXXXXXX\n"
    ",6:foo@vm,6:foo@vm,,";

/// qmqp-source's settings on host "vm" (obs 24): sender and recipient foo@vm, -l 200.
struct request_settings
{
    client_config cfg;
    message_options msg;

    request_settings()
    {
        cfg.sender = "foo@vm";
        cfg.recipient = "foo@vm";
        msg.sender = "foo@vm";
        msg.myhostname = "vm";
        msg.date = "Tue, 24 Nov 2026 09:04:19 +0000 (UTC)";
        msg.pid = 3777;
        msg.length = 200;
    }
    std::string bytes() const { return std::string(qmqp_request(cfg, msg).bytes()); }
    std::string message() const { return message_of(bytes()); }

    /// The message netstring's data inside a request.
    static std::string message_of(std::string_view request)
    {
        std::string_view rest = request.substr(request.find(':') + 1);
        const std::size_t colon = rest.find(':');
        const std::size_t len = std::stoul(std::string(rest.substr(0, colon)));
        return std::string(rest.substr(colon + 1, len));
    }
};

/// The generated header block of `settings`.
std::string headers_of(const request_settings& s)
{
    return "From: <" + s.cfg.sender + ">\nTo: <" + s.cfg.recipient + ">\nDate: " + s.msg.date + "\nMessage-Id: <" +
           std::to_string(s.msg.pid) + "@" + s.msg.myhostname + ">\n\n";
}

// ---------------------------------------------------------------------------------------------
// A client and its content (obs 24's settings), made afresh for every scripted run.

struct client_fixture : request_settings
{
    std::unique_ptr<qmqp_request> request;
    std::atomic<std::uint64_t> seq{0};

    client_script::factory make()
    {
        return [this] {
            if (!request)
                request = std::make_unique<qmqp_request>(cfg, msg);
            auto c = std::make_unique<qmqp_client>(cfg, *request, seq);
            c->start(3, 0);
            return c;
        };
    }
    std::unique_ptr<qmqp_client> one() { return make()(); }
};

client_script reply_script(std::string_view reply)
{
    client_script s;
    s.expect_write(obs24).respond(reply);
    return s;
}

// ---------------------------------------------------------------------------------------------
// A server, made afresh for every scripted run.

struct server_fixture
{
    server_config cfg;

    server_script::factory make()
    {
        return [this] {
            auto s = std::make_unique<qmqp_server>(cfg, 1);
            s->start();
            return s;
        };
    }
    std::unique_ptr<qmqp_server> one() { return make()(); }
};

/// The peer sends `parts` one after the other; the server must answer "3:KOk," and close.
server_script accepted_after(const std::vector<std::string>& parts)
{
    server_script s;
    for (const std::string& p : parts)
        s.respond(p);
    s.expect_write("3:KOk,").expect_close();
    return s;
}

/// Drives a server by hand: `chunks` are what successive reads return (an empty chunk is the
/// end of the stream). Returns the actions' trace: "read", "event message", "write <bytes>",
/// "close", "done <message>".
std::vector<std::string> drive(qmqp_server& s, const std::vector<std::string>& chunks)
{
    std::vector<std::string> trace;
    std::size_t next = 0;
    next_action a = s.resume();
    for (int guard = 0; guard < 1000; ++guard)
    {
        switch (a.type())
        {
        case action_type::read:
        {
            trace.push_back("read");
            if (next >= chunks.size())
                return trace;  // waiting for more
            const std::string& c = chunks[next++];
            BOOST_TEST_REQUIRE(a.in().size() >= c.size());
            std::copy(c.begin(), c.end(), a.in().begin());
            a = s.resume({}, c.size());
            break;
        }
        case action_type::event:
            trace.push_back(std::string("event ") + server_kind_name(s.event().kind));
            a = s.resume();
            break;
        case action_type::write:
        {
            std::string w;
            for (auto p : a.out())
                w += p;
            trace.push_back("write " + w);
            a = s.resume({}, w.size());
            break;
        }
        case action_type::close: trace.push_back("close"); return trace;
        case action_type::done: trace.push_back("done " + a.error().message()); return trace;
        default: trace.push_back("unexpected action"); return trace;
        }
    }
    trace.push_back("never ends");
    return trace;
}

using trace_t = std::vector<std::string>;

/// A trace as one printable string: "read | event message | ...".
std::string joined(const trace_t& t)
{
    std::string s;
    for (const std::string& a : t)
        s += (s.empty() ? "" : " | ") + a;
    return s;
}

/// drive(), joined.
std::string driven(qmqp_server& s, const std::vector<std::string>& chunks) { return joined(drive(s, chunks)); }

const std::string replied = "read | event message | write 3:KOk, | close";

}  // namespace

BOOST_AUTO_TEST_SUITE(qmqp_hpp)

// =============================================================================================
// qmqp_request

BOOST_FIXTURE_TEST_CASE(request_is_obs_24, request_settings)
{
    const qmqp_request r(cfg, msg);
    BOOST_TEST(std::string(r.bytes()) == obs24);
    BOOST_TEST(r.message_size() == 200u);
}

BOOST_FIXTURE_TEST_CASE(request_is_obs_25, request_settings)
{
    // -r 3 -f s@x -t r@y -M h.example -l 100: recipients numbered from 0 in front, To: plain
    cfg.sender = msg.sender = "s@x";
    cfg.recipient = "r@y";
    cfg.rcpt_count = 3;
    msg.myhostname = "h.example";
    msg.date = "Tue, 24 Nov 2026 09:04:20 +0000 (UTC)";
    msg.pid = 3851;
    msg.length = 100;
    const qmqp_request r(cfg, msg);
    BOOST_TEST(std::string(r.bytes()) == obs25);
    BOOST_TEST(r.message_size() == 100u);
}

BOOST_FIXTURE_TEST_CASE(request_is_obs_25b, request_settings)
{
    msg.date = "Tue, 24 Nov 2026 09:04:22 +0000 (UTC)";
    msg.pid = 3923;
    msg.length = 1024;
    BOOST_TEST(bytes() == obs25b);
    msg.length = 0;  // no -l: 1024 too
    BOOST_TEST(bytes() == obs25b);
    BOOST_TEST(qmqp_request(cfg, msg).message_size() == 1024u);
}

BOOST_FIXTURE_TEST_CASE(request_recipients, request_settings)
{
    cfg.recipient = "r@y";
    cfg.rcpt_count = 1;
    BOOST_TEST(bytes().ends_with(",6:foo@vm,3:r@y,,"));
    cfg.rcpt_count = 2;
    BOOST_TEST(bytes().ends_with(",6:foo@vm,4:0r@y,4:1r@y,,"));
    cfg.rcpt_count = 12;  // the numbers grow a digit, the netstring lengths with them
    const std::string b = bytes();
    BOOST_TEST(b.ends_with(",4:8r@y,4:9r@y,5:10r@y,5:11r@y,,"));
    BOOST_TEST(b.find("4:0r@y,4:1r@y,") != std::string::npos);
    BOOST_TEST(b.find("12r@y") == std::string::npos);
    // To: always shows the address as given
    BOOST_TEST(message().find("\nTo: <r@y>\n") != std::string::npos);
    // rcpt_count 0 (never from the tool) is taken as one recipient
    cfg.rcpt_count = 0;
    BOOST_TEST(bytes().ends_with(",6:foo@vm,3:r@y,,"));
}

BOOST_FIXTURE_TEST_CASE(request_is_one_well_formed_netstring, request_settings)
{
    cfg.rcpt_count = 3;
    for (std::size_t length : {1u, 2u, 10u, 100u, 1000u, 100000u})
    {
        msg.length = length;
        const std::string b = bytes();
        netstring_reader outer(std::uint64_t(1) << 30);
        boost::system::error_code ec;
        BOOST_TEST_REQUIRE(outer.feed(b, ec) == b.size());
        BOOST_TEST_REQUIRE(outer.done());
        // the payload: the message, the sender and three recipients, nothing else
        std::string_view payload = outer.data();
        std::vector<std::string> parts;
        while (!payload.empty())
        {
            netstring_reader inner(std::uint64_t(1) << 30);
            const std::size_t n = inner.feed(payload, ec);
            BOOST_TEST_REQUIRE(!ec);
            BOOST_TEST_REQUIRE(inner.done());
            parts.emplace_back(inner.data());
            payload.remove_prefix(n);
        }
        BOOST_TEST_REQUIRE(parts.size() == 5u);
        BOOST_TEST(parts[0].size() == length);
        BOOST_TEST(parts[1] == "foo@vm");
        BOOST_TEST(parts[2] == "0foo@vm");
        BOOST_TEST(parts[4] == "2foo@vm");
    }
}

BOOST_FIXTURE_TEST_CASE(request_length_shorter_than_the_headers_cuts_them, request_settings)
{
    const std::string headers = headers_of(*this);
    BOOST_TEST_REQUIRE(headers.size() == 95u);
    msg.length = 1;
    BOOST_TEST(bytes() == "22:1:\n,6:foo@vm,6:foo@vm,,");
    msg.length = 2;
    BOOST_TEST(message() == "F\n");
    msg.length = 10;
    BOOST_TEST(message() == "From: <fo\n");
    msg.length = 50;
    BOOST_TEST(message() == headers.substr(0, 49) + "\n");
    msg.length = headers.size() - 1;  // the blank line's '\n' falls off; the header's stays
    BOOST_TEST(message() == headers.substr(0, headers.size() - 1));
    msg.length = headers.size();  // exactly the headers: no filler at all
    BOOST_TEST(message() == headers);
    msg.length = headers.size() + 1;  // one filler byte, which is the forced '\n'
    BOOST_TEST(message() == headers + "\n");
    msg.length = headers.size() + 2;
    BOOST_TEST(message() == headers + "X\n");
    msg.length = headers.size() + 3;
    BOOST_TEST(message() == headers + "X\n\n");  // obs 25's shape
    msg.length = headers.size() + 4;
    BOOST_TEST(message() == headers + "X\nX\n");
}

BOOST_FIXTURE_TEST_CASE(request_filler_lines_are_capped_at_79, request_settings)
{
    const std::string headers = headers_of(*this);
    // the first 79-X line ends at 95 + (1 + 2 + ... + 79) + 79 = 3334 bytes
    BOOST_TEST_REQUIRE(headers.size() == 95u);
    for (std::size_t length : {3333u, 3334u, 3335u, 3413u, 3414u, 10000u, 100000u})
    {
        BOOST_TEST_CONTEXT("-l " << length)
        {
            msg.length = length;
            const std::string m = message();
            BOOST_TEST_REQUIRE(m.size() == length);
            BOOST_TEST_REQUIRE(m.starts_with(headers));
            BOOST_TEST(m.back() == '\n');
            // lines of 1, 2, ... 79 X's, then 79 X's each; the last one cut short, ending in '\n'
            std::string expected = headers;
            for (std::size_t n = 1; expected.size() < length; ++n)
                expected += std::string(std::min<std::size_t>(n, 79), 'X') + "\n";
            expected.resize(length);
            expected.back() = '\n';
            BOOST_TEST(m == expected);
            std::size_t longest = 0;
            for (std::size_t pos = headers.size(); pos < m.size();)
            {
                const std::size_t eol = m.find('\n', pos);
                longest = std::max(longest, eol - pos);
                pos = eol + 1;
            }
            BOOST_TEST(longest == (length >= 3334 ? 79u : 78u));
            BOOST_TEST(m.find(std::string(80, 'X')) == std::string::npos);
        }
    }
}

// =============================================================================================
// qmqp_client

BOOST_FIXTURE_TEST_CASE(client_harness_reports_a_wrong_write, client_fixture)
{
    client_script s;
    s.expect_write("3:xyz,").respond("3:KOk,").expect_close();
    auto c = one();
    const auto o = s.run(*c);
    BOOST_TEST(o.failure.find("the algorithm writes \"223:200:From: <foo@vm>") != std::string::npos, o.failure);
}

BOOST_FIXTURE_TEST_CASE(client_accepted, client_fixture)
{
    client_script s = reply_script("3:KOk,");
    s.expect_close();
    const auto [out, c] = s.check(make());  // the reply whole, split at every byte, byte by byte
    BOOST_TEST(out.writes == std::vector<std::string>{obs24});
    BOOST_TEST(out.events == (std::vector<recorded_event>{ev("message_sent"), ev("reply", "KOk"), ev("accepted", "KOk")}));
    BOOST_TEST(c->stats().messages_sent == 1u);
    BOOST_TEST(c->stats().messages_accepted == 1u);
    for (auto r : c->stats().rejected)
        BOOST_TEST(r == 0u);
}

BOOST_FIXTURE_TEST_CASE(client_writes_the_request_in_one_piece, client_fixture)
{
    auto c = one();
    const next_action a = c->resume();
    BOOST_TEST_REQUIRE(a.type() == action_type::write);
    BOOST_TEST_REQUIRE(a.out().size() == 1u);
    BOOST_TEST(a.out()[0] == obs24);
    BOOST_TEST(a.out()[0].data() == request->bytes().data());  // the shared bytes, not a copy
}

BOOST_FIXTURE_TEST_CASE(client_any_reply_starting_with_k_is_success, client_fixture)
{
    for (std::string_view reply : {"1:K,", "10:Kqueued 42,"})
    {
        client_script s = reply_script(reply);
        s.expect_close();
        const auto [out, c] = s.check(make());
        BOOST_TEST(out.events.size() == 3u);
        BOOST_TEST(c->stats().messages_accepted == 1u);
    }
}

BOOST_FIXTURE_TEST_CASE(client_rejections, client_fixture)
{
    struct case_t
    {
        std::string reply, text, message;
    };
    const std::vector<case_t> cases = {
        {"8:Zdeferal,", "Zdeferal", "recoverable error: deferal"},  // obs 26
        {"6:Dhard!,", "Dhard!", "unrecoverable error: hard!"},
        {"4:Xwhy,", "Xwhy", "unknown error: why"},
        {"1:Z,", "Z", "recoverable error: "},
        {"3:kOk,", "kOk", "unknown error: Ok"},  // only a capital K is success
        {"0:,", "", "unknown error: "},
    };
    for (const case_t& k : cases)
    {
        BOOST_TEST_CONTEXT(k.reply)
        {
            client_script s = reply_script(k.reply);
            s.expect_done(error::rejected);
            const auto [out, c] = s.check(make());
            BOOST_TEST(out.events == (std::vector<recorded_event>{ev("message_sent"), ev("reply", k.text)}));
            BOOST_TEST(c->failure_message(error::rejected) == k.message);
            BOOST_TEST(c->stats().messages_sent == 1u);
            BOOST_TEST(c->stats().messages_accepted == 0u);
            BOOST_TEST(c->stats().rejected[static_cast<std::size_t>(client_stage::dot)] == 1u);
        }
    }
}

BOOST_FIXTURE_TEST_CASE(client_malformed_replies, client_fixture)
{
    for (std::string_view reply : {"junk", "3:KOk;", "3:KOk\r\n", ":KOk,", "x3:KOk,", "3x:KOk,"})
    {
        BOOST_TEST_CONTEXT(reply)
        {
            client_script s = reply_script(reply);
            s.expect_done(error::netstring_format);
            const auto [out, c] = s.check(make());
            BOOST_TEST(out.events == std::vector<recorded_event>{ev("message_sent")});
            BOOST_TEST(
                c->failure_message(error::netstring_format) == "netstring format error while receiving server reply"
            );
            BOOST_TEST(c->stats().messages_accepted == 0u);
        }
    }
}

BOOST_FIXTURE_TEST_CASE(client_end_of_stream, client_fixture)
{
    for (std::string_view before : {"", "3", "3:", "3:KO", "3:KOk"})
    {
        BOOST_TEST_CONTEXT('"' << before << '"')
        {
            client_script s;
            s.expect_write(obs24);
            if (!before.empty())
                s.respond(before);
            s.peer_closes().expect_done(error::lost_connection);
            const auto [out, c] = s.check(make());
            BOOST_TEST(out.events == std::vector<recorded_event>{ev("message_sent")});
            BOOST_TEST(
                c->failure_message(error::lost_connection) == "lost connection while receiving server reply"
            );
        }
    }
}

BOOST_FIXTURE_TEST_CASE(client_io_errors, client_fixture)
{
    client_script s = reply_script("3:KOk,");
    s.expect_close();
    // one write and one read, three errors each
    BOOST_TEST(s.check_network_errors(make()) == 6u);

    struct case_t
    {
        std::size_t step;  // 0: the write, 1: the read of the reply
        boost::system::error_code ec;
        std::string message;
    };
    const std::vector<case_t> cases = {
        {0, make_error_code(errc::connection_reset), "lost connection while sending message"},
        {0, make_error_code(errc::broken_pipe), "lost connection while sending message"},
        {0, mailload::make_error_code(error::timeout), "timeout while sending message"},
        {1, {}, "lost connection while receiving server reply"},
        {1, make_error_code(errc::connection_reset), "lost connection while receiving server reply"},
        {1, mailload::make_error_code(error::timeout), "timeout while receiving server reply"},
    };
    for (const case_t& k : cases)
    {
        BOOST_TEST_CONTEXT("step " << k.step << ": " << (k.ec ? k.ec.message() : "end of stream"))
        {
            plan p;
            p.inject_step = k.step;
            p.inject_ec = k.ec;
            auto c = one();
            const auto o = s.run(*c, p);
            BOOST_TEST(o.injected);
            BOOST_TEST_REQUIRE(o.last.has_value());
            BOOST_TEST(o.last->type() == action_type::done);
            BOOST_TEST(c->failure_message(o.last->error()) == k.message);
            BOOST_TEST(c->stats().messages_sent == (k.step == 0 ? 0u : 1u));
            BOOST_TEST(c->stats().messages_accepted == 0u);
        }
    }
}

BOOST_FIXTURE_TEST_CASE(client_reply_size_limit, client_fixture)
{
    BOOST_TEST(qmqp_client::max_reply == 10240u);
    {
        // exactly 10240 bytes: fine
        const std::string text = "K" + std::string(10239, 'a');
        client_script s = reply_script("10240:" + text + ",");
        s.expect_close();
        const auto [out, c] = s.check(make());
        BOOST_TEST(out.events.size() == 3u);
        BOOST_TEST(out.events.at(1).text == text);
        BOOST_TEST(c->stats().messages_accepted == 1u);
    }
    for (std::string_view reply : {"10241:", "99999999999999999999999:", "1000000:K"})
    {
        BOOST_TEST_CONTEXT(reply)
        {
            client_script s = reply_script(reply);
            s.expect_done(error::netstring_size);
            const auto [out, c] = s.check(make());
            BOOST_TEST(
                c->failure_message(error::netstring_size) ==
                "netstring size exceeds limit while receiving server reply"
            );
        }
    }
}

BOOST_FIXTURE_TEST_CASE(client_leaves_bytes_after_the_reply_alone, client_fixture)
{
    client_script s = reply_script("3:KOk,3:Zno,");  // a second reply is never looked at
    s.expect_close();
    auto c = one();
    const auto o = s.run(*c);  // one read takes it all; the client closes after the first
    BOOST_TEST(o.failure.empty(), o.failure);
    BOOST_TEST(o.events.back() == ev("accepted", "KOk"));
    BOOST_TEST(c->stats().messages_accepted == 1u);
}

BOOST_FIXTURE_TEST_CASE(client_starts_over_for_each_connection, client_fixture)
{
    auto c = one();
    client_script ok = reply_script("3:KOk,");
    ok.expect_close();
    client_script rejected = reply_script("6:Dhard!,");
    rejected.expect_done(error::rejected);

    auto o = ok.run(*c, plan::bytewise());
    BOOST_TEST(o.failure.empty(), o.failure);
    c->start(4, 0);
    o = rejected.run(*c);
    BOOST_TEST(o.failure.empty(), o.failure);
    BOOST_TEST(c->failure_message(error::rejected) == "unrecoverable error: hard!");
    c->start(5, 0);
    o = ok.run(*c);
    BOOST_TEST(o.failure.empty(), o.failure);
    BOOST_TEST(o.events == (std::vector<recorded_event>{ev("message_sent"), ev("reply", "KOk"), ev("accepted", "KOk")}));
    BOOST_TEST(c->stats().messages_sent == 3u);
    BOOST_TEST(c->stats().messages_accepted == 2u);
    BOOST_TEST(c->stats().rejected[static_cast<std::size_t>(client_stage::dot)] == 1u);
}

// =============================================================================================
// qmqp_server

BOOST_FIXTURE_TEST_CASE(server_harness_reports_a_wrong_reply, server_fixture)
{
    server_script s;
    s.respond("5:hello,").expect_write("3:Kok,").expect_close();
    auto srv = one();
    const auto o = s.run(*srv);
    BOOST_TEST(o.failure.find(R"(the algorithm writes "3:KOk,", expected "3:Kok,")") != std::string::npos, o.failure);
}

BOOST_FIXTURE_TEST_CASE(server_replies_ok_then_closes, server_fixture)
{
    // every cut of the request, and byte by byte
    for (const std::string& request : {std::string("5:hello,"), obs24, obs25, obs25b, std::string("12:hello,world!,")})
    {
        BOOST_TEST_CONTEXT(mailload::test::quoted(request, 40))
        {
            const auto [out, srv] = accepted_after({request}).check(make());
            BOOST_TEST(out.writes == std::vector<std::string>{"3:KOk,"});
            BOOST_TEST(out.events == std::vector<recorded_event>{message_event()});
            BOOST_TEST(srv->stats().messages == 1u);
            BOOST_TEST(srv->stats().data_bytes == request.size());
            BOOST_TEST(srv->declared_size() == std::stoull(request.substr(0, request.find(':'))));
            BOOST_TEST(!srv->failed_while_writing());
        }
    }
}

BOOST_FIXTURE_TEST_CASE(server_answers_however_the_request_is_split, server_fixture)
{
    // obs 27: Postfix's sink answers the first; it hangs on the second (and crashes when the
    // client gives up) and drops the connection on the last three.
    const std::vector<std::vector<std::string>> splits = {
        {"5:hel", "lo,"},
        {"5:hello", ","},
        {"5:", "hello,"},
        {"5", ":hello,"},
        {"5", ":", "hello", ","},
        {"0:,"},
        {"0:", ","},
        {"0", ":,"},
    };
    for (const auto& parts : splits)
    {
        std::string shown;
        for (const auto& p : parts)
            shown += mailload::test::quoted(p) + " ";
        BOOST_TEST_CONTEXT(shown)
        {
            const auto [out, srv] = accepted_after(parts).check(make());
            BOOST_TEST(out.writes == std::vector<std::string>{"3:KOk,"});
            BOOST_TEST(srv->stats().messages == 1u);
        }
    }
}

BOOST_FIXTURE_TEST_CASE(server_ignores_bytes_after_the_netstring, server_fixture)
{
    // The extra bytes arrive with the end of the request (Postfix: obs 27, "5:hello,EXTRA").
    for (const trace_t& chunks : {trace_t{"5:hello,EXTRA"}, trace_t{"5:hel", "lo,EXTRA"}, trace_t{"5:hello", ",3:abc,"}})
    {
        auto srv = one();
        std::string expected;
        for (std::size_t i = 1; i < chunks.size(); ++i)
            expected += "read | ";
        BOOST_TEST(driven(*srv, chunks) == expected + replied);
        BOOST_TEST(srv->stats().messages == 1u);
    }
    // With the script: whole, the extra bytes come in the same read and are dropped.
    server_script s = accepted_after({"5:hello,EXTRA"});
    auto srv = one();
    const auto o = s.run(*srv);
    BOOST_TEST(o.failure.empty(), o.failure);
    BOOST_TEST(o.writes == std::vector<std::string>{"3:KOk,"});
}

BOOST_FIXTURE_TEST_CASE(server_message_event_comes_before_the_reply, server_fixture)
{
    auto srv = one();
    next_action a = srv->resume();
    BOOST_TEST_REQUIRE(a.type() == action_type::read);
    BOOST_TEST(a.in().size() >= 512u);
    const std::string_view req = "3:abc,";
    std::copy(req.begin(), req.end(), a.in().begin());
    a = srv->resume({}, req.size());
    BOOST_TEST_REQUIRE(a.type() == action_type::event);
    BOOST_TEST(srv->event().kind == server_event::message);
    BOOST_TEST(srv->stats().messages == 1u);  // counted when announced
    a = srv->resume();
    BOOST_TEST_REQUIRE(a.type() == action_type::write);
    BOOST_TEST_REQUIRE(a.out().size() == 1u);
    BOOST_TEST(a.out()[0] == "3:KOk,");
    a = srv->resume({}, 6);
    BOOST_TEST(a.type() == action_type::close);
}

BOOST_FIXTURE_TEST_CASE(server_does_not_check_the_inner_netstrings, server_fixture)
{
    // like Postfix's: the payload is not parsed (no message, sender or recipient needed)
    for (std::string_view req : {"5:hello,", "3:1:x,", "6:a:b,c:,"})
    {
        auto srv = one();
        BOOST_TEST(driven(*srv, {std::string(req)}) == replied);
    }
}

BOOST_FIXTURE_TEST_CASE(server_malformed_request, server_fixture)
{
    // Postfix: "warning: netstring format error", no reply (obs 27). Unlike Postfix's sink, ours
    // also wants the final ',' (Postfix's accepts "5:hello;").
    for (std::string_view req : {"x:hello,", ":hello,", "5x:hello,", "-1:,", "5:hello;", "0:;", "GET / HTTP/1.0\r\n"})
    {
        BOOST_TEST_CONTEXT(req)
        {
            server_script s;
            s.respond(req).expect_done(error::netstring_format);
            const auto [out, srv] = s.check(make());
            BOOST_TEST(out.writes.empty());
            BOOST_TEST(out.events.empty());
            BOOST_TEST(srv->stats().messages == 0u);
        }
    }
}

BOOST_FIXTURE_TEST_CASE(server_size_limit, server_fixture)
{
    {
        // obs 27: "warning: netstring size error", no reply
        server_script s;
        s.respond("99999999999999999999999:").expect_done(error::netstring_size);
        const auto [out, srv] = s.check(make());
        BOOST_TEST(out.writes.empty());
    }
    cfg.max_message_size = 100;
    {
        const std::string req = "100:" + std::string(100, 'a') + ",";
        const auto [out, srv] = accepted_after({req}).check(make());
        BOOST_TEST(out.writes == std::vector<std::string>{"3:KOk,"});
    }
    for (std::string_view req : {"101:", "101:" "aaaa", "1000000:"})
    {
        server_script s;
        s.respond(req).expect_done(error::netstring_size);
        const auto [out, srv] = s.check(make());
        BOOST_TEST(out.writes.empty());
        BOOST_TEST(out.events.empty());
    }
    // a large request is counted, never kept: 64 MiB through the default limit
    cfg.max_message_size = server_config{}.max_message_size;
    BOOST_TEST(cfg.max_message_size == std::uint64_t(1) << 30);
    auto srv = one();
    next_action a = srv->resume();
    const std::string head = std::to_string(64u << 20) + ":";
    std::uint64_t left = (64u << 20) + 1;
    BOOST_TEST_REQUIRE(a.type() == action_type::read);
    std::copy(head.begin(), head.end(), a.in().begin());
    a = srv->resume({}, head.size());
    while (a.type() == action_type::read && left > 0)
    {
        const std::size_t n = std::min<std::uint64_t>(left, a.in().size());
        std::fill_n(a.in().begin(), n, 'x');
        if (left == n)
            a.in()[n - 1] = ',';
        left -= n;
        a = srv->resume({}, n);
    }
    BOOST_TEST(left == 0u);
    BOOST_TEST_REQUIRE(a.type() == action_type::event);
    BOOST_TEST(srv->stats().data_bytes == head.size() + (64u << 20) + 1);
}

BOOST_FIXTURE_TEST_CASE(server_end_of_stream_mid_request, server_fixture)
{
    // Postfix: "warning: lost connection", no reply
    for (std::string_view before : {"", "5", "5:", "5:hel", "5:hello", "0:"})
    {
        BOOST_TEST_CONTEXT('"' << before << '"')
        {
            server_script s;
            if (!before.empty())
                s.respond(before);
            s.peer_closes().expect_done(error::lost_connection);
            const auto [out, srv] = s.check(make());
            BOOST_TEST(out.writes.empty());
            BOOST_TEST(out.events.empty());
            BOOST_TEST(srv->stats().messages == 0u);
            BOOST_TEST(!srv->failed_while_writing());
        }
    }
}

BOOST_FIXTURE_TEST_CASE(server_io_errors, server_fixture)
{
    {
        // a read that times out: the error is passed on as it is (the sink says "read timeout")
        server_script s;
        s.respond("5:he").read_error(mailload::make_error_code(error::timeout)).expect_done(error::timeout);
        const auto [out, srv] = s.check(make());
        BOOST_TEST(out.writes.empty());
        BOOST_TEST(!srv->failed_while_writing());
    }
    {
        // a reset: done, with that error or as a lost connection (the sink says "lost connection")
        server_script s;
        s.respond("5:he").read_error(make_error_code(errc::connection_reset)).expect_done();
        auto srv = one();
        const auto o = s.run(*srv);
        BOOST_TEST_REQUIRE(o.last.has_value());
        BOOST_TEST(o.last->type() == action_type::done);
        BOOST_TEST(
            (o.last->error() == errc::connection_reset || o.last->error() == error::lost_connection),
            o.last->error().message()
        );
        BOOST_TEST(o.writes.empty());
    }
    // the reply's write fails (the sink says "write timeout" for a timeout)
    for (auto ec : {mailload::make_error_code(error::timeout), make_error_code(errc::broken_pipe)})
    {
        server_script s = accepted_after({"5:hello,"});
        plan p;
        p.inject_step = 1;  // the expect_write
        p.inject_ec = ec;
        auto srv = one();
        const auto o = s.run(*srv, p);
        BOOST_TEST(o.injected);
        BOOST_TEST_REQUIRE(o.last.has_value());
        BOOST_TEST(o.last->type() == action_type::done);
        if (ec == error::timeout)
            BOOST_TEST(o.last->error() == ec);
        else
            BOOST_TEST((o.last->error() == ec || o.last->error() == error::lost_connection), o.last->error().message());
        BOOST_TEST(srv->failed_while_writing());
        BOOST_TEST(srv->stats().messages == 1u);  // the message had arrived
    }
}

BOOST_FIXTURE_TEST_CASE(server_starts_over_for_each_connection, server_fixture)
{
    auto srv = one();
    BOOST_TEST(driven(*srv, {"5:hel", "lo,"}) == "read | " + replied);
    srv->start();
    BOOST_TEST(driven(*srv, {"x"}) == "read | done netstring format error");
    srv->start();
    BOOST_TEST(driven(*srv, {"0:,"}) == replied);
    srv->start();
    BOOST_TEST(driven(*srv, {"3:ab", ""}) == "read | read | done lost connection");
    srv->start();
    BOOST_TEST(driven(*srv, {"3:abc,"}) == replied);
}

BOOST_AUTO_TEST_SUITE_END()
