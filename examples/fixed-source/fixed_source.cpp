// SPDX-License-Identifier: BSL-1.0
// fixed-source [-d] [-l length] [-m count] [-s sessions] host:port — every policy fixed at compile
// time, no mailload::dispatch; for these flags, the bytes of `smtp-source -4`. See docs/tutorial.md.
#include <mailload/mailload.hpp>

#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string_view>

static unsigned long number(const char* s) {  // a positive decimal number, or 0
    char* end = nullptr;
    const long v = std::strtol(s, &end, 10);
    return *s && !*end && v > 0 ? static_cast<unsigned long>(v) : 0;
}

int main(int argc, char** argv) {
    if (argc == 2 && std::string_view(argv[1]) == "--version")
        return std::printf("fixed-source (mailload) %s\n", mailload::version) < 0;
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
    char host[256] = {};  // as smtp-source without -M -f -t: this host's name, foo@ it, 3.8's Date:
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
