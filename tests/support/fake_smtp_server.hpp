// SPDX-License-Identifier: BSL-1.0
// tests/support/fake_smtp_server.hpp — a minimal in-process SMTP/LMTP responder for tests
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <thread>

namespace test_support {

/// A unique temporary directory, removed with everything in it at scope exit.
struct temp_dir {
    std::filesystem::path path;
    temp_dir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "mailload-test-XXXXXX").string();
        path = ::mkdtemp(tmpl.data());
    }
    ~temp_dir() {
        std::error_code ignored;
        std::filesystem::remove_all(path, ignored);
    }
};

/**
 * Answers SMTP on a unix socket, on its own thread and event loop, and counts what it saw:
 * 220 greeting (unless `greet` is false: then it accepts and stays silent), 250 to
 * HELO/LHLO/MAIL/RCPT, 354 to DATA, one 250 per recipient (LMTP) or one (SMTP) after the
 * data's CRLF.CRLF, 221 to QUIT. It allocates nothing per message.
 */
class fake_smtp_server {
public:
    using protocol = boost::asio::local::stream_protocol;

    fake_smtp_server(std::string path, bool lmtp = false, bool greet = true)
        : path_(std::move(path)), lmtp_(lmtp), greet_(greet), acceptor_(ctx_, protocol::endpoint(path_)) {
        boost::asio::co_spawn(ctx_, accept_loop(), boost::asio::detached);
        thread_ = std::thread([this] { ctx_.run(); });
    }
    ~fake_smtp_server() {
        ctx_.stop();
        thread_.join();
    }

    /// Messages whose end of data arrived (read after the client finished).
    std::size_t messages() const noexcept { return messages_; }
    std::size_t connections() const noexcept { return connections_; }
    const std::string& path() const noexcept { return path_; }

private:
    boost::asio::awaitable<void> accept_loop() {
        for (;;) {
            auto [ec, sock] = co_await acceptor_.async_accept(boost::asio::as_tuple(boost::asio::use_awaitable));
            if (ec) co_return;
            ++connections_;
            boost::asio::co_spawn(ctx_, serve(std::move(sock)), boost::asio::detached);
        }
    }

    boost::asio::awaitable<void> serve(protocol::socket sock) {
        using boost::asio::as_tuple;
        using boost::asio::use_awaitable;
        auto say = [&](std::string_view s) -> boost::asio::awaitable<bool> {
            auto [ec, n] = co_await boost::asio::async_write(sock, boost::asio::buffer(s), as_tuple(use_awaitable));
            co_return !ec;
        };
        if (!greet_) {
            std::array<char, 64> sink;
            co_await sock.async_read_some(boost::asio::buffer(sink), as_tuple(use_awaitable));
            co_return;
        }
        if (!co_await say("220 fake ESMTP\r\n")) co_return;
        std::array<char, 8192> buf;
        std::array<char, 1024> line;
        std::size_t line_len = 0;
        bool in_data = false;
        int state = 2;  // DATA scanner: 0 any, 1 saw CR, 2 saw CRLF, 3 saw CRLF., 4 saw CRLF.CR
        std::size_t rcpts = 0;
        for (;;) {
            auto [ec, n] = co_await sock.async_read_some(boost::asio::buffer(buf), as_tuple(use_awaitable));
            if (ec) co_return;
            for (std::size_t i = 0; i < n; ++i) {
                const char c = buf[i];
                if (in_data) {
                    if (state == 4 && c == '\n') {
                        in_data = false;
                        ++messages_;
                        for (std::size_t k = 0; k < (lmtp_ ? rcpts : 1); ++k)
                            if (!co_await say("250 2.0.0 Ok\r\n")) co_return;
                        continue;
                    }
                    state = c == '\r' ? (state == 3 ? 4 : 1)
                          : c == '\n' && state == 1 ? 2
                          : c == '.' && state == 2 ? 3
                          : 0;
                    continue;
                }
                if (c != '\n') {
                    if (line_len < line.size()) line[line_len++] = c;
                    continue;
                }
                const std::string_view cmd(line.data(), line_len < 4 ? line_len : 4);
                line_len = 0;
                if (cmd == "DATA") {
                    in_data = true;
                    state = 2;
                    if (!co_await say("354 go\r\n")) co_return;
                } else if (cmd == "QUIT") {
                    co_await say("221 Bye\r\n");
                    co_return;
                } else {
                    if (cmd == "MAIL") rcpts = 0;
                    if (cmd == "RCPT") ++rcpts;
                    if (!co_await say("250 Ok\r\n")) co_return;
                }
            }
        }
    }

    std::string path_;
    bool lmtp_;
    bool greet_;
    boost::asio::io_context ctx_{1};
    protocol::acceptor acceptor_;
    std::thread thread_;
    std::size_t messages_ = 0;
    std::size_t connections_ = 0;
};

}  // namespace test_support
