// tiff_io.h — TIFF / BigTIFF images read region by region and class masks written tile by tile,
// via libtiff, so `unetgen run` segments images that do not fit in memory.
#pragma once

#include "cli/channel_conversion.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

typedef struct tiff TIFF;

namespace unetgen::cli {

// A TIFF opened for region reads: striped or tiled, chunky or planar, 8 or 16 bits, 1 sample
// (gray), 3 (RGB) or 4 (RGBA, alpha dropped), any compression libtiff decodes (LZW, deflate...).
// Decoded strips / tiles are cached (least recently used first out) up to a byte limit, so the
// overlapping regions of neighbouring tiles decode each chunk about once.
class TiffReader {
public:
    // Opens `path` for a network of `channels` (1 or 3) channels, with the rules of read_png:
    // gray for RGB or colour for gray only as `conversion` asks (check_channels). Errors throw
    // std::runtime_error("cannot read FILE: <rule>").
    TiffReader(const std::string &path, int channels, ChannelConversion conversion = ChannelConversion::none,
               size_t cache_bytes = size_t(256) << 20);
    ~TiffReader();
    TiffReader(const TiffReader &) = delete;

    int width() const { return w_; }
    int height() const { return h_; }
    int bits() const { return bits_; }  // 8 or 16
    std::string describe() const;       // "16384x16384, 3 x 8-bit, tiled 256x256, LZW, BigTIFF"
    std::string notice() const;         // the conversion made, "" when none

    // Region [x, x + w) x [y, y + h) as `channels` interleaved values per pixel, rows packed:
    // uint8 for 8-bit files, uint16 for 16-bit ones (`dst` holds w * h * channels of them).
    void read(int x, int y, int w, int h, void *dst);

private:
    struct Chunk;
    const Chunk &chunk(uint32_t index);
    // The file samples source[0 .. count) of each pixel of the region, interleaved.
    void read_samples(int x, int y, int w, int h, const int *source, int count, void *dst);

    std::string path_;
    TIFF *tif_ = nullptr;
    int w_ = 0, h_ = 0, samples_ = 0, bits_ = 0, channels_ = 0;
    bool tiled_ = false, planar_ = false, big_ = false, luma_ = false;
    uint32_t chunk_w_ = 0, chunk_h_ = 0;  // tile size, or (width, rows per strip)
    int compression_ = 0;
    uint64_t file_bytes_ = 0;  // bounds what a chunk's stored bytes can be
    size_t cache_bytes_ = 0, cached_ = 0;
    uint64_t clock_ = 0;
    std::vector<std::unique_ptr<Chunk>> cache_;
};

// A one-sample 8-bit mask written as a tiled BigTIFF (256x256 tiles, deflate) from regions that
// arrive in rows of tiles, each pixel once (unetgen_write_fn's order). It writes to PATH.partial
// and renames it to PATH in finish(); destroyed unfinished, it removes the partial file, so no
// incomplete mask is ever left under the final name.
class TiffMaskWriter {
public:
    TiffMaskWriter(const std::string &path, int width, int height);
    ~TiffMaskWriter();
    TiffMaskWriter(const TiffMaskWriter &) = delete;

    void write(int x, int y, int w, int h, const uint8_t *mask);
    void finish();

private:
    void flush_rows(int upto);

    std::string path_, partial_;
    TIFF *tif_ = nullptr;
    int w_ = 0, h_ = 0;
    int band_y0_ = 0;              // first row held in band_ (a multiple of the tile height)
    std::vector<uint8_t> band_;    // rows band_y0_ .. as delivered, full width
    std::vector<int> row_filled_;  // pixels delivered per held row
    bool finished_ = false;
};

bool is_tiff_path(const std::string &path);

}  // namespace unetgen::cli
