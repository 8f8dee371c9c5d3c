// png_image.h — 8-bit gray or RGB PNG files in and out, via libpng's simplified API.
//
// The example application keeps its image I/O here so segment_png.cpp shows only the unetgen calls.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace example {

// Interleaved 8-bit pixels: h rows of w pixels of `channels` bytes (1 = gray, 3 = RGB).
struct Image {
    int w = 0, h = 0, channels = 0;
    std::vector<uint8_t> pixels;
};

// Reads `path` converted to `channels` (1: gray, 3: RGB; alpha is composited onto black, palette
// and 16-bit files are converted). Returns false and sets `error` ("cannot read ...: ...") on failure.
bool read_png(const std::string &path, int channels, Image &image, std::string &error);

// Writes `image` (1 or 3 channels). Returns false and sets `error` on failure.
bool write_png(const std::string &path, const Image &image, std::string &error);

}  // namespace example
