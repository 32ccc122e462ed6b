// SPDX-License-Identifier: BSL-1.0
// reply-callback — a source driven from code, with a callback for every reply
//
//   reply-callback host:port [messages]
//
// Sends `messages` (default 2) messages over one SMTP session, each on its own connection, and
// prints every reply as it arrives — its stage, code and text — then a line per stage and code.
// An observer sees what the source sees: here `on_event` gets each reply, `on_accepted` each
// accepted message's latency. Callbacks run on the source's thread (under the thread_pool or
// thread_per_session policy, on each of its threads), so this one needs no lock.

#include <mailload/mailload.hpp>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>

namespace {

struct reply_printer {
    std::uint64_t accepted = 0;

    void on_event(const mailload::sansio::client_event& e) {
        if (e.kind != mailload::sansio::client_event::reply) return;  // also: sent, accepted, ...
        const auto stage = mailload::sansio::client_stage_names[static_cast<std::size_t>(e.stage)];
        // e.code is the reply's code; e.text the whole reply (a multi-line one '\n'-joined).
        std::printf("%-8.*s %.*s\n", static_cast<int>(stage.size()), stage.data(), static_cast<int>(e.text.size()),
                    e.text.data());
    }
    void on_accepted(std::uint64_t /*latency_ns*/) { ++accepted; }
};

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2 || argc > 3) {
        std::fprintf(stderr, "usage: %s host:port [messages]\n", argv[0]);
        return 1;
    }
    mailload::source_options o;
    o.messages = argc == 3 ? std::strtoull(argv[2], nullptr, 10) : 2;
    o.client.helo_name = o.message.myhostname = "reply-callback.test";
    o.client.sender = o.client.recipient = o.message.sender = "load@reply-callback.test";
    o.message.date = mailload::sansio::mail_date(std::time(nullptr), false);

    mailload::source<mailload::smtp, mailload::inet_any, mailload::single_thread, mailload::no_pacing> load{o};
    reply_printer printer;
    const auto report = load.run(argv[1], printer);

    report.replies.for_each([](mailload::sansio::client_stage stage, int code, std::uint64_t n) {
        const auto name = mailload::sansio::client_stage_names[static_cast<std::size_t>(stage)];
        std::printf("total %.*s %d: %llu\n", static_cast<int>(name.size()), name.data(), code,
                    static_cast<unsigned long long>(n));
    });
    std::printf("accepted: %llu of %llu\n", static_cast<unsigned long long>(printer.accepted),
                static_cast<unsigned long long>(o.messages));
    if (!report) std::fprintf(stderr, "%s: fatal: %s\n", argv[0], report.what.c_str());
    return report ? 0 : 1;
}
