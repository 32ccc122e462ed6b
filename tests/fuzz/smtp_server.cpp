// SPDX-License-Identifier: BSL-1.0
// tests/fuzz/smtp_server.cpp — sansio::smtp_server (smtp-sink) with varied flags, driven by arbitrary client
// bytes
//
// Input: a 19-byte header (a short input reads as zeros: smtp-sink's defaults), then the
// client's bytes.
//   0  flags: 1 -L lmtp, 2 -e no ESMTP, 4 -P pix, 8 -p no PIPELINING, 16 content events,
//      32 trace (-v), 64 -C -F (no XCLIENT/XFORWARD), 128 -8 -a -E -N (bare EHLO)
//   1-2 -f hard set   3-4 -r soft set   5-6 -q drop set   7-8 -Q close set   9-10 -s log set
//      (16 bits each, one per smtp_command up to bdat; starttls in byte 18)
//   11 low nibble: 1 + the command given a -W delay (0: none); bits 4-5: its odds (none, 10, 50,
//      99); bit 6: -A abort delay; bit 7: -H data pause
//   12 split seed   13 split mode (0: whole reads)
//   14 end: 0 end of stream, 1 reset, 2 timeout, 3 the write given by bits 2-7 fails,
//      4 every wait fails (timer cancelled); other values as value % 5
//   15 bits 0-1: the -b reply text, bits 2-3: the -B one
//   16 extensions: 1 chunking, 2 smtputf8, 4 starttls, 8 tls_on_connect, 16 users (one: "user",
//      "pass"); bits 5-6: which handshakes fail (none, the first, the second, all), bit 7: with
//      connection_reset (else protocol_error)
//   17 size_limit / 8 (0: none)
//   18 starttls in the sets: 1 -f, 2 -r, 4 -q, 8 -Q, 16 -s
// Handshake actions are answered by a wrapper around the server (fuzz::drive knows none of them).
// Checks: the action protocol (fuzz::drive: non-empty reads and writes, nothing read after the
// end of the stream, actions and written bytes bounded by a constant per input byte); the
// events form valid transactions (mail, rcpt..., data, content..., message | reset; with BDAT,
// other commands but RCPT between the chunks; a `message` only after data with a recipient,
// within the size limit; no transaction left open at the end); content events add up to the
// message, which with DATA ends at its first end marker; args are sanitised; auth events only
// with users, with a known code, 235 only for the configured user and at most once per TLS
// state (then 503); a failed handshake ends the run with its error; secured() says whether one
// succeeded;
// trace lines hold no CR LF or NUL and fit the line limit; syslog events only for -s
// commands; the final action is close after QUIT/-q/-Q/-A/an overlong line, else done with an
// error; stats agree with the events, every message is answered unless a write, a wait or -q
// got in the way, and the reply tally counts exactly the reply lines written, by code. Differential: the same
// object after start() given the same bytes in whole reads writes the same bytes, reports the same events and
// ends the same way (when no write, wait or handshake fails, and no STARTTLS handshake dropped bytes that
// depend on the reads).

#include <mailload/sansio/smtp_server.hpp>

#include <boost/system/errc.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"

namespace {

using namespace mailload::sansio;
using namespace std::chrono_literals;
namespace errc = boost::system::errc;

command_set bits(std::uint16_t v, bool starttls)
{
    command_set s;
    for (std::size_t i = 0; i < 16; ++i)
        if (v >> i & 1)
            s.add(static_cast<smtp_command>(i));
    if (starttls)
        s.add(smtp_command::starttls);
    return s;
}

// The server, with its handshake actions answered: success, or `ec` for the ones `fail` picks.
struct tls_peer
{
    smtp_server& s;
    std::uint8_t fail = 0;  // 0 none, 1 the first, 2 the second, 3 all
    boost::system::error_code ec;
    std::size_t handshakes = 0, secured = 0;
    bool failed = false;

    next_action resume(boost::system::error_code e = {}, std::size_t n = 0)
    {
        next_action a = s.resume(e, n);
        while (a.type() == action_type::handshake)
        {
            ++handshakes;
            const bool fails = fail == 3 || fail == handshakes;
            failed = failed || fails;
            secured += !fails;
            a = s.resume(fails ? ec : boost::system::error_code{}, 0);
            if (fails)  // at once: there is no transaction to reset (STARTTLS is refused in one)
                FUZZ_CHECK(a == next_action::done(ec));
        }
        return a;
    }
};

struct recorded
{
    server_event::kind_t kind;
    smtp_command cmd;
    std::string text, args;
    std::uint64_t size;
    bool operator==(const recorded&) const = default;
};

// Checks the events as they come and keeps them (content joined into one per message).
struct event_checker
{
    const server_config& cfg;
    const tls_peer& tls;
    std::vector<recorded> events;
    bool txn = false, in_data = false, chunked = false, too_long = false, quit = false, authenticated = false;
    std::size_t rcpts = 0, messages = 0, quits = 0, secured = 0;
    std::uint64_t recipients = 0, message_bytes = 0;
    std::string content;

