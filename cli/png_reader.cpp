// png_reader.cpp — read_png(): PNG pixels as stored, with libpng's full API.
//
// libpng's simplified API (png_image) converts to 8-bit sRGB: a 16-bit image loses its depth
// through a gamma encode (37377 reached the network as 198/255 instead of 37377/65535) and a
// gAMA chunk re-maps every level. Here no transformation touches the values beyond widening
// 1/2/4-bit gray and expanding a palette. libpng reports errors by longjmp; the decode runs in
// decode() with only plain data live across setjmp, and the C++ side turns its text into errors.
#include "cli/image_io.h"

#include <png.h>

#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <type_traits>

namespace unetgen::cli {

const uint64_t kMaxPngPixels = uint64_t(1) << 28;  // 16384 x 16384

namespace {

struct Decoded {
    png_uint_32 w = 0, h = 0;
    int bits = 8, samples = 0;  // samples per pixel after expansion: 1 gray, 2 GA, 3 RGB, 4 RGBA
    bool palette = false, palette_gray = true, trns = false, has_gamma = false;
    double gamma = 0;
    std::vector<uint8_t> data;  // rows, `samples` x bits per pixel (16-bit in host order)
    char error[256] = {};
};

void on_error(png_structp png, png_const_charp message) {
    auto *d = static_cast<Decoded *>(png_get_error_ptr(png));
    std::snprintf(d->error, sizeof d->error, "%s", message);
    png_longjmp(png, 1);
}
void on_warning(png_structp, png_const_charp) {}

// Returns "" or why the file cannot be read; `d` holds the pixels.
std::string decode(FILE *f, uint64_t file_bytes, Decoded &d) {
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &d, on_error, on_warning);
    if (!png) return "libpng cannot start";
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_read_struct(&png, nullptr, nullptr);
        return "libpng cannot start";
    }
    std::vector<png_bytep> *rows = new std::vector<png_bytep>();  // plain pointer: survives the longjmp
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, nullptr);
        delete rows;
        return std::string(d.data.empty() ? "" : "its image data is truncated or corrupt (libpng: ") + d.error +
               (d.data.empty() ? "" : ")");
    }
    png_init_io(png, f);
    png_read_info(png, info);
    int depth = 0, colour = 0;
    png_get_IHDR(png, info, &d.w, &d.h, &depth, &colour, nullptr, nullptr, nullptr);
    if (uint64_t(d.w) * d.h > kMaxPngPixels) {
        std::snprintf(d.error, sizeof d.error, "too large");
        png_destroy_read_struct(&png, &info, nullptr);
        delete rows;
        return "too large";
    }
    d.palette = colour == PNG_COLOR_TYPE_PALETTE;
    if (d.palette) {
        png_colorp entries = nullptr;
        int count = 0;
        if (png_get_PLTE(png, info, &entries, &count))
            for (int i = 0; i < count; ++i)
                d.palette_gray = d.palette_gray && entries[i].red == entries[i].green && entries[i].green == entries[i].blue;
        png_set_palette_to_rgb(png);
    }
    if (colour == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    d.trns = png_get_valid(png, info, PNG_INFO_tRNS) != 0;  // not expanded to alpha: ignored
    d.has_gamma = png_get_gAMA(png, info, &d.gamma) != 0;
    if (depth == 16) png_set_swap(png);  // PNG is big-endian; the buffer is read as host uint16
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    d.bits = png_get_bit_depth(png, info);
    d.samples = png_get_channels(png, info);
    const size_t row_bytes = png_get_rowbytes(png, info);
    // Deflate expands at most 1032:1, so a header claiming more pixels than the file's bytes
    // could hold is refused before the image buffer is allocated and zeroed (a 177-byte file
    // claiming 16384x16384 RGB would otherwise cost 800 MB and seconds before failing).
    const uint64_t decoded = (uint64_t(row_bytes) + 1) * d.h;
    if (decoded > 1100 * file_bytes + 65536) {
        std::snprintf(d.error, sizeof d.error, "its header claims %ux%u pixels (%llu bytes decoded), more than its %llu bytes "
                      "of compressed data can hold: it is truncated or forged", unsigned(d.w), unsigned(d.h),
                      (unsigned long long)decoded, (unsigned long long)file_bytes);
        png_destroy_read_struct(&png, &info, nullptr);
        delete rows;
        return d.error;
    }
    d.data.assign(row_bytes * d.h, 0);
    rows->resize(d.h);
    for (png_uint_32 y = 0; y < d.h; ++y) (*rows)[y] = d.data.data() + size_t(y) * row_bytes;
    png_read_image(png, rows->data());
    png_read_end(png, nullptr);
    png_destroy_read_struct(&png, &info, nullptr);
    delete rows;
    return "";
}

}  // namespace

