// SPDX-License-Identifier: BSL-1.0
// mailload/report/histogram.hpp — a log-linear latency histogram, mergeable across threads and processes
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace mailload::report {

/**
 * Counts values (nanoseconds, say) in HdrHistogram's bucket scheme: values below 2^sub_bits
 * exactly, larger ones in power-of-two ranges each split into 2^(sub_bits-1) equal parts, so a
 * recorded value is known to within 1/2^(sub_bits-1) of itself (sub_bits 8: 0.8 %). The buckets
 * are made as far as values reach, in steps of `grow_step` (an empty histogram costs nothing; one
 * of microseconds-to-seconds latencies holds about 3,000 buckets after at most 6 steps), so a
 * record allocates only when it reaches beyond every earlier one. Two histograms merge by adding
 * their counts bucket for bucket, so percentiles of a merge equal those of one histogram that
 * saw every value.
 */
class histogram {
public:
    static constexpr unsigned sub_bits = 8;
    static constexpr std::uint64_t sub_count = std::uint64_t(1) << sub_bits;  // 256
    static constexpr std::uint64_t half = sub_count / 2;                       // 128

    void record(std::uint64_t v) {
        const std::size_t i = index_of(v);
        if (i >= counts_.size()) grow(i + 1);
        ++counts_[i];
        ++total_;
        max_ = std::max(max_, v);
        min_ = std::min(min_, v);
        sum_ += v;
    }

    void merge(const histogram& o) { merge(o.counts_, o.min_, o.max_, o.sum_); }

    /// Adds counts recorded elsewhere (another process's counts(), min(), max() and sum()):
    /// bucket `i` gains `counts[i]`. False, and nothing added, when the parts cannot be one
    /// histogram's (more buckets than there are, or a minimum above the maximum).
    bool merge(std::span<const std::uint64_t> counts, std::uint64_t min, std::uint64_t max, std::uint64_t sum) {
        if (counts.size() > bucket_count) return false;
        std::uint64_t n = 0;
        for (const std::uint64_t c : counts) n += c;
        if (n == 0) return true;
        if (min > max) return false;
        if (counts.size() > counts_.size()) grow(counts.size());
        for (std::size_t i = 0; i < counts.size(); ++i) counts_[i] += counts[i];
        total_ += n;
        max_ = std::max(max_, max);
        min_ = std::min(min_, min);
        sum_ += sum;
        return true;
    }

    std::uint64_t count() const noexcept { return total_; }
    std::uint64_t max() const noexcept { return total_ ? max_ : 0; }
    std::uint64_t min() const noexcept { return total_ ? min_ : 0; }
    std::uint64_t sum() const noexcept { return sum_; }  ///< of every value recorded
    double mean() const noexcept { return total_ ? double(sum_) / double(total_) : 0.0; }

    /// The value at percentile `p` (0-100): the highest value of the bucket holding the
    /// ceil(p% × count)-th smallest value (never above max()).
    std::uint64_t percentile(double p) const noexcept {
        if (total_ == 0) return 0;
        auto rank = static_cast<std::uint64_t>(p / 100.0 * double(total_) + 0.5);
        rank = std::clamp<std::uint64_t>(rank, 1, total_);
        std::uint64_t seen = 0;
        for (std::size_t i = 0; i < counts_.size(); ++i) {
            seen += counts_[i];
            if (seen >= rank) return std::min(highest_of(i), max_);
        }
        return max_;
    }

    /// The counts of the buckets made so far (those beyond are 0).
    const std::vector<std::uint64_t>& counts() const noexcept { return counts_; }

    /// The bucket a value falls in, and the highest value that bucket holds.
    static std::size_t index_of(std::uint64_t v) noexcept {
        if (v < sub_count) return static_cast<std::size_t>(v);
        const unsigned shift = static_cast<unsigned>(std::bit_width(v)) - sub_bits;  // >= 1
        return static_cast<std::size_t>(sub_count + (shift - 1) * half + ((v >> shift) - half));
    }
    static std::uint64_t highest_of(std::size_t i) noexcept {
        if (i < sub_count) return i;
        const std::uint64_t shift = (i - sub_count) / half + 1;
        const std::uint64_t sub = (i - sub_count) % half + half;
        return ((sub + 1) << shift) - 1;
    }

    static constexpr std::size_t bucket_count = sub_count + (64 - sub_bits) * half;
    static constexpr std::size_t grow_step = 512;

private:
    void grow(std::size_t at_least) {
        counts_.resize(std::min(bucket_count, (at_least + grow_step - 1) / grow_step * grow_step), 0);
    }

    std::vector<std::uint64_t> counts_;
    std::uint64_t total_ = 0, max_ = 0, min_ = ~std::uint64_t(0), sum_ = 0;
};

}  // namespace mailload::report
