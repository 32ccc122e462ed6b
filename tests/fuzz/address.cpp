// SPDX-License-Identifier: BSL-1.0
// tests/fuzz/address.cpp — parse_client_endpoint / parse_server_endpoint (sansio/address.hpp)
//
// Input: [default port choice] then the endpoint argument.
// Checks: a failure always carries a diagnostic; "unix:" gives the path
// after it, at most max_unix_path bytes; an inet success has a port (digits only when it
// starts with one), a host for a client, a host that passes valid_host_or_address unless it
// was bracketed; and a success printed again as "[ipv6:host]:port" parses to the same host
// and port (so what the tools print can be given back to them).

#include <mailload/sansio/address.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"

namespace {

using namespace mailload::sansio;

void check(std::string_view arg, const endpoint_parse& r, bool server, std::string_view default_port)
{
    if (!r)
    {
        FUZZ_CHECK(!r.error.empty());
        return;
    }
    if (arg.starts_with("unix:"))
    {
        FUZZ_CHECK(r.spec.local && r.spec.path == arg.substr(5) && r.spec.path.size() <= max_unix_path);
        return;
    }
    FUZZ_CHECK(!r.spec.local && r.spec.path.empty());
    FUZZ_CHECK(!r.spec.port.empty());
    if (r.spec.port.front() >= '0' && r.spec.port.front() <= '9')
        FUZZ_CHECK(r.spec.port.find_first_not_of("0123456789") == std::string::npos);
    if (!server)
        FUZZ_CHECK(!r.spec.host.empty());
    std::string_view rest = arg;
    if (rest.starts_with("inet:"))
        rest.remove_prefix(5);
    if (!rest.starts_with('[') && !r.spec.host.empty())
        FUZZ_CHECK(valid_host_or_address(r.spec.host));
    // the parts come from the argument (or the default port)
    FUZZ_CHECK(arg.find(r.spec.host) != std::string_view::npos);
    FUZZ_CHECK(arg.find(r.spec.port) != std::string_view::npos || r.spec.port == default_port);

    const std::string again = "[ipv6:" + r.spec.host + "]:" + r.spec.port;
    const endpoint_parse r2 = server ? parse_server_endpoint(again)
                                     : parse_client_endpoint(again, default_port);
    FUZZ_CHECK(r2 && !r2.spec.local && r2.spec.host == r.spec.host && r2.spec.port == r.spec.port);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    fuzz::input in(data, size);
    static constexpr std::string_view ports[] = {"smtp", "628", "", "25x"};
    const std::string_view default_port = ports[in.byte() % 4];
    const std::string_view arg = in.rest();

    check(arg, parse_client_endpoint(arg, default_port), false, default_port);
    check(arg, parse_server_endpoint(arg), true, {});
    return 0;
}
