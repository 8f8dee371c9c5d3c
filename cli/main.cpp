// main.cpp — the unetgen command line: check, build, run, bench.
#include "cli/commands.h"

#include <CLI/CLI.hpp>

int main(int argc, char **argv) {
    CLI::App app{"unetgen: compile U-Net spec files into native segmentation libraries"};
    app.require_subcommand(1);
    int exit_code = 0;
    unetgen::cli::add_check_command(app, exit_code);
    unetgen::cli::add_build_command(app, exit_code);
    unetgen::cli::add_run_command(app, exit_code);
    unetgen::cli::add_bench_command(app, exit_code);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError &e) {
        return app.exit(e);
    }
    return exit_code;
}
