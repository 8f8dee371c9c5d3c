// commands.h — each `unetgen` subcommand registers itself on the app from its own cmd_*.cpp.
#pragma once

namespace CLI { class App; }

namespace unetgen::cli {

// Each adds a subcommand to `app`; the subcommand's callback runs it and stores the exit code.
void add_check_command(CLI::App &app, int &exit_code);
void add_build_command(CLI::App &app, int &exit_code);
void add_run_command(CLI::App &app, int &exit_code);
void add_bench_command(CLI::App &app, int &exit_code);

}  // namespace unetgen::cli
