// Test that header file is self-contained.
#include <mailload/dump.hpp>

#include <boost/test/unit_test.hpp>

#include <cstdlib>
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

BOOST_AUTO_TEST_SUITE_END()
