// SPDX-License-Identifier: BSL-1.0
// examples/common/run.hpp — what the four tools share: runtime choices -> one source or sink
#pragma once

#include <common/cli.hpp>

#include <mailload/mailload.hpp>

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>

namespace cli {

namespace hana = boost::hana;

/// "unix" for a unix: address, else the inet family chosen by -4/-6 ("inet", "inet4", "inet6").
inline std::string_view transport_name(std::string_view address, std::string_view family) {
    return address.starts_with("unix:") ? "unix" : family;
}

/**
 * Runs a source whose protocol is one of `protocols` (a hana::tuple_t) and whose transport,
 * concurrency and pacing are picked by name; `delay` is -w/-R's interval in seconds.
 */
template <class Protocols, class Observer>
mailload::source_report run_source(Protocols protocols, std::string_view protocol, std::string_view family,
                                   std::string_view pacing, double delay, const mailload::source_options& o,
                                   std::string_view address, Observer& observer) {
    using namespace mailload;
    mailload::source_report report;
    const auto candidates = hana::make_tuple(protocols, hana::tuple_t<inet_any, inet4, inet6, unix_domain>,
                                             hana::tuple_t<single_thread>,
                                             hana::tuple_t<no_pacing, fixed_interval, random_interval>);
    dispatch(candidates, std::array<std::string_view, 4>{protocol, transport_name(address, family), "single_thread", pacing},
             [&](auto p, auto t, auto c, auto r) {
                 using pacing_type = typename decltype(r)::type;
                 pacing_type paced{};
                 if constexpr (pacing_type::paced) paced.interval = seconds(delay);
                 source<typename decltype(p)::type, typename decltype(t)::type, typename decltype(c)::type, pacing_type>
                     load(o, paced);
                 report = load.run(address, observer);
             });
    return report;
}

/// Drops root after listening: -R chroot, -u user (both optional; Postfix demands -u as root).
inline void drop_privileges(const char* user, const char* root) {
    const passwd* pw = nullptr;
    if (user && !(pw = ::getpwnam(user))) fatal(std::string("unknown user: ") + user);
    if (pw) {
        if (::setgid(pw->pw_gid) != 0) fatal(std::string("setgid: ") + std::strerror(errno));
        if (::initgroups(user, pw->pw_gid) != 0) fatal(std::string("initgroups: ") + std::strerror(errno));
    }
    if (root && (::chroot(root) != 0 || ::chdir("/") != 0))
        fatal(std::string("chroot ") + root + ": " + std::strerror(errno));
    if (pw && ::setuid(pw->pw_uid) != 0) fatal(std::string("setuid: ") + std::strerror(errno));
}

/**
 * Runs a sink whose protocol is one of `protocols` and whose transport is picked by name:
 * listens (fatal on failure, `-v` says "trying..."), drops privileges, then serves with the
 * observer `make_observer(counters)` returns.
 */
template <class Protocols, class MakeObserver>
mailload::sink_report run_sink(Protocols protocols, std::string_view protocol, std::string_view family,
                               const mailload::sink_options& o, std::string_view address, bool verbose,
                               const char* user, const char* root, MakeObserver make_observer) {
    using namespace mailload;
    const auto spec = sansio::parse_server_endpoint(address);
    if (!spec) fatal(spec.error);
    mailload::sink_report report;
    const auto candidates =
        hana::make_tuple(protocols, hana::tuple_t<inet_any, inet4, inet6, unix_domain>, hana::tuple_t<single_thread>);
    dispatch(candidates, std::array<std::string_view, 3>{protocol, transport_name(address, family), "single_thread"},
             [&](auto p, auto t, auto c) {
                 sink<typename decltype(p)::type, typename decltype(t)::type, typename decltype(c)::type> server(o);
                 if (verbose && !spec.spec.local) {  // Postfix says nothing here for unix: sockets
                     const std::string host = !spec.spec.host.empty() ? spec.spec.host : family == "inet4" ? "0.0.0.0" : "::";
                     info("trying... [" + host + "]:" + spec.spec.port);
                 }
                 if (auto err = server.listen(address); !err.empty()) fatal(err);
                 drop_privileges(user, root);
                 auto observer = make_observer(server.counters());
                 report = server.run(observer);
             });
    return report;
}

/// After a sink stopped: a fatal error exits 1; a stop signal ends the process as that signal
/// would have (its dumps cleaned up first); otherwise nothing.
inline void finish_sink(const mailload::sink_report& report) {
    if (report.error) fatal(report.what);
    if (report.stop_signal) {
        std::fflush(stdout);
        std::signal(report.stop_signal, SIG_DFL);
        std::raise(report.stop_signal);
    }
}

}  // namespace cli
