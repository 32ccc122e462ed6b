// SPDX-License-Identifier: BSL-1.0
// tests/fuzz/smtp_client.cpp — sansio::smtp_client (smtp-source) with varied flags, driven by arbitrary
// server bytes
//
// Input: a 6-byte header (a short input reads as zeros: smtp-source's defaults), then the
// server's bytes.
//   0  flags: 1 -L lmtp, 2 -o (no HELO, no headers), 4 -d keep alive, 8 -A ignore rejects,
//      16 -v trace, 32 reply events, 64 pipelining (EHLO), 128 no pipeline_next
//   1  bits 0-1: recipients - 1; bits 2-3: numbering (off, countdown, sequence, appended);
//      bits 4-7: messages the driver lets it claim at next_message
//   2  message length / 8 (0: the four "La de da" lines)
//   3  split seed   4 split mode (0: whole reads)
//   5  end: 0 end of stream, 1 reset, 2 timeout, 3 the write given by bits 2-7 fails
// Checks: the action protocol (fuzz::drive: non-empty reads and writes, nothing read after the
// end of the stream, a bounded number of actions per input byte and claimed message); every
// write is whole printable command lines ending in CR LF, or a message with its end marker
// (pipelined: and the commands sent with it); no more writes than LFs received; at most
// one next_message answered per message; events: message_sent and accepted as many as the
// stats say, accepted never more than sent, reply codes 0..999, sent events only with trace and
// printable (a pipelined batch: its lines joined by CR LF);
// failure_message() of the final error can be built; stats stay consistent (accepted <= sent,
// recipients accepted <= sent, messages sent = message writes that succeeded, recipients sent =
// RCPT commands written). Differential: the same object after start() given the same
// bytes in whole reads writes the same bytes, reports the same events and ends the same way.

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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    fuzz::input in(data, size);
    const std::uint8_t flags = in.byte(), counts = in.byte(), len = in.byte();
    const std::uint8_t seed = in.byte(), mode = in.byte(), end = in.byte();
    client_config cfg;
    cfg.lmtp = flags & 1;
    cfg.send_helo = !(flags & 2);
    cfg.keep_alive = flags & 4;
    cfg.ignore_rejects = flags & 8;
    cfg.trace = flags & 16;
    cfg.replies = flags & 32;
    cfg.pipelining = flags & 64;
    cfg.pipeline_next = !(flags & 128);
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

    fuzz::peer_plan plan;
    plan.bytes = bytes;
    plan.split = fuzz::splitter(seed, mode);
    // each reply (at least one byte) lets it take a few steps; so does each claimed message
    plan.max_actions = 64 + 16 * (bytes.size() + claimable);
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
    for (int round = 0; round < 2; ++round)
    {
        seq = 0;
        client->start(3, claimable);
        const client_stats before = client->stats();
        std::vector<recorded> events;
        unsigned claimed = 0, asked = 0;
        std::size_t write_no = 0, bodies = 0, rcpt_lines = 0;
        plan.on_write = [&](std::string_view w) {
            for (auto at = w.find("RCPT TO:<"); at != std::string_view::npos;
                 at = w.find("RCPT TO:<", at + 1))
                ++rcpt_lines;
            if (!(plan.fail_write && *plan.fail_write == write_no++) &&
                w.find(builder.body()) != std::string_view::npos)
                ++bodies;
            FUZZ_CHECK(w.size() >= 3 && w.ends_with("\r\n"));
            FUZZ_CHECK(w.find("\r\n") != 0);  // no empty command
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
            *client,
            plan,
            [&](smtp_client& c) {
                const client_event& e = c.event();
                fuzz::touch(e.text);
                FUZZ_CHECK(e.code >= 0 && e.code <= 999);
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
                }
                if (e.kind == client_event::reply)
                    FUZZ_CHECK(cfg.trace || cfg.replies);
                if (e.kind == client_event::rejected)
                    FUZZ_CHECK(cfg.ignore_rejects);
                events.push_back({e.kind, e.stage, e.code, std::string(e.text)});
            },
            [&](smtp_client& c) -> boost::system::error_code {
                ++asked;
                FUZZ_CHECK(cfg.keep_alive);  // without -d one message per connection
                if (claimed == claimable)
                    return mailload::error::no_more_messages;
                ++claimed;
                c.set_left(claimable - claimed);
                return {};
            }
        );
        const client_stats& st = client->stats();
        FUZZ_CHECK(asked <= claimable + 1);
        // lock-step (or batches): a write answers a reply, and a reply needs a LF
        const std::size_t lfs = static_cast<std::size_t>(
            std::count(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(r.delivered), '\n')
        );
        FUZZ_CHECK(r.writes <= lfs);
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
        }
        if (round == 0)
        {
            first = r;
            first_events = std::move(events);
        }
        else if (!plan.fail_write)
        {
            FUZZ_CHECK(r.written == first.written);
            FUZZ_CHECK(events == first_events);
            FUZZ_CHECK(r.last == first.last);
        }
        plan.split = fuzz::splitter::whole();
    }
    return 0;
}
