// cmd_check.cpp — placeholder until `unetgen check` lands.
#include "cli/commands.h"

#include <CLI/CLI.hpp>
#include <cstdio>

namespace unetgen::cli {

void add_check_command(CLI::App &app, int &exit_code) {
    CLI::App *sub = app.add_subcommand("check", "not implemented yet");
    sub->callback([&exit_code] {
        std::fprintf(stderr, "unetgen check: not implemented yet\n");
        exit_code = 2;
    });
}

}  // namespace unetgen::cli
