// SPDX-License-Identifier: BSL-1.0
// tests/fuzz/options_support.hpp — shared pieces of the option parser targets (options_*.cpp):
// the input as an argv, a model of glibc's getopt_long() that says which options a command line
// holds, and the checks of what the tools' parse() does with them.
//
// A target defines MAILLOAD_CLI_EXIT_THROWS before any include, includes the tool's .cpp with
// its main() renamed, and calls the tool's parse(): a help, version or fatal exit then throws
// cli::exit_request instead of ending the process.
#pragma once

#ifndef MAILLOAD_CLI_EXIT_THROWS
#error "define MAILLOAD_CLI_EXIT_THROWS before any include: the parsers must throw, not exit"
#endif

#include <mailload/mailload.hpp>

#include <climits>
#include <common/cli.hpp>
#include <common/run.hpp>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <getopt.h>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"

namespace fuzz {

/// The input as a command line: arguments separated by NUL bytes (a last NUL ends the last one),
/// at most `max_args` of at most `max_arg` bytes each (the rest is dropped), after argv[0].
class command_line
{
public:
    static constexpr std::size_t max_args = 40;
    static constexpr std::size_t max_arg = 300;

    command_line(std::string_view argv0, const std::uint8_t* data, std::size_t size)
    {
        args_.emplace_back(argv0);
        std::string_view rest(reinterpret_cast<const char*>(data), size);
        while (!rest.empty() && args_.size() <= max_args)
        {
            const auto nul = rest.find('\0');
            args_.emplace_back(rest.substr(0, nul).substr(0, max_arg));
            rest.remove_prefix(nul == std::string_view::npos ? rest.size() : nul + 1);
        }
    }

    /// The arguments, argv[0] first; change them before argv().
    std::vector<std::string>& args() noexcept { return args_; }

    /// argv for the parser (nullptr-terminated): pointers into args().
    char** argv()
    {
        ptrs_.clear();
        for (auto& a : args_)
            ptrs_.push_back(a.data());
        ptrs_.push_back(nullptr);
        return ptrs_.data();
    }
    int argc() const noexcept { return static_cast<int>(args_.size()); }

private:
    std::vector<std::string> args_;
    std::vector<char*> ptrs_;
};

/// A long option of the model: name, whether it takes an argument, the code the model gives it.
struct long_opt
{
    std::string_view name;
    bool has_arg;
    int code;
};

/// One option getopt_long() returns: its letter (or the long option's code), its argument (a
/// pointer into argv, as optarg is) or nullptr.
struct seen_option
{
    int code;
    const char* arg;
};

/// What getopt_long(argc, argv, "+" shorts, longs) makes of a command line.
struct getopt_model
{
    std::vector<seen_option> options;  ///< in order, up to the first error
    bool error = false;                ///< it returns '?': unknown, ambiguous, missing or extra argument
    int optind = 1;                    ///< without an error: the first operand

