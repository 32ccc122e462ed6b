// Test that header file is self-contained.
#include <mailload/sink.hpp>

#include <boost/test/unit_test.hpp>

// The policies, and the client the tests send mail with.
#include <mailload/protocol/smtp.hpp>
#include <mailload/source.hpp>
#include <mailload/transport/inet.hpp>
#include <mailload/transport/unix_domain.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <iterator>
#include <mutex>
#include <poll.h>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include "support/fake_smtp_server.hpp"

// The sink embedded in a program, as a library user would: run() on its own thread, a
// mailload::source (or a raw socket) as the client, stop() from the test's thread. Nothing
// here sleeps to synchronise: it waits on futures and conditions, each with a deadline.

namespace {

namespace fs = std::filesystem;
using namespace mailload;
using namespace std::chrono_literals;
using test_support::temp_dir;
using clock_type = std::chrono::steady_clock;

constexpr auto patience = 20s;  // how long anything may take before the test gives up

sink_options sink_opts()
{
    sink_options o;
    o.seed = 1;
    o.timeout = 20s;
    return o;
}

source_options source_opts(
    std::uint64_t messages,
    std::uint32_t sessions,
    bool keep_alive,
    std::uint32_t rcpts
)
{
    source_options o;
    o.messages = messages;
    o.sessions = sessions;
    o.timeout = 20s;
    o.client.keep_alive = keep_alive;
    o.client.rcpt_count = rcpts;  // -r
    o.client.helo_name = "test";
    o.client.sender = o.client.recipient = "foo@test";
    o.message.sender = "foo@test";
    o.message.myhostname = "test";
    o.message.date = "Thu,  1 Jan 1970 00:00:00 +0000 (UTC)";
    o.message.pid = 1;
    return o;
}

/// Sees what the sink reports, on the sink's thread; the test reads it under the lock.
struct observer
{
    std::mutex m;
    std::condition_variable cv;
    std::size_t messages = 0, contents = 0, resets = 0, connects = 0, open = 0, max_open = 0;
    std::vector<std::string> mail_args, rcpt_args;
    std::vector<session_info> sessions;
    std::vector<boost::system::error_code> disconnects;
    std::vector<clock_type::time_point> disconnect_times;
    std::function<void(const sansio::server_event&)> hook;  // called on the sink's thread

    template <class Socket>
    void on_connect(const session_info& info, Socket&)
    {
        std::lock_guard lock(m);
        ++connects;
        max_open = std::max(max_open, ++open);
        sessions.push_back(info);
        cv.notify_all();
    }
    void on_event(const session_info&, const sansio::server_event& e)
    {
        std::lock_guard lock(m);
        switch (e.kind)
        {
        case sansio::server_event::mail: mail_args.emplace_back(e.args); break;
        case sansio::server_event::rcpt: rcpt_args.emplace_back(e.args); break;
        case sansio::server_event::content: ++contents; break;
        case sansio::server_event::message: ++messages; break;
        case sansio::server_event::reset: ++resets; break;
        default: break;
        }
        if (hook)
            hook(e);
        cv.notify_all();
    }
    template <class Session>
    void on_disconnect(const session_info&, boost::system::error_code ec, const Session&)
    {
        std::lock_guard lock(m);
        --open;
        disconnects.push_back(ec);
        disconnect_times.push_back(clock_type::now());
        cv.notify_all();
    }

    /// Waits until `ready()` holds (checked under the lock); false after `patience`.
    template <class Pred>
    bool wait_until(Pred ready)
    {
        std::unique_lock lock(m);
        return cv.wait_for(lock, patience, ready);
    }
};

/// Runs a sink's run() on a thread of its own.
template <class Sink>
class runner
{
public:
    runner(Sink& sink, observer& obs) : sink_(sink)
    {
        std::packaged_task<sink_report()> task([&sink, &obs] { return sink.run(obs); });
        report_ = task.get_future();
        thread_ = std::thread(std::move(task));
    }
    runner(const runner&) = delete;
    runner& operator=(const runner&) = delete;
    ~runner()
    {
        if (thread_.joinable())
        {
            sink_.stop();
            join();
        }
    }

