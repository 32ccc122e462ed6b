// Test that header file is self-contained.
#include <mailload/dump.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include "support/fake_smtp_server.hpp"

namespace {

namespace fs = std::filesystem;
using mailload::dump_options;
using mailload::dump_writer;
using mailload::sansio::client_proto;
using test_support::temp_dir;

constexpr std::time_t when = 1793782987;  // Wed Nov  4 09:03:07 UTC 2026 (a one-digit day)

/// A temporary directory, local time UTC and umask 0 (so modes show what the writer asked for).
struct fixture
{
    temp_dir dir;
    dump_options opts;
    std::mt19937_64 rng{12345};
    std::string error;

    fixture()
    {
        if (const char* tz = std::getenv("TZ"))
            old_tz_ = tz;
        ::setenv("TZ", "UTC", 1);
        ::tzset();
        old_umask_ = ::umask(0);
    }
    ~fixture()
    {
        ::umask(old_umask_);
        if (old_tz_)
            ::setenv("TZ", old_tz_->c_str(), 1);
        else
            ::unsetenv("TZ");
        ::tzset();
    }
    fixture(const fixture&) = delete;
    fixture& operator=(const fixture&) = delete;

    std::string at(std::string_view relative) const { return (dir.path / relative).string(); }

    /// Every regular file under the directory.
    std::vector<fs::path> files() const
    {
        std::vector<fs::path> out;
        for (const auto& e : fs::recursive_directory_iterator(dir.path))
            if (e.is_regular_file())
                out.push_back(e.path());
        return out;
    }

private:
    std::optional<std::string> old_tz_;
    mode_t old_umask_ = 022;
};

std::string slurp(const fs::path& p)
{
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

unsigned mode_of(const fs::path& p)
{
    struct stat st
    {
    };
    if (::stat(p.c_str(), &st) != 0)
        return 0;
    return st.st_mode & 07777;
}

bool lower_hex(std::string_view s)
{
    return s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

/// The id a -d dump file name ends with.
std::string id_of(const std::string& path)
{
    return path.size() >= 8 ? path.substr(path.size() - 8) : std::string();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(dump_hpp)

BOOST_FIXTURE_TEST_CASE(template_fields_nested_directories_and_modes, fixture)
{
    opts.path_template = at("a/%Y/%m%d/b/%H%M.");
    dump_writer w(opts, "sink.example", rng);
    BOOST_TEST_REQUIRE(w.begin(when, "local", client_proto::smtp, std::nullopt, "<a@example>", error), error);
    const std::string prefix = at("a/2026/1104/b/0903.");
    BOOST_TEST(w.path().starts_with(prefix), w.path());
    BOOST_TEST(w.path().size() == prefix.size() + 8);
    BOOST_TEST(lower_hex(id_of(w.path())), w.path());
    BOOST_TEST(fs::is_regular_file(w.path()));
    BOOST_TEST(mode_of(w.path()) == 0644u);
    for (const char* d : {"a", "a/2026", "a/2026/1104", "a/2026/1104/b"})
    {
        BOOST_TEST(fs::is_directory(at(d)), d);
        BOOST_TEST(mode_of(at(d)) == 0755u, d);
    }
    w.data();
    w.content(".\r\n", error);
    BOOST_TEST(w.finish(error), error);
    BOOST_TEST(error.empty());
    BOOST_TEST(files().size() == 1u);
    BOOST_TEST(fs::is_regular_file(prefix + id_of(w.path())));
}

BOOST_FIXTURE_TEST_CASE(transaction_content, fixture)
{
    opts.path_template = at("single/m.");
    opts.start = "From MAILER-DAEMON\n";  // -S, written as is
    dump_writer w(opts, "sink.example", rng);
    BOOST_TEST_REQUIRE(
        w.begin(
            when,
            "192.0.2.7",
            client_proto::esmtp,
            std::string_view("client.example"),
            "<a@example> SIZE=5",
            error
        ),
        error
    );
    const std::string path = w.path();
    w.rcpt("<b@example>", error);
    w.rcpt("<c@example> NOTIFY=NEVER", error);
    w.data();
    w.content("Subject: hi\r\n\r\n..dot\r\n", error);
    w.content("lone\rCR\r\n.\r\n", error);
    BOOST_TEST_REQUIRE(w.finish(error), error);
    BOOST_TEST(
        slurp(path) ==
        "From MAILER-DAEMON\n"
        "X-Client-Addr: 192.0.2.7\n"
        "X-Client-Proto: ESMTP\n"
        "X-Helo-Args: client.example\n"
        "X-Mail-Args: <a@example> SIZE=5\n"
        "X-Rcpt-Args: <b@example>\n"
        "X-Rcpt-Args: <c@example> NOTIFY=NEVER\n"
        "Received: from client.example ([192.0.2.7])\n"
        "\tby sink.example (smtp-sink) with ESMTP id " +
            id_of(path) +
            ";\n"
            "\tWed,  4 Nov 2026 09:03:07 +0000 (UTC)\n"
            "Subject: hi\n"
            "\n"
            ".dot\n"
            "loneCR\n"
            "\n"
    );
}

BOOST_FIXTURE_TEST_CASE(transaction_without_helo_over_ipv6_in_lmtp, fixture)
{
    opts.path_template = at("m.");
    opts.zero_padded_day = true;  // Postfix >= 3.9
    dump_writer w(opts, "smtp-sink", rng);
    BOOST_TEST_REQUIRE(w.begin(when, "ipv6:::1", client_proto::lmtp, std::nullopt, "<>", error), error);
    const std::string path = w.path();
    w.rcpt("<x@example>", error);
    w.data();
    w.content(".\r\n", error);
    BOOST_TEST_REQUIRE(w.finish(error), error);
    BOOST_TEST(
        slurp(path) ==
        "X-Client-Addr: ipv6:::1\n"
        "X-Client-Proto: LMTP\n"
        "X-Mail-Args: <>\n"
        "X-Rcpt-Args: <x@example>\n"
        "Received: from [ipv6:::1] ([ipv6:::1])\n"
        "\tby smtp-sink (smtp-sink) with LMTP id " +
            id_of(path) +
            ";\n"
            "\tWed, 04 Nov 2026 09:03:07 +0000 (UTC)\n"
            "\n"
    );
}

BOOST_FIXTURE_TEST_CASE(smtp_proto_and_local_client, fixture)
{
    opts.path_template = at("m.");
    dump_writer w(opts, "h", rng);
    BOOST_TEST_REQUIRE(
        w.begin(when, "local", client_proto::smtp, std::string_view(""), "<a@b>", error),
        error
    );
    const std::string path = w.path();
    w.data();
    w.content("x\r\n.\r\n", error);
    BOOST_TEST_REQUIRE(w.finish(error), error);
    BOOST_TEST(
        slurp(path) ==
        "X-Client-Addr: local\n"
        "X-Client-Proto: SMTP\n"
        "X-Helo-Args: \n"
        "X-Mail-Args: <a@b>\n"
        "Received: from  ([local])\n"
        "\tby h (smtp-sink) with SMTP id " +
            id_of(path) +
            ";\n"
            "\tWed,  4 Nov 2026 09:03:07 +0000 (UTC)\n"
            "x\n"
            "\n"
    );
}

BOOST_FIXTURE_TEST_CASE(large_content_in_many_pieces, fixture)
{
    // more than the 64 KiB buffer, fed as the server delivers it: pieces cut anywhere
    opts.path_template = at("m.");
    dump_writer w(opts, "h", rng);
    BOOST_TEST_REQUIRE(w.begin(when, "local", client_proto::smtp, std::nullopt, "<a@b>", error), error);
    const std::string path = w.path();
    w.data();
    std::string wire, want;
    for (int i = 0; i < 20000; ++i)
    {
        const std::string line = "..line " + std::to_string(i) + "\r";
        wire += line + "\r\n";
        want += ".line " + std::to_string(i) + "\n";
    }
    wire += ".\r\n";
    want += "\n";
    for (std::size_t at = 0; at < wire.size(); at += 997)
        w.content(std::string_view(wire).substr(at, 997), error);
    BOOST_TEST(error.empty(), error);
    BOOST_TEST_REQUIRE(w.finish(error), error);
    const std::string dump = slurp(path);
    const auto body = dump.find("(UTC)\n");
    BOOST_TEST_REQUIRE(body != std::string::npos);
    BOOST_TEST((dump.substr(body + 6) == want));
}

BOOST_FIXTURE_TEST_CASE(many_recipients_are_written_as_they_come, fixture)
{
    // a client may send any number of RCPTs: they go to the file, not into memory, before DATA
    opts.path_template = at("m.");
    dump_writer w(opts, "h", rng);
    BOOST_TEST_REQUIRE(w.begin(when, "local", client_proto::smtp, std::nullopt, "<a@b>", error), error);
    const std::string path = w.path();
    const std::string rcpt = "<" + std::string(2000, 'r') + ">";
    for (int i = 0; i < 1000; ++i)
        w.rcpt(rcpt, error);
    BOOST_TEST(error.empty(), error);
    BOOST_TEST(fs::file_size(path) > 1000u * 2000u - (1u << 16));  // all but the last buffer's worth
    w.data();
    w.content(".\r\n", error);
    BOOST_TEST_REQUIRE(w.finish(error), error);
    const std::string dump = slurp(path);
    std::string want;
    for (int i = 0; i < 1000; ++i)
        want += "X-Rcpt-Args: " + rcpt + "\n";
    BOOST_TEST(
        dump.find("X-Mail-Args: <a@b>\n" + want + "Received: from [local] ([local])\n") != std::string::npos
    );
}

BOOST_FIXTURE_TEST_CASE(abandon_removes_the_file, fixture)
{
    opts.path_template = at("d/m.");
    dump_writer w(opts, "h", rng);
    BOOST_TEST_REQUIRE(w.begin(when, "local", client_proto::smtp, std::nullopt, "<a@b>", error), error);
    const std::string first = w.path();
    w.rcpt("<c@d>", error);
    w.data();
    w.content("partial\r\n", error);
    BOOST_TEST(fs::exists(first));
    w.abandon();
    BOOST_TEST(!fs::exists(first));
    BOOST_TEST(files().empty());
    w.abandon();  // twice is harmless

    // the writer can go on with the next transaction
    BOOST_TEST_REQUIRE(w.begin(when, "local", client_proto::smtp, std::nullopt, "<e@f>", error), error);
    w.data();
    w.content(".\r\n", error);
    BOOST_TEST(w.finish(error), error);
    BOOST_TEST(files().size() == 1u);
    BOOST_TEST(slurp(w.path()).find("X-Mail-Args: <e@f>\n") != std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(begin_abandons_an_unfinished_dump, fixture)
{
    opts.path_template = at("m.");
    dump_writer w(opts, "h", rng);
    BOOST_TEST_REQUIRE(w.begin(when, "local", client_proto::smtp, std::nullopt, "<a@b>", error), error);
    const std::string first = w.path();
    BOOST_TEST_REQUIRE(w.begin(when, "local", client_proto::smtp, std::nullopt, "<c@d>", error), error);
    BOOST_TEST(!fs::exists(first));
    BOOST_TEST(files().size() == 1u);
}

BOOST_FIXTURE_TEST_CASE(destroying_an_unfinished_writer_removes_the_file, fixture)
{
    opts.path_template = at("m.");
    std::string path;
    {
        dump_writer w(opts, "h", rng);
        BOOST_TEST_REQUIRE(w.begin(when, "local", client_proto::smtp, std::nullopt, "<a@b>", error), error);
        path = w.path();
        w.data();
        w.content(std::string(100000, 'x'), error);  // some of it already written out
        BOOST_TEST(fs::exists(path));
    }
    BOOST_TEST(!fs::exists(path));
    BOOST_TEST(files().empty());

    {
        dump_writer w(opts, "h", rng);  // a finished one stays
        BOOST_TEST_REQUIRE(w.begin(when, "local", client_proto::smtp, std::nullopt, "<a@b>", error), error);
        path = w.path();
        w.data();
        w.content(".\r\n", error);
        BOOST_TEST(w.finish(error), error);
    }
    BOOST_TEST(fs::exists(path));
}

BOOST_FIXTURE_TEST_CASE(calls_without_a_dump_do_nothing, fixture)
{
    opts.path_template = at("m.");
    dump_writer w(opts, "h", rng);
    w.rcpt("<a@b>", error);
    w.data();
    w.content("x\r\n.\r\n", error);
    BOOST_TEST(w.finish(error));
    w.abandon();
    BOOST_TEST(error.empty());
    BOOST_TEST(files().empty());
}

BOOST_FIXTURE_TEST_CASE(an_existing_name_gets_another_suffix, fixture)
{
    opts.path_template = at("m.");
    std::mt19937_64 r1(99), r2(99);  // the same first suffix
    dump_writer a(opts, "h", r1), b(opts, "h", r2);
    BOOST_TEST_REQUIRE(a.begin(when, "local", client_proto::smtp, std::nullopt, "<a@b>", error), error);
    BOOST_TEST_REQUIRE(b.begin(when, "local", client_proto::smtp, std::nullopt, "<c@d>", error), error);
    BOOST_TEST(a.path() != b.path());
    for (dump_writer* w : {&a, &b})
    {
        w->data();
        w->content(".\r\n", error);
        BOOST_TEST(w->finish(error), error);
    }
    BOOST_TEST(files().size() == 2u);
    BOOST_TEST(slurp(a.path()).find("<a@b>") != std::string::npos);
    BOOST_TEST(slurp(b.path()).find("<c@d>") != std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(shared_file_collects_every_message, fixture)
{
    opts.path_template = at("shared/%Y%m%d.mbox");
    opts.shared = true;  // -D
    const std::string shared = at("shared/20261104.mbox");
    dump_writer w(opts, "h", rng);
    std::string want;
    for (int i = 0; i < 2; ++i)
    {
        const std::string mail = "<m" + std::to_string(i) + "@example>";
        BOOST_TEST_REQUIRE(
            w.begin(when, "local", client_proto::esmtp, std::string_view("c"), mail, error),
            error
        );
        const std::string id = id_of(w.path());
        BOOST_TEST(lower_hex(id));
        BOOST_TEST(!fs::exists(w.path()));             // the temporary file is unlinked at once
        BOOST_TEST(files().size() == std::size_t(i));  // nothing but the shared file so far
        w.rcpt("<r@example>", error);
        w.data();
        w.content("body " + std::to_string(i) + "\r\n.\r\n", error);
        BOOST_TEST_REQUIRE(w.finish(error), error);
        want += "X-Client-Addr: local\nX-Client-Proto: ESMTP\nX-Helo-Args: c\nX-Mail-Args: " + mail +
                "\nX-Rcpt-Args: <r@example>\nReceived: from c ([local])\n\tby h (smtp-sink) with ESMTP id " +
                id + ";\n\tWed,  4 Nov 2026 09:03:07 +0000 (UTC)\nbody " + std::to_string(i) + "\n\n";
    }
    const auto all = files();
    BOOST_TEST_REQUIRE(all.size() == 1u);  // the expanded template itself, no suffix, no temporary file
    BOOST_TEST(all[0].string() == shared);
    BOOST_TEST(slurp(shared) == want);
    BOOST_TEST(mode_of(shared) == 0644u);
    BOOST_TEST(mode_of(at("shared")) == 0755u);
}

BOOST_FIXTURE_TEST_CASE(unfinished_shared_transaction_leaves_nothing, fixture)
{
    opts.path_template = at("shared/box");
    opts.shared = true;
    {
        dump_writer w(opts, "h", rng);
        BOOST_TEST_REQUIRE(w.begin(when, "local", client_proto::smtp, std::nullopt, "<a@b>", error), error);
        w.rcpt("<c@d>", error);
        w.data();
        w.content("partial\r\n", error);
        w.abandon();
        BOOST_TEST(files().empty());
        BOOST_TEST_REQUIRE(w.begin(when, "local", client_proto::smtp, std::nullopt, "<a@b>", error), error);
        w.data();
        w.content(std::string(100000, 'x'), error);
    }  // destroyed mid-message
    BOOST_TEST(files().empty());
}

BOOST_FIXTURE_TEST_CASE(an_unusable_directory_is_an_error_not_a_crash, fixture)
{
    {
        std::ofstream(at("plain-file")) << "x";
        opts.path_template = at("plain-file/sub/m.");  // a parent that is a file
        dump_writer w(opts, "h", rng);
        BOOST_TEST(!w.begin(when, "local", client_proto::smtp, std::nullopt, "<a@b>", error));
        BOOST_TEST(error.starts_with("open " + at("plain-file/sub/m.")), error);
        BOOST_TEST(error.find("Not a directory") != std::string::npos, error);
        w.rcpt("<c@d>", error);  // the writer stays usable
        w.data();
        w.content("x\r\n.\r\n", error);
        std::string e2;
        BOOST_TEST(w.finish(e2));
        BOOST_TEST(e2.empty());
    }
    if (::geteuid() != 0)  // root writes anywhere
    {
        fs::create_directory(at("ro"));
        ::chmod(at("ro").c_str(), 0555);
        opts.path_template = at("ro/m.");
        dump_writer w(opts, "h", rng);
        error.clear();
        BOOST_TEST(!w.begin(when, "local", client_proto::smtp, std::nullopt, "<a@b>", error));
        BOOST_TEST(error.find("Permission denied") != std::string::npos, error);
        ::chmod(at("ro").c_str(), 0755);
    }
    {
        // -D: the shared file cannot be opened (a directory is in the way); the message fails, nothing is
        // left
        fs::create_directory(at("box"));
        opts.path_template = at("box");
        opts.shared = true;
        dump_writer w(opts, "h", rng);
        error.clear();
        BOOST_TEST_REQUIRE(w.begin(when, "local", client_proto::smtp, std::nullopt, "<a@b>", error), error);
        w.data();
        w.content("x\r\n.\r\n", error);
        BOOST_TEST(!w.finish(error));
        BOOST_TEST(error.starts_with("open " + at("box")), error);
        BOOST_TEST(files().size() == 1u);  // just plain-file
    }
}

// ---------------------------------------------------------------------------------------------
// BDAT: a message sent in chunks is dumped as the same message sent with DATA

namespace {

/// What a client sends after DATA for `message`: a '.' doubled where it starts a line, the last
/// line ended with CR LF if it is not, then the end marker.
std::string data_wire(std::string_view message)
{
    std::string out;
    bool line_start = true;
    for (std::size_t i = 0; i < message.size(); ++i)
    {
        if (line_start && message[i] == '.')
            out += '.';
        out += message[i];
        line_start = message[i] == '\n' && i > 0 && message[i - 1] == '\r';
    }
    if (!message.empty() && !message.ends_with("\r\n"))
        out += "\r\n";
    return out + ".\r\n";
}

const std::vector<std::string>& chunk_messages()
{
    static const std::vector<std::string> m = [] {
        std::vector<std::string> v = {
            "",
            "\r\n",
            "Subject: hi\r\n\r\nbody\r\n",
            ".leading dot\r\n..two\r\n.\r\nafter\r\n",
            "lone\rCR\r\n\r\r\nx\r\r\n",
            "bare\n.kept after a bare LF\r\n",
            std::string("nul\0and\xff\x01\r\n", 12),
            "no final line break",
            "a CR at the end\r",
            "\r",
        };
        std::string big;
        for (int i = 0; big.size() < 150000; ++i)
            big += (i % 3 ? "line " : "..dot ") + std::to_string(i) + "\r\n";
        v.push_back(big);
        return v;
    }();
    return m;
}

/// The ways a chunked message may reach the writer: whole, cut in two anywhere (a sample when
/// long), one byte at a time; empty pieces are never given (the server sends no empty content).
std::vector<std::vector<std::string_view>> chunkings(std::string_view m)
{
    std::vector<std::vector<std::string_view>> out;
    out.push_back(m.empty() ? std::vector<std::string_view>{} : std::vector<std::string_view>{m});
    for (std::size_t k = 1; k < m.size(); ++k)
        if (m.size() <= 300 || k % 4999 == 0)
            out.push_back({m.substr(0, k), m.substr(k)});
    if (!m.empty() && m.size() <= 300)
    {
        std::vector<std::string_view> bytes;
        for (std::size_t i = 0; i < m.size(); ++i)
            bytes.push_back(m.substr(i, 1));
        out.push_back(bytes);
    }
    return out;
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(bdat_chunks_dump_as_data_does, fixture)
{
    // a directory each, made first: a writer draws another id when it has to make one
    fs::create_directory(at("data"));
    fs::create_directory(at("bdat"));
    for (const auto proto : {client_proto::esmtp, client_proto::lmtp})
    {
        for (std::size_t i = 0; i < chunk_messages().size(); ++i)
        {
            const std::string& message = chunk_messages()[i];
            BOOST_TEST_CONTEXT("message #" << i)
            {
                // the DATA dump, in pieces as the server hands them out
                dump_options by_data = opts;
                by_data.path_template = at("data/m.");
                std::mt19937_64 rng1(5);
                dump_writer d(by_data, "sink.example", rng1);
                BOOST_TEST_REQUIRE(
                    d.begin(when, "192.0.2.7", proto, std::string_view("c"), "<a@b>", error),
                    error
                );
                d.rcpt("<c@d>", error);
                d.data();
                const std::string wire = data_wire(message);
                for (std::size_t at = 0; at < wire.size(); at += 4096)
                    d.content(std::string_view(wire).substr(at, 4096), error);
                const std::string path = d.path();
                BOOST_TEST_REQUIRE(d.finish(error), error);
                const std::string want = slurp(path);
                fs::remove(path);
                BOOST_TEST(want.ends_with("\n\n"));

                for (const auto& pieces : chunkings(message))
                {
                    dump_options by_bdat = opts;
                    by_bdat.path_template = at("bdat/m.");
                    std::mt19937_64 rng2(5);  // the same id
                    dump_writer b(by_bdat, "sink.example", rng2);
                    BOOST_TEST_REQUIRE(
                        b.begin(when, "192.0.2.7", proto, std::string_view("c"), "<a@b>", error),
                        error
                    );
                    b.rcpt("<c@d>", error);
                    b.data(true);
                    for (auto piece : pieces)
                        b.chunk(piece, error);
                    const std::string bdat_path = b.path();
                    BOOST_TEST_REQUIRE(b.finish(error), error);
                    BOOST_TEST(slurp(bdat_path) == want, pieces.size() << " pieces");
                    fs::remove(bdat_path);
                }
                BOOST_TEST(error.empty(), error);
            }
        }
    }
}

BOOST_FIXTURE_TEST_CASE(bdat_dump_content_and_end, fixture)
{
    opts.path_template = at("m.");
    dump_writer w(opts, "h", rng);
    BOOST_TEST_REQUIRE(
        w.begin(when, "local", client_proto::esmtp, std::string_view("c"), "<a@b>", error),
        error
    );
    const std::string path = w.path();
    w.data(true);
    w.chunk("..no unstuffing\r", error);
    w.chunk("\nlone\rCR\r\n.\r\n", error);  // no end marker either: this "." is content
    BOOST_TEST_REQUIRE(w.finish(error), error);
    BOOST_TEST(
        slurp(path) ==
        "X-Client-Addr: local\n"
        "X-Client-Proto: ESMTP\n"
        "X-Helo-Args: c\n"
        "X-Mail-Args: <a@b>\n"
        "Received: from c ([local])\n"
        "\tby h (smtp-sink) with ESMTP id " +
            id_of(path) +
            ";\n"
            "\tWed,  4 Nov 2026 09:03:07 +0000 (UTC)\n"
            "..no unstuffing\n"
            "loneCR\n"
            ".\n"
            "\n"
    );

    // the next transaction by DATA is dumped as one always was: no trace of the chunking
    BOOST_TEST_REQUIRE(
        w.begin(when, "local", client_proto::esmtp, std::string_view("c"), "<e@f>", error),
        error
    );
    const std::string second = w.path();
    w.data();
    w.content("x\r\n.\r\n", error);
    BOOST_TEST_REQUIRE(w.finish(error), error);
    BOOST_TEST(slurp(second).ends_with("(UTC)\nx\n\n"));

    // nor after an abandoned chunked one
    BOOST_TEST_REQUIRE(
        w.begin(when, "local", client_proto::esmtp, std::string_view("c"), "<g@h>", error),
        error
    );
    w.data(true);
    w.chunk("partial", error);
    w.abandon();
    BOOST_TEST_REQUIRE(
        w.begin(when, "local", client_proto::esmtp, std::string_view("c"), "<i@j>", error),
        error
    );
    const std::string third = w.path();
    w.data();
    w.content("y\r\n.\r\n", error);
    BOOST_TEST_REQUIRE(w.finish(error), error);
    BOOST_TEST(slurp(third).ends_with("(UTC)\ny\n\n"));
    BOOST_TEST(files().size() == 3u);
    BOOST_TEST(error.empty(), error);
}

BOOST_FIXTURE_TEST_CASE(bdat_chunk_without_a_dump_does_nothing, fixture)
{
    opts.path_template = at("m.");
    dump_writer w(opts, "h", rng);
    w.data(true);
    w.chunk("x\r\n", error);
    BOOST_TEST(w.finish(error));
    BOOST_TEST(error.empty());
    BOOST_TEST(files().empty());
}

BOOST_FIXTURE_TEST_CASE(bdat_shared_file, fixture)
{
    opts.path_template = at("box");
    opts.shared = true;  // -D
    dump_writer w(opts, "h", rng);
    std::string ids;
    for (bool chunked : {true, false})
    {
        BOOST_TEST_REQUIRE(
            w.begin(when, "local", client_proto::esmtp, std::string_view("c"), "<a@b>", error),
            error
        );
        ids += id_of(w.path());
        w.data(chunked);
        if (chunked)
            w.chunk("body\r\n", error);
        else
            w.content("body\r\n.\r\n", error);
        BOOST_TEST_REQUIRE(w.finish(error), error);
    }
    const std::string head =
        "X-Client-Addr: local\nX-Client-Proto: ESMTP\nX-Helo-Args: c\nX-Mail-Args: <a@b>\nReceived: from c "
        "([local])\n\tby h (smtp-sink) with ESMTP id ";
    const std::string tail = ";\n\tWed,  4 Nov 2026 09:03:07 +0000 (UTC)\nbody\n\n";
    BOOST_TEST(slurp(at("box")) == head + ids.substr(0, 8) + tail + head + ids.substr(8) + tail);
}

namespace {

/// Runs smtp_server over `input` (in reads of at most `piece` bytes) and hands its events to a
/// dump_writer as smtp-sink does; returns the dump files' contents, in the order made.
std::vector<std::string> dumps_of_session(
    fixture& f,
    mailload::sansio::server_config cfg,
    const std::string& input,
    std::size_t piece,
    const std::string& dir
)
{
    using namespace mailload::sansio;
    cfg.content = true;
    dump_options o;
    o.path_template = f.at(dir + "/m.");
    std::mt19937_64 rng(11);
    dump_writer w(o, cfg.hostname, rng);
    smtp_server srv(cfg);
    srv.start();
    std::vector<std::string> paths;
    std::string error;
    std::size_t at = 0;
    for (next_action act = srv.resume();;)
    {
        if (act.type() == action_type::read)
        {
            const std::size_t n = std::min({piece, act.in().size(), input.size() - at});
            std::memcpy(act.in().data(), input.data() + at, n);
            at += n;
            act = srv.resume({}, n);
            continue;
        }
        if (act.type() == action_type::write)
        {
            std::size_t n = 0;
            for (auto p : act.out())
                n += p.size();
            act = srv.resume({}, n);
            continue;
        }
        if (act.type() != action_type::event)
            break;
        const server_event& ev = srv.event();
        switch (ev.kind)
        {
        case server_event::mail:
            BOOST_TEST_REQUIRE(
                w.begin(when, "192.0.2.7", srv.proto(), srv.helo_args(), ev.args, error),
                error
            );
            paths.push_back(w.path());
            break;
        case server_event::rcpt: w.rcpt(ev.args, error); break;
        case server_event::data: w.data(ev.cmd == smtp_command::bdat); break;
        case server_event::content:
            if (ev.cmd == smtp_command::bdat)
                w.chunk(ev.text, error);
            else
                w.content(ev.text, error);
            break;
        case server_event::message: BOOST_TEST(w.finish(error), error); break;
        case server_event::reset: w.abandon(); break;
        default: break;
        }
        act = srv.resume();
    }
    BOOST_TEST(error.empty(), error);
    std::vector<std::string> out;
    for (const auto& p : paths)
        if (fs::exists(p))
            out.push_back(slurp(p));
    return out;
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(a_session_by_bdat_dumps_as_by_data, fixture)
{
    // smtp_server's events into dump_writer, as smtp-sink wires them: the same files either way
    mailload::sansio::server_config cfg;
    cfg.chunking = true;
    const std::string m1 = "Subject: one\r\n\r\n.dot\r\nlone\rCR\r\n", m2 = std::string(70000, 'z') + "\r\n";
    for (bool lmtp : {false, true})
    {
        cfg.lmtp = lmtp;
        const std::string hello = lmtp ? "LHLO client\r\n" : "EHLO client\r\n";
        const std::string
            envelope = "MAIL FROM:<a@example>\r\nRCPT TO:<b@example>\r\nRCPT TO:<c@example>\r\n";
        const std::string by_data = hello + envelope + "DATA\r\n" + data_wire(m1) + envelope + "DATA\r\n" +
                                    data_wire(m2) + envelope + "RSET\r\nQUIT\r\n";
        const std::string by_bdat = hello + envelope + "BDAT 20\r\n" + m1.substr(0, 20) + "BDAT " +
                                    std::to_string(m1.size() - 20) + " LAST\r\n" + m1.substr(20) + envelope +
                                    "BDAT " + std::to_string(m2.size()) + " LAST\r\n" + m2 + envelope +
                                    "BDAT 3\r\nabcRSET\r\nQUIT\r\n";
        for (std::size_t piece : {std::size_t(1) << 20, std::size_t(7), std::size_t(1)})
        {
            BOOST_TEST_CONTEXT((lmtp ? "LMTP" : "ESMTP") << ", reads of " << piece)
            {
                const std::string tag = std::to_string(lmtp) + "-" + std::to_string(piece);
                const auto want = dumps_of_session(*this, cfg, by_data, piece, "data" + tag);
                const auto got = dumps_of_session(*this, cfg, by_bdat, piece, "bdat" + tag);
                BOOST_TEST_REQUIRE(want.size() == 2u);  // the RSET transaction leaves nothing
                BOOST_TEST((got == want));
                BOOST_TEST(want[0].find(lmtp ? "with LMTP id" : "with ESMTP id") != std::string::npos);
            }
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()
