// SPDX-License-Identifier: BSL-1.0
// bench/micro.cpp — Google Benchmark micro-benchmarks of mailload's sans-io parsers (STYLE.md §3.10)
//
//   cmake -S bench -B build/micro -G Ninja -DCMAKE_BUILD_TYPE=Release
//   cmake --build build/micro && build/micro/micro
//
// Every benchmark feeds realistic bytes, in one contiguous buffer and split, the way a socket
// read could cut them, and checks the result, so a parser that stops early cannot look fast.

#include <mailload/sansio/action.hpp>
#include <mailload/sansio/data_scanner.hpp>
#include <mailload/sansio/netstring.hpp>
#include <mailload/sansio/reply_parser.hpp>
#include <mailload/sansio/smtp_server.hpp>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

namespace {

using namespace mailload::sansio;

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "micro: %s\n", what);
    std::abort();
}

// ---------------------------------------------------------------------------------------------
// reply_parser: what smtp-source reads after every command
// ---------------------------------------------------------------------------------------------

const std::string reply_250 = "250 2.1.0 Ok\r\n";
const std::string reply_ehlo =  // Postfix's smtp-sink's EHLO reply: 9 lines
    "250-smtp-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-AUTH PLAIN LOGIN\r\n"
    "250-XCLIENT NAME HELO\r\n250-XFORWARD NAME ADDR PROTO HELO\r\n250-ENHANCEDSTATUSCODES\r\n"
    "250-DSN\r\n250 \r\n";

// args: which reply (0: 250, 1: EHLO), pieces (1: contiguous, 2: split in the middle)
void BM_reply_parser(benchmark::State& state) {
    const std::string& reply = state.range(0) == 0 ? reply_250 : reply_ehlo;
    const std::size_t cut = state.range(1) == 1 ? reply.size() : reply.size() / 2;
    const std::string_view first(reply.data(), cut), second(reply.data() + cut, reply.size() - cut);
    reply_parser p;
    boost::system::error_code ec;
    for (auto _ : state) {
        std::size_t used = p.feed(first, ec);
        if (!second.empty()) used += p.feed(second, ec);
        if (!p.complete() || p.code() != 250 || used != reply.size() || ec) fail("reply_parser");
        benchmark::DoNotOptimize(p.text().data());
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * reply.size()));
    state.SetItemsProcessed(state.iterations());  // replies
    state.SetLabel(std::string(state.range(0) == 0 ? "250 reply" : "9-line EHLO reply") +
                   (state.range(1) == 1 ? ", contiguous" : ", split in 2"));
}
BENCHMARK(BM_reply_parser)->ArgNames({"ehlo", "pieces"})->Args({0, 1})->Args({0, 2})->Args({1, 1})->Args({1, 2});

// ---------------------------------------------------------------------------------------------
// smtp_server: the sink's command handling, one pipelined burst per session
// ---------------------------------------------------------------------------------------------

const std::string burst =
    "HELO client.example\r\nMAIL FROM:<foo@client.example>\r\nRCPT TO:<bar@sink.example>\r\n"
    "DATA\r\n.\r\nQUIT\r\n";
const std::string burst_replies =
    "250 smtp-sink\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
    "250 2.0.0 Ok\r\n221 Bye\r\n";

// One session: greeting, the burst in `pieces` reads, its replies, close. Returns the bytes
// the server wrote.
std::size_t session(smtp_server& s, std::size_t pieces) {
    s.start();
    std::size_t fed = 0, written = 0, writes = 0;
    next_action a = s.resume();
    for (;;) {
        switch (a.type()) {
        case action_type::write: {
            std::size_t n = 0;
            for (auto piece : a.out()) n += piece.size();
            written += n;
            ++writes;
            a = s.resume({}, n);
            break;
        }
        case action_type::read: {
            if (fed == burst.size()) fail("smtp_server wants more than the burst");
            const std::size_t chunk = (burst.size() + pieces - 1) / pieces;
            const std::size_t n = std::min({chunk, burst.size() - fed, a.in().size()});
            std::memcpy(a.in().data(), burst.data() + fed, n);
            fed += n;
            a = s.resume({}, n);
            break;
        }
        case action_type::event: a = s.resume(); break;
        case action_type::close:
            if (pieces == 1 && writes != 2) fail("smtp_server did not batch the burst's replies");
            return written;
        default: fail("smtp_server: unexpected action");
        }
    }
}

// args: pieces the burst arrives in (1: one read, as pipelined)
void BM_smtp_server_burst(benchmark::State& state) {
    const server_config cfg;  // smtp-sink's defaults
    smtp_server s(cfg);
    const auto pieces = static_cast<std::size_t>(state.range(0));
    const std::size_t expected = std::string_view("220 smtp-sink ESMTP\r\n").size() + burst_replies.size();
    for (auto _ : state)
        if (session(s, pieces) != expected) fail("smtp_server replies");
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * burst.size()));
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * 6));  // commands
    state.SetLabel("HELO MAIL RCPT DATA . QUIT");
}
BENCHMARK(BM_smtp_server_burst)->ArgName("pieces")->Arg(1)->Arg(2)->Arg(6);