    /// True if run() returned within `d`.
    bool ended_within(clock_type::duration d) { return report_.wait_for(d) == std::future_status::ready; }

    /// stop(), then run()'s report.
    sink_report stop()
    {
        sink_.stop();
        return finish();
    }

    /// run()'s report, once it returned by itself.
    sink_report finish()
    {
        join();
        return report_.get();
    }

private:
    void join()
    {
        if (!ended_within(patience))
        {
            std::fputs("sink.cpp: the sink's run() does not return; giving up\n", stderr);
            std::abort();  // joining would hang the whole test program
        }
        thread_.join();
    }

    Sink& sink_;
    std::future<sink_report> report_;
    std::thread thread_;
};

/// A plain blocking unix-socket client with deadlines (poll), for dialogs the source does not have.
class raw_client
{
public:
    explicit raw_client(const std::string& path)
    {
        fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        std::memcpy(a.sun_path, path.c_str(), std::min(path.size(), sizeof a.sun_path - 1));
        connected_ = fd_ >= 0 && ::connect(fd_, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0;
    }
    raw_client(const raw_client&) = delete;
    raw_client& operator=(const raw_client&) = delete;
    ~raw_client()
    {
        if (fd_ >= 0)
            ::close(fd_);
    }

    bool connected() const noexcept { return connected_; }
    bool eof() const noexcept { return eof_; }

    bool send(std::string_view s)
    {
        while (!s.empty())
        {
            const ssize_t n = ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL);
            if (n <= 0)
                return false;
            s.remove_prefix(static_cast<std::size_t>(n));
        }
        return true;
    }

    /// Reads until what was read ends with `until` (empty: until the end of the stream), the
    /// peer closes, or `limit` passes; returns what was read.
    std::string read_until(std::string_view until, clock_type::duration limit = patience)
    {
        std::string got;
        const auto deadline = clock_type::now() + limit;
        while (until.empty() || !got.ends_with(until))
        {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - clock_type::now()
            );
            if (left.count() <= 0)
                break;
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
                continue;
            char buf[4096];
            const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
            if (n <= 0)
            {
                eof_ = true;
                break;
            }
            got.append(buf, static_cast<std::size_t>(n));
        }
        return got;
    }

private:
    int fd_ = -1;
    bool connected_ = false;
    bool eof_ = false;
};

std::vector<fs::path> files_under(const fs::path& dir)
{
    std::vector<fs::path> out;
    std::error_code ec;
    if (!fs::exists(dir, ec))
        return out;
    for (const auto& e : fs::recursive_directory_iterator(dir))
        if (e.is_regular_file())
            out.push_back(e.path());
    return out;
}

dump_options dump_to(std::string path_template)
{
    dump_options d;
    d.path_template = std::move(path_template);
    return d;
}

/// `s` with control bytes shown as \xNN (and CR, LF as \r, \n), for failure messages.
std::string visible(std::string_view s)
{
    std::string out;
    for (const char ch : s)
    {
        const auto c = static_cast<unsigned char>(ch);
        if (c == '\n')
            out += "\\n";
        else if (c == '\r')
            out += "\\r";
        else if (c < 0x20 || c >= 0x7f)
        {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        }
        else
            out += ch;
    }
    return out;
}

