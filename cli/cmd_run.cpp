// cmd_run.cpp — placeholder until `unetgen run` lands.
#include "cli/commands.h"

#include <CLI/CLI.hpp>
#include <cstdio>

namespace unetgen::cli {

void add_run_command(CLI::App &app, int &exit_code) {
    CLI::App *sub = app.add_subcommand("run", "not implemented yet");
    sub->callback([&exit_code] {
        std::fprintf(stderr, "unetgen run: not implemented yet\n");
        exit_code = 2;
    });
}

}  // namespace unetgen::cli
