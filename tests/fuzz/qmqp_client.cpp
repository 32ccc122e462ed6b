// SPDX-License-Identifier: BSL-1.0
// tests/fuzz/qmqp_client.cpp — sansio::qmqp_client (qmqp-source's side) driven by arbitrary server bytes
//
// Input: [split seed][split mode][length][recipients][end mode] then the server's bytes.
// Checks: the request is well formed (one netstring holding the message, sender and recipient
// netstrings; parts() are its pieces; the message is `length` bytes ending in LF); the action
// protocol (fuzz::drive); the client writes exactly the request, once, then reads one reply
// netstring of at most max_reply bytes, and the outcome follows from the netstring rules on the
// whole input, whatever the split: 'K' accepted then close, anything else done(rejected) with
// Postfix's words, a bad netstring done with its error, an unfinished one the read error.
// The same object after start() behaves the same with the bytes whole.

#include <mailload/sansio/qmqp.hpp>

#include <boost/system/errc.hpp>

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

// Splits a netstring sequence into its items (all must be complete and well formed).
std::vector<std::string> items(std::string_view s)
{
    std::vector<std::string> out;
    while (!s.empty())
    {
        netstring_reader r(~std::uint64_t(0));
        boost::system::error_code ec;
        const std::size_t used = r.feed(s, ec);
        FUZZ_CHECK(!ec && r.done());
        out.emplace_back(r.data());
        s.remove_prefix(used);
    }
    return out;
}

void check_request(const qmqp_request& q, const client_config& c, std::size_t length)
{
    const auto outer = items(q.bytes());
    FUZZ_CHECK(outer.size() == 1);
    const auto& p = q.parts();
    FUZZ_CHECK(p[0].data() + p[0].size() == p[1].data() && p[1].data() + p[1].size() == p[2].data());
    FUZZ_CHECK(std::string(p[0]) + std::string(p[1]) + std::string(p[2]) == outer[0]);
    const auto msg = items(p[0]);
    FUZZ_CHECK(
        msg.size() == 1 && msg[0].size() == length && q.message_size() == length && msg[0].back() == '\n'
    );
    const auto sender = items(p[1]);
    FUZZ_CHECK(sender.size() == 1 && sender[0] == c.sender);
    const auto rcpts = items(p[2]);
    FUZZ_CHECK(rcpts.size() == (c.rcpt_count > 1 ? c.rcpt_count : 1));
    if (c.rcpt_count <= 1)
        FUZZ_CHECK(rcpts[0] == c.recipient);
    else
        for (std::size_t i = 0; i < rcpts.size(); ++i)
            FUZZ_CHECK(rcpts[i] == std::to_string(i) + c.recipient);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    fuzz::input in(data, size);
    const std::uint8_t seed = in.byte(), mode = in.byte(), len = in.byte(), rc = in.byte(), end = in.byte();
    client_config cfg;
    cfg.sender = "foo@vm";
    cfg.recipient = "foo@vm";
    cfg.rcpt_count = 1 + rc % 4;
    message_options mo;
    mo.sender = cfg.sender;
    mo.myhostname = "vm";
    mo.date = "Tue, 24 Nov 2026 09:04:19 +0000 (UTC)";
    mo.pid = 3777;
    mo.length = len == 0 ? 0 : len * 8u;  // 0: the default 1024; short lengths cut into the headers
    const std::size_t length = mo.length ? mo.length : 1024;
    const qmqp_request request(cfg, mo);
    check_request(request, cfg, length);

    const std::string_view bytes = in.rest();
    netstring_reader ref(qmqp_client::max_reply);
    boost::system::error_code ref_ec;
    ref.feed(bytes, ref_ec);

    fuzz::peer_plan plan;
    plan.bytes = bytes;
    plan.split = fuzz::splitter(seed, mode);
    plan.max_actions = 16 + 2 * bytes.size();
    switch (end % 4)
    {
    case 0: break;
    case 1: plan.end_ec = errc::make_error_code(errc::connection_reset); break;
    case 2: plan.end_ec = errc::make_error_code(errc::timed_out); break;
    case 3: plan.fail_write = 0; break;
    }
    const boost::system::error_code read_end = mailload::peer_result(plan.end_ec, true);

    std::atomic<std::uint64_t> seq{0};
    auto client = std::make_unique<qmqp_client>(cfg, request, seq);
    for (int round = 0; round < 2; ++round)
    {
        client->start(3, 0);
        const client_stats before = client->stats();
        std::vector<client_event::kind_t> kinds;
        std::string reply;
        const fuzz::run_result r = fuzz::drive(
            *client,
            plan,
            [&](qmqp_client& c) {
                const client_event& e = c.event();
                fuzz::touch(e.text);
                kinds.push_back(e.kind);
                if (e.kind == client_event::reply)
                {
                    reply = e.text;
                    FUZZ_CHECK(e.code == (e.text.empty() ? 0 : static_cast<unsigned char>(e.text[0])));
                }
            },
            fuzz::no_more{}
        );
        const client_stats& st = client->stats();
        const std::string failure = r.last.error() ? client->failure_message(r.last.error()) : std::string();
        FUZZ_CHECK(r.writes == 1 && r.written == request.bytes());
        if (plan.fail_write)
        {
            FUZZ_CHECK(
                r.last.type() == action_type::done && r.last.error() == mailload::error::lost_connection
            );
            FUZZ_CHECK(kinds.empty() && r.reads == 0);
            FUZZ_CHECK(failure == "lost connection while sending message");
        }
        else if (!ref.done())
        {
            FUZZ_CHECK(r.last.type() == action_type::done);
            FUZZ_CHECK(r.last.error() == (ref_ec ? ref_ec : read_end));
            FUZZ_CHECK(kinds == std::vector<client_event::kind_t>{client_event::message_sent});
            FUZZ_CHECK(failure.ends_with(" while receiving server reply"));
        }
        else
        {
            FUZZ_CHECK(st.messages_sent == before.messages_sent + 1);
            FUZZ_CHECK(reply == ref.data());
            if (ref.data().starts_with('K'))
            {
                FUZZ_CHECK(r.last.type() == action_type::close);
                FUZZ_CHECK(
                    (kinds ==
                     std::vector<client_event::kind_t>{
                         client_event::message_sent,
                         client_event::reply,
                         client_event::accepted})
                );
                FUZZ_CHECK(st.messages_accepted == before.messages_accepted + 1);
                FUZZ_CHECK(st.bytes_accepted == before.bytes_accepted + length);
            }
            else
            {
                FUZZ_CHECK(r.last.type() == action_type::done && r.last.error() == mailload::error::rejected);
                FUZZ_CHECK(
                    (kinds ==
                     std::vector<client_event::kind_t>{client_event::message_sent, client_event::reply})
                );
                FUZZ_CHECK(st.messages_accepted == before.messages_accepted);
                FUZZ_CHECK(
                    st.rejected[static_cast<std::size_t>(client_stage::dot)] ==
                    before.rejected[static_cast<std::size_t>(client_stage::dot)] + 1
                );
                const std::string_view text = ref.data().substr(ref.data().empty() ? 0 : 1);
                const char* what = ref.data().starts_with('Z')   ? "recoverable error: "
                                   : ref.data().starts_with('D') ? "unrecoverable error: "
                                                                 : "unknown error: ";
                FUZZ_CHECK(failure == what + std::string(text));
            }
        }
        plan.split = fuzz::splitter::whole();
    }
    return 0;
}
