// image_io.cpp — write_mask_png(): class masks as PNG with libpng's simplified API (png_image).
// (Reading is png_reader.cpp: it needs libpng's full API to keep 16-bit values and skip gamma.)
#include "cli/image_io.h"

#include <png.h>

#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace unetgen::cli {


uint32_t mask_colour(int c) {
    if (c == 0) return 0;
    const uint32_t rgb = (uint32_t(c) * 2654435761u) >> 8;
    return rgb | 0x200000u;
}

std::string mask_legend(int classes, int limit) {
    std::string s;
    for (int c = 0; c < classes && c < limit; ++c) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%sclass %d #%06x", c ? ", " : "", c, unsigned(mask_colour(c)));
        s += buf;
    }
    if (classes > limit) s += ", ... (docs/api.md, \"Mask pictures\")";
    return s;
}

void write_mask_png(const std::string &path, const uint8_t *mask, int h, int w, int classes, MaskPng style) {
    png_image img;
    std::memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    img.width = png_uint_32(w);
    img.height = png_uint_32(h);
    const size_t n = size_t(h) * size_t(w);
    std::vector<uint8_t> px(n), colormap;
    if (style == MaskPng::index) {
        img.format = PNG_FORMAT_GRAY;
        std::memcpy(px.data(), mask, n);
    } else if (classes <= 2) {
        img.format = PNG_FORMAT_GRAY;
        for (size_t i = 0; i < n; ++i) px[i] = mask[i] ? 255 : 0;
    } else {
        // Indexed colour: the pixel stores the class, the palette says its colour.
        img.format = PNG_FORMAT_RGB_COLORMAP;
        img.colormap_entries = png_uint_32(classes);
        colormap.resize(3 * size_t(classes));
        for (int c = 0; c < classes; ++c) {
            const uint32_t rgb = mask_colour(c);
            colormap[3 * size_t(c)] = uint8_t(rgb >> 16);
            colormap[3 * size_t(c) + 1] = uint8_t(rgb >> 8);
            colormap[3 * size_t(c) + 2] = uint8_t(rgb);
        }
        std::memcpy(px.data(), mask, n);
    }
    if (!png_image_write_to_file(&img, path.c_str(), 0, px.data(), 0, colormap.empty() ? nullptr : colormap.data()))
        throw std::runtime_error("cannot write " + path + ": " + img.message);
}

}  // namespace unetgen::cli
