// SPDX-License-Identifier: BSL-1.0
// mailload/dump.hpp — smtp-sink's dump files (-d one file per message, -D one shared file)
#pragma once

#include <mailload/sansio/data_scanner.hpp>
#include <mailload/sansio/message_builder.hpp>
#include <mailload/sansio/smtp_server.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <optional>
#include <random>
#include <string>
#include <string_view>

namespace mailload {

/// Where and how transactions are dumped (smtp-sink's -d, -D and -S).
struct dump_options {
    std::string path_template;     ///< strftime(3) template, expanded at MAIL time (local time)
    bool shared = false;           ///< -D: append every message to one file; -d: a file each
    std::string start;             ///< -S: written at the start of every dump, as is
    bool zero_padded_day = false;  ///< the Received: date as Postfix >= 3.9 writes it
};

/**
 * Writes one session's transactions as Postfix's smtp-sink dumps them: a file is made at MAIL
 * (the template expanded, then 8 random hex digits; parent directories made as needed), the
 * envelope is written as it arrives, the content with CRs removed and dot-stuffing undone.
 * A complete message leaves its file (-d) or is appended to the shared file (-D, through an
 * unlinked temporary file); a transaction that ends otherwise leaves nothing behind. A message
 * sent in BDAT chunks is dumped as the same message sent with DATA would be.
 */
class dump_writer {
public:
    dump_writer(const dump_options& o, std::string_view hostname, std::mt19937_64& rng)
        : opts_(o), hostname_(hostname), rng_(rng) {}
    dump_writer(const dump_writer&) = delete;
    dump_writer& operator=(const dump_writer&) = delete;
    ~dump_writer() { abandon(); }

    /// MAIL was accepted at `when`: starts a dump. False (and `error`) if no file can be made.
    bool begin(std::time_t when, std::string_view client, sansio::client_proto proto,
               std::optional<std::string_view> helo, std::string_view mail_args, std::string& error) {
        abandon();
        when_ = when;
        if (!create(expand(when_), error)) return false;
        if (opts_.shared) ::unlink(path_.c_str());
        unstuffer_.reset();
        buf_.reserve(1 << 16);  // at the first MAIL: an idle session costs nothing
        buf_ = opts_.start;
        buf_.append("X-Client-Addr: ").append(client).append("\n");
        buf_.append("X-Client-Proto: ").append(proto_name(proto)).append("\n");
        if (helo) buf_.append("X-Helo-Args: ").append(*helo).append("\n");
        buf_.append("X-Mail-Args: ").append(mail_args).append("\n");
        client_.assign(client);
        proto_ = proto;
        helo_.reset();
        if (helo) helo_.emplace(*helo);
        return true;
    }

    /// An accepted RCPT (written out as the buffer fills: a client may send any number).
    void rcpt(std::string_view args, std::string& error) {
        if (fd_ < 0) return;
        buf_.append("X-Rcpt-Args: ").append(args).append("\n");
        if (buf_.size() >= (1 << 16)) drain(error);
    }

    /// DATA, or the first BDAT of the transaction (`chunked`: the `data` event's cmd is bdat), was
    /// accepted: the Received: header.
    void data(bool chunked = false) {
        if (fd_ < 0) return;
        chunked_ = chunked;
        open_line_ = after_cr_ = false;
        buf_.append("Received: from ");
        if (helo_) buf_.append(*helo_);
        else buf_.append("[").append(client_).append("]");
        buf_.append(" ([").append(client_).append("])\n");
        buf_.append("\tby ").append(hostname_).append(" (smtp-sink) with ").append(proto_name(proto_));
        buf_.append(" id ").append(id_).append(";\n\t");
        buf_.append(sansio::mail_date(when_, opts_.zero_padded_day)).append("\n");
    }

    /// Message data as received after DATA (end marker included).
    void content(std::string_view raw, std::string& error) {
        if (fd_ < 0) return;
        unstuffer_.feed(raw, buf_);
        if (buf_.size() >= (1 << 16)) drain(error);
    }

    /// Message data of BDAT chunks as received (`content` events whose cmd is bdat): every CR
    /// removed, as content() removes them, but nothing is dot-stuffed and no end marker comes.
    void chunk(std::string_view raw, std::string& error) {
        if (fd_ < 0 || raw.empty()) return;
        open_line_ = raw.back() != '\n' || !(raw.size() > 1 ? raw[raw.size() - 2] == '\r' : after_cr_);
        after_cr_ = raw.back() == '\r';
        for (std::size_t cr; (cr = raw.find('\r')) != std::string_view::npos; raw.remove_prefix(cr + 1))
            buf_.append(raw.substr(0, cr));
        buf_.append(raw);
        if (buf_.size() >= (1 << 16)) drain(error);
    }

