// Test that header file is self-contained.
#include <mailload/sansio/address.hpp>

#include <boost/test/unit_test.hpp>

#include <string>
#include <string_view>

using namespace mailload::sansio;

namespace {

/// "host|port", "unix|path" or "error: <diagnostic>": one string to compare.
std::string show(const endpoint_parse& r)
{
    if (!r)
        return "error: " + r.error;
    if (r.spec.local)
        return "unix|" + r.spec.path;
    return r.spec.host + "|" + r.spec.port;
}

std::string client(std::string_view arg, std::string_view default_port = "smtp")
{
    return show(parse_client_endpoint(arg, default_port));
}

std::string server(std::string_view arg) { return show(parse_server_endpoint(arg)); }

}  // namespace

BOOST_AUTO_TEST_SUITE(address_hpp)

BOOST_AUTO_TEST_CASE(client_host_and_port)
{
    BOOST_TEST(client("127.0.0.1:25") == "127.0.0.1|25");
    BOOST_TEST(client("localhost:2525") == "localhost|2525");
    BOOST_TEST(client("mail.example.com:submission") == "mail.example.com|submission");  // a service name
    BOOST_TEST(client("[::1]:25") == "::1|25");
    BOOST_TEST(client("[127.0.0.1]:25") == "127.0.0.1|25");
}

BOOST_AUTO_TEST_CASE(client_default_port)
{
    BOOST_TEST(client("127.0.0.1") == "127.0.0.1|smtp");
    BOOST_TEST(client("localhost:") == "localhost|smtp");
    BOOST_TEST(client("[::1]") == "::1|smtp");
    BOOST_TEST(client("[::1]:") == "::1|smtp");
    BOOST_TEST(client("127.0.0.1", "628") == "127.0.0.1|628");  // qmqp-source's default
    BOOST_TEST(client("vm:", "628") == "vm|628");
}

BOOST_AUTO_TEST_CASE(client_splits_at_the_last_colon)
{
    BOOST_TEST(client("::1:2525") == "::1|2525");
    // a bare "::1" splits into host ":" and port 1, which is no host (Postfix's split_at_right)
    BOOST_TEST(client("::1") == "error: ::1: valid hostname or network address required");
    BOOST_TEST(client("fe80::1:25") == "fe80::1|25");
}

BOOST_AUTO_TEST_CASE(client_brackets)
{
    BOOST_TEST(client("[::1") == R"(error: [::1: missing "]")");  // obs 31
    BOOST_TEST(client("[::1]x") == R"(error: [::1]x: garbage after "]")");
    BOOST_TEST(client("[::1]x:25") == R"(error: [::1]x:25: garbage after "]")");
    BOOST_TEST(client("[ipv6:::1]:1") == "::1|1");
    BOOST_TEST(client("[IPv6:::1]:25") == "::1|25");
    BOOST_TEST(client("[ipv6:::1]") == "::1|smtp");
    BOOST_TEST(client("[1.2.3.4x]:25") == "1.2.3.4x|25");  // accepted, not validated
    BOOST_TEST(client("[::1]:25x") == "error: [::1]:25x: garbage after numerical service");
}

BOOST_AUTO_TEST_CASE(client_errors)
{
    BOOST_TEST(client(":25") == "error: :25: missing host information");
    BOOST_TEST(client(":") == "error: :: missing host information");
    BOOST_TEST(client("") == "error: : missing host information");
    BOOST_TEST(client("bad_host!:25") == "error: bad_host!:25: valid hostname or network address required");
    BOOST_TEST(client("1.2.3:25") == "error: 1.2.3:25: valid hostname or network address required");
    BOOST_TEST(client("123:25") == "error: 123:25: valid hostname or network address required");
    BOOST_TEST(client("127.0.0.1:25x") == "error: 127.0.0.1:25x: garbage after numerical service");  // obs 31
    BOOST_TEST(client("127.0.0.1:2x5") == "error: 127.0.0.1:2x5: garbage after numerical service");
    BOOST_TEST(client("127.0.0.1:x25") == "127.0.0.1|x25");  // not a number: a service name
}

BOOST_AUTO_TEST_CASE(client_inet_prefix)
{
    BOOST_TEST(client("inet:127.0.0.1:25") == "127.0.0.1|25");
    BOOST_TEST(client("inet:[::1]:2525") == "::1|2525");
    BOOST_TEST(client("inet:localhost") == "localhost|smtp");
    // the prefix is not part of the argument shown in diagnostics
    BOOST_TEST(client("inet:[::1") == R"(error: [::1: missing "]")");
    BOOST_TEST(client("inet::25") == "error: :25: missing host information");
    BOOST_TEST(client("inet:127.0.0.1:25x") == "error: 127.0.0.1:25x: garbage after numerical service");
}

BOOST_AUTO_TEST_CASE(client_unix_paths)
{
    BOOST_TEST(client("unix:/tmp/smtp.sock") == "unix|/tmp/smtp.sock");
    BOOST_TEST(client("unix:relative/path") == "unix|relative/path");
    BOOST_TEST(client("unix:/a:b[c]") == "unix|/a:b[c]");  // no host:port rules inside
    const std::string longest = "/" + std::string(max_unix_path - 1, 'p');
    BOOST_TEST(longest.size() == 107u);
    BOOST_TEST(client("unix:" + longest) == "unix|" + longest);
    const std::string too_long = longest + "q";
    BOOST_TEST(client("unix:" + too_long) == "error: unix-domain name too long: " + too_long);
    const auto r = parse_client_endpoint("unix:" + too_long, "smtp");
    BOOST_TEST(!r);
    BOOST_TEST(r.spec.local);
}

BOOST_AUTO_TEST_CASE(result_fields)
{
    const auto r = parse_client_endpoint("[ipv6:::1]:2525", "smtp");
    BOOST_TEST(static_cast<bool>(r));
    BOOST_TEST(r.error.empty());
    BOOST_TEST(!r.spec.local);
    BOOST_TEST(r.spec.host == "::1");
    BOOST_TEST(r.spec.port == "2525");
    BOOST_TEST(r.spec.path.empty());
}

BOOST_AUTO_TEST_CASE(server_addresses)
{
    BOOST_TEST(server(":2525") == "|2525");
    BOOST_TEST(server("2525") == "|2525");
    BOOST_TEST(server("[::1]:25") == "::1|25");
    BOOST_TEST(server("127.0.0.1:25") == "127.0.0.1|25");
    BOOST_TEST(server("inet::2525") == "|2525");
    BOOST_TEST(server("inet:127.0.0.1:2525") == "127.0.0.1|2525");
    BOOST_TEST(server("localhost") == "|localhost");  // a lone word is a service name
    BOOST_TEST(server("unix:/tmp/sink") == "unix|/tmp/sink");
}

BOOST_AUTO_TEST_CASE(server_errors)
{
    BOOST_TEST(server("127.0.0.1:") == "error: 127.0.0.1:: missing service information");
    BOOST_TEST(server("[::1]") == "error: [::1]: missing service information");
    BOOST_TEST(server("[::1") == R"(error: [::1: missing "]")");
    BOOST_TEST(server(":25x") == "error: :25x: garbage after numerical service");
    BOOST_TEST(
        server("127.0.0.1") == "error: 127.0.0.1: garbage after numerical service"
    );  // a port, not a host
    BOOST_TEST(server("bad_host!:25") == "error: bad_host!:25: valid hostname or network address required");
}

BOOST_AUTO_TEST_SUITE_END()
