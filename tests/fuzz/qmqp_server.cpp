// SPDX-License-Identifier: BSL-1.0
// tests/fuzz/qmqp_server.cpp — sansio::qmqp_server (qmqp-sink's side) driven by arbitrary client bytes
//
// Input: [split seed][split mode][limit][end mode] then the client's bytes.
// Checks: the action protocol (fuzz::drive: non-empty reads, non-empty writes, no read after
// the end of the stream, bounded actions); the outcome is what the netstring rules say of the
// whole input, whatever the split: a complete request gives one `message` event with its
// declared size, then "3:KOk," and close; a malformed or over-long one ends with that
// netstring error and no reply; an unfinished one with the read error (end of stream: lost
// connection). Stats agree. The same object after start() behaves the same with the bytes whole.

#include <mailload/sansio/qmqp.hpp>

#include <boost/system/errc.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"

namespace {

using namespace mailload::sansio;
namespace errc = boost::system::errc;

struct seen
{
    std::size_t messages = 0;
    std::uint64_t size = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    fuzz::input in(data, size);
    const std::uint8_t seed = in.byte(), mode = in.byte(), lim = in.byte(), end = in.byte();
    static constexpr std::uint64_t limits[] = {std::uint64_t(1) << 30, 0, 3, 100, 65536};
    server_config cfg;
    cfg.max_message_size = limits[lim % 5];
    const std::string_view bytes = in.rest();

    // What the netstring rules say of the whole input.
    netstring_reader ref(cfg.max_message_size, false);
    boost::system::error_code ref_ec;
    ref.feed(bytes, ref_ec);

    fuzz::peer_plan plan;
    plan.bytes = bytes;
    plan.split = fuzz::splitter(seed, mode);
    plan.max_actions = 16 + 2 * bytes.size();
    switch (end % 4)
    {
    case 0: break;  // end of stream
    case 1: plan.end_ec = errc::make_error_code(errc::connection_reset); break;
    case 2: plan.end_ec = errc::make_error_code(errc::timed_out); break;
    case 3: plan.fail_write = 0; break;  // the reply cannot be written
    }
    const boost::system::error_code read_end = mailload::peer_result(plan.end_ec, true);

    auto server = std::make_unique<qmqp_server>(cfg, 1);
    for (int round = 0; round < 2; ++round)
    {
        server->start();
        seen s;
        const auto before = server->stats();
        const fuzz::run_result r = fuzz::drive(
            *server,
            plan,
            [&](qmqp_server& a) {
                FUZZ_CHECK(a.event().kind == server_event::message);
                ++s.messages;
                s.size = a.event().size;
            },
            fuzz::no_more{}
        );
        const auto& st = server->stats();
        FUZZ_CHECK(st.messages - before.messages == s.messages);
        FUZZ_CHECK(st.data_bytes - before.data_bytes == r.delivered);
        if (ref.done())
        {
            FUZZ_CHECK(s.messages == 1 && s.size == ref.size() && server->declared_size() == ref.size());
            FUZZ_CHECK(r.written == "3:KOk,");
            if (plan.fail_write)
            {
                FUZZ_CHECK(
                    r.last.type() == mailload::sansio::action_type::done &&
                    r.last.error() == mailload::error::lost_connection && server->failed_while_writing()
                );
                FUZZ_CHECK(st.answered == before.answered);
            }
            else
            {
                FUZZ_CHECK(
                    r.last.type() == mailload::sansio::action_type::close && !server->failed_while_writing()
                );
                FUZZ_CHECK(st.answered == before.answered + 1);
            }
        }
        else
        {
            FUZZ_CHECK(s.messages == 0 && r.written.empty() && r.writes == 0);
            FUZZ_CHECK(r.last.type() == mailload::sansio::action_type::done);
            FUZZ_CHECK(r.last.error() == (ref_ec ? ref_ec : read_end));
        }
        plan.split = fuzz::splitter::whole();  // round 2: the same object, the bytes whole
    }
    return 0;
}
