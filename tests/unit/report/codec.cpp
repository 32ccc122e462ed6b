// Test that header file is self-contained.
#include <mailload/report/codec.hpp>

#include <boost/asio/error.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

using namespace mailload;
using sansio::client_stage;

namespace {

/// A report as one part of a run might make: `seed` varies every field.
source_report sample(unsigned seed) {
    std::mt19937_64 rng(seed);
    source_report r;
    r.totals.messages_sent = 100 + seed;
    r.totals.messages_accepted = 90 + seed;
    r.totals.recipients_sent = 300 + seed;
    r.totals.recipients_accepted = 280 + seed;
    r.totals.bytes_accepted = 123456789 + seed;
    r.totals.chunks_sent = 7 + seed;
    r.totals.rejected[static_cast<std::size_t>(client_stage::rcpt)] = 20 + seed;
    r.connections = 10 + seed;
    r.connect_failures = seed;
    r.late_starts = 3 * seed;
    r.tls_handshakes = 5;
    r.tls_resumed = 4;
    r.elapsed = std::chrono::milliseconds(1500 + seed);
    for (int i = 0; i < 5000; ++i) {
        r.latency.record(1000 + rng() % 80'000'000);
        r.reply_latency[static_cast<std::size_t>(client_stage::dot)].record(rng() % 1'000'000);
    }
    r.connect_latency.record(42 + seed);
    r.replies.add(client_stage::rcpt, 250, 280 + seed);
    r.replies.add(client_stage::rcpt, 550, 20 + seed);
    r.count_io_error(boost::asio::error::connection_refused);
    return r;
}

void require_equal(const report::histogram& a, const report::histogram& b) {
    BOOST_TEST_REQUIRE(a.count() == b.count());
    BOOST_TEST(a.min() == b.min());
    BOOST_TEST(a.max() == b.max());
    BOOST_TEST(a.sum() == b.sum());
    for (double p : {0.0, 1.0, 50.0, 90.0, 99.0, 99.9, 100.0}) BOOST_TEST(a.percentile(p) == b.percentile(p));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(codec_hpp)

BOOST_AUTO_TEST_CASE(a_report_comes_back_as_it_went) {
    const source_report r = sample(1);
    source_report back;
    BOOST_TEST_REQUIRE(report::decode(report::encode(r), back) == "");
    BOOST_TEST(!back.error);
    BOOST_TEST(back.totals.messages_sent == r.totals.messages_sent);
    BOOST_TEST(back.totals.messages_accepted == r.totals.messages_accepted);
    BOOST_TEST(back.totals.recipients_sent == r.totals.recipients_sent);
    BOOST_TEST(back.totals.recipients_accepted == r.totals.recipients_accepted);
    BOOST_TEST(back.totals.bytes_accepted == r.totals.bytes_accepted);
    BOOST_TEST(back.totals.chunks_sent == r.totals.chunks_sent);
    BOOST_TEST(back.totals.rejected == r.totals.rejected);
    BOOST_TEST(back.connections == r.connections);
    BOOST_TEST(back.connect_failures == r.connect_failures);
    BOOST_TEST(back.late_starts == r.late_starts);
    BOOST_TEST(back.tls_handshakes == r.tls_handshakes);
    BOOST_TEST(back.tls_resumed == r.tls_resumed);
    BOOST_TEST(back.elapsed == r.elapsed);
    require_equal(back.latency, r.latency);
    require_equal(back.connect_latency, r.connect_latency);
    BOOST_TEST(back.tls_latency.count() == 0u);
    for (std::size_t i = 0; i < r.reply_latency.size(); ++i) require_equal(back.reply_latency[i], r.reply_latency[i]);
    BOOST_TEST(back.replies.count(client_stage::rcpt, 250) == 281u);
    BOOST_TEST(back.replies.count(client_stage::rcpt, 550) == 21u);
    BOOST_TEST(back.replies.count(client_stage::mail, 250) == 0u);
    BOOST_TEST_REQUIRE(back.io_errors.size() == 1u);
    BOOST_TEST(back.io_errors[0].first.message() == r.io_errors[0].first.message());
    BOOST_TEST(back.io_errors[0].second == 1u);
}

BOOST_AUTO_TEST_CASE(an_error_travels_as_its_words) {
    source_report r = sample(2);
    r.error = boost::asio::error::connection_refused;
    r.what = "connect to 127.0.0.1:1: Connection refused";
    source_report back;
    BOOST_TEST_REQUIRE(report::decode(report::encode(r), back) == "");
    BOOST_TEST(bool(back.error));
    BOOST_TEST(back.what == r.what);
    BOOST_TEST(back.error.message() == r.what);
    // The same words are the same error (they count together), other words another.
    BOOST_TEST(report::remote_error("x y") == report::remote_error("x y"));
    BOOST_TEST(report::remote_error("x y") != report::remote_error("x z"));
}

// What several processes report, decoded and merged, equals what one process that saw every
// sample reports: counts added, percentiles of the merged histograms those of one histogram.
BOOST_AUTO_TEST_CASE(merged_parts_equal_one_report_of_everything) {
    source_report whole, merged;
    for (unsigned part = 1; part <= 3; ++part) {
        const source_report r = sample(part);
        whole.merge(r);
        source_report back;
        BOOST_TEST_REQUIRE(report::decode(report::encode(r), back) == "");
        merged.merge(back);
    }
    report::histogram one;  // every sample recorded in one histogram
    for (unsigned part = 1; part <= 3; ++part) {
        std::mt19937_64 rng(part);
        for (int i = 0; i < 5000; ++i) {
            one.record(1000 + rng() % 80'000'000);
            (void)rng();
        }
    }
    require_equal(merged.latency, one);
    require_equal(merged.latency, whole.latency);
    BOOST_TEST(merged.totals.messages_accepted == 90u * 3 + 6);
    BOOST_TEST(merged.replies.count(client_stage::rcpt, 250) == 280u * 3 + 6);
    BOOST_TEST_REQUIRE(merged.io_errors.size() == 1u);
    BOOST_TEST(merged.io_errors[0].second == 3u);
}

// Every prefix of a report is refused (never read past its end), and so is a report with a
// byte too many; a length beyond what follows is refused before anything is allocated for it.
BOOST_AUTO_TEST_CASE(truncated_or_oversized_input_is_refused) {
    const std::string bytes = report::encode(sample(3));
    for (std::size_t n = 0; n < bytes.size(); n += 1 + n / 64) {
        source_report back;
        BOOST_TEST_REQUIRE(report::decode(std::string_view(bytes).substr(0, n), back) != "");
    }
    source_report back;
    BOOST_TEST(report::decode(bytes + "x", back) == "bytes after the report");
    BOOST_TEST(report::decode("garbage", back) == "not a mailload source report");

    report::writer w;  // a histogram that claims 2^60 buckets
    w.str("mailload source_report 1");
    w.u64(sansio::client_stage_count);
    w.u64(0);
    w.str("");
    for (std::size_t i = 0; i < 6 + sansio::client_stage_count + 6; ++i) w.u64(0);
    w.u64(std::uint64_t(1) << 60);
    source_report huge;
    BOOST_TEST(report::decode(w.bytes(), huge) == "truncated");
}

BOOST_AUTO_TEST_CASE(out_of_range_fields_are_refused) {
    report::writer w;
    w.str("mailload source_report 1");
    w.u64(sansio::client_stage_count + 1);
    source_report back;
    BOOST_TEST(report::decode(w.bytes(), back) == "a report from another version of mailload (its stages differ)");

    // A histogram bucket beyond the last one there is.
    report::writer h;
    h.str("mailload source_report 1");
    h.u64(sansio::client_stage_count);
    h.u64(0);
    h.str("");
    for (std::size_t i = 0; i < 6 + sansio::client_stage_count + 6; ++i) h.u64(0);
    for (std::uint64_t v : {std::uint64_t(1), std::uint64_t(5), std::uint64_t(5), std::uint64_t(5),
                            std::uint64_t(report::histogram::bucket_count), std::uint64_t(1)})
        h.u64(v);
    source_report bad;
    BOOST_TEST(report::decode(h.bytes(), bad) == "a histogram out of range");
}

BOOST_AUTO_TEST_SUITE_END()
