// SPDX-License-Identifier: BSL-1.0
// mailload/mpi.hpp — one load run over many processes and hosts, coordinated with MPI (optional: needs MPI)
#pragma once

#include <mailload/report/codec.hpp>
#include <mailload/source.hpp>

#include <mpi.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace mailload::mpi {

/**
 * MPI for the process's lifetime: MPI_Init_thread on construction (MPI_THREAD_FUNNELED: a
 * source's threads never call MPI; only the thread that made this does), MPI_Finalize on
 * destruction. Every call below is collective: every rank makes it, in the same order.
 */
class environment {
public:
    environment(int& argc, char**& argv) {
        int provided = 0;
        if (MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
            throw std::runtime_error("MPI_Init_thread failed");
        MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
        MPI_Comm_size(MPI_COMM_WORLD, &size_);
        char name[MPI_MAX_PROCESSOR_NAME];
        int length = 0;
        MPI_Get_processor_name(name, &length);
        host_.assign(name, static_cast<std::size_t>(length));
    }
    ~environment() { MPI_Finalize(); }
    environment(const environment&) = delete;
    environment& operator=(const environment&) = delete;

    int rank() const noexcept { return rank_; }
    int size() const noexcept { return size_; }
    const std::string& host() const noexcept { return host_; }  ///< MPI's processor name

    /// Returns when every rank has called it: the ranks start together.
    void barrier() const { MPI_Barrier(MPI_COMM_WORLD); }

    /// Rank 0's `value`, on every rank.
    int broadcast(int value) const {
        MPI_Bcast(&value, 1, MPI_INT, 0, MPI_COMM_WORLD);
        return value;
    }

    /// On rank 0, every rank's `bytes` in rank order; elsewhere nothing.
    std::vector<std::string> gather(std::string_view bytes) const {
        if (bytes.size() > static_cast<std::size_t>(INT32_MAX)) throw std::length_error("MPI gather: too many bytes");
        int mine = static_cast<int>(bytes.size());
        std::vector<int> sizes(rank_ == 0 ? static_cast<std::size_t>(size_) : 0);
        MPI_Gather(&mine, 1, MPI_INT, sizes.data(), 1, MPI_INT, 0, MPI_COMM_WORLD);
        std::vector<int> offsets(sizes.size());
        std::string all;
        if (rank_ == 0) {
            std::size_t total = 0;
            for (std::size_t i = 0; i < sizes.size(); ++i) {
                offsets[i] = static_cast<int>(total);
                total += static_cast<std::size_t>(sizes[i]);
                if (total > static_cast<std::size_t>(INT32_MAX)) throw std::length_error("MPI gather: too many bytes");
            }
            all.resize(total);
        }
        MPI_Gatherv(bytes.data(), mine, MPI_CHAR, all.data(), sizes.data(), offsets.data(), MPI_CHAR, 0,
                    MPI_COMM_WORLD);
        std::vector<std::string> out;
        for (std::size_t i = 0; i < sizes.size(); ++i)
            out.emplace_back(all, static_cast<std::size_t>(offsets[i]), static_cast<std::size_t>(sizes[i]));
        return out;
    }

private:
    int rank_ = 0, size_ = 1;
    std::string host_;
};

/// Rank `rank`'s part of `total` over `ranks`: equal parts, the remainder one each to the first
/// ranks, so the parts add up to `total` exactly.
constexpr std::uint64_t share(std::uint64_t total, int ranks, int rank) noexcept {
    const auto n = static_cast<std::uint64_t>(ranks), r = static_cast<std::uint64_t>(rank);
    return total / n + (r < total % n ? 1 : 0);
}

/// Ranks whose Message-Ids message_id_field() keeps apart.
inline constexpr int max_ranks = 1024;

/// The first Message-Id field (Postfix's: the process id) of a rank: the rank in the top ten
/// bits, the low 22 bits of the process id below (Linux process ids stay below 2^22), so two
/// ranks never share it, on one host or many.
constexpr std::uint32_t message_id_field(int rank, std::uint32_t pid) noexcept {
    return (static_cast<std::uint32_t>(rank) << 22) | (pid & 0x3fffffu);
}

/// One rank's part of a run: where it ran, what it sent to, and its report.
struct rank_report {
    int rank = 0;
    std::string host, target;
    std::string missing;  ///< why its report is missing or unreadable ("" when it arrived)
    source_report report;
};

/// What every rank did, and the sum.
struct run_report {
    source_report total;  ///< every rank's report merged; its error: the lowest failed rank's
    std::vector<rank_report> ranks;

    /// The ranks that failed or whose report is missing.
    std::size_t failed() const noexcept {
        std::size_t n = 0;
        for (const auto& r : ranks) n += !r.missing.empty() || r.report.error;
        return n;
    }
};

/// Collective: every rank gives its report (run against `target`); rank 0 gets them all and
/// their sum (counts added, histograms merged bucket for bucket), the others an empty run_report.
inline run_report gather(const environment& env, const source_report& mine, std::string_view target) {
    report::writer w;
    w.str(env.host());
    w.str(target);
    w.bytes() += report::encode(mine);  // the rest
    run_report out;
    const std::vector<std::string> all = env.gather(w.bytes());
    for (std::size_t i = 0; i < all.size(); ++i) {
        rank_report& r = out.ranks.emplace_back();
        r.rank = static_cast<int>(i);
        report::reader in(all[i]);
        r.host = in.str();
        r.target = in.str();
        const std::string problem = in.ok() ? report::decode(in.rest(), r.report) : "truncated";
        if (!problem.empty()) {
            r.missing = "its report is unreadable: " + problem;
            r.report = source_report{};
        }
        out.total.merge(r.report);
        if ((r.report.error || !r.missing.empty()) && !out.total.error) {
            const std::string& what = r.missing.empty() ? r.report.what : r.missing;
            out.total.error = r.missing.empty() ? r.report.error : report::remote_error(what);
            out.total.what = "rank " + std::to_string(i) + ": " + what;
        }
        if (r.report.elapsed > out.total.elapsed) out.total.elapsed = r.report.elapsed;  // they started together
    }
    return out;
}

}  // namespace mailload::mpi
