// cmd_build.cpp — placeholder until `unetgen build` lands.
#include "cli/commands.h"

#include <CLI/CLI.hpp>
#include <cstdio>

namespace unetgen::cli {

void add_build_command(CLI::App &app, int &exit_code) {
    CLI::App *sub = app.add_subcommand("build", "not implemented yet");
    sub->callback([&exit_code] {
        std::fprintf(stderr, "unetgen build: not implemented yet\n");
        exit_code = 2;
    });
}

}  // namespace unetgen::cli
