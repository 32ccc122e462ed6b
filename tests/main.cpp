// SPDX-License-Identifier: BSL-1.0
// tests/main.cpp — the Boost.Test module: the ONLY translation unit that defines BOOST_TEST_MODULE
// and includes the header-only runner. Every other test file includes <boost/test/unit_test.hpp>.
#define BOOST_TEST_MODULE mailload
#include <boost/test/included/unit_test.hpp>
