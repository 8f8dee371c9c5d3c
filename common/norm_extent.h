// norm_extent.h — the one size rule that ties height to width: an instance / group norm needs more
// than one pixel to take statistics over (PyTorch raises "Expected more than 1 spatial element"
// on a 1x1 input to F.instance_norm / F.group_norm; here its variance would be 0 and the output
// its bias). `unetgen check` and the runtime both apply it, through this function.
#pragma once

#include "common/size_program.h"

#include <cstdint>
#include <vector>

namespace unetgen {

// The index into `nodes` (size-program nodes of the normalised layers) of the first whose output
// is a single pixel for an h x w input, or -1 when none is.
inline int single_pixel_norm(const SizeProgram &sizes, const std::vector<int> &nodes, int64_t h, int64_t w) {
    if (nodes.empty()) return -1;
    const std::vector<int64_t> hs = sizes.evaluate(h), ws = sizes.evaluate(w);
    for (size_t i = 0; i < nodes.size(); ++i)
        if (hs[size_t(nodes[i])] * ws[size_t(nodes[i])] <= 1) return int(i);
    return -1;
}

}  // namespace unetgen
