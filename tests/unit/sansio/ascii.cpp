// Test that header file is self-contained.
#include <mailload/sansio/ascii.hpp>

#include <boost/test/unit_test.hpp>

using namespace mailload::sansio;

BOOST_AUTO_TEST_SUITE(ascii_hpp)

BOOST_AUTO_TEST_CASE(only_ascii_letters_fold) {
    BOOST_TEST(equals_ignoring_case("PIPELINING", "pipelining"));
    BOOST_TEST(equals_ignoring_case("BdAt", "bDaT"));
    BOOST_TEST(equals_ignoring_case("", ""));
    BOOST_TEST(!equals_ignoring_case("LAST", "LAS"));
    BOOST_TEST(!equals_ignoring_case("@", "`"));  // 0x40 and 0x60: not letters
    BOOST_TEST(!equals_ignoring_case("[", "{"));
    BOOST_TEST(!equals_ignoring_case("\xc3\x89", "\xc3\xa9"));  // É and é: not ASCII
    static_assert(ascii_lower('Z') == 'z' && ascii_lower('z') == 'z' && ascii_lower('1') == '1');
}

BOOST_AUTO_TEST_CASE(prefixes) {
    BOOST_TEST(starts_with_ignoring_case("IPv6:::1", "ipv6:"));
    BOOST_TEST(starts_with_ignoring_case("unix:", "UNIX:"));
    BOOST_TEST(!starts_with_ignoring_case("ipv6", "ipv6:"));
    BOOST_TEST(starts_with_ignoring_case("anything", ""));
}

BOOST_AUTO_TEST_SUITE_END()
