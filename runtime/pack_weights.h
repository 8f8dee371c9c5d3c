// pack_weights.h — pack_weights(): check a weights file against the manifest, fold BatchNorm and
// lay the weights out in the one float buffer the pipeline reads.
//
// Checks (all problems gathered into one UNETGEN_ERR_WEIGHTS_MISMATCH message, each naming the
// tensor and both sides): every manifest tensor present, float dtype, exact shape; no tensor the
// spec does not name (`*.num_batches_tracked` is ignored). Folding follows docs/architecture.md.
#pragma once

#include "runtime/manifest.h"
#include "runtime/safetensors.h"

#include <string>
#include <vector>

namespace unetgen::rt {

// `what` names the weights (a path) in messages.
std::vector<float> pack_weights(const Manifest &m, const SafetensorsFile &file, const std::string &what);

}  // namespace unetgen::rt
