// Test that header file is self-contained.
#include <mailload/sansio/base64.hpp>

#include <boost/test/unit_test.hpp>

#include <optional>
#include <string>
#include <string_view>

using namespace mailload::sansio;

namespace {
std::string encoded(std::string_view in)
{
    std::string out;
    base64_encode(in, out);
    return out;
}

/// The decoded bytes, or "(refused)".
std::string decoded(std::string_view in, std::size_t max_out = 4096)
{
    const std::optional<std::string> d = base64_decode(in, max_out);
    return d ? *d : std::string("(refused)");
}

using namespace std::string_view_literals;
}  // namespace

BOOST_AUTO_TEST_SUITE(base64_hpp)

BOOST_AUTO_TEST_CASE(rfc_4648_vectors_encode)
{
    BOOST_TEST(encoded("") == "");
    BOOST_TEST(encoded("f") == "Zg==");
    BOOST_TEST(encoded("fo") == "Zm8=");
    BOOST_TEST(encoded("foo") == "Zm9v");
    BOOST_TEST(encoded("foob") == "Zm9vYg==");
    BOOST_TEST(encoded("fooba") == "Zm9vYmE=");
    BOOST_TEST(encoded("foobar") == "Zm9vYmFy");
}

BOOST_AUTO_TEST_CASE(rfc_4648_vectors_decode)
{
    BOOST_TEST(decoded("") == "");
    BOOST_TEST(decoded("Zg==") == "f");
    BOOST_TEST(decoded("Zm8=") == "fo");
    BOOST_TEST(decoded("Zm9v") == "foo");
    BOOST_TEST(decoded("Zm9vYg==") == "foob");
    BOOST_TEST(decoded("Zm9vYmE=") == "fooba");
    BOOST_TEST(decoded("Zm9vYmFy") == "foobar");
}

