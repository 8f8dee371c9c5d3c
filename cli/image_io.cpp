// image_io.cpp — write_mask_png(): class masks as PNG with libpng's simplified API (png_image).
// (Reading is png_reader.cpp: it needs libpng's full API to keep 16-bit values and skip gamma.)
#include "cli/image_io.h"

#include <png.h>

#include <cstring>
#include <stdexcept>

namespace unetgen::cli {


void write_mask_png(const std::string &path, const uint8_t *mask, int h, int w, int classes) {
    png_image img;
    std::memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    img.width = png_uint_32(w);
    img.height = png_uint_32(h);
    const size_t n = size_t(h) * size_t(w);
    std::vector<uint8_t> px;
    if (classes <= 2) {
        img.format = PNG_FORMAT_GRAY;
        px.resize(n);
        for (size_t i = 0; i < n; ++i) px[i] = mask[i] ? 255 : 0;
    } else {
        img.format = PNG_FORMAT_RGB;
        px.resize(3 * n);
        for (size_t i = 0; i < n; ++i) {
            // Class 0 black; others spread by multiplicative hashing so neighbours differ.
            uint32_t c = mask[i], rgb = c == 0 ? 0 : (c * 2654435761u) >> 8;
            px[3 * i] = uint8_t(rgb >> 16 | (c ? 0x20 : 0));
            px[3 * i + 1] = uint8_t(rgb >> 8);
            px[3 * i + 2] = uint8_t(rgb);
        }
    }
    if (!png_image_write_to_file(&img, path.c_str(), 0, px.data(), 0, nullptr))
        throw std::runtime_error("cannot write " + path + ": " + img.message);
}

}  // namespace unetgen::cli