    bool has(int code) const noexcept { return last(code) != nullptr; }
    /// The last occurrence of `code`, or nullptr.
    const seen_option* last(int code) const noexcept { return last_of({code}); }
    /// The last occurrence of any of `codes`, or nullptr.
    const seen_option* last_of(std::initializer_list<int> codes) const noexcept
    {
        const seen_option* found = nullptr;
        for (const auto& o : options)
            for (int c : codes)
                if (o.code == c)
                    found = &o;
        return found;
    }
    std::size_t count(int code) const noexcept
    {
        std::size_t n = 0;
        for (const auto& o : options)
            n += o.code == code;
        return n;
    }
    /// The argument of the last `code`, or nullptr.
    const char* arg(int code) const noexcept
    {
        const auto* o = last(code);
        return o ? o->arg : nullptr;
    }
};

/**
 * glibc's getopt_long() in REQUIRE_ORDER mode (an option string starting with '+'), as
 * posix/getopt.c does it: the first operand ("-" and "" are operands) or "--" ends the
 * options; "--name[=arg]" is a long option, matched exactly or by a prefix of exactly one
 * name (more is ambiguous: every option here has its own code); otherwise a cluster of letters,
 * where a letter followed by ':' in `shorts` takes the rest of the cluster, or else the next
 * argument, whatever it is. ':' and ';' are never options.
 */
inline getopt_model model_getopt(
    int argc,
    char** argv,
    std::string_view shorts,
    const std::vector<long_opt>& longs
)
{
    getopt_model m;
    int i = 1;
    auto fail = [&] {
        m.error = true;
        m.optind = i;
        return m;
    };
    while (i < argc)
    {
        const char* a = argv[i];
        if (a[0] != '-' || a[1] == '\0')
            break;
        if (std::strcmp(a, "--") == 0)
        {
            ++i;
            break;
        }
        if (a[1] == '-')
        {
            const std::string_view body(a + 2);
            const auto eq = body.find('=');
            const std::string_view name = body.substr(0, eq);
            const long_opt* found = nullptr;
            int matches = 0;
            for (const auto& l : longs)
                if (l.name == name)
                {
                    found = &l;
                    matches = 1;
                    break;
                }
            if (!found)
                for (const auto& l : longs)
                    if (l.name.starts_with(name))
                    {
                        found = &l;
                        ++matches;
                    }
            if (!found || matches > 1)
                return fail();
            ++i;
            const char* arg = nullptr;
            if (eq != std::string_view::npos)
            {
                if (!found->has_arg)
                    return fail();
                arg = a + 2 + eq + 1;
            }
            else if (found->has_arg)
            {
                if (i == argc)
                    return fail();
                arg = argv[i++];
            }
            m.options.push_back({found->code, arg});
            continue;
        }
        for (const char* p = a + 1; *p;)
        {
            const char c = *p++;
            const auto at = shorts.find(c);
            if (c == ':' || c == ';' || at == std::string_view::npos)
                return fail();
            if (at + 1 < shorts.size() && shorts[at + 1] == ':')
            {
                const char* arg = p;
                if (*p == '\0')
                {
                    if (i + 1 == argc)
                        return fail();
                    arg = argv[++i];
                }
                m.options.push_back({static_cast<unsigned char>(c), arg});
                break;
            }
            m.options.push_back({static_cast<unsigned char>(c), nullptr});
        }
        ++i;
    }
    m.optind = i;
    return m;
}

/// Starts getopt afresh: optind = 0 makes glibc initialise everything again (its position in
/// a cluster, the ordering read from the option string's '+').
inline void reset_getopt() noexcept
{
    optind = 0;
    opterr = 1;
}

/// The model's codes of the long options (its own numbering, beyond any letter).
enum long_code : int
{
    l_compat = 1000,
    l_connect_limit,
    l_timeout,
    l_report,
    l_threads,
    l_thread_per_session,
    l_rate,
    l_duration,
    l_progress,
    l_help,
    l_version,
    l_pipelining,
    l_session_limit,
    l_max_sessions,
    l_max_size,
    // ESMTP (smtp-source, smtp-sink)
    l_ehlo,
    l_starttls,
    l_tls_on_connect,
    l_tls_verify,
    l_tls_ca_file,
    l_tls_servername,
    l_tls_cert,
    l_tls_key,
    l_chunking,
    l_chunk_size,
    l_binarymime,
    l_8bitmime,
    l_smtputf8,
    l_size,
    l_auth_user,
    l_auth_password,
    l_auth_mech,
};

/// The long options both sources take (smtp-source(1), qmqp-source(1): "mailload's options").
inline std::vector<long_opt> source_longs()
{
    return {
        {"compat",             true,  l_compat            },
        {"connect-limit",      true,  l_connect_limit     },
        {"timeout",            true,  l_timeout           },
        {"report",             true,  l_report            },
        {"threads",            true,  l_threads           },
        {"thread-per-session", false, l_thread_per_session},
        {"rate",               true,  l_rate              },
        {"duration",           true,  l_duration          },
        {"progress",           false, l_progress          },
        {"help",               false, l_help              },
        {"version",            false, l_version           },
    };
}

/**
 * The exit checks of every target, for a parse that ended with cli::exit(status).
 * `asks_exit(o)` says if an option is help or version; `never_fails(o)` if the tool takes it
 * whatever its argument and whatever came before.
 *  - the status is 0 or 1;
 *  - 0 only if a help or version option was read (and no error before it);
 *  - a help or version option after never-failing options only ends the parse with 0.
 */
template <class AsksExit, class NeverFails>
void check_exit(int status, const getopt_model& m, AsksExit&& asks_exit, NeverFails&& never_fails)
{
    FUZZ_CHECK(status == 0 || status == 1);
    bool seen = false;
    bool reachable = false;
    bool clean = true;
    for (const auto& o : m.options)
    {
        if (asks_exit(o))
        {
            seen = true;
            reachable = clean;
            break;
        }
        clean = clean && never_fails(o);
    }
    if (status == 0)
        FUZZ_CHECK(seen);
    if (reachable)
        FUZZ_CHECK(status == 0);
}

/// True if the model read every option without an error and each of them never fails: a
/// command line that the tool must take if its operands are right.
template <class NeverFails>
bool only_safe_options(const getopt_model& m, NeverFails&& never_fails)
{
    if (m.error)
        return false;
    for (const auto& o : m.options)
        if (!never_fails(o))
            return false;
    return true;
}

/// For a parse that returned: the model read every option, none of them help or version.
template <class AsksExit>
void check_returned(const getopt_model& m, AsksExit&& asks_exit)
{
    FUZZ_CHECK(!m.error);
    for (const auto& o : m.options)
        FUZZ_CHECK(!asks_exit(o));
}

/// A count option ("-s 10"): the last one's atoi() reading, 1..INT_MAX; the default without one.
template <class T>
void check_count(const getopt_model& m, int code, T value, T fallback)
{
    if (const char* a = m.arg(code))
    {
        const long long v = cli::leading_integer(a);
        FUZZ_CHECK(v >= 1 && v <= INT_MAX && static_cast<long long>(value) == v);
    }
    else
    {
        FUZZ_CHECK(value == fallback);
    }
}

/// A duration option ("-t 2.5"): the last one's reading, > 0 and at most 1e8 s; the default
/// without one.
inline void check_seconds(
    const getopt_model& m,
    int code,
    std::chrono::steady_clock::duration value,
    std::chrono::steady_clock::duration fallback
)
{
    if (const char* a = m.arg(code))
    {
        const double v = cli::leading_seconds(a);
        FUZZ_CHECK(v > 0 && v <= 1e8 && value == cli::seconds(v) && value.count() > 0);
    }
    else
    {
        FUZZ_CHECK(value == fallback);
    }
}

/// --report: the last one, "text" or "json"; "" without one.
inline void check_report(const getopt_model& m, int code, const std::string& report)
{
    const char* a = m.arg(code);
    FUZZ_CHECK(report == (a ? a : ""));
    FUZZ_CHECK(report.empty() || report == "text" || report == "json");
}

/// --compat: each one 3.8 or 3.9 (else a fatal error), the last one decides.
inline void check_compat(const getopt_model& m, int code, bool compat39)
{
    for (const auto& o : m.options)
        if (o.code == code)
            FUZZ_CHECK(std::string_view(o.arg) == "3.8" || std::string_view(o.arg) == "3.9");
    const char* a = m.arg(code);
    FUZZ_CHECK(compat39 == (a && std::string_view(a) == "3.9"));
}

/// The operands: exactly `n` after the options, the address first (the very argv element).
inline void check_operands(const getopt_model& m, int argc, char** argv, int n, const char* address)
{
    FUZZ_CHECK(m.optind == argc - n);
    FUZZ_CHECK(address == argv[argc - n]);
}

/**
 * What both sources' settings (smtp-source, qmqp-source: a `source` of source_options, a `cli`
 * of cli::source_cli, `family`, `sender`, `recipient`, `myhostname`) must be after a parse that
 * returned, from the options the model read:
 *  - -4/-6: the last one; -f/-t: the last one's very argument; -M: the last one, a valid
 *    hostname or address literal;
 *  - -s, -C, -r: 1..INT_MAX, the last one; -m: >= 1, the last one, else 1, or "no limit" with
 *    --duration;
 *  - -w and -R not both; --rate with neither; the pacing and its figure (> 0) from the last;
 *  - --threads (1..INT_MAX) and --thread-per-session: the last decides the concurrency;
 *  - --timeout, --duration > 0; --connect-limit 0..INT_MAX; --report, --compat, --progress.
 */
template <class Settings>
void check_source_settings(const getopt_model& m, const Settings& s)
{
    const auto& o = s.source;
    const auto& c = s.cli;
    const seen_option* fam = m.last_of({'4', '6'});
    FUZZ_CHECK(s.family == (!fam ? "inet" : fam->code == '4' ? "inet4" : "inet6"));
    FUZZ_CHECK(s.sender == m.arg('f'));
    FUZZ_CHECK(s.recipient == m.arg('t'));
    if (const char* name = m.arg('M'))
    {
        FUZZ_CHECK(s.myhostname && *s.myhostname == name);
        FUZZ_CHECK(
            name[0] == '[' ? bool(mailload::sansio::valid_address_literal(name))
                           : bool(mailload::sansio::valid_hostname(name))
        );
    }
    else
    {
        FUZZ_CHECK(!s.myhostname);
    }

    check_count(m, 's', o.sessions, std::uint32_t{1});
    check_count(m, 'C', o.connect_attempts, std::uint32_t{1});
    check_count(m, 'r', o.client.rcpt_count, std::uint32_t{1});
    check_count(m, l_threads, o.threads, std::uint32_t{1});
    FUZZ_CHECK(c.messages_given == m.has('m'));
    if (const char* a = m.arg('m'))
        FUZZ_CHECK(cli::leading_integer(a) >= 1 && o.messages == std::uint64_t(cli::leading_integer(a)));
    else
        FUZZ_CHECK(o.messages == (m.has(l_duration) ? UINT64_MAX : 1));
    FUZZ_CHECK(o.sessions >= 1 && o.messages >= 1 && o.connect_attempts >= 1 && o.client.rcpt_count >= 1);

    // pacing: -w, -R, --rate
    FUZZ_CHECK(!(m.has('w') && m.has('R')));
    const auto& how = c.how;
    if (const char* rate = m.arg(l_rate))
    {
        FUZZ_CHECK(!m.has('w') && !m.has('R'));
        FUZZ_CHECK(how.pacing == "rate" && how.pace == cli::leading_seconds(rate) && c.rate == how.pace);
    }
    else if (const char* w = m.arg('w'))
    {
        FUZZ_CHECK(how.pacing == "fixed" && how.pace == cli::leading_seconds(w));
    }
    else if (const char* r = m.arg('R'))
    {
        FUZZ_CHECK(how.pacing == "random" && how.pace == cli::leading_seconds(r));
    }
    else
    {
        FUZZ_CHECK(how.pacing == "none" && how.pace == 0 && c.rate == 0);
    }
    if (how.pacing != "none")
        FUZZ_CHECK(how.pace > 0 && how.pace <= 1e8);

    // concurrency
    const seen_option* conc = m.last_of({l_threads, l_thread_per_session});
    FUZZ_CHECK(
        how.concurrency == (!conc                                ? "single_thread"
                            : conc->code == l_thread_per_session ? "thread_per_session"
                            : o.threads > 1                      ? "thread_pool"
                                                                 : "single_thread")
    );
    FUZZ_CHECK(how.progress == m.has(l_progress));

    check_seconds(m, l_timeout, o.timeout, std::chrono::seconds(300));
    check_seconds(m, l_duration, o.duration, {});
    if (const char* a = m.arg(l_connect_limit))
        FUZZ_CHECK(cli::leading_integer(a) >= 0 && o.max_connecting == cli::leading_integer(a));
    else
        FUZZ_CHECK(o.max_connecting == 0);
    check_report(m, l_report, c.report);
    check_compat(m, l_compat, c.compat39);
}

}  // namespace fuzz
