// fast_mode_note.h — what `unetgen bench` and `unetgen run` say about a `--precision bf16` build:
// how many convs take bf16 GEMMs and whether this CPU runs them on AMX (the point of the mode)
// or in plain float arithmetic (slower than fp32).
#pragma once

#include <string>

namespace unetgen::cli {

// "" for a build without bf16 layers; else one line, e.g. "fast mode: 10 of 19 convs' GEMMs in
// bf16 on AMX-BF16". `manifest_json` is the descriptor's manifest.
std::string fast_mode_note(const char *manifest_json);

}  // namespace unetgen::cli
