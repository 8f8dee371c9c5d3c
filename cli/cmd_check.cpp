// cmd_check.cpp — `unetgen check SPEC [--size CxHxW] [--memory SIZE] [--json] [--dot] [--svg FILE]`.
//
// int run_check(const CheckOptions &opts)
//   Reads and validates the spec (all errors at once, exit 1), lowers it to the layer IR, checks the
//   input size against the network's size program (exit 2 with the rule and the nearest accepted
//   sizes when it does not fit), then prints the layer table, the JSON report or the Graphviz text,
//   and optionally renders an SVG with `dot`. Exit codes: 0 ok, 1 spec errors, 2 size / usage errors.
#include "cli/commands.h"
#include "cli/memory_size.h"
#include "cli/tile_report.h"
#include "common/norm_extent.h"
#include "dsl/check_report.h"
#include "dsl/diagnostics.h"
#include "dsl/network_ir.h"
#include "dsl/parse_spec.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include <sys/wait.h>
#include <unistd.h>

namespace unetgen::cli {
namespace {

struct CheckOptions {
    std::string spec;
    std::string size;   // CxHxW, empty = default
    std::string memory; // budget for the tile plan, empty = the runtime's default
    bool json = false;
    bool dot = false;
    std::string svg;
};

// Largest extent --size takes: far beyond any image, small enough that no size arithmetic overflows.
constexpr int64_t kMaxExtent = int64_t(1) << 20;

struct InputSize { int64_t c = 0, h = 0, w = 0; };

// Parses "CxHxW" (three positive integers); nullopt on anything else.
std::optional<InputSize> parse_size(const std::string &text) {
    int64_t v[3] = {0, 0, 0};
    int n = 0;
    size_t i = 0;
    while (n < 3) {
        if (i >= text.size() || text[i] < '0' || text[i] > '9') return std::nullopt;
        int64_t x = 0;
        while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
            x = x * 10 + (text[i] - '0');
            if (x > kMaxExtent) return std::nullopt;
            ++i;
        }
        v[n++] = x;
        if (n < 3) {
            if (i >= text.size() || (text[i] != 'x' && text[i] != 'X')) return std::nullopt;
            ++i;
        }
    }
    if (i != text.size() || v[0] < 1 || v[1] < 1 || v[2] < 1) return std::nullopt;
    return InputSize{v[0], v[1], v[2]};
}

std::string join(const std::vector<int64_t> &values) {
    std::string out;
    for (size_t i = 0; i < values.size(); ++i) out += (i ? ", " : "") + std::to_string(values[i]);
    return out;
}

// Pipes `dot_text` through `dot -Tsvg -o file`; returns an error sentence, empty on success.
std::string render_svg(const std::string &dot_text, const std::string &file) {
    int fds[2];
    if (pipe(fds) != 0) return fmt::format("cannot render {} with Graphviz: no pipe available", file);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return fmt::format("cannot render {} with Graphviz: cannot start a process", file);
    }
    if (pid == 0) {
        dup2(fds[0], 0);
        close(fds[0]);
        close(fds[1]);
        execlp("dot", "dot", "-Tsvg", "-o", file.c_str(), static_cast<char *>(nullptr));
        _exit(127);
    }
    close(fds[0]);
    // A `dot` that dies early must not take us down with SIGPIPE.
    auto old = std::signal(SIGPIPE, SIG_IGN);
    size_t done = 0;
    while (done < dot_text.size()) {
        ssize_t n = write(fds[1], dot_text.data() + done, dot_text.size() - done);
        if (n <= 0) break;
        done += size_t(n);
    }
    close(fds[1]);
    std::signal(SIGPIPE, old);
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
        return fmt::format("cannot render {} with Graphviz: the `dot` program was not found (install graphviz)", file);
    return fmt::format("cannot render {} with Graphviz: dot failed (exit status {})", file,
                       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

int run_check(const CheckOptions &opts) {
    // Checked here rather than by CLI11 so that usage errors exit with 2 like size errors.
    if (opts.spec.empty()) {
        std::cerr << "unetgen check: error: cannot check without a spec: pass the .unet file, e.g. "
                     "`unetgen check net.unet`\n";
        return 2;
    }
    if (opts.json && opts.dot) {
        std::cerr << "unetgen check: error: cannot print --json and --dot at once: choose one\n";
        return 2;
    }
    NetworkSpec spec;
    if (!load_spec_file(opts.spec, spec, std::cerr)) return 1;
    const Network net = build_network(spec);

    // Diagnostics about the input size are not tied to a line of the spec.
    DiagnosticSink size_sink(opts.spec, "");
    InputSize in;
    bool defaulted = false;
    if (!opts.size.empty()) {
        std::optional<InputSize> parsed = parse_size(opts.size);
        if (!parsed) {
            size_sink.error({}, fmt::format("cannot use --size {}: a size is CxHxW, three whole numbers from 1 to {} "
                                            "(e.g. {}x256x256)",
                                            opts.size, kMaxExtent, spec.in_channels));
            size_sink.render(std::cerr);
            return 2;
        }
        in = *parsed;
        if (in.c != spec.in_channels)
            size_sink.error({}, fmt::format("cannot feed a {}-channel input to {}: the network takes {} channel{}",
                                            in.c, spec.name, spec.in_channels, spec.in_channels == 1 ? "" : "s"));
        const bool square = in.h == in.w;
        const std::pair<const char *, int64_t> axes[2] = {{"height", in.h}, {"width", in.w}};
        for (int a = 0; a < (square ? 1 : 2); ++a) {
            std::string why = size_rejection(net, axes[a].second, square ? "" : axes[a].first);
            if (why.empty()) continue;
            size_sink.error({}, why);
            std::vector<int64_t> near = net.sizes.nearest_accepted(axes[a].second, 4);
            size_sink.note({}, near.empty() ? std::string("no nearby size is accepted")
                                            : fmt::format("nearest accepted {}: {}",
                                                          square ? "sizes" : std::string(axes[a].first) + "s",
                                                          join(near)));
        }
        if (size_sink.error_count() == 0) {
            std::vector<int> nodes;
            std::vector<const Layer *> normalised;
            for (const Layer &l : net.layers)
                if (norm_uses_sample_statistics(l.norm)) {
                    nodes.push_back(l.size);
                    normalised.push_back(&l);
                }
            const int k = single_pixel_norm(net.sizes, nodes, in.h, in.w);
            if (k >= 0)
                size_sink.error({}, fmt::format("cannot feed a {}x{} input to {}: the norm after {} would normalise a "
                                                "single pixel (1x1); an instance / group norm needs more than one, as "
                                                "PyTorch does",
                                                in.h, in.w, spec.name, normalised[size_t(k)]->name));
        }
        if (size_sink.error_count() > 0) {
            size_sink.render(std::cerr);
            return 2;
        }
    } else {
        std::optional<int64_t> extent = default_check_extent(net);
        if (!extent) {
            size_sink.error({}, fmt::format("cannot find an input size for {}: no extent up to {} passes its size "
                                            "rules (check padding and skip matching)",
                                            spec.name, 256 + 4096));
            size_sink.render(std::cerr);
            return 2;
        }
        in = {spec.in_channels, *extent, *extent};
        defaulted = true;
    }
    std::string odd = odd_pooling_warning(net, in.h, in.w);
    if (!odd.empty()) size_sink.warning({}, odd);
    size_sink.render(std::cerr);

    size_t budget = 0;
    if (!opts.memory.empty()) {
        try {
            budget = parse_memory_size(opts.memory);
        } catch (const std::exception &e) {
            std::cerr << "unetgen check: error: " << e.what() << '\n';
            return 2;
        }
    }
    const TileReport tiles = tile_report(net, in.h, in.w, budget);
    if (opts.json) {
        nlohmann::json report = check_json(net, in.h, in.w);
        report["default_size"] = defaulted;
        report["tiling"] = tile_report_json(tiles);
        std::cout << report.dump(2) << '\n';
    } else if (opts.dot) {
        std::cout << network_dot(net, in.h, in.w);
    } else {
        std::cout << fmt::format("{}: network {} is valid\n", opts.spec, spec.name);
        std::cout << fmt::format("input [{}, {}, {}]{}\n", in.c, in.h, in.w,
                                 defaulted ? " (default: the smallest square size >= 256 the network takes"
                                             " that pools evenly; choose another with --size CxHxW)"
                                           : "");
        std::cout << layer_table(net, in.h, in.w);
        std::cout << tile_report_text(tiles);
    }
    if (!opts.svg.empty()) {
        std::string error = render_svg(network_dot(net, in.h, in.w), opts.svg);
        if (!error.empty()) {
            std::cerr << "unetgen check: error: " << error << '\n';
            return 2;
        }
    }
    return 0;
}

}  // namespace

void add_check_command(CLI::App &app, int &exit_code) {
    auto opts = std::make_shared<CheckOptions>();
    CLI::App *sub = app.add_subcommand("check", "validate a spec; show its layers, sizes, parameters and FLOPs");
    sub->add_option("spec", opts->spec, "the .unet spec file");
    sub->add_option("--size", opts->size,
                    "input as CxHxW (default: the smallest square >= 256 the network takes that pools evenly)");
    sub->add_option("--memory", opts->memory,
                    "memory budget for the tile plan of --size, e.g. 2GB (default: the runtime's 2 GiB)");
    sub->add_flag("--json", opts->json, "print one JSON object instead of the table");
    sub->add_flag("--dot", opts->dot, "print the network as Graphviz text instead of the table (not with --json)");
    sub->add_option("--svg", opts->svg, "also draw the network into FILE with Graphviz's dot");
    sub->callback([opts, &exit_code] { exit_code = run_check(*opts); });
}

}  // namespace unetgen::cli
