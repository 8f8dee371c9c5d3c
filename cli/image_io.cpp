// image_io.cpp — PNG reading and mask writing with libpng's simplified API (png_image).
#include "cli/image_io.h"

#include <png.h>

#include <cstring>
#include <stdexcept>

namespace unetgen::cli {

const uint64_t kMaxPngPixels = uint64_t(1) << 28;  // 16384 x 16384

Image read_png(const std::string &path, int channels) {
    if (channels != 1 && channels != 3)
        throw std::runtime_error("cannot read " + path + " for a " + std::to_string(channels) +
                                 "-channel network: PNG input carries 1 (gray) or 3 (RGB) channels; pass a .npy");
    png_image img;
    std::memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&img, path.c_str()))
        throw std::runtime_error("cannot read " + path + ": " + img.message);
    // Decoding holds the whole image (4 bytes a pixel): refuse what a header claims beyond the
    // limit before allocating anything (a 177-byte file may claim 100000 x 100000).
    const uint64_t pixels = uint64_t(img.width) * uint64_t(img.height);
    if (pixels > kMaxPngPixels) {
        png_image_free(&img);
        throw std::runtime_error("cannot read " + path + ": its header says " + std::to_string(img.width) + "x" +
                                 std::to_string(img.height) + " (" + std::to_string(pixels / 1000000) +
                                 " megapixels); a PNG input is decoded whole and may have at most " +
                                 std::to_string(kMaxPngPixels / 1000000) +
                                 " megapixels: convert it to a tiled TIFF, which `unetgen run` reads region by region");
    }
    const bool colour = (img.format & PNG_FORMAT_FLAG_COLOR) != 0;
    if (channels == 1 && colour) {
        png_image_free(&img);
        throw std::runtime_error("cannot read " + path + " for a 1-channel network: it is a colour PNG; "
                                 "convert it to grayscale first");
    }
    // Read with alpha and drop it ourselves: letting libpng remove it would composite onto a background.
    img.format = channels == 1 ? PNG_FORMAT_GA : PNG_FORMAT_RGBA;
    std::vector<uint8_t> with_alpha(PNG_IMAGE_SIZE(img));
    if (!png_image_finish_read(&img, nullptr, with_alpha.data(), 0, nullptr)) {
        std::string why = img.message;
        png_image_free(&img);
        throw std::runtime_error("cannot read " + path + ": its image data is truncated or corrupt (libpng: " + why + ")");
    }
    Image out;
    out.w = int(img.width);
    out.h = int(img.height);
    out.channels = channels;
    const size_t n = size_t(out.w) * size_t(out.h), stride = size_t(channels) + 1;
    out.pixels.resize(n * size_t(channels));
    for (size_t i = 0; i < n; ++i)
        for (size_t c = 0; c < size_t(channels); ++c) out.pixels[i * size_t(channels) + c] = with_alpha[i * stride + c];
    return out;
}

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
