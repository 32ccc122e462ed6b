// Test that header file is self-contained.
#include <mailload/io/deadline.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/test/unit_test.hpp>

#include <array>
#include <chrono>

// The watchdog against a read that never completes (the peer of a socket pair never writes):
// each test runs the loop for at most a minute and checks that the read ended as a timeout
// (the time limits themselves are an hour, so the tests never depend on how fast the machine is).

namespace {

using namespace std::chrono_literals;
using mailload::io::deadline;
using socket_type = boost::asio::local::stream_protocol::socket;

struct pair_fixture {
    boost::asio::io_context ioc;
    socket_type a{ioc}, b{ioc};
    deadline dl{ioc.get_executor(), 1h};
    std::array<char, 16> buf{};
    bool ended = false;
    boost::system::error_code result;

    pair_fixture() { boost::asio::local::connect_pair(a, b); }

    void spawn_watchdog() {
        boost::asio::co_spawn(ioc, dl.watch([this] { a.cancel(); }), boost::asio::detached);
    }

    // A read under the deadline, after `before` (run by the coroutine first).
    template <class F>
    boost::asio::awaitable<void> read(F before) {
        co_await before();
        dl.begin();
        auto [e, n] = co_await a.async_read_some(boost::asio::buffer(buf), boost::asio::as_tuple(boost::asio::use_awaitable));
        result = dl.end(e);
        ended = true;
        dl.stop();
    }

    void run() { ioc.run_for(60s); }
};

boost::asio::awaitable<void> nothing() { co_return; }

}  // namespace

BOOST_AUTO_TEST_SUITE(io_deadline)

BOOST_FIXTURE_TEST_CASE(end_by_already_past_when_the_operation_begins, pair_fixture) {
    // --session-limit shorter than a clock tick: the first operation is already out of time
    dl.end_by(deadline::clock::now());
    spawn_watchdog();
    boost::asio::co_spawn(ioc, read(nothing), boost::asio::detached);
    run();
    BOOST_TEST(ended);
    BOOST_TEST((result == mailload::error::timeout));
}

BOOST_FIXTURE_TEST_CASE(end_by_sooner_than_the_idle_watchdog_wakes, pair_fixture) {
    // The watchdog went to sleep idle (an hour) before the session limit came to matter: the
    // operation that begins later must still end at the limit, not an hour on.
    spawn_watchdog();
    boost::asio::co_spawn(ioc, read([this]() -> boost::asio::awaitable<void> {
        co_await boost::asio::post(ioc, boost::asio::use_awaitable);  // the watchdog goes to sleep first
        dl.end_by(deadline::clock::now() + 1ms);
    }), boost::asio::detached);
    run();
    BOOST_TEST(ended);
    BOOST_TEST((result == mailload::error::timeout));
}

BOOST_FIXTURE_TEST_CASE(a_read_that_completes_is_not_a_timeout, pair_fixture) {
    dl.end_by(deadline::clock::now() + 1h);
    spawn_watchdog();
    boost::asio::co_spawn(ioc, read(nothing), boost::asio::detached);
    boost::asio::write(b, boost::asio::buffer("x", 1));
    run();
    BOOST_TEST(ended);
    BOOST_TEST(!result);
}

BOOST_AUTO_TEST_SUITE_END()