std::string slurp(const fs::path& p)
{
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

struct round_trip_result
{
    source_report source;
    sink_report sink;
};

/// Runs `k` on its thread, a source<Protocol, Transport> against `address`, then stops `k`.
template <class Protocol, class Transport>
round_trip_result round_trip(
    sink<Protocol, Transport>& k,
    observer& seen,
    const std::string& address,
    const source_options& so
)
{
    runner run(k, seen);
    source<Protocol, Transport> load(so);
    round_trip_result r;
    r.source = load.run(address);
    r.sink = run.stop();
    return r;
}

/// What a run of `n` messages with `rcpts` recipients each over `sessions` sessions must show.
void check_totals(
    const round_trip_result& r,
    observer& seen,
    std::uint64_t n,
    std::uint64_t rcpts,
    std::uint64_t sessions
)
{
    BOOST_TEST(!r.source.error, r.source.what);
    BOOST_TEST(r.source.totals.messages_accepted == n);
    BOOST_TEST(r.source.totals.recipients_accepted == n * rcpts);
    BOOST_TEST(!r.sink.error, r.sink.what);
    BOOST_TEST(r.sink.totals.messages == n);
    BOOST_TEST(r.sink.totals.recipients == n * rcpts);
    BOOST_TEST(r.sink.totals.sessions == sessions);
    BOOST_TEST(r.sink.totals.quits == sessions);
    BOOST_TEST(r.sink.totals.accepted == sessions);
    BOOST_TEST(r.sink.totals.data_bytes > 0u);
    std::lock_guard lock(seen.m);
    BOOST_TEST(seen.messages == n);
    BOOST_TEST(seen.mail_args == std::vector<std::string>(n, "<foo@test>"));
    BOOST_TEST(seen.rcpt_args == std::vector<std::string>(n * rcpts, "<foo@test>"));
    BOOST_TEST(seen.contents == 0u);  // no dumps: no content events
    BOOST_TEST(seen.disconnects == std::vector<boost::system::error_code>(sessions));  // every one after QUIT
}

}  // namespace

BOOST_AUTO_TEST_SUITE(sink_hpp)

BOOST_AUTO_TEST_CASE(smtp_over_a_unix_socket)
{
    temp_dir dir;
    const std::string path = (dir.path / "sink.sock").string();
    sink<smtp, unix_domain> k(sink_opts());
    BOOST_TEST_REQUIRE(k.listen("unix:" + path) == "");
    struct stat st
    {
    };
    BOOST_TEST_REQUIRE(::stat(path.c_str(), &st) == 0);
    BOOST_TEST((st.st_mode & 0777) == 0666u);  // world-writable, as Postfix's sinks make it
    observer seen;
    const auto r = round_trip(k, seen, "unix:" + path, source_opts(12, 2, true, 3));
    check_totals(r, seen, 12, 3, 2);
    std::lock_guard lock(seen.m);
    for (const auto& s : seen.sessions)
    {
        BOOST_TEST(s.peer == "local");
        BOOST_TEST(s.family == session_info::local);
    }
}

BOOST_AUTO_TEST_CASE(lmtp_over_a_unix_socket)
{
    temp_dir dir;
    const std::string path = (dir.path / "sink.sock").string();
    sink<lmtp, unix_domain> k(sink_opts());
    BOOST_TEST_REQUIRE(k.listen("unix:" + path) == "");
    observer seen;
    const auto r = round_trip(k, seen, "unix:" + path, source_opts(12, 2, true, 3));
    check_totals(r, seen, 12, 3, 2);
}

BOOST_AUTO_TEST_CASE(smtp_over_ipv4_on_an_ephemeral_port)
{
    sink<smtp, inet_any> k(sink_opts());
    BOOST_TEST_REQUIRE(k.listen("127.0.0.1:0") == "");
    const auto port = k.local_endpoint().port();
    BOOST_TEST(port != 0);
    BOOST_TEST(k.local_endpoint().address().to_string() == "127.0.0.1");
    observer seen;
    const auto r = round_trip(k, seen, "127.0.0.1:" + std::to_string(port), source_opts(6, 2, true, 3));
    check_totals(r, seen, 6, 3, 2);
    std::lock_guard lock(seen.m);
    for (const auto& s : seen.sessions)
    {
        BOOST_TEST(s.peer == "127.0.0.1");
        BOOST_TEST(s.family == session_info::inet4);
    }
}

BOOST_AUTO_TEST_CASE(smtp_over_ipv6_on_an_ephemeral_port)
{
    sink<smtp, inet_any> k(sink_opts());
    const std::string err = k.listen("[::1]:0");
    if (!err.empty())
    {
        BOOST_TEST_MESSAGE("no IPv6 loopback here, skipped: " << err);
        return;
    }
    const auto port = k.local_endpoint().port();
    BOOST_TEST(port != 0);
    BOOST_TEST(k.local_endpoint().address().to_string() == "::1");
    observer seen;
    const auto r = round_trip(k, seen, "[::1]:" + std::to_string(port), source_opts(6, 2, true, 3));
    check_totals(r, seen, 6, 3, 2);
    std::lock_guard lock(seen.m);
    for (const auto& s : seen.sessions)
    {
        BOOST_TEST(s.peer == "::1");
        BOOST_TEST(s.family == session_info::inet6);
    }
}

