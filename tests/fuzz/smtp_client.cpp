// SPDX-License-Identifier: BSL-1.0
// tests/fuzz/smtp_client.cpp — sansio::smtp_client (smtp-source) with varied flags, driven by arbitrary
// server bytes
//
// Input: an 8-byte header (a short input reads as zeros: smtp-source's defaults), then the
// server's bytes.
//   0  flags: 1 -L lmtp, 2 -o (no HELO, no headers), 4 -d keep alive, 8 -A ignore rejects,
//      16 -v trace, 32 reply events, 64 pipelining (EHLO), 128 no pipeline_next
//   1  bits 0-1: recipients - 1; bits 2-3: numbering (off, countdown, sequence, appended);
//      bits 4-7: messages the driver lets it claim at next_message
//   2  message length / 8 (0: the four "La de da" lines)
//   3  split seed   4 split mode (0: whole reads)
//   5  end: 0 end of stream, 1 reset, 2 timeout, 3 the write given by bits 2-7 fails
//   6  ESMTP: 1 --ehlo, 2 --starttls, 4 --tls-on-connect, 8 --chunking, 16 BODY=BINARYMIME,
//      32 BODY=8BITMIME, 64 SMTPUTF8, 128 SIZE=
//   7  bits 0-1: AUTH (none, any, PLAIN, LOGIN; user "joe", password "s3cr3t"); bits 2-3: how
//      the driver answers a handshake (success, connection reset, timeout, protocol error);
//      bits 4-7: k, the chunk size k * k (0: the whole message in one BDAT)
// Checks: the action protocol (fuzz::drive: non-empty reads and writes, nothing read after the
// end of the stream, a bounded number of actions per input byte, claimed message and BDAT
// chunk); every write is whole printable command lines ending in CR LF, a message with its end
// marker (pipelined: and the commands sent with it), or one BDAT chunk: "BDAT n[ LAST]" CR LF
// and n bytes, n = the chunk size (the last: 1..chunk size); a message's chunks add up to its
// headers and message_builder::content(), and to the SIZE= its MAIL announced (so does a DATA
// message: headers + content(); with appended numbering, whose number is drawn after MAIL, an
// upper bound: the number counted as 20 digits); MAIL parameters only as asked for; no more
// writes than LFs received (pipelined BDAT chunks aside, they need no reply); at most
// one next_message answered per message; a handshake only when asked for (first thing with
// --tls-on-connect, else right after STARTTLS was written), at most one per connection, a
// failed one ends the dialog with done(that error) ("... while performing the TLS handshake"),
// a successful one is followed by a secured event and EHLO/LHLO; events: message_sent and
// accepted as many as the stats say, accepted never more than sent, reply codes 0..999, sent
// events only with trace and printable (a pipelined batch: its lines joined by CR LF), never
// showing the password, its base64 or AUTH PLAIN's credentials; rejected and not_announced
// only with -A; failure_message() of the final error can be built (not_announced: "server does
// not announce ..."); stats stay consistent (accepted <= sent, recipients accepted <= sent,
// messages sent = message writes (or last chunks) that succeeded, recipients sent = RCPT
// commands written). Differential: the same object after start() given the same bytes in
// whole reads writes the same bytes, reports the same events and ends the same way (unless
// STARTTLS was done: the client drops what it read after the 220, so that depends on the
// split; a seed that goes past STARTTLS needs small reads, split mode 1).

#include <mailload/sansio/smtp_client.hpp>

#include <boost/system/errc.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"

