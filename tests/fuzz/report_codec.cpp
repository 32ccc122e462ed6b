// SPDX-License-Identifier: BSL-1.0
// tests/fuzz/report_codec.cpp — report::decode (what an MPI rank receives from the others)
//
// Input: the bytes to decode, as they are.
// Checks, for arbitrary bytes: decode() returns (no read past the end, no allocation beyond
// the bounds of the format); when it accepts them, what it read encodes to bytes that decode
// again, to a report that encodes to the same bytes (the codec is stable).

#include <mailload/report/codec.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    using namespace mailload;
    source_report r;
    if (!report::decode(std::string_view(reinterpret_cast<const char*>(data), size), r).empty()) return 0;
    const std::string once = report::encode(r);
    source_report again;
    FUZZ_CHECK(report::decode(once, again).empty());
    FUZZ_CHECK(report::encode(again) == once);
    FUZZ_CHECK(again.totals.messages_accepted == r.totals.messages_accepted);
    FUZZ_CHECK(again.latency.count() == r.latency.count());
    return 0;
}