BOOST_AUTO_TEST_CASE(stop_after_messages_ends_run_after_the_last_reply)
{
    for (bool keep_alive : {true, false})
    {
        BOOST_TEST_CONTEXT("keep-alive " << keep_alive)
        {
            temp_dir dir;
            const std::string path = (dir.path / "sink.sock").string();
            auto o = sink_opts();
            o.stop_after_messages = 5;  // -M 5
            sink<smtp, unix_domain> k(o);
            BOOST_TEST_REQUIRE(k.listen("unix:" + path) == "");
            observer seen;
            runner run(k, seen);
            source<smtp, unix_domain> load(source_opts(5, 1, keep_alive, 2));
            const auto r = load.run("unix:" + path);
            BOOST_TEST(!r.error, r.what);  // every message answered, the QUIT may find the sink gone
            BOOST_TEST(r.totals.messages_accepted == 5u);
            BOOST_TEST_REQUIRE(run.ended_within(patience));  // no stop() needed
            const sink_report rep = run.finish();
            BOOST_TEST(!rep.error, rep.what);
            BOOST_TEST(rep.totals.messages == 5u);
            BOOST_TEST(rep.totals.recipients == 10u);
        }
    }
}

BOOST_AUTO_TEST_CASE(stop_after_sessions_ends_run)
{
    temp_dir dir;
    const std::string path = (dir.path / "sink.sock").string();
    auto o = sink_opts();
    o.stop_after_sessions = 3;  // -n 3
    sink<smtp, unix_domain> k(o);
    BOOST_TEST_REQUIRE(k.listen("unix:" + path) == "");
    observer seen;
    runner run(k, seen);
    source<smtp, unix_domain> load(source_opts(3, 1, false, 1));  // a connection per message
    const auto r = load.run("unix:" + path);
    BOOST_TEST(!r.error, r.what);
    BOOST_TEST(r.connections == 3u);
    BOOST_TEST_REQUIRE(run.ended_within(patience));
    const sink_report rep = run.finish();
    BOOST_TEST(!rep.error, rep.what);
    BOOST_TEST(rep.totals.sessions == 3u);
    BOOST_TEST(rep.totals.quits == 3u);
    BOOST_TEST(rep.totals.messages == 3u);
}

BOOST_AUTO_TEST_CASE(one_session_at_a_time_still_completes)
{
    temp_dir dir;
    const std::string path = (dir.path / "sink.sock").string();
    auto o = sink_opts();
    o.max_sessions = 1;  // -m 1: the others wait in the backlog
    sink<smtp, unix_domain> k(o);
    BOOST_TEST_REQUIRE(k.listen("unix:" + path) == "");
    observer seen;
    const auto r = round_trip(k, seen, "unix:" + path, source_opts(9, 3, false, 1));
    check_totals(r, seen, 9, 1, 9);
    std::lock_guard lock(seen.m);
    BOOST_TEST(seen.max_open == 1u);
    BOOST_TEST(seen.connects == 9u);
}

