// Test that header file is self-contained.
#include <mailload/source.hpp>

#include <mailload/concurrency/thread_per_session.hpp>
#include <mailload/concurrency/thread_pool.hpp>
#include <mailload/pacing/constant_rate.hpp>
#include <mailload/pacing/fixed_interval.hpp>
#include <mailload/sink.hpp>
#include <mailload/protocol/smtp.hpp>
#include <mailload/transport/inet.hpp>
#include <mailload/transport/unix_domain.hpp>

#include <support/fake_smtp_server.hpp>

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <new>
#include <thread>

// Counts every allocation in this test program, to show that the per-message path allocates nothing:
// through a replaced operator new, or under TSan, whose runtime defines operator new itself, through
// the sanitizer's allocation hook (which sees malloc() as well).
// (g++ 12 takes the replaced operator delete's free() for a mismatch once it inlines operator new.)
#if defined(__SANITIZE_THREAD__)
#define MAILLOAD_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MAILLOAD_TEST_TSAN 1
#endif
#endif
namespace {
std::atomic<std::size_t> allocations{0};
}
#ifdef MAILLOAD_TEST_TSAN
#include <sanitizer/allocator_interface.h>
namespace {
[[maybe_unused]] const int hooks_installed = __sanitizer_install_malloc_and_free_hooks(
    [](const volatile void*, std::size_t) { allocations.fetch_add(1, std::memory_order_relaxed); },
    [](const volatile void*) {});
}
#else
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void* operator new(std::size_t n) {
    allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#endif

namespace {

using namespace mailload;
using test_support::fake_smtp_server;
using test_support::temp_dir;

source_options options(std::uint64_t messages, std::uint32_t sessions, bool keep_alive) {
    source_options o;
    o.messages = messages;
    o.sessions = sessions;
    o.client.keep_alive = keep_alive;
    o.client.helo_name = "test";
    o.client.sender = o.client.recipient = "foo@test";
    o.message.sender = "foo@test";
    o.message.myhostname = "test";
    o.message.date = "Thu,  1 Jan 1970 00:00:00 +0000 (UTC)";
    o.message.pid = 1;
    return o;
}

struct counting_observer {
    std::size_t sent = 0;
    void on_event(const sansio::client_event& e) {
        if (e.kind == sansio::client_event::message_sent) ++sent;
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(source_)

BOOST_AUTO_TEST_CASE(every_message_is_sent_and_counted) {
    temp_dir dir;
    std::size_t server_messages = 0;
    source_report r;
    counting_observer seen;
    {
        fake_smtp_server server((dir.path / "s").string());
        source<smtp, unix_domain> load(options(57, 5, false));
        r = load.run("unix:" + server.path(), seen);
        BOOST_TEST(server.connections() == 57u);
        server_messages = server.messages();
    }
    BOOST_TEST(!r.error, r.what);
    BOOST_TEST(server_messages == 57u);
    BOOST_TEST(seen.sent == 57u);
    BOOST_TEST(r.totals.messages_sent == 57u);
    BOOST_TEST(r.totals.messages_accepted == 57u);
    BOOST_TEST(r.connections == 57u);
}

BOOST_AUTO_TEST_CASE(keep_alive_lmtp_with_recipients_and_pacing) {
    temp_dir dir;
    fake_smtp_server server((dir.path / "s").string(), true);
    auto o = options(12, 3, true);
    o.client.rcpt_count = 4;
    source<lmtp, unix_domain, single_thread, fixed_interval> load(o, fixed_interval{std::chrono::milliseconds(2)});
    const auto r = load.run("unix:" + server.path());
    BOOST_TEST(!r.error, r.what);
    BOOST_TEST(r.connections == 3u);
    BOOST_TEST(r.totals.messages_accepted == 12u);
    BOOST_TEST(r.totals.recipients_accepted == 48u);
}

BOOST_AUTO_TEST_CASE(one_connect_at_a_time_still_finishes) {
    temp_dir dir;
    fake_smtp_server server((dir.path / "s").string());
    auto o = options(40, 8, false);
    o.max_connecting = 1;
    source<smtp, unix_domain> load(o);
    const auto r = load.run("unix:" + server.path());
    BOOST_TEST(!r.error, r.what);
    BOOST_TEST(r.totals.messages_accepted == 40u);
}

BOOST_AUTO_TEST_CASE(the_per_message_path_does_not_allocate) {
    temp_dir dir;
    fake_smtp_server server((dir.path / "s").string());
    auto cost = [&](std::uint64_t messages) {
        source<smtp, unix_domain> load(options(messages, 1, true));
        const auto before = allocations.load();
        const auto r = load.run("unix:" + server.path());
        BOOST_TEST_REQUIRE(!r.error, r.what);
        BOOST_TEST_REQUIRE(r.totals.messages_accepted == messages);
        return allocations.load() - before;
    };
    const auto small = cost(20);
    const auto large = cost(2020);
    BOOST_TEST_MESSAGE("allocations: 20 messages " << small << ", 2020 messages " << large);
    BOOST_TEST(large <= small + 10, "2020 messages cost " << large << " allocations, 20 messages " << small);
}

BOOST_AUTO_TEST_CASE(neither_source_nor_sink_allocates_per_message) {
    temp_dir dir;
    const std::string path = (dir.path / "sink").string();
    sink<smtp, unix_domain> server(sink_options{});
    BOOST_TEST_REQUIRE(server.listen("unix:" + path).empty());
    sink_report served;
    std::thread t([&] { served = server.run(); });
    auto cost = [&](std::uint64_t messages) {
        auto o = options(messages, 1, true);
        o.client.rcpt_count = 3;
        source<smtp, unix_domain> load(o);
        const auto before = allocations.load();
        const auto r = load.run("unix:" + path);
        BOOST_TEST_REQUIRE(!r.error, r.what);
        BOOST_TEST_REQUIRE(r.totals.messages_accepted == messages);
        return allocations.load() - before;
    };
    const auto small = cost(20);
    const auto large = cost(2020);
    server.stop();
    t.join();
    BOOST_TEST_MESSAGE("allocations with our sink: 20 messages " << small << ", 2020 messages " << large);
    BOOST_TEST(large <= small + 10, "2020 messages cost " << large << " allocations, 20 messages " << small);
    BOOST_TEST(served.totals.messages == 2040u);
    BOOST_TEST(served.totals.recipients == 3 * 2040u);
    BOOST_TEST(served.totals.sessions == 2u);
}

BOOST_AUTO_TEST_CASE(a_new_connection_costs_a_bounded_number_of_allocations) {
    // Postfix's default, a connection per message: once a session is set up, serving its message
    // allocates nothing; setting up and tearing down a connection costs both sides a few (the
    // session object, the server's reply strings, coroutine frames). A bound, so that it shows if
    // it grows.
    temp_dir dir;
    const std::string path = (dir.path / "sink").string();
    sink<smtp, unix_domain> server(sink_options{});
    BOOST_TEST_REQUIRE(server.listen("unix:" + path).empty());
    std::atomic<std::size_t> sink_allocations{0};
    struct observer {
        std::atomic<std::size_t>* n;
        std::size_t at_connect = 0;
        void on_connect(const session_info&, sink<smtp, unix_domain>::socket_type&) { at_connect = allocations.load(); }
        void on_disconnect(const session_info&, boost::system::error_code, const sansio::smtp_server&) {
            n->fetch_add(allocations.load() - at_connect);
        }
    };
    sink_report served;
    std::thread t([&] { served = server.run(observer{&sink_allocations}); });
    auto cost = [&](std::uint64_t messages) {
        source<smtp, unix_domain> load(options(messages, 1, false));
        const auto before = allocations.load();
        const auto r = load.run("unix:" + path);
        BOOST_TEST_REQUIRE(!r.error, r.what);
        return allocations.load() - before;
    };
    const auto small = cost(20);
    const auto large = cost(2020);
    server.stop();
    t.join();
    BOOST_TEST_MESSAGE("allocations per connection (source and sink): " << (large - small) / 2000.0
                       << "; between the sink's connect and disconnect, in all: " << sink_allocations.load());
    BOOST_TEST(served.totals.messages == 2040u);
    BOOST_TEST(large - small <= 16 * 2000u, (large - small) / 2000.0 << " allocations per connection");
    // the other side runs meanwhile: its allocations may fall between a connect and a disconnect
    BOOST_TEST(sink_allocations.load() <= 100u, sink_allocations.load() << " allocations inside sessions");
}

// The same run under each concurrency model: the same counts, merged from every thread.
template <class Concurrency>
void same_work_in(std::uint32_t threads) {
    temp_dir dir;
    fake_smtp_server server((dir.path / "s").string());
    for (bool keep : {false, true}) {
        auto o = options(keep ? 600 : 90, 6, keep);
        o.client.rcpt_count = 2;
        o.threads = threads;
        struct locked : counting_observer {  // called from several threads
            std::mutex m;
            void on_event(const sansio::client_event& e) {
                std::lock_guard lock(m);
                counting_observer::on_event(e);
            }
        } obs;
        source<smtp, unix_domain, Concurrency> load(o);
        const auto r = load.run("unix:" + server.path(), obs);
        BOOST_TEST_REQUIRE(!r.error, r.what);
        BOOST_TEST(obs.sent == o.messages);
        BOOST_TEST(r.totals.messages_accepted == o.messages);
        BOOST_TEST(r.totals.recipients_accepted == 2 * o.messages);
        BOOST_TEST(r.connections == (keep ? 6u : o.messages));
        BOOST_TEST(r.latency.count() == o.messages);
        BOOST_TEST(r.connect_latency.count() == r.connections);
        BOOST_TEST(r.reply_latency[static_cast<std::size_t>(sansio::client_stage::rcpt)].count() == 2 * o.messages);
        BOOST_TEST(r.replies.count(sansio::client_stage::rcpt, 250) == 2 * o.messages);
        BOOST_TEST(r.replies.count(sansio::client_stage::greeting, 220) == r.connections);
        BOOST_TEST(r.replies.count(sansio::client_stage::quit, 221) == r.connections);
    }
}

BOOST_AUTO_TEST_CASE(a_thread_pool_does_the_same_work) {
    same_work_in<single_thread>(1);
    same_work_in<thread_pool>(1);
    same_work_in<thread_pool>(3);
}

BOOST_AUTO_TEST_CASE(a_thread_per_session_does_the_same_work) { same_work_in<thread_per_session>(1); }

BOOST_AUTO_TEST_CASE(a_silent_server_times_out_with_blocking_sockets) {
    temp_dir dir;
    fake_smtp_server server((dir.path / "s").string(), false, false);
    auto o = options(3, 2, false);
    o.timeout = std::chrono::milliseconds(200);
    source<smtp, unix_domain, thread_per_session> load(o);
    const auto r = load.run("unix:" + server.path());
    BOOST_TEST(r.error == error::timeout);
    BOOST_TEST(r.what == "timeout while reading server greeting");
    BOOST_TEST(r.io_errors.size() == 1u);
}

BOOST_AUTO_TEST_CASE(an_open_loop_schedule_runs_to_its_duration) {
    // 50 a second for 0.2 s: messages due at 0, 20, ..., 180 ms, and none after
    temp_dir dir;
    fake_smtp_server server((dir.path / "s").string());
    auto o = options(1000, 3, true);
    o.duration = std::chrono::milliseconds(200);
    source<smtp, unix_domain, single_thread, constant_rate> load(o, constant_rate::per_second(50));
    const auto r = load.run("unix:" + server.path());
    BOOST_TEST_REQUIRE(!r.error, r.what);
    BOOST_TEST(r.totals.messages_accepted == 10u);
    BOOST_TEST(constant_rate::per_second(50).start_of(3) == std::chrono::milliseconds(60));
}

BOOST_AUTO_TEST_CASE(a_silent_server_times_out) {
    temp_dir dir;
    fake_smtp_server server((dir.path / "s").string(), false, false);
    auto o = options(1, 1, false);
    o.timeout = std::chrono::milliseconds(200);
    source<smtp, unix_domain> load(o);
    const auto r = load.run("unix:" + server.path());
    BOOST_TEST(r.error == error::timeout);
    BOOST_TEST(r.what == "timeout while reading server greeting");
}

BOOST_AUTO_TEST_CASE(refused_connects_are_retried_then_fatal) {
    temp_dir dir;
    auto o = options(1, 1, false);
    o.connect_attempts = 3;
    struct retries {
        int n = 0;
        void on_connect_retry(boost::system::error_code) { ++n; }
    } seen;
    source<smtp, unix_domain> load(o);
    const auto r = load.run("unix:" + (dir.path / "nobody-listens").string(), seen);
    BOOST_TEST(seen.n == 2);
    BOOST_TEST(r.connect_failures == 3u);
    BOOST_TEST(r.what.starts_with("connect: "), r.what);
}

BOOST_AUTO_TEST_CASE(address_errors_are_reported_not_thrown) {
    source<smtp, inet_any> load(options(1, 1, false));
    BOOST_TEST(load.run("[::1").what == "[::1: missing \"]\"");
    BOOST_TEST(load.run("unix:/x").what == "unix:/x: not an address of transport inet");
    source<smtp, unix_domain> local(options(1, 1, false));
    BOOST_TEST(local.run("127.0.0.1:25").what == "127.0.0.1:25: not an address of transport unix");
}

BOOST_AUTO_TEST_SUITE_END()
