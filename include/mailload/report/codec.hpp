// SPDX-License-Identifier: BSL-1.0
// mailload/report/codec.hpp — a source_report as bytes and back, to add up the reports of several processes
#pragma once

#include <mailload/source.hpp>

#include <boost/system/error_code.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace mailload::report {

namespace detail {

/// Errors that happened in another process, known by their message: each distinct message is a
/// value of its own (so equal errors count together), at most `capacity` of them; the rest
/// share the last one.
class remote_category final : public boost::system::error_category {
public:
    static constexpr std::size_t capacity = 1024;

    const char* name() const noexcept override { return "mailload.remote"; }
    std::string message(int v) const override {
        const std::lock_guard lock(mutex_);
        return v >= 1 && static_cast<std::size_t>(v) <= texts_.size() ? texts_[static_cast<std::size_t>(v) - 1]
                                                                       : "error in another process";
    }
    int intern(std::string_view text) const {
        const std::lock_guard lock(mutex_);
        for (std::size_t i = 0; i < texts_.size(); ++i)
            if (texts_[i] == text) return static_cast<int>(i + 1);
        if (texts_.size() == capacity) return 0;
        texts_.emplace_back(text);
        return static_cast<int>(texts_.size());
    }

private:
    mutable std::mutex mutex_;
    mutable std::deque<std::string> texts_;
};

inline const remote_category& remote_errors() noexcept {
    static const remote_category cat;
    return cat;
}

}  // namespace detail

/// An error code whose message() is `text` (an error another process reported).
inline boost::system::error_code remote_error(std::string_view text) {
    const auto& cat = detail::remote_errors();
    return {cat.intern(text), cat};
}

/// Appends integers (8 bytes, little-endian) and strings (their length, then their bytes).
class writer {
public:
    void u64(std::uint64_t v) {
        for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    }
    void str(std::string_view s) {
        u64(s.size());
        out_.append(s);
    }
    std::string& bytes() noexcept { return out_; }

private:
    std::string out_;
};

/// Reads what a writer wrote; every length is checked against what is left and against
/// `max_string`, and the first failure sticks (ok() false, every later read 0 or "").
class reader {
public:
    static constexpr std::size_t max_string = 65536;

    explicit reader(std::string_view in) noexcept : in_(in) {}

    std::uint64_t u64() noexcept {
        if (!ok_ || in_.size() < 8) return fail();
        std::uint64_t v = 0;
        for (int i = 0; i < 8; ++i) v |= std::uint64_t(static_cast<unsigned char>(in_[static_cast<std::size_t>(i)])) << (8 * i);
        in_.remove_prefix(8);
        return v;
    }
    /// A count of items that take at least `item_bytes` each: never more than could follow.
    std::uint64_t count(std::size_t item_bytes) noexcept {
        const std::uint64_t n = u64();
        return n <= in_.size() / item_bytes ? n : fail();
    }
    std::string_view str() noexcept {
        const std::uint64_t n = u64();
        if (!ok_ || n > max_string || n > in_.size()) return fail(), std::string_view();
        const std::string_view s = in_.substr(0, static_cast<std::size_t>(n));
        in_.remove_prefix(static_cast<std::size_t>(n));
        return s;
    }
    /// Whatever is left (taking it all).
    std::string_view rest() noexcept {
        const std::string_view s = in_;
        in_ = {};
        return s;
    }
    bool ok() const noexcept { return ok_; }
    bool at_end() const noexcept { return in_.empty(); }

private:
    std::uint64_t fail() noexcept {
        ok_ = false;
        return 0;
    }
    std::string_view in_;
    bool ok_ = true;
};

namespace detail {

inline constexpr std::string_view magic = "mailload source_report 1";

inline void put(writer& w, const histogram& h) {
    std::uint64_t buckets = 0;
    for (const std::uint64_t c : h.counts()) buckets += c != 0;
    w.u64(buckets);
    w.u64(h.min());
    w.u64(h.max());
    w.u64(h.sum());
    for (std::size_t i = 0; i < h.counts().size(); ++i)
        if (h.counts()[i]) {
            w.u64(i);
            w.u64(h.counts()[i]);
        }
}

inline bool get(reader& r, histogram& h) {
    const std::uint64_t buckets = r.count(16);
    const std::uint64_t min = r.u64(), max = r.u64(), sum = r.u64();
    std::vector<std::uint64_t> counts;
    for (std::uint64_t k = 0; k < buckets && r.ok(); ++k) {
        const std::uint64_t i = r.u64(), n = r.u64();
        if (i >= histogram::bucket_count || (!counts.empty() && i < counts.size())) return false;  // ascending
        counts.resize(static_cast<std::size_t>(i) + 1, 0);
        counts.back() = n;
    }
    return r.ok() && h.merge(counts, min, max, sum);
}

}  // namespace detail