Image read_png(const std::string &path, int channels, ChannelConversion conversion) {
    auto bad = [&](const std::string &rule) { throw std::runtime_error("cannot read " + path + ": " + rule); };
    if (channels != 1 && channels != 3)
        throw std::runtime_error("cannot read " + path + " for a " + std::to_string(channels) +
                                 "-channel network: PNG input carries 1 (gray) or 3 (RGB) channels; pass a .npy");
    FILE *f = std::fopen(path.c_str(), "rb");
    if (!f) bad("the file cannot be opened");
    unsigned char sig[8] = {};
    const bool is_png = std::fread(sig, 1, 8, f) == 8 && png_sig_cmp(sig, 0, 8) == 0;
    std::fseek(f, 0, SEEK_END);
    const long file_bytes = std::ftell(f);
    std::rewind(f);
    if (!is_png) {
        std::fclose(f);
        bad("it is not a PNG file");
    }
    Decoded d;
    const std::string why = decode(f, file_bytes < 0 ? 0 : uint64_t(file_bytes), d);
    std::fclose(f);
    if (why == "too large")
        bad("its header says " + std::to_string(d.w) + "x" + std::to_string(d.h) + " (" +
            std::to_string(uint64_t(d.w) * d.h / 1000000) + " megapixels); a PNG input is decoded whole and may have at most " +
            std::to_string(kMaxPngPixels / 1000000) +
            " megapixels: convert it to a tiled TIFF, which `unetgen run` reads region by region");
    if (!why.empty()) bad(why);

    const bool colour = d.samples >= 3 && !(d.palette && d.palette_gray);
    check_channels(path, "PNG", colour, channels, conversion);
    Image out;
    out.w = int(d.w);
    out.h = int(d.h);
    out.channels = channels;
    out.bits = d.bits;
    if (d.samples == 2 || d.samples == 4) out.notices.push_back(path + " has an alpha channel; it is dropped");
    if (d.trns) out.notices.push_back(path + " has tRNS transparency; it is ignored");
    if (d.has_gamma && std::fabs(d.gamma - 1.0 / 2.2) > 1e-3)
        out.notices.push_back(path + " has a gAMA chunk of " + std::to_string(d.gamma) +
                              "; it is ignored (values are used as stored)");
    const bool luma = channels == 1 && colour;  // check_channels allowed it: --gray
    if (luma) out.notices.push_back(path + " is colour; converted to gray by BT.601 luma (--gray)");
    if (channels == 3 && !colour) out.notices.push_back(path + " is gray; repeated into R, G and B (--rgb)");
    // Source sample of each output channel: gray (or channel 0 of a gray palette, expanded to
    // equal R, G, B) repeated, R G B as stored, alpha never.
    int source[3] = {0, 0, 0};
    if (d.samples >= 3 && channels == 3) source[1] = 1, source[2] = 2;
    const size_t n = size_t(d.w) * d.h, step = size_t(d.samples);
    auto convert = [&](const auto *src, auto &dst) {
        using T = typename std::decay_t<decltype(dst)>::value_type;
        dst.resize(n * size_t(channels));
        for (size_t i = 0; i < n; ++i) {
            const auto *px = src + i * step;
            if (luma)
                dst[i] = T(luma_601(px[0], px[1], px[2]));
            else
                for (int c = 0; c < channels; ++c) dst[i * size_t(channels) + size_t(c)] = px[source[c]];
        }
    };
    if (d.bits == 16)
        convert(reinterpret_cast<const uint16_t *>(d.data.data()), out.wide);
    else
        convert(d.data.data(), out.pixels);
    return out;
}

}  // namespace unetgen::cli
