// SPDX-License-Identifier: BSL-1.0
// qmqp-source-mpi — qmqp-source on every rank of an MPI job, one report of the whole run from rank 0
//
//     mpirun -np N qmqp-source-mpi [qmqp-source's options] [--per-rank] target [target...]
//
// qmqp-source's options, split over the ranks as examples/common/mpi.hpp says; built when MPI is
// found (CMake: find_package(MPI); Meson: dependency('mpi')).

#define MAILLOAD_MPI_TOOL 1  // qmqp-source without its main()
#if defined(__GNUC__) && !defined(__clang__)
// Its pieces live in an anonymous namespace, which g++ flags in an included file (as it would in
// a header shared by several translation units); this file is their one translation unit.
#pragma GCC diagnostic ignored "-Wsubobject-linkage"
#endif
#include "../qmqp-source/qmqp_source.cpp"

#include <common/mpi.hpp>

int main(int argc, char** argv) { return cli::mpi_source_main(argc, argv, "qmqp-source", parse, configure, run); }
