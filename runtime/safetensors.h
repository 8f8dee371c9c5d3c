// safetensors.h — parse_safetensors(): a checked view of a safetensors image in memory.
//
// Format: 8-byte little-endian header length N, N bytes of JSON
// {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__"?: {...}}, then the raw
// little-endian data; offsets are relative to the end of the header. Every structural problem is a
// Failure with UNETGEN_ERR_BAD_WEIGHTS_FILE naming `what` (the file); nothing is trusted before it
// is checked, so no input can make the reader read out of bounds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace unetgen::rt {

struct TensorView {
    std::string dtype;            // as written: "F32", "F16", "BF16", "F64", "I64", ...
    std::vector<int64_t> shape;
    const uint8_t *data = nullptr;  // into the image; no alignment guaranteed
    size_t bytes = 0;

    int64_t numel() const;
};

struct SafetensorsFile {
    std::map<std::string, TensorView> tensors;
    std::map<std::string, std::string> metadata;  // "__metadata__" (string values only)
};

// Bytes per element of a safetensors dtype name, 0 if the name is unknown.
size_t safetensors_dtype_size(const std::string &dtype);

// Parses the image [data, data+size). The views point into it, so it must outlive the result.
SafetensorsFile parse_safetensors(const uint8_t *data, size_t size, const std::string &what);

// Converts a float tensor (F32, F64, F16, BF16) to float32 values. Other dtypes: Failure
// UNETGEN_ERR_WEIGHTS_MISMATCH naming the tensor.
std::vector<float> tensor_to_float(const TensorView &t, const std::string &name, const std::string &what);

}  // namespace unetgen::rt