namespace {

using namespace mailload::sansio;
namespace errc = boost::system::errc;

struct recorded
{
    client_event::kind_t kind;
    client_stage stage;
    int code;
    std::string text;
    bool operator==(const recorded&) const = default;
};


constexpr std::string_view password = "s3cr3t";
// what must never show in an event: the password, its base64, AUTH PLAIN's "\0joe\0s3cr3t"
constexpr std::string_view secrets[] = {password, "czNjcjN0", "AGpvZQBzM2NyM3Q="};

/// The client as fuzz::drive sees it: handshake actions are answered here, with `result`.
struct with_tls
{
    smtp_client& client;
    const client_config& cfg;
    boost::system::error_code result;
    std::size_t resumes = 0, handshakes = 0;
    std::string_view last_write;  // the latest write's bytes (valid until the next)
    bool hello_due = false;       // a handshake succeeded: EHLO/LHLO must come next
    bool secured_due = false;     // ... and a secured event
    bool failed = false;          // a handshake failed

    next_action resume(boost::system::error_code ec = {}, std::size_t n = 0)
    {
        next_action a = client.resume(ec, n);
        ++resumes;
        while (a.type() == action_type::handshake)
        {
            FUZZ_CHECK(cfg.starttls || cfg.tls_on_connect);
            FUZZ_CHECK(++handshakes == 1);  // one per connection
            if (cfg.tls_on_connect)
                FUZZ_CHECK(resumes == 1);  // the very first thing
            else
                FUZZ_CHECK(last_write == "STARTTLS\r\n");
            a = client.resume(result, 0);
            if (result)
            {
                FUZZ_CHECK(a.type() == action_type::done && a.error() == result);
                failed = true;
            }
            else
            {
                FUZZ_CHECK(client.secured());
                hello_due = !cfg.tls_on_connect;
                secured_due = true;
            }
        }
        return a;
    }
    const client_event& event() const noexcept { return client.event(); }
    void set_left(std::uint32_t left) noexcept { client.set_left(left); }
};

/// n in "BDAT n[ LAST]\r\n" at the start of `w`, the chunk after it, and whether it is the last.
struct bdat_chunk
{
    std::size_t size = 0;
    bool last = false;
    std::string_view data;
};
bdat_chunk parse_bdat(std::string_view w)
{
    bdat_chunk c;
    const auto crlf = w.find("\r\n");
    FUZZ_CHECK(crlf != std::string_view::npos);
    std::string_view line = w.substr(5, crlf - 5);  // after "BDAT "
    if (line.ends_with(" LAST"))
    {
        c.last = true;
        line.remove_suffix(5);
    }
    FUZZ_CHECK(!line.empty() && line.size() <= 19 && line[0] != '0');
    for (char d : line)
    {
        FUZZ_CHECK(d >= '0' && d <= '9');
        c.size = c.size * 10 + static_cast<std::size_t>(d - '0');
    }
    c.data = w.substr(crlf + 2);
    FUZZ_CHECK(c.data.size() == c.size);
    return c;
}

/// The parameters of a "MAIL FROM:<foo@vm>..." line at the start of `w`: each must be asked
/// for; SIZE='s value in `size` (or npos).
void check_mail_params(std::string_view w, const client_config& cfg, bool chunked, std::size_t& size)
{
    constexpr std::string_view mail = "MAIL FROM:<foo@vm>";
    FUZZ_CHECK(w.starts_with(mail));
    std::string_view params = w.substr(mail.size(), w.find("\r\n") - mail.size());
    size = std::string_view::npos;
    while (!params.empty())
    {
        FUZZ_CHECK(params[0] == ' ');
        params.remove_prefix(1);
        const std::string_view p = params.substr(0, params.find(' '));
        params.remove_prefix(p.size());
        if (p == "BODY=8BITMIME")
            FUZZ_CHECK(cfg.eightbitmime);
        else if (p == "BODY=BINARYMIME")
            FUZZ_CHECK(cfg.binarymime && chunked);
        else if (p == "SMTPUTF8")
            FUZZ_CHECK(cfg.smtputf8);
        else
        {
            FUZZ_CHECK(cfg.size && p.starts_with("SIZE=") && p.size() > 5 && p.size() <= 25);
            size = 0;
            for (char d : p.substr(5))
            {
                FUZZ_CHECK(d >= '0' && d <= '9');
                size = size * 10 + static_cast<std::size_t>(d - '0');
            }
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    fuzz::input in(data, size);
    const std::uint8_t flags = in.byte(), counts = in.byte(), len = in.byte();
    const std::uint8_t seed = in.byte(), mode = in.byte(), end = in.byte();
    const std::uint8_t esmtp = in.byte(), more = in.byte();
    client_config cfg;
    cfg.lmtp = flags & 1;
    cfg.send_helo = !(flags & 2);
    cfg.keep_alive = flags & 4;
    cfg.ignore_rejects = flags & 8;
    cfg.trace = flags & 16;
    cfg.replies = flags & 32;
    cfg.pipelining = flags & 64;
    cfg.pipeline_next = !(flags & 128);
    cfg.ehlo = esmtp & 1;
    cfg.starttls = esmtp & 2;
    cfg.tls_on_connect = esmtp & 4;
    cfg.chunking = esmtp & 8;
    cfg.binarymime = esmtp & 16;
    cfg.eightbitmime = esmtp & 32;
    cfg.smtputf8 = esmtp & 64;
    cfg.size = esmtp & 128;
    cfg.auth = static_cast<auth_mechanism>(more & 3);
    cfg.auth_user = "joe";
    cfg.auth_password = std::string(password);
    const unsigned k = more >> 4;
    cfg.chunk_size = k * k;
    cfg.helo_name = "vm";
    cfg.sender = "foo@vm";
    cfg.recipient = "foo@vm";
    cfg.rcpt_count = 1 + (counts & 3);
    cfg.numbering = static_cast<rcpt_numbering>(counts >> 2 & 3);
    const unsigned claimable = counts >> 4;
    message_options mo;
    mo.sender = cfg.sender;
    mo.myhostname = "vm";
    mo.date = "Tue, 24 Nov 2026 09:02:10 +0000 (UTC)";
    mo.pid = 0x7aeb;
    mo.headers = cfg.send_helo;
    mo.length = len * 8u;
    const message_builder builder(mo);
    const std::string_view bytes = in.rest();
    boost::system::error_code handshake_result;
    switch (more >> 2 & 3)
    {
    case 0: break;
    case 1: handshake_result = errc::make_error_code(errc::connection_reset); break;
    case 2: handshake_result = mailload::error::timeout; break;
    case 3: handshake_result = errc::make_error_code(errc::protocol_error); break;
    }
    // SIZE= is the headers and content() as sent; with appended numbering, with 20 digits for the
    // number (drawn later, with the RCPTs, of at least one digit)
    const bool appended = cfg.numbering == rcpt_numbering::append_sequence;
    auto size_fits = [&](std::size_t declared, std::size_t sent) {
        return appended ? declared >= sent && declared <= sent + 19 : declared == sent;
    };

    fuzz::peer_plan plan;
    plan.bytes = bytes;
    plan.split = fuzz::splitter(seed, mode);
    // each reply (at least one byte) lets it take a few steps; so does each claimed message,
    // and each BDAT chunk of it (pipelined chunks need no reply)
    const std::size_t message_bytes = 256 + builder.content().size();
    const std::size_t chunks = cfg.chunk_size ? message_bytes / cfg.chunk_size + 1 : 1;
    plan.max_actions = 64 + 16 * (bytes.size() + claimable) + 4 * (claimable + 1) * chunks;
    switch (end % 4)
    {
    case 0: break;
    case 1: plan.end_ec = errc::make_error_code(errc::connection_reset); break;
    case 2: plan.end_ec = errc::make_error_code(errc::timed_out); break;
    case 3: plan.fail_write = end >> 2; break;
    }

    std::atomic<std::uint64_t> seq{0};
    auto client = std::make_unique<smtp_client>(cfg, builder, seq);
    fuzz::run_result first;
    std::vector<recorded> first_events;
    bool first_starttls = false;  // the first round's STARTTLS dropped what it had read after the 220
    for (int round = 0; round < 2; ++round)
    {
        seq = 0;
        client->start(3, claimable);
        with_tls algo{*client, cfg, handshake_result};
        const client_stats before = client->stats();
        std::vector<recorded> events;
        unsigned claimed = 0, asked = 0;
        std::size_t write_no = 0, bodies = 0, rcpt_lines = 0, bdat_writes = 0, bdat_failed = 0;
        std::size_t declared = std::string_view::npos;  // SIZE= of the latest MAIL
        std::string chunked_message;                    // the chunks since the latest MAIL
        plan.on_write = [&](std::string_view w) {
            algo.last_write = w;
            const bool failed = plan.fail_write && *plan.fail_write == write_no;
            ++write_no;
            for (auto at = w.find("RCPT TO:<"); at != std::string_view::npos;
                 at = w.find("RCPT TO:<", at + 1))
                ++rcpt_lines;
            if (algo.hello_due)
            {
                FUZZ_CHECK(w == "EHLO vm\r\n" || w == "LHLO vm\r\n");
                algo.hello_due = false;
            }
            if (w.starts_with("BDAT "))  // one chunk
            {
                ++bdat_writes;
                bdat_failed += failed;  // not a chunk sent
                FUZZ_CHECK(cfg.chunking && algo.client.chunked());
                const bdat_chunk c = parse_bdat(w);
                if (cfg.chunk_size)
                    FUZZ_CHECK(c.last ? c.size <= cfg.chunk_size : c.size == cfg.chunk_size);
                chunked_message += c.data;
                if (c.last)
                {
                    FUZZ_CHECK(std::string_view(chunked_message).ends_with(builder.content()));
                    if (mo.headers)
                        FUZZ_CHECK(chunked_message.starts_with("From: <foo@vm>\r\n"));
                    else
                        FUZZ_CHECK(chunked_message == builder.content());
                    if (declared != std::string_view::npos)
                        FUZZ_CHECK(size_fits(declared, chunked_message.size()));
                    chunked_message.clear();
                    if (!failed)
                        ++bodies;
                }
                return;
            }
            FUZZ_CHECK(w.size() >= 3 && w.ends_with("\r\n"));
            FUZZ_CHECK(w.find("\r\n") != 0);  // no empty command
            const auto body_at = w.find(builder.body());
            if (body_at != std::string_view::npos)  // a message (headers first), maybe commands after
            {
                if (!failed)
                    ++bodies;
                if (declared != std::string_view::npos)
                    FUZZ_CHECK(size_fits(declared, body_at + builder.content().size()));
            }
            const std::string_view commands = body_at == std::string_view::npos
                                                  ? w
                                                  : w.substr(body_at + builder.body().size());
            if (commands.starts_with("MAIL FROM:<"))
            {
                check_mail_params(commands, cfg, algo.client.chunked(), declared);
                chunked_message.clear();
            }
            const bool message = w.find("\r\n.\r\n") != std::string_view::npos || w.starts_with(".\r\n");
            if (!message)  // commands only: printable lines
                for (std::string_view l = w; !l.empty();)
                {
                    const auto crlf = l.find("\r\n");
                    FUZZ_CHECK(
                        crlf != std::string_view::npos && crlf > 0 && fuzz::all_printable(l.substr(0, crlf))
                    );
                    l.remove_prefix(crlf + 2);
                }
        };
        const fuzz::run_result r = fuzz::drive(
            algo,
            plan,
            [&](with_tls& a) {
                const client_event& e = a.event();
                fuzz::touch(e.text);
                FUZZ_CHECK(e.code >= 0 && e.code <= 999);
                FUZZ_CHECK(static_cast<std::size_t>(e.stage) < client_stage_count);
                FUZZ_CHECK(a.secured_due == (e.kind == client_event::secured));  // at once, and only then
                a.secured_due = false;
                if (e.kind == client_event::sent)  // a command, or a pipelined batch: lines joined by CR LF
                {
                    FUZZ_CHECK(cfg.trace && !e.text.ends_with("\r\n"));
                    for (std::string_view l = e.text;;)
                    {
                        const auto crlf = l.find("\r\n");
                        FUZZ_CHECK(crlf != 0 && !l.empty() && fuzz::all_printable(l.substr(0, crlf)));
                        if (crlf == std::string_view::npos)
                            break;
                        l.remove_prefix(crlf + 2);
                    }
                    for (auto secret : secrets)
                        FUZZ_CHECK(e.text.find(secret) == std::string_view::npos);
                }
                if (e.kind == client_event::reply)
                    FUZZ_CHECK(cfg.trace || cfg.replies);
                if (e.kind == client_event::rejected)
                    FUZZ_CHECK(cfg.ignore_rejects);
                if (e.kind == client_event::not_announced)
                    FUZZ_CHECK(cfg.ignore_rejects && !e.text.empty() && fuzz::all_printable(e.text));
                events.push_back({e.kind, e.stage, e.code, std::string(e.text)});
            },
            [&](with_tls& a) -> boost::system::error_code {
                ++asked;
                FUZZ_CHECK(cfg.keep_alive);  // without -d one message per connection
                if (claimed == claimable)
                    return mailload::error::no_more_messages;
                ++claimed;
                a.set_left(claimable - claimed);
                return {};
            }
        );
        const client_stats& st = client->stats();
        FUZZ_CHECK(asked <= claimable + 1);
        FUZZ_CHECK(!algo.secured_due);
        // lock-step (or batches): a write answers a reply, and a reply needs a LF; pipelined
        // BDAT chunks follow their batch without one
        const std::size_t lfs = static_cast<std::size_t>(
            std::count(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(r.delivered), '\n')
        );
        FUZZ_CHECK(r.writes - (client->pipelined() ? bdat_writes : 0) <= lfs);
        FUZZ_CHECK(st.chunks_sent - before.chunks_sent == bdat_writes - bdat_failed);
        std::size_t sent = 0, accepted = 0;
        for (const auto& e : events)
        {
            sent += e.kind == client_event::message_sent;
            accepted += e.kind == client_event::accepted;
        }
        FUZZ_CHECK(st.messages_sent - before.messages_sent == sent);
        FUZZ_CHECK(st.messages_accepted - before.messages_accepted == accepted);
        FUZZ_CHECK(accepted <= sent && sent <= claimed + 1);
        FUZZ_CHECK(
            st.recipients_accepted - before.recipients_accepted <= st.recipients_sent - before.recipients_sent
        );
        FUZZ_CHECK(st.messages_accepted <= st.messages_sent);
        FUZZ_CHECK(st.messages_sent - before.messages_sent == bodies);  // counted once written, not before
        FUZZ_CHECK(st.recipients_sent - before.recipients_sent == rcpt_lines);
        if (r.last.type() == action_type::done)
        {
            FUZZ_CHECK(r.last.error());
            const std::string why = client->failure_message(r.last.error());
            FUZZ_CHECK(!why.empty());
            if (r.last.error() == mailload::error::rejected)
                FUZZ_CHECK(!cfg.ignore_rejects);
            if (r.last.error() == mailload::error::not_announced)
                FUZZ_CHECK(!cfg.ignore_rejects && why.starts_with("server does not announce "));
            if (algo.failed)
                FUZZ_CHECK(why.ends_with(" while performing the TLS handshake"));
        }
        if (algo.failed)
            FUZZ_CHECK(r.last.type() == action_type::done && r.last.error() == handshake_result);
        if (round == 0)
        {
            first = r;
            first_events = std::move(events);
            first_starttls = algo.handshakes && !cfg.tls_on_connect;
        }
        else if (!plan.fail_write && !first_starttls)
        {
            FUZZ_CHECK(r.written == first.written);
            FUZZ_CHECK(events == first_events);
            FUZZ_CHECK(r.last == first.last);
        }
        plan.split = fuzz::splitter::whole();
    }
    return 0;
}
