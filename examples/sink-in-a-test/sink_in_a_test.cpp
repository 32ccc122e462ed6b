// SPDX-License-Identifier: BSL-1.0
// sink-in-a-test — a mailload::sink embedded in a Boost.Test case that asserts on the messages
// it received
//
// The code under test is `send_report()`, a stand-in for an application's mail notifier: plain
// blocking Asio, one message, SMTP lock-step. Each test starts a sink on an ephemeral 127.0.0.1
// port, lets the application send to it, and checks the envelope and the content the sink saw.
// The sink stops by itself once the session has ended, so joining its thread is all
// the synchronisation there is; a 30 s deadline stops it if the application never comes.
//
// Build: g++ -std=c++20 -I single_include examples/sink-in-a-test/sink_in_a_test.cpp -pthread
// Run:   ./sink-in-a-test            (Boost.Test's options apply: --log_level=all, ...)

#define BOOST_TEST_MODULE sink_in_a_test
#include <boost/test/included/unit_test.hpp>

#include <mailload/mailload.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include <chrono>
#include <istream>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace net = boost::asio;

// ---- the application code under test --------------------------------------------------------

/// Sends one report to `to`; returns "" or the reply that stopped it.
std::string send_report(unsigned short port, const std::string& to, const std::string& text) {
    net::io_context io;
    net::ip::tcp::socket s(io);
    s.connect({net::ip::make_address("127.0.0.1"), port});
    net::streambuf in;
    std::string last;
    auto reply = [&] {  // the code of one (possibly multi-line) reply
        std::istream lines(&in);
        do {
            net::read_until(s, in, "\r\n");
            std::getline(lines, last);
        } while (last.size() > 3 && last[3] == '-');
        return std::stoi(last.substr(0, 3));
    };
    auto say = [&](const std::string& line) {
        net::write(s, net::buffer(line + "\r\n"));
        return reply();
    };
    std::string result;
    if (reply() != 220 || say("HELO app.example") != 250 || say("MAIL FROM:<app@example.com>") != 250 ||
        say("RCPT TO:<" + to + ">") != 250 || say("DATA") != 354 ||
        say("Subject: nightly report\r\n\r\n" + text + "\r\n.") != 250)
        result = last;
    say("QUIT");
    return result;
}

// ---- what the test sees ------------------------------------------------------------------------

struct received_message {
    std::string sender;
    std::vector<std::string> recipients;
    std::string content;  // as received: dot-stuffed, "\r\n.\r\n" included
};

/// A sink observer: its callbacks run on the sink's thread, which the test joins before looking.
struct mailbox {
    std::vector<received_message> messages;
    received_message current;

    void on_event(const mailload::session_info&, const mailload::sansio::server_event& ev) {
        using event = mailload::sansio::server_event;
        switch (ev.kind) {
        case event::mail: current = {std::string(ev.args), {}, {}}; break;
        case event::rcpt: current.recipients.emplace_back(ev.args); break;
        case event::content: current.content += ev.text; break;
        case event::message: messages.push_back(std::move(current)); break;
        default: break;
        }
    }
};

/// A sink on 127.0.0.1:<ephemeral> serving on its own thread until it stops by itself.
struct running_sink {
    mailload::sink<mailload::smtp, mailload::inet4> sink;
    mailbox box;
    mailload::sink_report report;
    std::thread thread;

    explicit running_sink(mailload::sink_options o) : sink(with_defaults(std::move(o))) {
        const auto err = sink.listen("127.0.0.1:0");
        BOOST_TEST_REQUIRE(err.empty(), err);
        thread = std::thread([this] { report = sink.run(box); });
    }
    ~running_sink() {
        if (thread.joinable()) thread.join();
    }
    unsigned short port() const { return sink.local_endpoint().port(); }
    void wait() { thread.join(); }

    static mailload::sink_options with_defaults(mailload::sink_options o) {
        o.server.content = true;                          // content events for the mailbox
        o.stop_after_time = std::chrono::seconds(30);     // the test's deadline
        return o;
    }
};

}  // namespace

BOOST_AUTO_TEST_CASE(the_report_arrives_as_sent) {
    mailload::sink_options o;
    o.stop_after_sessions = 1;  // smtp-sink -n 1: after the application's QUIT
    running_sink sink{o};

    BOOST_TEST(send_report(sink.port(), "ops@example.com", "all green\r\n.hidden line") == "");
    sink.wait();

    BOOST_TEST(sink.report.totals.quits == 1u);
    BOOST_TEST(sink.report.totals.messages == 1u);
    BOOST_TEST(sink.report.totals.recipients == 1u);
    BOOST_TEST_REQUIRE(sink.box.messages.size() == 1u);
    const auto& m = sink.box.messages.front();
    BOOST_TEST(m.sender == "<app@example.com>");
    BOOST_TEST(m.recipients == std::vector<std::string>{"<ops@example.com>"}, boost::test_tools::per_element());
    // The application forgot to dot-stuff ".hidden line": the sink shows what really went over.
    BOOST_TEST(m.content == "Subject: nightly report\r\n\r\nall green\r\n.hidden line\r\n.\r\n");
    BOOST_TEST(sink.report.totals.data_bytes == m.content.size());
}

BOOST_AUTO_TEST_CASE(a_rejected_recipient_reaches_the_application) {
    mailload::sink_options o;
    o.stop_after_sessions = 1;
    o.server.hard.add(mailload::sansio::smtp_command::rcpt);  // smtp-sink -f rcpt
    running_sink sink{o};

    BOOST_TEST(send_report(sink.port(), "ops@example.com", "all green") == "500 5.3.0 Error: command failed\r");
    sink.wait();

    BOOST_TEST(sink.report.totals.sessions == 1u);
    BOOST_TEST(sink.report.totals.quits == 1u);
    BOOST_TEST(sink.box.messages.empty());
}
