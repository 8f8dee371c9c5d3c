// image_io.h — read_png() / write_mask_png(): 8-bit images in and class masks out, via libpng.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace unetgen::cli {

extern const uint64_t kMaxPngPixels;

struct Image {
    int w = 0, h = 0, channels = 0;  // interleaved rows, top to bottom
    std::vector<uint8_t> pixels;
};

// Reads a PNG as `channels` (1 or 3) 8-bit channels: gray stays gray, RGB(A) becomes RGB (alpha
// dropped), gray becomes RGB by repetition, 16-bit is reduced to 8. A colour PNG for a
// one-channel network is refused (converting it would guess a weighting the model never saw).
// Errors throw std::runtime_error("cannot read FILE: <rule>"); a header claiming more than
// kMaxPngPixels is refused before anything is allocated, truncated data is named as such.
Image read_png(const std::string &path, int channels);

// Writes an h x w class mask so the classes are visible: two classes (or one, thresholded) as
// 0 / 255 gray, more as RGB from a fixed palette (class 0 black).
void write_mask_png(const std::string &path, const uint8_t *mask, int h, int w, int classes);

}  // namespace unetgen::cli