BOOST_AUTO_TEST_CASE(sasl_credentials)
{
    // RFC 4616's example and the AUTH LOGIN prompts
    BOOST_TEST(encoded("\0tim\0tanstaaftanstaaf"sv) == "AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
    BOOST_TEST(decoded("AHRpbQB0YW5zdGFhZnRhbnN0YWFm") == "\0tim\0tanstaaftanstaaf"sv);
    BOOST_TEST(decoded("VXNlcm5hbWU6") == "Username:");
    BOOST_TEST(decoded("UGFzc3dvcmQ6") == "Password:");
    BOOST_TEST(encoded("\0user\0pass"sv) == "AHVzZXIAcGFzcw==");
}

BOOST_AUTO_TEST_CASE(every_byte_value_and_the_last_two_letters)
{
    BOOST_TEST(encoded("\xff\xff\xff") == "////");
    BOOST_TEST(encoded("\xfb\xff") == "+/8=");
    BOOST_TEST(encoded("\x00\x00\x00"sv) == "AAAA");
    BOOST_TEST(encoded("\x80") == "gA==");
    BOOST_TEST(decoded("+/8=") == "\xfb\xff");
    std::string all;
    for (int i = 0; i < 256; ++i)
        all += static_cast<char>(i);
    const std::string e = encoded(all);
    BOOST_TEST(e.size() == 344u);  // 256 bytes: 85 groups and one of a single byte, padded
    BOOST_TEST(e.substr(0, 8) == "AAECAwQF");
    BOOST_TEST(e.substr(336) == "/P3+/w==");
    BOOST_TEST(decoded(e) == all);
}

BOOST_AUTO_TEST_CASE(encode_appends)
{
    std::string out = "AUTH PLAIN ";
    base64_encode("\0a\0b"sv, out);
    BOOST_TEST(out == "AUTH PLAIN AGEAYg==");
}

BOOST_AUTO_TEST_CASE(padding_is_required)
{
    BOOST_TEST(decoded("Zg") == "(refused)");
    BOOST_TEST(decoded("Zg=") == "(refused)");
    BOOST_TEST(decoded("Zm8") == "(refused)");
    BOOST_TEST(decoded("Zm9vYg") == "(refused)");
}

BOOST_AUTO_TEST_CASE(padding_only_at_the_end)
{
    BOOST_TEST(decoded("Zg==Zg==") == "(refused)");  // '=' in a group that is not the last
    BOOST_TEST(decoded("Zm8=Zm9v") == "(refused)");
    BOOST_TEST(decoded("Zg=v") == "(refused)");  // '=' then a letter
    BOOST_TEST(decoded("Z=g=") == "(refused)");
    BOOST_TEST(decoded("Z===") == "(refused)");  // three pad characters encode nothing
    BOOST_TEST(decoded("====") == "(refused)");
    BOOST_TEST(decoded("=Zm9") == "(refused)");
}

BOOST_AUTO_TEST_CASE(invalid_characters)
{
    BOOST_TEST(decoded("Zm9v YmFy") == "(refused)");  // length 9 anyway
    BOOST_TEST(decoded("Zm9 ") == "(refused)");
    BOOST_TEST(decoded("Zm9\n") == "(refused)");
    BOOST_TEST(decoded("Zm9-") == "(refused)");  // base64url's alphabet is not base64's
    BOOST_TEST(decoded("Zm9_") == "(refused)");
    BOOST_TEST(decoded("Zm9.") == "(refused)");
    BOOST_TEST(decoded("Zm9\x80") == "(refused)");
    BOOST_TEST(decoded("Zm9\xff") == "(refused)");
    BOOST_TEST(decoded("Zm9\0"sv) == "(refused)");
    BOOST_TEST(decoded("Zm9v\r\n") == "(refused)");
}

BOOST_AUTO_TEST_CASE(bad_lengths)
{
    BOOST_TEST(decoded("Z") == "(refused)");
    BOOST_TEST(decoded("Zm") == "(refused)");
    BOOST_TEST(decoded("Zm9") == "(refused)");
    BOOST_TEST(decoded("Zm9vY") == "(refused)");
    BOOST_TEST(decoded("Zm9vYmFyY") == "(refused)");
    BOOST_TEST(decoded("=") == "(refused)");
}

BOOST_AUTO_TEST_CASE(non_canonical_pad_bits_are_refused)
{
    BOOST_TEST(decoded("Zg==") == "f");          // 'g' = 100000: the low four bits are zero
    BOOST_TEST(decoded("Zh==") == "(refused)");  // 'h' = 100001
    BOOST_TEST(decoded("Zv==") == "(refused)");
    BOOST_TEST(decoded("QR==") == "(refused)");  // 'R' = 010001
    BOOST_TEST(decoded("QQ==") == "A");
    BOOST_TEST(decoded("Zm8=") == "fo");         // '8' = 111100: the low two bits are zero
    BOOST_TEST(decoded("Zm9=") == "(refused)");  // '9' = 111101
    BOOST_TEST(decoded("Zm+=") == "(refused)");  // '+' = 111110
    BOOST_TEST(decoded("QUJ=") == "(refused)");
    BOOST_TEST(decoded("QUI=") == "AB");
}

BOOST_AUTO_TEST_CASE(max_out_bounds_the_decoded_size)
{
    BOOST_TEST(decoded("Zm9vYmFy", 6) == "foobar");
    BOOST_TEST(decoded("Zm9vYmFy", 5) == "(refused)");
    BOOST_TEST(decoded("Zm9vYmE=", 5) == "fooba");
    BOOST_TEST(decoded("Zm9vYmE=", 4) == "(refused)");
    BOOST_TEST(decoded("Zm9vYg==", 4) == "foob");
    BOOST_TEST(decoded("Zm9vYg==", 3) == "(refused)");
    BOOST_TEST(decoded("Zg==", 1) == "f");
    BOOST_TEST(decoded("Zg==", 0) == "(refused)");
    BOOST_TEST(decoded("", 0) == "");
    const std::string big(4096 / 3 * 4, 'A');  // 5460 characters: 4095 zero bytes
    BOOST_TEST(decoded(big).size() == 4095u);
    BOOST_TEST(decoded(big + "AAAA") == "(refused)");  // 4098 bytes: over the default 4096
    BOOST_TEST(decoded(big + "AA==") == std::string(4096, '\0'));
    BOOST_TEST(decoded(std::string(1 << 20, 'A')) == "(refused)");
}

BOOST_AUTO_TEST_SUITE_END()
