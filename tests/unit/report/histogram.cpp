// Test that header file is self-contained.
#include <mailload/report/histogram.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

using mailload::report::histogram;

BOOST_AUTO_TEST_SUITE(histogram_hpp)

BOOST_AUTO_TEST_CASE(every_value_lands_in_a_bucket_that_holds_it) {
    std::mt19937_64 rng(3);
    for (int i = 0; i < 200000; ++i) {
        const std::uint64_t v = rng() >> (rng() % 64);
        const auto b = histogram::index_of(v);
        BOOST_TEST_REQUIRE(b < histogram::bucket_count);
        BOOST_TEST_REQUIRE(v <= histogram::highest_of(b));
        if (b > 0) BOOST_TEST_REQUIRE(v > histogram::highest_of(b - 1));
    }
    BOOST_TEST(histogram::index_of(~std::uint64_t(0)) == histogram::bucket_count - 1);
}

BOOST_AUTO_TEST_CASE(small_values_are_exact_and_large_ones_within_a_percent) {
    histogram h;
    for (std::uint64_t v = 0; v < 256; ++v) h.record(v);
    BOOST_TEST(h.percentile(50) == 127u);
    BOOST_TEST(h.percentile(100) == 255u);
    BOOST_TEST(h.min() == 0u);
    BOOST_TEST(h.max() == 255u);

    std::mt19937_64 rng(7);
    histogram big;
    std::vector<std::uint64_t> values;
    for (int i = 0; i < 100000; ++i) {
        const std::uint64_t v = 1000 + rng() % 50'000'000;
        big.record(v);
        values.push_back(v);
    }
    std::sort(values.begin(), values.end());
    for (double p : {50.0, 90.0, 99.0, 99.9}) {
        const auto exact = values[static_cast<std::size_t>(p / 100 * values.size() + 0.5) - 1];
        const auto got = big.percentile(p);
        BOOST_TEST(got >= exact, "p" << p);
        BOOST_TEST(double(got - exact) <= double(exact) / 64, "p" << p << ": " << got << " vs " << exact);
    }
    BOOST_TEST(big.percentile(100) == values.back());
}

BOOST_AUTO_TEST_CASE(a_merge_equals_one_histogram_of_every_value) {
    std::mt19937_64 rng(11);
    histogram a, b, all;
    for (int i = 0; i < 50000; ++i) {
        const std::uint64_t v = rng() % 10'000'000;
        (i % 3 ? a : b).record(v);
        all.record(v);
    }
    a.merge(b);
    BOOST_TEST(a.counts() == all.counts());
    BOOST_TEST(a.count() == all.count());
    BOOST_TEST(a.max() == all.max());
    BOOST_TEST(a.min() == all.min());
    for (double p : {1.0, 50.0, 99.0, 99.9, 100.0}) BOOST_TEST(a.percentile(p) == all.percentile(p));
}

BOOST_AUTO_TEST_CASE(an_empty_histogram_reports_zeros) {
    const histogram h;
    BOOST_TEST(h.count() == 0u);
    BOOST_TEST(h.percentile(99) == 0u);
    BOOST_TEST(h.max() == 0u);
    BOOST_TEST(h.mean() == 0.0);
}

BOOST_AUTO_TEST_SUITE_END()
