// SPDX-License-Identifier: BSL-1.0
// examples/common/cli.hpp — what the four tools share: Postfix-style diagnostics and number parsing
#pragma once

#include <mailload/mailload.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace cli {

/// argv[0] exactly as typed: every diagnostic starts with it, as Postfix's do.
inline std::string program = "mailload";
/// The program's name without its directory ("smtp-source"), for --help and --version.
inline std::string program_name() { return program.substr(program.rfind('/') + 1); }

/// Postfix's logger shows every byte that is not printable ASCII as '?' (a tab and a newline
/// too), and so does this one: each diagnostic is one line.
inline std::string printable(std::string_view text) {
    std::string out(text);
    for (char& c : out) {
        const unsigned char u = static_cast<unsigned char>(c);
        if (u < 0x20 || u >= 0x7f) c = '?';
    }
    return out;
}

inline void say(std::string_view level, std::string_view text) {
    std::string line = program + ": ";
    if (!level.empty()) line.append(level).append(": ");
    line += printable(text);
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), stderr);
}

inline void info(std::string_view text) { say({}, text); }
inline void warning(std::string_view text) { say("warning", text); }

/// What cli::exit() throws instead of ending the process, in a build that defines
/// MAILLOAD_CLI_EXIT_THROWS (only the option parsers' fuzz targets, tests/fuzz/options_*.cpp).
struct exit_request {
    int status;
};

/// How cli::exit() ends the process: `normal` is exit(3) (atexit handlers, static destructors);
/// `immediate` is _Exit(2), for a fatal error that may come while other threads still run.
enum class exit_mode { normal, immediate };

/// The one way the tools end before main() returns: stdout flushed, then exit `status`.
[[noreturn]] inline void exit(int status, exit_mode mode = exit_mode::normal) {
    std::fflush(stdout);
#ifdef MAILLOAD_CLI_EXIT_THROWS
    (void)mode;
    throw exit_request{status};
#else
    if (mode == exit_mode::immediate) std::_Exit(status);
    std::exit(status);
#endif
}

/// `prog: fatal: text` on stderr, then exit status 1. Unlike Postfix, no one-second sleep first.
[[noreturn]] inline void fatal(std::string_view text) {
    say("fatal", text);
    cli::exit(1, exit_mode::immediate);
}

/// atoi()'s reading of a number: leading digits (and sign), garbage after them ignored, 0 if none.
inline long long leading_integer(const char* s) { return std::strtoll(s, nullptr, 10); }

/// The same for a number of seconds that may have a decimal fraction ("0.25"): leading digits,
/// a point and digits; no exponent, hex, "inf" or "nan" (atoi() reads "0x2" as 0, and so does this).
inline double leading_seconds(const char* s) {
    const std::string_view text(s);
    std::size_t end = text.find_first_not_of("0123456789");
    if (end != std::string_view::npos && text[end] == '.') end = text.find_first_not_of("0123456789", end + 1);
    return std::strtod(std::string(text.substr(0, end)).c_str(), nullptr);
}

/// A positive whole number option ("-s 10"), read as atoi() does; else `fatal: bad <what>: <arg>`.
inline int positive(const char* arg, const char* what) {
    const long long v = leading_integer(arg);
    if (v <= 0 || v > INT_MAX) fatal(std::string("bad ") + what + ": " + arg);
    return static_cast<int>(v);
}

/// A positive number of seconds, fractions allowed ("-w 0.25"); else `fatal: bad <what>: <arg>`.
inline double positive_seconds(const char* arg, const char* what) {
    const double v = leading_seconds(arg);
    if (!(v > 0) || v > 1e8) fatal(std::string("bad ") + what + ": " + arg);
    return v;
}

/// A number of seconds (0..1e8, as the options allow) as the clock's duration; a positive one
/// is at least one tick, since a zero duration means "none" to the options that take one.
inline std::chrono::steady_clock::duration seconds(double s) {
    const auto d = std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(s));
    return s > 0 && d.count() == 0 ? std::chrono::steady_clock::duration(1) : d;
}