BOOST_AUTO_TEST_CASE(dumps_one_file_per_message)
{
    temp_dir dir;
    const std::string path = (dir.path / "sink.sock").string();
    auto o = sink_opts();
    o.dump = dump_to((dir.path / "dumps/%Y/m.").string());  // -d
    sink<smtp, unix_domain> k(o);
    BOOST_TEST_REQUIRE(k.listen("unix:" + path) == "");
    observer seen;
    runner run(k, seen);
    source<smtp, unix_domain> load(source_opts(7, 2, true, 2));
    const auto r = load.run("unix:" + path);
    BOOST_TEST(!r.error, r.what);
    const sink_report rep = run.stop();
    BOOST_TEST(!rep.error, rep.what);
    BOOST_TEST(rep.totals.messages == 7u);
    const auto dumps = files_under(dir.path / "dumps");
    BOOST_TEST(dumps.size() == 7u);
    for (const auto& d : dumps)
    {
        const std::string text = slurp(d);
        BOOST_TEST(
            text.starts_with(
                "X-Client-Addr: local\n"
                "X-Client-Proto: SMTP\n"
                "X-Helo-Args: test\n"
                "X-Mail-Args: <foo@test>\n"
                "X-Rcpt-Args: <foo@test>\n"
                "X-Rcpt-Args: <foo@test>\n"
                "Received: from test ([local])\n"
                "\tby smtp-sink (smtp-sink) with SMTP id " +
                d.filename().string().substr(2) + ";\n"
            ),
            visible(text.substr(0, 300))
        );
        BOOST_TEST(
            text.ends_with("La de da de da 4.\n\n"),
            visible(text.substr(text.size() > 100 ? text.size() - 100 : 0))
        );
        BOOST_TEST(text.find('\r') == std::string::npos);
    }
    std::lock_guard lock(seen.m);
    BOOST_TEST(seen.contents >= 7u);
}

BOOST_AUTO_TEST_CASE(stop_mid_data_leaves_no_partial_dump)
{
    temp_dir dir;
    const std::string path = (dir.path / "sink.sock").string();
    const fs::path dumps = dir.path / "dumps";
    auto o = sink_opts();
    o.dump = dump_to((dumps / "m.").string());
    sink<smtp, unix_domain> k(o);
    BOOST_TEST_REQUIRE(k.listen("unix:" + path) == "");
    observer seen;
    std::size_t files_mid_data = 0;
    seen.hook = [&](const sansio::server_event& e) {  // on the sink's thread
        if (e.kind == sansio::server_event::content)
            files_mid_data = files_under(dumps).size();
    };
    runner run(k, seen);
    raw_client c(path);
    BOOST_TEST_REQUIRE(c.connected());
    BOOST_TEST(c.read_until("\r\n") == "220 smtp-sink ESMTP\r\n");
    BOOST_TEST_REQUIRE(c.send("HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n"));
    BOOST_TEST(c.read_until("<CR><LF>.<CR><LF>\r\n").ends_with("354 End data with <CR><LF>.<CR><LF>\r\n"));
    BOOST_TEST_REQUIRE(c.send("Subject: partial\r\n\r\nsome of the data"));
    BOOST_TEST_REQUIRE(seen.wait_until([&] { return seen.contents > 0; }));
    const sink_report rep = run.stop();
    BOOST_TEST(!rep.error, rep.what);
    BOOST_TEST(rep.totals.messages == 0u);
    BOOST_TEST(rep.totals.sessions == 1u);
    std::lock_guard lock(seen.m);
    BOOST_TEST(files_mid_data == 1u);  // the dump existed while the message came in
    BOOST_TEST(files_under(dumps).empty());
    BOOST_TEST(seen.resets == 1u);
}

BOOST_AUTO_TEST_CASE(silent_client_is_disconnected_after_the_timeout)
{
    temp_dir dir;
    const std::string path = (dir.path / "sink.sock").string();
    auto o = sink_opts();
    o.timeout = 200ms;  // -t
    sink<smtp, unix_domain> k(o);
    BOOST_TEST_REQUIRE(k.listen("unix:" + path) == "");
    observer seen;
    runner run(k, seen);
    raw_client c(path);
    BOOST_TEST_REQUIRE(c.connected());
    BOOST_TEST(c.read_until("\r\n") == "220 smtp-sink ESMTP\r\n");
    const auto greeted = clock_type::now();
    BOOST_TEST_REQUIRE(seen.wait_until([&] { return !seen.disconnects.empty(); }));
    {
        std::lock_guard lock(seen.m);
        BOOST_TEST(seen.disconnects[0] == error::timeout);
        const auto after = std::chrono::duration_cast<std::chrono::milliseconds>(
            seen.disconnect_times[0] - greeted
        );
        BOOST_TEST(after.count() >= 150);  // 200 ms from the start of the read, which came before
        BOOST_TEST(after.count() < 5000);
    }
    BOOST_TEST(c.read_until("") == "");  // a silent close: no 421
    BOOST_TEST(c.eof());
    const sink_report rep = run.stop();
    BOOST_TEST(!rep.error, rep.what);
    BOOST_TEST(rep.totals.sessions == 1u);
}

