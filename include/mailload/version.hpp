// SPDX-License-Identifier: BSL-1.0
// mailload/version.hpp — the library's version
#pragma once

#define MAILLOAD_VERSION_MAJOR 0
#define MAILLOAD_VERSION_MINOR 1
#define MAILLOAD_VERSION_PATCH 0
#define MAILLOAD_VERSION_STRING "0.1.0"

namespace mailload {
/// The version as text, e.g. "0.1.0".
inline constexpr const char* version = MAILLOAD_VERSION_STRING;
}  // namespace mailload
