// Test that header file is self-contained.
#include <mailload/sansio/hostname.hpp>

#include <boost/test/unit_test.hpp>

#include <string>
#include <string_view>

using namespace mailload::sansio;

namespace {
/// "ok" or the problem, for one comparison per case.
std::string show(const name_check& c) { return c ? "ok" : c.problem; }
std::string host(std::string_view s) { return show(valid_hostname(s)); }
std::string ipv4(std::string_view s) { return show(valid_ipv4_address(s)); }
std::string literal(std::string_view s) { return show(valid_address_literal(s)); }
std::string label(std::size_t n, char c = 'a') { return std::string(n, c); }
}  // namespace

BOOST_AUTO_TEST_SUITE(hostname_hpp)

BOOST_AUTO_TEST_CASE(valid_names)
{
    BOOST_TEST(host("vm") == "ok");
    BOOST_TEST(host("myhost.example") == "ok");
    BOOST_TEST(host("x_y") == "ok");
    BOOST_TEST(host("_") == "ok");
    BOOST_TEST(host("a-b.c-d") == "ok");
    BOOST_TEST(host("a--b") == "ok");
    BOOST_TEST(host("1-2") == "ok");  // a hyphen makes it non-numeric
    BOOST_TEST(host("123.example") == "ok");
    BOOST_TEST(host("1.2.3.4a") == "ok");
    BOOST_TEST(host("A.B") == "ok");
}

BOOST_AUTO_TEST_CASE(empty)
{
    BOOST_TEST(host("") == "valid_hostname: empty hostname");
    const name_check c = valid_hostname("");
    BOOST_TEST(!c);
}

BOOST_AUTO_TEST_CASE(total_length)
{
    const std::string n255 = label(63) + "." + label(63, 'b') + "." + label(63, 'c') + "." + label(63, 'd');
    BOOST_TEST_REQUIRE(n255.size() == 255u);
    BOOST_TEST(host(n255) == "ok");
    const std::string n256 = label(63) + "." + label(63, 'b') + "." + label(63, 'c') + "." + label(62, 'd') +
                             ".e";
    BOOST_TEST_REQUIRE(n256.size() == 256u);
    BOOST_TEST(host(n256) == "valid_hostname: bad length 256 for " + n256.substr(0, 100) + "...");
}

BOOST_AUTO_TEST_CASE(checks_run_in_postfix_order)
{
    // Postfix's valid_hostname() checks characters and labels first and the total length last,
    // so an overlong name with a bad character or label is reported for that (smtp-source -M).
    std::string bad_char = label(300);
    bad_char[10] = '!';  // not replace(): g++ 12 -O3 warns of an overlap there (-Wrestrict, a known false positive)
    BOOST_TEST(host(bad_char) == "valid_hostname: invalid character 33(decimal): " + bad_char.substr(0, 100));
    const std::string long_label = label(63) + "." + label(63) + "." + label(63) + "." + label(64);
    BOOST_TEST(host(long_label) == "valid_hostname: hostname label too long: " + long_label.substr(0, 100));
}

BOOST_AUTO_TEST_CASE(label_length)
{
    BOOST_TEST(host(label(63)) == "ok");
    BOOST_TEST(host("x." + label(63) + ".y") == "ok");
    BOOST_TEST(host(label(64)) == "valid_hostname: hostname label too long: " + label(64));
    BOOST_TEST(host("x." + label(64)) == "valid_hostname: hostname label too long: x." + label(64));
    // hyphens count towards the label
    BOOST_TEST(host(label(62) + "-b") == "valid_hostname: hostname label too long: " + label(62) + "-b");
    BOOST_TEST(host(label(61) + "-b") == "ok");
    // the name in the message is cut at 100 characters
    const std::string long_name = label(150);
    BOOST_TEST(host(long_name) == "valid_hostname: hostname label too long: " + label(100));
}

BOOST_AUTO_TEST_CASE(misplaced_delimiter)
{
    for (std::string_view n : {".", ".a", "a.", "a..b", "a.b."})
        BOOST_TEST(host(n) == "valid_hostname: misplaced delimiter: " + std::string(n));
}

BOOST_AUTO_TEST_CASE(misplaced_hyphen)
{
    for (std::string_view n : {"-", "-a", "a-", "a-.b", "a.-b", "a.b-"})
        BOOST_TEST(host(n) == "valid_hostname: misplaced hyphen: " + std::string(n));
}

BOOST_AUTO_TEST_CASE(invalid_character)
{
    BOOST_TEST(host("bad_host!") == "valid_hostname: invalid character 33(decimal): bad_host!");  // obs 31
    BOOST_TEST(host("a b") == "valid_hostname: invalid character 32(decimal): a b");
    BOOST_TEST(host("h\xc3\xa9") == "valid_hostname: invalid character 195(decimal): h\xc3\xa9");
    BOOST_TEST(host("::1") == "valid_hostname: invalid character 58(decimal): ::1");
    BOOST_TEST(host("a*b") == "valid_hostname: invalid character 42(decimal): a*b");
}