/// The report as bytes (what decode() reads back). Errors travel as their messages.
inline std::string encode(const source_report& r) {
    writer w;
    w.str(detail::magic);
    w.u64(sansio::client_stage_count);
    w.u64(r.error ? 1 : 0);
    w.str(r.what);
    const auto& t = r.totals;
    for (const std::uint64_t v : {t.messages_sent, t.messages_accepted, t.recipients_sent, t.recipients_accepted,
                                  t.bytes_accepted, t.chunks_sent})
        w.u64(v);
    for (const std::uint64_t v : t.rejected) w.u64(v);
    for (const std::uint64_t v : {r.connections, r.connect_failures, r.late_starts, r.tls_handshakes, r.tls_resumed})
        w.u64(v);
    w.u64(static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(r.elapsed).count()));
    detail::put(w, r.latency);
    detail::put(w, r.connect_latency);
    detail::put(w, r.tls_latency);
    for (const auto& h : r.reply_latency) detail::put(w, h);
    std::vector<std::array<std::uint64_t, 3>> replies;
    r.replies.for_each([&](sansio::client_stage s, int code, std::uint64_t n) {
        replies.push_back({static_cast<std::uint64_t>(s), static_cast<std::uint64_t>(code), n});
    });
    w.u64(replies.size());
    for (const auto& [s, code, n] : replies) {
        w.u64(s);
        w.u64(code);
        w.u64(n);
    }
    w.u64(r.io_errors.size());
    for (const auto& [ec, n] : r.io_errors) {
        w.str(ec.message());
        w.u64(n);
    }
    return std::move(w.bytes());
}

/// Reads encode()'s bytes into `out` (a fresh report): "" on success, else what is wrong with
/// them (then `out` holds what was read before, and is not to be used).
inline std::string decode(std::string_view bytes, source_report& out) {
    reader r(bytes);
    if (r.str() != detail::magic) return "not a mailload source report";
    if (r.u64() != sansio::client_stage_count) return "a report from another version of mailload (its stages differ)";
    const bool failed = r.u64() != 0;
    out.what = r.str();
    if (failed) out.error = remote_error(out.what);
    auto& t = out.totals;
    for (std::uint64_t* v : {&t.messages_sent, &t.messages_accepted, &t.recipients_sent, &t.recipients_accepted,
                             &t.bytes_accepted, &t.chunks_sent})
        *v = r.u64();
    for (std::uint64_t& v : t.rejected) v = r.u64();
    for (std::uint64_t* v : {&out.connections, &out.connect_failures, &out.late_starts, &out.tls_handshakes,
                             &out.tls_resumed})
        *v = r.u64();
    const std::uint64_t ns = r.u64();
    if (ns > std::uint64_t(INT64_MAX)) return "elapsed time out of range";
    out.elapsed = std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::nanoseconds(ns));
    bool histograms = detail::get(r, out.latency) && detail::get(r, out.connect_latency) && detail::get(r, out.tls_latency);
    for (auto& h : out.reply_latency) histograms = histograms && detail::get(r, h);
    if (!histograms) return r.ok() ? "a histogram out of range" : "truncated";
    const std::uint64_t replies = r.count(24);
    for (std::uint64_t k = 0; k < replies && r.ok(); ++k) {
        const std::uint64_t s = r.u64(), code = r.u64(), n = r.u64();
        if (s >= sansio::client_stage_count || code > 999) return "a reply count out of range";
        out.replies.add(static_cast<sansio::client_stage>(s), static_cast<int>(code), n);
    }
    const std::uint64_t errors = r.count(16);
    for (std::uint64_t k = 0; k < errors && r.ok(); ++k) {
        const std::string_view what = r.str();
        const std::uint64_t n = r.u64();
        if (r.ok()) out.io_errors.emplace_back(remote_error(what), n);
    }
    if (!r.ok()) return "truncated";
    if (!r.at_end()) return "bytes after the report";
    return {};
}

}  // namespace mailload::report