BOOST_AUTO_TEST_CASE(waits_outlast_the_idle_timeout)
{
    // io::run carries out the server's wait actions without a time limit: a -W delay and a -A
    // abort longer than -t still end in their replies (Postfix's sink crashes on the -A case,
    // spec §8 item 18), and the replies after a delayed one come after it
    temp_dir dir;
    const std::string path = (dir.path / "sink.sock").string();
    auto o = sink_opts();
    o.timeout = 100ms;
    o.server.delays[static_cast<std::size_t>(sansio::smtp_command::noop)] = sansio::command_delay{300ms};
    o.server.abort_delay = 300ms;
    sink<smtp, unix_domain> k(o);
    BOOST_TEST_REQUIRE(k.listen("unix:" + path) == "");
    observer seen;
    runner run(k, seen);
    raw_client c(path);
    BOOST_TEST_REQUIRE(c.connected());
    BOOST_TEST(c.read_until("\r\n") == "220 smtp-sink ESMTP\r\n");
    const auto sent = clock_type::now();
    BOOST_TEST_REQUIRE(c.send("NOOP\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n"));
    BOOST_TEST(
        c.read_until("") ==
        "250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
        "354 End data with <CR><LF>.<CR><LF>\r\n550 This violates SMTP\r\n"
    );
    BOOST_TEST(c.eof());
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - sent);
    BOOST_TEST(took.count() >= 550);  // two waits of 300 ms
    BOOST_TEST_REQUIRE(seen.wait_until([&] { return !seen.disconnects.empty(); }));
    {
        std::lock_guard lock(seen.m);
        BOOST_TEST(!seen.disconnects[0], seen.disconnects[0].message());  // closed, not timed out
    }
    const sink_report rep = run.stop();
    BOOST_TEST(!rep.error, rep.what);
    BOOST_TEST(rep.totals.sessions == 1u);
    BOOST_TEST(rep.totals.messages == 0u);
}

BOOST_AUTO_TEST_CASE(dump_headers_hold_printable_arguments)
{
    // spec §3.4: "The arguments are cleaned by turning every byte that is not printable ASCII
    // into '?'" (Postfix: command_resp(..., printable(ptr, '?'))), so a dump header stays one line
    temp_dir dir;
    const std::string path = (dir.path / "sink.sock").string();
    const fs::path dumps = dir.path / "dumps";
    auto o = sink_opts();
    o.dump = dump_to((dumps / "m.").string());
    sink<smtp, unix_domain> k(o);
    BOOST_TEST_REQUIRE(k.listen("unix:" + path) == "");
    observer seen;
    runner run(k, seen);
    {
        raw_client c(path);
        BOOST_TEST_REQUIRE(c.connected());
        BOOST_TEST_REQUIRE(
            c.send("HELO a\x01"
                   "b\r\nMAIL FROM:<x\ny>\r\nRCPT TO:<r\x7f>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n")
        );
        BOOST_TEST(c.read_until("221 Bye\r\n").ends_with("250 2.0.0 Ok\r\n221 Bye\r\n"));
    }
    const sink_report rep = run.stop();
    BOOST_TEST(rep.totals.messages == 1u);
    const auto all = files_under(dumps);
    BOOST_TEST_REQUIRE(all.size() == 1u);
    const std::string text = slurp(all[0]);
    BOOST_TEST(text.find("X-Helo-Args: a?b\n") != std::string::npos, visible(text));
    BOOST_TEST(text.find("X-Mail-Args: <x?y>\n") != std::string::npos, visible(text));
    BOOST_TEST(text.find("X-Rcpt-Args: <r?>\n") != std::string::npos, visible(text));
    BOOST_TEST(text.find("Received: from a?b ([local])\n") != std::string::npos, visible(text));
}

BOOST_AUTO_TEST_SUITE_END()
