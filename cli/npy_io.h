// npy_io.h — read_npy_f32() / write_npy(): NumPy .npy arrays for `unetgen run` (no NumPy needed).
//
// Reads little-endian float32 or float64 C-order arrays (float64 converted); writes float32 or
// uint8. Errors throw std::runtime_error("cannot read FILE: <rule>").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace unetgen::cli {

struct NpyArray {
    std::vector<int64_t> shape;
    std::vector<float> values;
};

NpyArray read_npy_f32(const std::string &path);
void write_npy_f32(const std::string &path, const std::vector<int64_t> &shape, const float *values);
void write_npy_u8(const std::string &path, const std::vector<int64_t> &shape, const uint8_t *values);

}  // namespace unetgen::cli
