// main.cpp — the unetgen command line: check, build, run, bench.
#include "cli/commands.h"

#include <CLI/CLI.hpp>

int main(int argc, char **argv) {
    CLI::App app{"unetgen: compile U-Net spec files into native segmentation libraries"};
    app.set_version_flag("--version", "unetgen " UNETGEN_VERSION);
    app.require_subcommand(1);
    int exit_code = 0;
    unetgen::cli::add_check_command(app, exit_code);
    unetgen::cli::add_build_command(app, exit_code);
    unetgen::cli::add_run_command(app, exit_code);
    unetgen::cli::add_bench_command(app, exit_code);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError &e) {
        // --help and --version exit 0; every usage error exits 2, like the subcommands' own checks.
        int code = app.exit(e);
        return code == 0 ? 0 : 2;
    }
    return exit_code;
}