BOOST_AUTO_TEST_CASE(numeric)
{
    BOOST_TEST(host("123") == "valid_hostname: numeric hostname: 123");
    BOOST_TEST(host("1.2.3.4") == "valid_hostname: numeric hostname: 1.2.3.4");
    BOOST_TEST(host("0") == "valid_hostname: numeric hostname: 0");
}

BOOST_AUTO_TEST_CASE(ipv4_addresses)
{
    BOOST_TEST(ipv4("1.2.3.4") == "ok");
    BOOST_TEST(ipv4("127.0.0.1") == "ok");
    BOOST_TEST(ipv4("255.255.255.255") == "ok");
    BOOST_TEST(ipv4("0.0.0.0") == "ok");
    BOOST_TEST(ipv4("") == "valid_ipv4_hostaddr: empty address");
    BOOST_TEST(ipv4("1.2.3") == "valid_ipv4_hostaddr: invalid octet count: 1.2.3");
    BOOST_TEST(ipv4("1.2.3.4.5") == "valid_ipv4_hostaddr: invalid octet count: 1.2.3.4.5");
    BOOST_TEST(ipv4("256.1.1.1") == "valid_ipv4_hostaddr: invalid octet value: 256.1.1.1");
    BOOST_TEST(ipv4("1.2.3.1000") == "valid_ipv4_hostaddr: invalid octet value: 1.2.3.1000");
    BOOST_TEST(ipv4("1..2.3") == "valid_ipv4_hostaddr: misplaced dot: 1..2.3");
    BOOST_TEST(ipv4(".1.2.3") == "valid_ipv4_hostaddr: misplaced dot: .1.2.3");
    BOOST_TEST(ipv4("1.2.3.") == "valid_ipv4_hostaddr: misplaced dot: 1.2.3.");
    BOOST_TEST(ipv4("0.1.2.3") == "valid_ipv4_hostaddr: bad initial octet value: 0.1.2.3");
    BOOST_TEST(ipv4("1.2.3.4x") == "valid_ipv4_hostaddr: invalid character 120(decimal): 1.2.3.4x");
    BOOST_TEST(ipv4("::1") == "valid_ipv4_hostaddr: invalid character 58(decimal): ::1");
}

BOOST_AUTO_TEST_CASE(ipv6_addresses)
{
    BOOST_TEST(show(valid_ipv6_address("::1")) == "ok");
    BOOST_TEST(show(valid_ipv6_address("fe80::1:2")) == "ok");
    BOOST_TEST(show(valid_ipv6_address("::ffff:1.2.3.4")) == "ok");
    BOOST_TEST(!valid_ipv6_address(""));
    BOOST_TEST(!valid_ipv6_address("1.2.3.4"));
    BOOST_TEST(!valid_ipv6_address(":::1"));
    BOOST_TEST(valid_ipv6_address("zz").problem.starts_with("valid_ipv6_hostaddr: "));
}

BOOST_AUTO_TEST_CASE(address_literals)
{
    BOOST_TEST(literal("[1.2.3.4]") == "ok");
    BOOST_TEST(literal("[ipv6:::1]") == "ok");
    BOOST_TEST(literal("[IPv6:::1]") == "ok");
    BOOST_TEST(literal("[::1]") == "valid_ipv4_hostaddr: invalid character 58(decimal): ::1");
    BOOST_TEST(literal("[1.2.3") == "valid_mailhost_literal: ']' expected at end: [1.2.3");
    BOOST_TEST(literal("[1.2.3]") == "valid_ipv4_hostaddr: invalid octet count: 1.2.3");
    BOOST_TEST(literal("[]") == "valid_ipv4_hostaddr: empty address");
    BOOST_TEST(literal("[ipv6:zz]").starts_with("valid_ipv6_hostaddr: "));
    BOOST_TEST(literal("[ipv6:1.2.3.4]").starts_with("valid_ipv6_hostaddr: "));
}

BOOST_AUTO_TEST_CASE(address_literal_wording_as_postfix)
{
    // Postfix's valid_mailhost_literal() (util/valid_hostname.c) tells these apart; smtp-source
    // reaches it for every -M argument that starts with '['.
    BOOST_TEST(literal("[1.2.3.4]x") == "valid_mailhost_literal: unexpected text after ']': [1.2.3.4]x");
    BOOST_TEST(literal("1.2.3.4]") == "valid_mailhost_literal: '[' expected at start: 1.2.3.4]");
}

BOOST_AUTO_TEST_CASE(host_or_address)
{
    BOOST_TEST(valid_host_or_address("vm"));
    BOOST_TEST(valid_host_or_address("1.2.3.4"));
    BOOST_TEST(valid_host_or_address("::1"));
    BOOST_TEST(valid_host_or_address("::"));
    BOOST_TEST(!valid_host_or_address("1.2.3"));
    BOOST_TEST(!valid_host_or_address("bad_host!"));
    BOOST_TEST(!valid_host_or_address(""));
}

BOOST_AUTO_TEST_SUITE_END()