    void operator()(const smtp_server& s)
    {
        const server_event& e = s.event();
        fuzz::touch(e.text);
        fuzz::touch(e.args);
        if (tls.secured != secured)  // a handshake: the client is as new
        {
            secured = tls.secured;
            authenticated = false;
            FUZZ_CHECK(s.secured());
        }
        FUZZ_CHECK(!too_long || e.kind == server_event::reset);  // after it: close
        switch (e.kind)
        {
        case server_event::command:
            FUZZ_CHECK(cfg.trace);
            FUZZ_CHECK(e.text.find('\0') == std::string_view::npos);
            FUZZ_CHECK(e.text.find("\r\n") == std::string_view::npos);
            FUZZ_CHECK(e.text.size() + 2 <= smtp_server::max_line);
            FUZZ_CHECK(!in_data);
            break;
        case server_event::syslog:
            FUZZ_CHECK(cfg.log.has(e.cmd));
            FUZZ_CHECK(fuzz::all_printable(e.args));
            if (e.cmd == smtp_command::connect)
                FUZZ_CHECK(e.text == "connect");
            else
                FUZZ_CHECK(find_smtp_command(e.text) == e.cmd);
            break;
        case server_event::line_too_long:
            FUZZ_CHECK(!in_data);
            too_long = true;
            break;
        case server_event::helo:
            FUZZ_CHECK(!txn && !in_data && !chunked);  // an open transaction was reset first
            FUZZ_CHECK(fuzz::all_printable(e.args) && !e.args.starts_with(' '));
            FUZZ_CHECK(e.cmd == (cfg.lmtp ? smtp_command::lhlo : e.cmd));
            FUZZ_CHECK(s.helo_args() && *s.helo_args() == e.args);
            break;
        case server_event::mail:
            FUZZ_CHECK(!txn && !in_data);
            FUZZ_CHECK(fuzz::all_printable(e.args));
            FUZZ_CHECK(!e.args.starts_with(' ') && !e.args.starts_with('\t'));
            txn = true;
            rcpts = 0;
            break;
        case server_event::rcpt:
            FUZZ_CHECK(txn && !in_data && !chunked);
            FUZZ_CHECK(fuzz::all_printable(e.args));
            ++rcpts;
            break;
        case server_event::data:
            FUZZ_CHECK(txn && !in_data && !chunked && rcpts > 0);
            FUZZ_CHECK(e.cmd == smtp_command::data || (e.cmd == smtp_command::bdat && cfg.chunking));
            (e.cmd == smtp_command::data ? in_data : chunked) = true;
            content.clear();
            break;
        case server_event::content:
            FUZZ_CHECK(cfg.content && !e.text.empty());
            FUZZ_CHECK(in_data ? e.cmd == smtp_command::data : chunked && e.cmd == smtp_command::bdat);
            content.append(e.text);
            return;  // kept joined, with the message
        case server_event::message:
            FUZZ_CHECK(txn && (in_data || chunked));
            FUZZ_CHECK(e.cmd == (in_data ? smtp_command::dot : smtp_command::bdat));
            if (cfg.size_limit)
                FUZZ_CHECK((in_data ? e.size - 3 : e.size) <= cfg.size_limit);
            if (cfg.content)
            {
                FUZZ_CHECK(e.size == content.size());
                if (in_data)
                    FUZZ_CHECK(fuzz::naive_data_end(content) == content.size());  // its first end marker
                events.push_back({server_event::content, e.cmd, content, {}, 0});
            }
            txn = in_data = chunked = false;
            ++messages;
            recipients += rcpts;
            message_bytes += e.size;
            break;
        case server_event::reset:
            FUZZ_CHECK(txn);
            txn = in_data = chunked = false;
            break;
        case server_event::auth:
            FUZZ_CHECK(!cfg.users.empty() && !in_data);
            FUZZ_CHECK(e.size == 235 || e.size == 501 || e.size == 503 || e.size == 504 || e.size == 535);
            FUZZ_CHECK(fuzz::all_printable(e.args));
            FUZZ_CHECK(e.text.empty() || e.text == "PLAIN" || e.text == "LOGIN");
            if (authenticated)
                FUZZ_CHECK(e.size == 503);
            if (e.size == 235)
                FUZZ_CHECK(e.args == "user" && !e.text.empty() && !txn);
            authenticated = authenticated || e.size == 235;
            break;
        case server_event::quit:
            FUZZ_CHECK(!in_data);
            ++quits;
            quit = true;
            break;
        default: FUZZ_CHECK(false);
        }
        events.push_back({e.kind, e.cmd, std::string(e.text), std::string(e.args), e.size});
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    fuzz::input in(data, size);
    server_config cfg;
    const std::uint8_t flags = in.byte();
    cfg.lmtp = flags & 1;
    cfg.esmtp = !(flags & 2);
    cfg.pix = flags & 4;
    if (cfg.pix)
        cfg.esmtp = false;
    cfg.pipelining = !(flags & 8);
    cfg.content = flags & 16;
    cfg.trace = flags & 32;
    cfg.xclient = cfg.xforward = !(flags & 64);
    cfg.eightbitmime = cfg.auth = cfg.enhanced_status_codes = cfg.dsn = !(flags & 128);
    const std::uint16_t hard_bits = in.u16(), soft_bits = in.u16(), drop_bits = in.u16(),
                        close_bits = in.u16(), log_bits = in.u16();
    const std::uint8_t delay = in.byte();
    if ((delay & 15) != 0)
    {
        static constexpr int odds[] = {0, 10, 50, 99};
        cfg.delays[(delay & 15) - 1] = command_delay{1s, odds[delay >> 4 & 3]};
    }
    if (delay & 64)
        cfg.abort_delay = 3s;
    if (delay & 128)
        cfg.data_pause = 2s;
    const std::uint8_t seed = in.byte(), mode = in.byte(), end = in.byte(), texts = in.byte();
    static constexpr const char* soft[] = {"450 4.3.0 Error: command failed", "421 bye", "", "4"};
    static constexpr const char* hard[] = {"500 5.3.0 Error: command failed", "550", "", "521 x"};
    cfg.soft_reply = soft[texts & 3];
    cfg.hard_reply = hard[texts >> 2 & 3];
    const std::uint8_t ext = in.byte(), limit = in.byte(), starttls_in = in.byte();
    cfg.chunking = ext & 1;
    cfg.smtputf8 = ext & 2;
    cfg.starttls = ext & 4;
    cfg.tls_on_connect = ext & 8;
    if (ext & 16)
        cfg.users = {
            {"user", "pass"}
        };
    cfg.size_limit = 8u * limit;
    cfg.hard = bits(hard_bits, starttls_in & 1);
    cfg.soft = bits(soft_bits, starttls_in & 2);
    cfg.drop = bits(drop_bits, starttls_in & 4);
    cfg.close = bits(close_bits, starttls_in & 8);
    cfg.log = bits(log_bits, starttls_in & 16);
    const std::string_view bytes = in.rest();
    // the first reply, as smtp-sink's precedence for `connect` makes it
    const std::string greeting = cfg.close.has(smtp_command::connect)
                                     ? "421 4.0.0 Server closing connection\r\n"
                                 : cfg.hard.has(smtp_command::connect) ? cfg.hard_reply + "\r\n"
                                 : cfg.soft.has(smtp_command::connect) ? cfg.soft_reply + "\r\n"
                                 : cfg.pix                             ? "220 ********\r\n"
                                                                       : "220 smtp-sink";

    fuzz::peer_plan plan;
    plan.bytes = bytes;
    plan.split = fuzz::splitter(seed, mode);
    plan.max_actions = 64 + 16 * bytes.size();
    switch (end % 5)
    {
    case 0: break;
    case 1: plan.end_ec = errc::make_error_code(errc::connection_reset); break;
    case 2: plan.end_ec = errc::make_error_code(errc::timed_out); break;
    case 3: plan.fail_write = end >> 2; break;
    case 4: plan.fail_waits = true; break;
    }
    const bool injected = plan.fail_write || plan.fail_waits;

    auto server = std::make_unique<smtp_server>(cfg, 7);
    std::vector<recorded> first_events;
    fuzz::run_result first;
    bool first_starttls = false;
    for (int round = 0; round < 2; ++round)
    {
        const server_stats before = server->stats();  // start() queues the greeting: counted
        server->start();
        tls_peer tls{*server, static_cast<std::uint8_t>(ext >> 5 & 3)};
        tls.ec = errc::make_error_code(ext & 128 ? errc::connection_reset : errc::protocol_error);
        event_checker ev{cfg, tls};
        const fuzz::run_result r = fuzz::drive(
            tls,
            plan,
            [&](tls_peer& t) { ev(t.s); },
            fuzz::no_more{}
        );
        const server_stats& st = server->stats();
        // a STARTTLS handshake drops what its read brought along: how much depends on the reads
        const bool starttls = tls.handshakes > (cfg.tls_on_connect ? 1u : 0u);
        FUZZ_CHECK(server->secured() == (tls.secured > 0));
        FUZZ_CHECK(tls.secured + tls.failed == tls.handshakes);
        if (cfg.tls_on_connect)  // first, and STARTTLS is refused after it
            FUZZ_CHECK(tls.handshakes == 1);
        else if (!cfg.starttls)
            FUZZ_CHECK(tls.handshakes == 0);
        if (tls.failed)
            FUZZ_CHECK(r.last == next_action::done(tls.ec));

        // bounded output: the longest reply per command line (the EHLO list) is under 64 bytes
        // per byte of the shortest line ("EHLO\r\n")
        FUZZ_CHECK(r.written.size() <= 512 + 64 * r.delivered);
        FUZZ_CHECK(!ev.txn);  // every transaction ended: message or reset
        if (r.last.type() == action_type::done)
        {
            FUZZ_CHECK(r.last.error());
            FUZZ_CHECK(r.end_delivered || r.write_failed || plan.fail_waits || tls.failed);
            if (!r.write_failed && !plan.fail_waits &&
                !tls.failed)  // else the 221 (or the flush) may have failed
                FUZZ_CHECK(!ev.quit && !ev.too_long);
        }
        else
        {
            FUZZ_CHECK(r.last.type() == action_type::close);
        }
        FUZZ_CHECK(st.messages - before.messages == ev.messages);
        FUZZ_CHECK(st.recipients - before.recipients == ev.recipients);
        FUZZ_CHECK(st.quits - before.quits == ev.quits);
        FUZZ_CHECK(st.answered - before.answered <= ev.messages);
        FUZZ_CHECK(st.data_bytes - before.data_bytes >= ev.message_bytes);
        FUZZ_CHECK(st.data_bytes - before.data_bytes <= r.delivered);
        if (!r.write_failed && !plan.fail_waits && !cfg.drop.has(smtp_command::dot))
            FUZZ_CHECK(st.answered - before.answered == ev.messages);  // every "." got its reply out
        // the reply tally counts exactly the replies written, by code (an EHLO list is one)
        std::map<int, std::uint64_t> tally, lines;
        st.replies.for_each([&](int code, std::uint64_t n) { tally[code] += n; });
        before.replies.for_each([&](int code, std::uint64_t n) { tally[code] -= n; });
        std::erase_if(tally, [](const auto& kv) { return kv.second == 0; });
        for (std::string_view w = r.written; !w.empty();)
        {
            const auto crlf = w.find("\r\n");
            FUZZ_CHECK(crlf != std::string_view::npos);  // replies are whole lines
            const std::string_view line = w.substr(0, crlf);
            w.remove_prefix(crlf + 2);
            if (line.size() > 3 && line[3] == '-')
                continue;
            int code = 0;
            for (std::size_t i = 0; i < 3 && i < line.size() && line[i] >= '0' && line[i] <= '9'; ++i)
                code = code * 10 + (line[i] - '0');
            ++lines[code];
        }
        FUZZ_CHECK(tally == lines);
        if (!r.write_failed)
            FUZZ_CHECK(!server->failed_while_writing());
        if (cfg.drop.has(smtp_command::connect) && !tls.failed)
            FUZZ_CHECK(r.written.empty() && r.reads == 0 && server->hung_up());
        else if (r.writes > 0)
            FUZZ_CHECK(r.written.starts_with(greeting));

        if (round == 0)
        {
            first = r;
            first_events = std::move(ev.events);
            first_starttls = starttls;
        }
        else if (!injected && !tls.failed && !starttls && !first_starttls)
        {
            FUZZ_CHECK(r.written == first.written);
            FUZZ_CHECK(ev.events == first_events);
            FUZZ_CHECK(r.last == first.last);
            FUZZ_CHECK(r.last.type() == action_type::close || r.delivered == bytes.size());
        }
        plan.split = fuzz::splitter::whole();
    }
    return 0;
}
