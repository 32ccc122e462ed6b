// SPDX-License-Identifier: BSL-1.0
// my_tool.cpp: the program every consumer project under tests/consumers/ builds, however it found mailload
// (find_package, add_subdirectory, a Meson subproject, pkg-config, -I single_include): a sink on
// an ephemeral 127.0.0.1 port and a source sending it 20 messages over 2 sessions, in one process.
// Exit status 0 and "consumer: mailload X.Y.Z, 20 accepted, 20 received" when both sides agree.

#include <mailload/mailload.hpp>

#include <cstdio>
#include <string>
#include <thread>

int main() {
    using namespace mailload;
    constexpr std::uint64_t messages = 20;

    sink_options so;
    so.stop_after_messages = messages;  // the sink stops by itself once it has answered them all
    sink<smtp, inet4> receiver{so};
    if (auto err = receiver.listen("127.0.0.1:0"); !err.empty()) {
        std::fprintf(stderr, "consumer: %s\n", err.c_str());
        return 1;
    }
    sink_report received;
    std::thread serving([&] { received = receiver.run(); });

    source_options o;
    o.messages = messages;
    o.sessions = 2;
    o.timeout = std::chrono::seconds(30);
    o.client.helo_name = o.message.myhostname = "consumer.test";
    o.client.sender = o.client.recipient = o.message.sender = "load@consumer.test";
    source<smtp, inet4, single_thread, no_pacing> load{o};
    const auto sent = load.run("127.0.0.1:" + std::to_string(receiver.local_endpoint().port()));
    if (!sent) receiver.stop();  // a failed run would leave the sink waiting for the rest
    serving.join();

    std::printf("consumer: mailload %s, %llu accepted, %llu received\n", version,
                static_cast<unsigned long long>(sent.totals.messages_accepted),
                static_cast<unsigned long long>(received.totals.messages));
    if (!sent) std::fprintf(stderr, "consumer: %s\n", sent.what.c_str());
    return sent && sent.totals.messages_accepted == messages && received.totals.messages == messages ? 0 : 1;
}
