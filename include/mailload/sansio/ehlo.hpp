// SPDX-License-Identifier: BSL-1.0
// mailload/sansio/ehlo.hpp — the ESMTP extensions an EHLO/LHLO reply announces (RFC 5321 4.1.1.1)
#pragma once

#include <mailload/sansio/ascii.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace mailload::sansio {

/// The service extensions of an EHLO/LHLO reply that mailload's client can use.
struct esmtp_extensions {
    bool pipelining = false;    ///< PIPELINING (RFC 2920)
    bool chunking = false;      ///< CHUNKING: BDAT (RFC 3030)
    bool binarymime = false;    ///< BINARYMIME (RFC 3030)
    bool starttls = false;      ///< STARTTLS (RFC 3207)
    bool smtputf8 = false;      ///< SMTPUTF8 (RFC 6531)
    bool eightbitmime = false;  ///< 8BITMIME (RFC 6152)
    bool size = false;          ///< SIZE (RFC 1870)
    std::uint64_t size_limit = 0;  ///< SIZE's argument: the largest message accepted; 0: none given
    bool auth_plain = false;    ///< AUTH ... PLAIN ... (RFC 4954, RFC 4616)
    bool auth_login = false;    ///< AUTH ... LOGIN ...
};

/**
 * The extensions announced by an EHLO/LHLO reply, given as its texts joined with '\n' (the
 * reply_parser's text()): the first line is the server's name, each later one a keyword and its
 * parameters, separated by spaces. Keywords are matched without regard to case; AUTH's
 * mechanisms may also follow "AUTH=" (an old form). A SIZE argument that is not a number of at
 * most 19 digits counts as none. Unknown keywords are ignored; the text is not copied.
 */
inline esmtp_extensions parse_ehlo(std::string_view text) noexcept {
    esmtp_extensions e;
    for (std::size_t at = text.find('\n'); at != std::string_view::npos;) {
        const std::size_t end = text.find('\n', at + 1);
        std::string_view line = text.substr(at + 1, end == std::string_view::npos ? std::string_view::npos : end - at - 1);
        at = end;
        const std::size_t cut = line.find_first_of(" =");
        const std::string_view keyword = line.substr(0, cut);
        std::string_view args = cut == std::string_view::npos ? std::string_view{} : line.substr(cut + 1);
        if (equals_ignoring_case(keyword, "PIPELINING")) e.pipelining = true;
        else if (equals_ignoring_case(keyword, "CHUNKING")) e.chunking = true;
        else if (equals_ignoring_case(keyword, "BINARYMIME")) e.binarymime = true;
        else if (equals_ignoring_case(keyword, "STARTTLS")) e.starttls = true;
        else if (equals_ignoring_case(keyword, "SMTPUTF8")) e.smtputf8 = true;
        else if (equals_ignoring_case(keyword, "8BITMIME")) e.eightbitmime = true;
        else if (equals_ignoring_case(keyword, "SIZE")) {
            e.size = true;
            std::uint64_t v = 0;
            std::size_t digits = 0;
            while (digits < args.size() && args[digits] >= '0' && args[digits] <= '9' && digits < 19)
                v = v * 10 + static_cast<std::uint64_t>(args[digits++] - '0');
            const bool whole = digits > 0 && (digits == args.size() || args[digits] == ' ');
            e.size_limit = whole ? v : 0;
        } else if (equals_ignoring_case(keyword, "AUTH")) {
            while (!args.empty()) {
                const std::size_t sp = args.find(' ');
                const std::string_view mech = args.substr(0, sp);
                if (equals_ignoring_case(mech, "PLAIN")) e.auth_plain = true;
                if (equals_ignoring_case(mech, "LOGIN")) e.auth_login = true;
                args.remove_prefix(sp == std::string_view::npos ? args.size() : sp + 1);
            }
        }
    }
    return e;
}

}  // namespace mailload::sansio
