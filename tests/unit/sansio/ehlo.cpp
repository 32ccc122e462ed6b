// Test that header file is self-contained.
#include <mailload/sansio/ehlo.hpp>

#include <boost/test/unit_test.hpp>

#include <string>
#include <string_view>

using namespace mailload::sansio;

namespace {
/// The reply text of an EHLO reply from a server called "mx" announcing `lines`, as
/// reply_parser::text() gives it: the texts joined with '\n'.
esmtp_extensions announced(std::string_view lines) { return parse_ehlo("mx\n" + std::string(lines)); }

/// How many of the flags are set: a keyword must turn on its own flag and no other.
int flags(const esmtp_extensions& e)
{
    return e.pipelining + e.chunking + e.binarymime + e.starttls + e.smtputf8 + e.eightbitmime + e.size +
           e.auth_plain + e.auth_login;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(ehlo_hpp)

BOOST_AUTO_TEST_CASE(each_keyword_sets_its_own_flag)
{
    BOOST_TEST(announced("PIPELINING").pipelining);
    BOOST_TEST(announced("CHUNKING").chunking);
    BOOST_TEST(announced("BINARYMIME").binarymime);
    BOOST_TEST(announced("STARTTLS").starttls);
    BOOST_TEST(announced("SMTPUTF8").smtputf8);
    BOOST_TEST(announced("8BITMIME").eightbitmime);
    BOOST_TEST(announced("SIZE").size);
    BOOST_TEST(announced("AUTH PLAIN").auth_plain);
    BOOST_TEST(announced("AUTH LOGIN").auth_login);
    for (std::string_view k :
         {"PIPELINING",
          "CHUNKING",
          "BINARYMIME",
          "STARTTLS",
          "SMTPUTF8",
          "8BITMIME",
          "SIZE",
          "AUTH PLAIN",
          "AUTH LOGIN"})
        BOOST_TEST(flags(announced(k)) == 1, k);
}

BOOST_AUTO_TEST_CASE(a_whole_postfix_reply)
{
    const esmtp_extensions e = parse_ehlo(
        "mx.example\nPIPELINING\nSIZE 10240000\nVRFY\nETRN\nSTARTTLS\nAUTH PLAIN LOGIN\nENHANCEDSTATUSCODES\n"
        "8BITMIME\nDSN\nSMTPUTF8\nCHUNKING"
    );
    BOOST_TEST(e.pipelining);
    BOOST_TEST(e.size);
    BOOST_TEST(e.size_limit == 10240000u);
    BOOST_TEST(e.starttls);
    BOOST_TEST(e.auth_plain);
    BOOST_TEST(e.auth_login);
    BOOST_TEST(e.eightbitmime);
    BOOST_TEST(e.smtputf8);
    BOOST_TEST(e.chunking);
    BOOST_TEST(!e.binarymime);
}

BOOST_AUTO_TEST_CASE(keywords_are_matched_without_regard_to_case)
{
    const esmtp_extensions e = announced(
        "pipelining\nChunking\nbinaryMIME\nStartTLS\nsmtputf8\n8bitmime\nsize 100\nauth plain Login"
    );
    BOOST_TEST(flags(e) == 9);
    BOOST_TEST(e.size_limit == 100u);
}

BOOST_AUTO_TEST_CASE(unknown_and_near_miss_keywords_are_ignored)
{
    BOOST_TEST(flags(announced("PIPELININGX\nXCHUNKING\nSTART TLS\nSIZES 10\nAUTHX PLAIN\nDSN\nETRN")) == 0);
    BOOST_TEST(flags(announced("PIPELINIG\n8BIT\nUTF8")) == 0);
    BOOST_TEST(flags(announced("X-PIPELINING\nXCLIENT NAME ADDR\nXFORWARD NAME")) == 0);
}

BOOST_AUTO_TEST_CASE(auth_with_several_mechanisms)
{
    const esmtp_extensions both = announced("AUTH CRAM-MD5 DIGEST-MD5 LOGIN PLAIN");
    BOOST_TEST(both.auth_plain);
    BOOST_TEST(both.auth_login);
    const esmtp_extensions plain_only = announced("AUTH GSSAPI PLAIN XOAUTH2");
    BOOST_TEST(plain_only.auth_plain);
    BOOST_TEST(!plain_only.auth_login);
    const esmtp_extensions neither = announced("AUTH CRAM-MD5 SCRAM-SHA-256");
    BOOST_TEST(!neither.auth_plain);
    BOOST_TEST(!neither.auth_login);
    BOOST_TEST(flags(announced("AUTH")) == 0);  // no mechanism at all
    BOOST_TEST(flags(announced("AUTH PLAINX LOGINS")) == 0);
    const esmtp_extensions lower = announced("AUTH plain login");
    BOOST_TEST(lower.auth_plain);
    BOOST_TEST(lower.auth_login);
}

BOOST_AUTO_TEST_CASE(auth_in_the_old_equals_form)
{
    const esmtp_extensions e = announced("AUTH=LOGIN PLAIN");
    BOOST_TEST(e.auth_login);
    BOOST_TEST(e.auth_plain);
    const esmtp_extensions login = announced("AUTH=LOGIN");
    BOOST_TEST(login.auth_login);
    BOOST_TEST(!login.auth_plain);
    // both forms, as Postfix announces them with broken_sasl_auth_clients
    const esmtp_extensions twice = announced("AUTH PLAIN\nAUTH=LOGIN");
    BOOST_TEST(twice.auth_plain);
    BOOST_TEST(twice.auth_login);
}

BOOST_AUTO_TEST_CASE(mechanisms_separated_by_several_spaces)
{
    const esmtp_extensions e = announced("AUTH  LOGIN   PLAIN ");
    BOOST_TEST(e.auth_login);
    BOOST_TEST(e.auth_plain);
}

BOOST_AUTO_TEST_CASE(size_with_and_without_a_number)
{
    const esmtp_extensions with = announced("SIZE 52428800");
    BOOST_TEST(with.size);
    BOOST_TEST(with.size_limit == 52428800u);
    const esmtp_extensions without = announced("SIZE");
    BOOST_TEST(without.size);
    BOOST_TEST(without.size_limit == 0u);
    const esmtp_extensions zero = announced("SIZE 0");  // RFC 1870: no fixed limit
    BOOST_TEST(zero.size);
    BOOST_TEST(zero.size_limit == 0u);
    const esmtp_extensions trailing_space = announced("SIZE ");
    BOOST_TEST(trailing_space.size);
    BOOST_TEST(trailing_space.size_limit == 0u);
    const esmtp_extensions more_args = announced("SIZE 1000 extra");
    BOOST_TEST(more_args.size_limit == 1000u);
}

BOOST_AUTO_TEST_CASE(size_argument_not_a_number_counts_as_none)
{
    for (std::string_view line : {"SIZE 10x", "SIZE x10", "SIZE -1", "SIZE +5", "SIZE 1.5", "SIZE 0x10"})
    {
        const esmtp_extensions e = announced(line);
        BOOST_TEST(e.size, line);
        BOOST_TEST(e.size_limit == 0u, line);
    }
}

BOOST_AUTO_TEST_CASE(size_argument_of_at_most_19_digits)
{
    BOOST_TEST(announced("SIZE 9999999999999999999").size_limit == 9999999999999999999u);  // 19 digits
    BOOST_TEST(announced("SIZE 1000000000000000000").size_limit == 1000000000000000000u);
    const esmtp_extensions too_long = announced("SIZE 18446744073709551616");  // 20 digits: 2^64
    BOOST_TEST(too_long.size);
    BOOST_TEST(too_long.size_limit == 0u);
    BOOST_TEST(announced("SIZE 10000000000000000000").size_limit == 0u);  // 20 digits, fits 64 bits
    BOOST_TEST(announced("SIZE " + std::string(40, '9')).size_limit == 0u);
}

BOOST_AUTO_TEST_CASE(the_first_line_is_the_server_name_never_a_keyword)
{
    BOOST_TEST(flags(parse_ehlo("PIPELINING")) == 0);
    BOOST_TEST(flags(parse_ehlo("STARTTLS\nSIZE")) == 1);
    BOOST_TEST(!parse_ehlo("STARTTLS\nSIZE").starttls);
    BOOST_TEST(!parse_ehlo("AUTH PLAIN LOGIN\n8BITMIME").auth_plain);
    BOOST_TEST(parse_ehlo("AUTH PLAIN LOGIN\n8BITMIME").eightbitmime);
}

BOOST_AUTO_TEST_CASE(empty_input_and_empty_lines)
{
    BOOST_TEST(flags(parse_ehlo("")) == 0);
    BOOST_TEST(parse_ehlo("").size_limit == 0u);
    BOOST_TEST(flags(parse_ehlo("\n")) == 0);
    BOOST_TEST(flags(parse_ehlo("mx\n\n\n")) == 0);
    const esmtp_extensions e = parse_ehlo("mx\n\nCHUNKING\n");  // empty lines between keywords
    BOOST_TEST(e.chunking);
    BOOST_TEST(flags(e) == 1);
}

BOOST_AUTO_TEST_CASE(the_last_line_counts_without_a_newline)
{
    BOOST_TEST(parse_ehlo("mx\nPIPELINING\nSTARTTLS").starttls);
    BOOST_TEST(parse_ehlo("mx\nSIZE 77").size_limit == 77u);
}

BOOST_AUTO_TEST_SUITE_END()
