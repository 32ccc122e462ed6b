// SPDX-License-Identifier: BSL-1.0
// fixed-source — a custom tool with every policy fixed at compile time (no mailload::dispatch)
//
//   fixed-source [-d] [-l length] [-m count] [-s sessions] host:port
//
// SMTP over IPv4, one event loop, no pacing. For these flags it sends the bytes that
// `smtp-source -4` sends; bench/zero_overhead.py checks that the two run the same per-message
// code (issue 5: "zero overhead").

#include <mailload/mailload.hpp>

#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>

namespace {
// A positive decimal number, or 0 for anything else.
unsigned long number(const char* s) {
    char* end = nullptr;
    const long v = std::strtol(s, &end, 10);
    return *s && !*end && v > 0 ? static_cast<unsigned long>(v) : 0;
}
}  // namespace

int main(int argc, char** argv) {
    std::signal(SIGPIPE, SIG_IGN);
    mailload::source_options o;  // defaults: 1 session, 1 message, a four-line body
    bool ok = true;
    for (int ch; (ch = ::getopt(argc, argv, "dl:m:s:")) != -1;) {
        switch (ch) {
        case 'd': o.client.keep_alive = true; break;  // the next message on the same connection
        case 'l': ok = ok && (o.message.length = number(optarg)) > 0; break;
        case 'm': ok = ok && (o.messages = number(optarg)) > 0; break;
        case 's': ok = ok && (o.sessions = static_cast<std::uint32_t>(number(optarg))) > 0; break;
        default: ok = false;
        }
    }
    if (!ok || argc - optind != 1) {
        std::fprintf(stderr, "usage: %s [-d] [-l length] [-m count] [-s sessions] host:port\n", argv[0]);
        return 1;
    }

    // What smtp-source does without -M, -f, -t: this host's name, foo@ it, a Postfix 3.8 Date:.
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    o.client.helo_name = o.message.myhostname = host;
    o.client.sender = o.client.recipient = o.message.sender = "foo@" + std::string(host);
    o.message.date = mailload::sansio::mail_date(std::time(nullptr), false);
    o.message.pid = static_cast<std::uint32_t>(::getpid());

    mailload::source<mailload::smtp, mailload::inet4, mailload::single_thread, mailload::no_pacing> load{o};
    const auto report = load.run(argv[optind]);
    if (!report) std::fprintf(stderr, "%s: fatal: %s\n", argv[0], report.what.c_str());
    return report ? 0 : 1;
}
