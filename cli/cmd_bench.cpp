// cmd_bench.cpp — placeholder until `unetgen bench` lands.
#include "cli/commands.h"

#include <CLI/CLI.hpp>
#include <cstdio>

namespace unetgen::cli {

void add_bench_command(CLI::App &app, int &exit_code) {
    CLI::App *sub = app.add_subcommand("bench", "not implemented yet");
    sub->callback([&exit_code] {
        std::fprintf(stderr, "unetgen bench: not implemented yet\n");
        exit_code = 2;
    });
}

}  // namespace unetgen::cli