// ---------------------------------------------------------------------------------------------
// data_end_scanner and dot_unstuffer: message data, 1 MB of 78-character lines
// ---------------------------------------------------------------------------------------------

std::string make_message(std::size_t size) {
    std::string m;
    m.reserve(size + 100);
    std::size_t i = 0;
    while (m.size() < size) {
        std::string line;
        while (line.size() < 78) line += static_cast<char>('!' + (i++ * 7) % 94);
        if (line[0] == '.') line[0] = 'x';  // no dot-stuffing needed: plain text
        m += line;
        m += "\r\n";
    }
    m += ".\r\n";
    return m;
}

const std::string& message_1mb() {
    static const std::string m = make_message(1 << 20);
    return m;
}

// args: read size (0: the whole message at once)
void BM_data_end_scanner(benchmark::State& state) {
    const std::string& m = message_1mb();
    const auto piece = state.range(0) == 0 ? m.size() : static_cast<std::size_t>(state.range(0));
    data_end_scanner sc;
    for (auto _ : state) {
        sc.reset();
        std::size_t used = 0;
        for (std::size_t at = 0; at < m.size() && !sc.done(); at += piece)
            used += sc.scan(std::string_view(m).substr(at, piece));
        if (!sc.done() || used != m.size()) fail("data_end_scanner");
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * m.size()));
    state.SetLabel(state.range(0) == 0 ? "1 MB, contiguous" : "1 MB, in reads of " + std::to_string(piece));
}
BENCHMARK(BM_data_end_scanner)->ArgName("read")->Arg(0)->Arg(65536)->Arg(4096);

void BM_dot_unstuffer(benchmark::State& state) {
    const std::string& m = message_1mb();
    dot_unstuffer u;
    std::string out;
    out.reserve(m.size());
    for (auto _ : state) {
        u.reset();
        out.clear();
        u.feed(m, out);
        benchmark::DoNotOptimize(out.data());
    }
    if (out.size() + (m.size() / 80) + 2 < m.size()) fail("dot_unstuffer");
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * m.size()));
    state.SetLabel("1 MB, contiguous (sink dumps)");
}
BENCHMARK(BM_dot_unstuffer);

// ---------------------------------------------------------------------------------------------
// netstring_reader: a QMQP request, 1 MB, counted (qmqp-sink) or kept
// ---------------------------------------------------------------------------------------------

const std::string& netstring_1mb() {
    static const std::string n = [] {
        std::string s;
        append_netstring(s, std::string_view(message_1mb()).substr(0, 1 << 20));
        return s;
    }();
    return n;
}

// args: piece size (0: contiguous), keep (0: count only)
void BM_netstring_reader(benchmark::State& state) {
    const std::string& n = netstring_1mb();
    const auto piece = state.range(0) == 0 ? n.size() : static_cast<std::size_t>(state.range(0));
    const bool keep = state.range(1) != 0;
    netstring_reader r(std::uint64_t(1) << 30, keep);
    boost::system::error_code ec;
    for (auto _ : state) {
        r.reset();
        std::size_t used = 0;
        for (std::size_t at = 0; at < n.size() && !r.done(); at += piece)
            used += r.feed(std::string_view(n).substr(at, piece), ec);
        if (!r.done() || used != n.size() || r.size() != (1u << 20) || ec) fail("netstring_reader");
        benchmark::DoNotOptimize(r.data().data());
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * n.size()));
    state.SetLabel(std::string(keep ? "kept" : "counted") + ", " +
                   (state.range(0) == 0 ? "contiguous" : "in pieces of " + std::to_string(piece)));
}
BENCHMARK(BM_netstring_reader)
    ->ArgNames({"piece", "keep"})
    ->Args({0, 0})
    ->Args({4096, 0})
    ->Args({64, 0})
    ->Args({0, 1});

// A small netstring (a QMQP reply) in pieces of one byte: the per-call cost.
void BM_netstring_reader_small(benchmark::State& state) {
    std::string n;
    append_netstring(n, "Kok 1700000000 qp 12345");
    const auto piece = static_cast<std::size_t>(state.range(0));
    netstring_reader r(4096, true);
    boost::system::error_code ec;
    for (auto _ : state) {
        r.reset();
        for (std::size_t at = 0; at < n.size() && !r.done(); at += piece) r.feed(std::string_view(n).substr(at, piece), ec);
        if (!r.done() || ec) fail("netstring_reader small");
        benchmark::DoNotOptimize(r.data().data());
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * n.size()));
    state.SetItemsProcessed(state.iterations());
    state.SetLabel("QMQP reply, kept, pieces of " + std::to_string(piece));
}
BENCHMARK(BM_netstring_reader_small)->ArgName("piece")->Arg(1)->Arg(64);

}  // namespace

BENCHMARK_MAIN();
