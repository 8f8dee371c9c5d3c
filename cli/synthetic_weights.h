// synthetic_weights.h — a safetensors image with every tensor a manifest names, for timing and
// tests that need a loadable model but not trained values.
#pragma once

#include <cstdint>
#include <vector>

namespace unetgen::cli {

// Small pseudo-random values (fixed seed), running variances near 1 so BN folding stays finite.
std::vector<uint8_t> synthetic_weights(const char *manifest_json);

}  // namespace unetgen::cli
