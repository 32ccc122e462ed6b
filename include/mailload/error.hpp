// SPDX-License-Identifier: BSL-1.0
// mailload/error.hpp — mailload's error codes, as a boost::system error category
#pragma once

#include <boost/system/error_code.hpp>

#include <ostream>
#include <string>
#include <type_traits>

namespace mailload {

/// Errors the protocol cores and drivers report (never thrown; carried in error_code values).
enum class error {
    success = 0,
    no_more_messages,  ///< every message of the run has been claimed (not a failure)
    rejected,          ///< the server answered a command with an unexpected reply code
    server_closing,    ///< the server answered 421 or 521: the session was closed
    lost_connection,   ///< the peer closed or reset the connection
    timeout,           ///< an operation did not complete within its time limit
    line_too_long,     ///< a protocol line exceeded its bound
    bad_reply,         ///< a reply that cannot be parsed
    netstring_format,  ///< a netstring not of the form digits ':' bytes ','
    netstring_size,    ///< a netstring longer than its bound
    not_announced,     ///< the server does not announce an ESMTP extension the client must use
    stopped,           ///< a stop signal ended the run early (source_options::stop_signals)
};

}  // namespace mailload

template <>
struct boost::system::is_error_code_enum<mailload::error> : std::true_type {};

namespace mailload {

namespace detail {
class error_category final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "mailload"; }
    std::string message(int ev) const override {
        switch (static_cast<error>(ev)) {
        case error::success: return "success";
        case error::no_more_messages: return "no more messages";
        case error::rejected: return "rejected";
        case error::server_closing: return "server closing connection";
        case error::lost_connection: return "lost connection";
        case error::timeout: return "timeout";
        case error::line_too_long: return "line too long";
        case error::bad_reply: return "bad reply";
        case error::netstring_format: return "netstring format error";
        case error::netstring_size: return "netstring size exceeds limit";
        case error::not_announced: return "extension not announced";
        case error::stopped: return "stopped by a signal";
        }
        return "unknown mailload error";
    }
};
}  // namespace detail

/// The category of mailload::error values.
inline const boost::system::error_category& error_category() noexcept {
    static const detail::error_category cat;
    return cat;
}

inline boost::system::error_code make_error_code(error e) noexcept {
    return {static_cast<int>(e), error_category()};
}

/// An I/O result as the protocol cores see it: the end of the stream (success with no bytes), a
/// reset connection and a broken pipe all read as error::lost_connection.
inline boost::system::error_code peer_result(boost::system::error_code ec, bool no_bytes) noexcept {
    if ((!ec && no_bytes) || ec == boost::system::errc::connection_reset || ec == boost::system::errc::broken_pipe)
        return make_error_code(error::lost_connection);
    return ec;
}

inline std::ostream& operator<<(std::ostream& os, error e) { return os << error_category().message(static_cast<int>(e)); }

}  // namespace mailload
