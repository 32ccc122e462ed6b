// SPDX-License-Identifier: BSL-1.0
// tests/odr/odr_a.cpp — first of two TUs that include the umbrella header and are linked into one
// executable: a non-inline definition in a header shows up as a multiple-definition link error.
#include <mailload/mailload.hpp>
