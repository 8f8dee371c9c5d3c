// fuzz_parse_spec.cpp — libFuzzer target: parse_spec on any bytes must not crash, hang or break
// its promises.
//
// Built with clang++ -fsanitize=fuzzer,address,undefined by tests/fuzz/CMakeLists.txt, so memory
// errors and undefined behaviour (integer overflow in literals, say) stop the run too. Beyond
// "no crash", each input checks what the rest of unetgen relies on: diagnostics point into the
// file, the error limit holds, rendering works, and a spec without errors is internally
// consistent (list lengths, channel ranges) so that build_network may trust it.
#include "dsl/parse_spec.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

using namespace unetgen;

namespace {

void require(bool ok, const char *what, const std::string &source) {
    if (ok) return;
    std::fprintf(stderr, "fuzz_parse_spec: broken promise: %s\n--- input (%zu bytes) ---\n%.2000s\n", what,
                 source.size(), source.c_str());
    std::abort();
}

bool channels_ok(const std::vector<int> &list) {
    return std::all_of(list.begin(), list.end(), [](int c) { return c >= 1 && c <= 65536; });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    std::string source(reinterpret_cast<const char *>(data), size);
    DiagnosticSink sink("fuzz.unet", source);
    NetworkSpec spec = parse_spec("fuzz.unet", source, sink);
    std::string rendered = sink.render();

    const int lines = int(std::count(source.begin(), source.end(), '\n')) + 1;
    require(sink.error_count() <= 50, "at most 50 errors", source);
    for (const Diagnostic &d : sink.all()) {
        require(d.pos.line >= 0 && d.pos.line <= lines, "diagnostic line inside the file", source);
        require(d.pos.line == 0 || d.pos.col >= 1, "diagnostic column from 1", source);
        require(d.length >= 1, "caret length from 1", source);
        require(!d.message.empty(), "a message", source);
    }
    require(sink.all().empty() || !rendered.empty(), "rendered diagnostics", source);
    if (!source.empty() && sink.all().empty()) require(!spec.name.empty(), "a network name", source);

    if (sink.error_count() == 0) {
        const size_t depth = spec.encoder.size();
        require(depth >= 2 && depth <= 16, "2..16 encoder levels", source);
        require(spec.decoder.size() + 1 == depth, "decoder of depth-1 levels", source);
        require(channels_ok(spec.encoder) && channels_ok(spec.decoder), "level channels in range", source);
        require(channels_ok(spec.pre) && channels_ok(spec.post), "pre/post channels in range", source);
        require(spec.in_channels >= 1 && spec.in_channels <= 65536, "input channels in range", source);
        require(spec.classes >= 1 && spec.classes <= 65536, "classes in range", source);
        require(spec.mean.size() == size_t(spec.in_channels), "one mean per channel", source);
        require(spec.std.size() == size_t(spec.in_channels), "one std per channel", source);
        require(std::all_of(spec.std.begin(), spec.std.end(), [](double s) { return s > 0; }), "std > 0", source);
        require(spec.block.eps > 0, "eps > 0", source);
        require(spec.block.kernel % 2 == 1 && spec.block.kernel <= 7, "odd kernel up to 7", source);
        require(spec.up_kernel == 2 || spec.up_kernel == 3, "up kernel 2 or 3", source);
        require(spec.threshold >= 0 && spec.threshold <= 1, "threshold in [0, 1]", source);
        for (int convs : {spec.block.convs, spec.encoder_convs, spec.decoder_convs})
            require(convs >= 1 && convs <= 8, "1..8 convs", source);
        require(!(spec.block.padding == Padding::Valid && spec.block.kernel > 1 &&
                  spec.skip_match != SkipMatch::Crop),
                "valid padding only with cropped skips", source);
    }
    return 0;
}
