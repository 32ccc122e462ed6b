// SPDX-License-Identifier: BSL-1.0
// tests/odr/odr_b.cpp — second TU of the ODR check (see odr_a.cpp); holds main().
#include <mailload/mailload.hpp>

int main() { return 0; }