/// The -M argument (a host name or an [address] literal), checked as Postfix checks it; the
/// machine's own name when there is none.
inline std::string myhostname(const char* given) {
    if (!given) {
        char buf[256] = {};
        if (::gethostname(buf, sizeof buf - 1) != 0 || !mailload::sansio::valid_hostname(buf))
            fatal("unable to use my own hostname");
        return buf;
    }
    const std::string name = given;
    const bool literal = name.starts_with('[');
    if (auto check = literal ? mailload::sansio::valid_address_literal(name) : mailload::sansio::valid_hostname(name);
        !check) {
        warning(check.problem);
        fatal((literal ? "bad address literal: " : "bad hostname: ") + name);
    }
    return name;
}

/// -v's lines about a new TCP connection's segment size and buffer (Postfix's wording).
template <class Socket>
void log_tcp_tweak(Socket& socket) {
    if constexpr (std::is_same_v<typename Socket::protocol_type, boost::asio::ip::tcp>) {
        int mss = 0;
        socklen_t len = sizeof mss;
        if (::getsockopt(socket.native_handle(), IPPROTO_TCP, TCP_MAXSEG, &mss, &len) == 0 && mss > 1024) {
            info("vstream_tweak_tcp: TCP_MAXSEG " + std::to_string(mss));
            info("fd=" + std::to_string(socket.native_handle()) + ": stream buffer size old=0 new=" +
                 std::to_string(4 * mss));
        }
    }
}

/// The -c counter, "N\r" on stdout: from one thread or several (--threads), in order.
struct counter {
    std::mutex mutex;
    unsigned long n = 0;
};
inline void count_up(counter& c) {
    std::lock_guard lock(c.mutex);
    std::printf("%lu\r", ++c.n);
    std::fflush(stdout);
}

/// The long options the tools share.
inline bool compat39(const char* arg) {  // --compat=3.8|3.9
    if (std::string_view(arg) == "3.9") return true;
    if (std::string_view(arg) != "3.8") fatal(std::string("bad --compat version: ") + arg);
    return false;
}
inline std::uint32_t connect_limit(const char* arg) {  // --connect-limit=N, 0 for none
    const long long v = leading_integer(arg);
    if (v < 0 || v > INT_MAX) fatal(std::string("bad connect limit: ") + arg);
    return static_cast<std::uint32_t>(v);
}
inline std::string report_format(const char* arg) {  // --report=text|json
    if (std::string_view(arg) != "text" && std::string_view(arg) != "json")
        fatal(std::string("bad --report format: ") + arg);
    return arg;
}
[[noreturn]] inline void version() {  // "smtp-source (mailload) 0.1.0"
    std::printf("%s (mailload) %s\n", program_name().c_str(), mailload::version);
    cli::exit(0);
}

/// "all", "ipv4" or "ipv6" for -v's name_mask line, from a transport name.
inline const char* name_mask(std::string_view family) {
    return family == "inet4" ? "ipv4" : family == "inet6" ? "ipv6" : "all";
}

/// True if `s` is one or more digits, optionally with a decimal fraction ("1", "0.25").
inline bool is_decimal(std::string_view s) {
    const auto dot = s.find('.');
    const auto whole = s.substr(0, dot);
    const auto frac = dot == std::string_view::npos ? std::string_view{} : s.substr(dot + 1);
    auto digits = [](std::string_view d) { return d.find_first_not_of("0123456789") == std::string_view::npos; };
    return !whole.empty() && digits(whole) && digits(frac) && (dot == std::string_view::npos || !frac.empty());
}

/// The start of every tool's main(): no SIGPIPE (a write to a closed socket is an error
/// return), the soft limit on open files raised to the hard limit (thousands of sessions),
/// and the program's name for the diagnostics.
inline void start(char** argv) {
    std::signal(SIGPIPE, SIG_IGN);
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
        lim.rlim_cur = lim.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &lim);
    }
    program = argv[0];
}

/// Whether this program is an MPI source (smtp-source-mpi, qmqp-source-mpi): several targets
/// and --per-rank are its options.
inline bool mpi_tool = false;

/// The operands after the options: exactly one target, or for an MPI source one or more;
/// `usage()` otherwise.
inline void take_targets(int argc, char** argv, int first, std::vector<const char*>& targets, void (*usage)()) {
    if (argc - first < 1 || (argc - first > 1 && !mpi_tool)) usage();
    targets.assign(argv + first, argv + argc);
}

}  // namespace cli