    /// The message is complete: keep it. False (and `error`) on a write or open failure.
    bool finish(std::string& error) {
        if (fd_ < 0) return true;
        // what DATA's end marker leaves: the end of the last line if it lacks its CR LF (a DATA
        // client adds one), then an empty line
        if (chunked_) buf_.append(open_line_ ? "\n\n" : "\n");
        bool ok = drain(error);
        if (ok && opts_.shared) ok = append_to_shared(error);
        ::close(fd_);
        fd_ = -1;
        return ok;
    }

    /// The transaction ended without a message: remove what was written.
    void abandon() {
        if (fd_ < 0) return;
        ::close(fd_);
        fd_ = -1;
        if (!opts_.shared) ::unlink(path_.c_str());
        buf_.clear();
    }

    /// The file of the dump in progress (for -D, the name its temporary file had).
    const std::string& path() const noexcept { return path_; }

private:
    static std::string_view proto_name(sansio::client_proto p) noexcept {
        return p == sansio::client_proto::lmtp ? "LMTP" : p == sansio::client_proto::esmtp ? "ESMTP" : "SMTP";
    }

    std::string expand(std::time_t when) const {
        std::tm local{};
        localtime_r(&when, &local);
        std::string out(opts_.path_template.size() + 256, '\0');
        for (;;) {
            const std::size_t n = opts_.path_template.empty()
                                      ? 0
                                      : std::strftime(out.data(), out.size(), opts_.path_template.c_str(), &local);
            if (n > 0 || opts_.path_template.empty() || out.size() > 65536) {
                out.resize(n);
                return out;
            }
            out.resize(out.size() * 2);
        }
    }

    static bool make_parents(const std::string& path) {
        for (std::size_t slash = path.find('/', 1); slash != std::string::npos; slash = path.find('/', slash + 1)) {
            const std::string dir = path.substr(0, slash);
            if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return false;
        }
        return true;
    }

    bool create(const std::string& base, std::string& error) {
        for (int attempt = 0; attempt < 100; ++attempt) {
            char hex[16];
            std::snprintf(hex, sizeof hex, "%08x", static_cast<unsigned>(rng_() & 0xffffffffu));
            id_ = hex;
            path_ = base + id_;
            fd_ = ::open(path_.c_str(), (opts_.shared ? O_RDWR : O_WRONLY) | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
            if (fd_ >= 0) return true;
            if (errno == EEXIST) continue;
            if (errno == ENOENT && make_parents(path_)) continue;
            error = "open " + path_ + ": " + std::strerror(errno);
            return false;
        }
        error = "mail_file_open: something is looping";
        return false;
    }

    bool drain(std::string& error) {
        std::size_t done = 0;
        while (done < buf_.size()) {
            const ssize_t n = ::write(fd_, buf_.data() + done, buf_.size() - done);
            if (n < 0) {
                if (errno == EINTR) continue;
                error = "write " + path_ + ": " + std::strerror(errno);
                return false;
            }
            done += static_cast<std::size_t>(n);
        }
        buf_.clear();
        return true;
    }

    bool append_to_shared(std::string& error) {
        const std::string shared = expand(when_);
        int out = ::open(shared.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (out < 0 && errno == ENOENT && make_parents(shared))
            out = ::open(shared.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (out < 0) {
            error = "open " + shared + ": " + std::strerror(errno);
            return false;
        }
        bool ok = ::lseek(fd_, 0, SEEK_SET) == 0;
        char chunk[1 << 15];
        while (ok) {
            const ssize_t n = ::read(fd_, chunk, sizeof chunk);
            if (n == 0) break;
            if (n < 0) {
                ok = errno == EINTR;
                continue;
            }
            for (ssize_t done = 0; ok && done < n;) {
                const ssize_t w = ::write(out, chunk + done, static_cast<std::size_t>(n - done));
                if (w < 0) ok = errno == EINTR;
                else done += w;
            }
        }
        if (!ok) error = "write " + shared + ": " + std::strerror(errno);
        ::close(out);
        return ok;
    }

    const dump_options& opts_;
    std::string hostname_;
    std::mt19937_64& rng_;
    std::string path_, id_, buf_, client_;
    std::optional<std::string> helo_;
    sansio::client_proto proto_ = sansio::client_proto::smtp;
    std::time_t when_ = 0;
    int fd_ = -1;
    bool chunked_ = false;    // the content comes in BDAT chunks
    bool open_line_ = false;  // they do not end with CR LF (so far)
    bool after_cr_ = false;   // their last byte is a CR
    sansio::dot_unstuffer unstuffer_;
};

}  // namespace mailload
