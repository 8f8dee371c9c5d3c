// tiff_io.cpp — TiffReader (regions of striped or tiled TIFF / BigTIFF) and TiffMaskWriter (a
// tiled BigTIFF mask, written as rows of tiles complete), on libtiff.
#include "cli/tiff_io.h"

#include <tiffio.h>

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <type_traits>
#include <unordered_map>

namespace unetgen::cli {

namespace {

// libtiff reports through handlers; keep the thread's last message for our own error text.
thread_local std::string t_tiff_error;

void on_tiff_error(const char *module, const char *fmt, va_list ap) {
    char buf[512];
    std::vsnprintf(buf, sizeof buf, fmt, ap);
    t_tiff_error = (module && *module ? std::string(module) + ": " : std::string()) + buf;
}
void on_tiff_warning(const char *, const char *, va_list) {}  // unknown tags and the like: not our business

void install_handlers() {
    static const bool once = [] {
        TIFFSetErrorHandler(on_tiff_error);
        TIFFSetWarningHandler(on_tiff_warning);
        return true;
    }();
    (void)once;
}

std::string take_error() {
    std::string s = t_tiff_error.empty() ? "libtiff gave no reason" : t_tiff_error;
    t_tiff_error.clear();
    return s;
}

const char *compression_name(int c) {
    switch (c) {
    case COMPRESSION_NONE: return "uncompressed";
    case COMPRESSION_LZW: return "LZW";
    case COMPRESSION_ADOBE_DEFLATE:
    case COMPRESSION_DEFLATE: return "deflate";
    case COMPRESSION_PACKBITS: return "PackBits";
    case COMPRESSION_JPEG: return "JPEG";
    case COMPRESSION_ZSTD: return "zstd";
    default: return "compressed";
    }
}

}  // namespace

bool is_tiff_path(const std::string &path) {
    std::string tail = path.substr(path.find_last_of('.') == std::string::npos ? path.size() : path.find_last_of('.'));
    std::transform(tail.begin(), tail.end(), tail.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return tail == ".tif" || tail == ".tiff";
}

struct TiffReader::Chunk {
    uint32_t index = 0;
    uint64_t used = 0;
    std::vector<uint8_t> bytes;
};

TiffReader::TiffReader(const std::string &path, int channels, ChannelConversion conversion, size_t cache_bytes)
    : path_(path), channels_(channels), cache_bytes_(cache_bytes) {
    install_handlers();
    auto bad = [&](const std::string &rule) { throw std::runtime_error("cannot read " + path + ": " + rule); };
    if (channels != 1 && channels != 3)
        bad("a TIFF input carries 1 (gray) or 3 (RGB) channels, the network takes " + std::to_string(channels) +
            "; pass a .npy");
    tif_ = TIFFOpen(path.c_str(), "r");
    if (!tif_) bad("it is not a TIFF file libtiff can open (" + take_error() + ")");
    struct stat st;
    file_bytes_ = ::stat(path.c_str(), &st) == 0 ? uint64_t(st.st_size) : 0;
    // A refused file must not leak its handle: the destructor does not run for a constructor
    // that throws (the TIFF fuzzer found this).
    try {
        uint32_t w = 0, h = 0;
        uint16_t spp = 1, bps = 1, fmt = SAMPLEFORMAT_UINT, planar = PLANARCONFIG_CONTIG, photo = PHOTOMETRIC_MINISBLACK;
        uint16_t comp = COMPRESSION_NONE;
        TIFFGetField(tif_, TIFFTAG_IMAGEWIDTH, &w);
        TIFFGetField(tif_, TIFFTAG_IMAGELENGTH, &h);
        TIFFGetFieldDefaulted(tif_, TIFFTAG_SAMPLESPERPIXEL, &spp);
        TIFFGetFieldDefaulted(tif_, TIFFTAG_BITSPERSAMPLE, &bps);
        TIFFGetFieldDefaulted(tif_, TIFFTAG_SAMPLEFORMAT, &fmt);
        TIFFGetFieldDefaulted(tif_, TIFFTAG_PLANARCONFIG, &planar);
        TIFFGetFieldDefaulted(tif_, TIFFTAG_COMPRESSION, &comp);
        if (!TIFFGetField(tif_, TIFFTAG_PHOTOMETRIC, &photo)) photo = spp >= 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK;
        w_ = int(w);
        h_ = int(h);
        samples_ = spp;
        bits_ = bps;
        planar_ = planar == PLANARCONFIG_SEPARATE;
        compression_ = comp;
        big_ = TIFFIsBigTIFF(tif_) != 0;
        if (w == 0 || h == 0 || w > (1u << 24) || h > (1u << 24))
            bad("its size " + std::to_string(w) + "x" + std::to_string(h) + " is empty or above 2^24 pixels a side");
        if (bps != 8 && bps != 16) bad("it has " + std::to_string(bps) + "-bit samples; 8- and 16-bit images are read");
        if (fmt != SAMPLEFORMAT_UINT) bad("its samples are not unsigned integers (floating-point or signed TIFF: pass a .npy)");
        if (photo == PHOTOMETRIC_PALETTE) bad("it is a palette image; convert it to gray or RGB first");
        if (photo != PHOTOMETRIC_MINISBLACK && photo != PHOTOMETRIC_RGB)
            bad("its photometric interpretation (" + std::to_string(photo) + ") is not gray (min-is-black) or RGB");
        if (spp != 1 && spp != 3 && spp != 4) bad("it has " + std::to_string(spp) + " samples per pixel; 1, 3 or 4 (RGBA) are read");
        check_channels(path, "TIFF", spp >= 3, channels, conversion);
        luma_ = channels == 1 && spp >= 3;
        if (TIFFIsTiled(tif_)) {
            tiled_ = true;
            TIFFGetField(tif_, TIFFTAG_TILEWIDTH, &chunk_w_);
            TIFFGetField(tif_, TIFFTAG_TILELENGTH, &chunk_h_);
        } else {
            uint32_t rows = h;
            TIFFGetFieldDefaulted(tif_, TIFFTAG_ROWSPERSTRIP, &rows);
            chunk_w_ = w;
            chunk_h_ = std::min(rows, h);
        }
        if (chunk_w_ == 0 || chunk_h_ == 0) bad("its tile or strip size is 0");
    } catch (...) {
        TIFFClose(tif_);
        tif_ = nullptr;
        throw;
    }
}

TiffReader::~TiffReader() {
    if (tif_) TIFFClose(tif_);
}

std::string TiffReader::describe() const {
    std::string s = std::to_string(w_) + "x" + std::to_string(h_) + ", " + std::to_string(samples_) + " x " +
                    std::to_string(bits_) + "-bit, ";
    s += tiled_ ? "tiled " + std::to_string(chunk_w_) + "x" + std::to_string(chunk_h_)
                : "strips of " + std::to_string(chunk_h_) + " rows";
    s += std::string(", ") + compression_name(compression_) + (big_ ? ", BigTIFF" : "");
    return s;
}

const TiffReader::Chunk &TiffReader::chunk(uint32_t index) {
    for (auto &c : cache_)
        if (c->index == index) {
            c->used = ++clock_;
            return *c;
        }
    auto c = std::make_unique<Chunk>();
    c->index = index;
    c->used = ++clock_;
    const tmsize_t size = tiled_ ? TIFFTileSize(tif_) : TIFFStripSize(tif_);
    // The codecs of TIFF images expand a chunk at most about 1400 times (deflate 1032:1, LZW with
    // its 4096-entry table about 1365:1, PackBits 64:1), so a chunk whose decoded size is beyond
    // 2048 times its stored bytes (which the file must hold) is forged or damaged: refused before
    // its buffer is allocated (a 200-byte file must not cost gigabytes). Up to 64 MiB is allowed
    // whatever the ratio (zstd packs a blank chunk tighter than that).
    const uint64_t stored = std::min<uint64_t>(TIFFGetStrileByteCount(tif_, index), file_bytes_);
    if (size <= 0 || (uint64_t(size) > (uint64_t(64) << 20) && uint64_t(size) > stored * 2048))
        throw std::runtime_error("cannot read " + path_ + ": " + std::string(tiled_ ? "tile " : "strip ") +
                                 std::to_string(index) + " claims " + std::to_string(int64_t(size)) +
                                 " decoded bytes from " + std::to_string(stored) + " stored (forged or damaged)");
    c->bytes.assign(size_t(size), 0);
    const tmsize_t got = tiled_ ? TIFFReadEncodedTile(tif_, index, c->bytes.data(), size)
                                : TIFFReadEncodedStrip(tif_, index, c->bytes.data(), size);
    if (got < 0)
        throw std::runtime_error("cannot read " + path_ + ": " + std::string(tiled_ ? "tile " : "strip ") +
                                 std::to_string(index) + " is truncated or corrupt (" + take_error() + ")");
    cached_ += c->bytes.size();
    while (cached_ > cache_bytes_ && !cache_.empty()) {
        auto oldest = std::min_element(cache_.begin(), cache_.end(), [](auto &a, auto &b) { return a->used < b->used; });
        cached_ -= (*oldest)->bytes.size();
        cache_.erase(oldest);
    }
    cache_.push_back(std::move(c));
    return *cache_.back();
}

std::string TiffReader::notice() const {
    if (luma_) return path_ + " is colour; converted to gray by BT.601 luma (--gray)";
    if (channels_ == 3 && samples_ == 1) return path_ + " is gray; repeated into R, G and B (--rgb)";
    return "";
}

void TiffReader::read(int x, int y, int w, int h, void *dst) {
    if (x < 0 || y < 0 || w < 1 || h < 1 || x + w > w_ || y + h > h_)
        throw std::runtime_error("cannot read " + path_ + ": region outside the image");
    // Which file sample feeds each channel: gray repeated for RGB networks, alpha never read.
    const int source[3] = {0, samples_ == 1 ? 0 : 1, samples_ == 1 ? 0 : 2};
    if (!luma_) return read_samples(x, y, w, h, source, channels_, dst);
    const size_t n = size_t(w) * size_t(h);
    std::vector<uint16_t> rgb(n * 3);  // wide enough for either depth
    read_samples(x, y, w, h, source, 3, rgb.data());
    auto reduce = [&](const auto *px, auto *out) {
        for (size_t i = 0; i < n; ++i, px += 3) out[i] = std::remove_reference_t<decltype(*out)>(luma_601(px[0], px[1], px[2]));
    };
    if (bits_ == 16)
        reduce(rgb.data(), static_cast<uint16_t *>(dst));
    else
        reduce(reinterpret_cast<const uint8_t *>(rgb.data()), static_cast<uint8_t *>(dst));
}

void TiffReader::read_samples(int x, int y, int w, int h, const int *source, int count, void *dst) {
    const size_t bytes = size_t(bits_ / 8);
    const uint32_t cx0 = uint32_t(x) / chunk_w_, cx1 = uint32_t(x + w - 1) / chunk_w_;
    const uint32_t cy0 = uint32_t(y) / chunk_h_, cy1 = uint32_t(y + h - 1) / chunk_h_;
    uint8_t *out = static_cast<uint8_t *>(dst);
    for (uint32_t cy = cy0; cy <= cy1; ++cy)
        for (uint32_t cx = cx0; cx <= cx1; ++cx)
            for (int ch = 0; ch < count; ++ch) {
                const int sample = source[ch];
                // Chunky files hold every sample in one chunk; planar ones a chunk per sample.
                const uint32_t px = cx * chunk_w_, py = cy * chunk_h_;
                const uint32_t index = tiled_ ? TIFFComputeTile(tif_, px, py, 0, planar_ ? uint16_t(sample) : 0)
                                              : TIFFComputeStrip(tif_, py, planar_ ? uint16_t(sample) : 0);
                const Chunk &c = chunk(index);
                const size_t step = planar_ ? 1 : size_t(samples_);  // samples per pixel in the chunk
                const int r0 = std::max<int>(y, int(py)), r1 = std::min<int>(y + h, int(py + chunk_h_));
                const int q0 = std::max<int>(x, int(px)), q1 = std::min<int>(x + w, int(px + chunk_w_));
                for (int r = r0; r < r1; ++r) {
                    const size_t row = size_t(r - int(py)) * chunk_w_;
                    if ((row + size_t(q1 - int(px))) * step * bytes > c.bytes.size())
                        throw std::runtime_error("cannot read " + path_ + ": a chunk is shorter than its rows");
                    for (int q = q0; q < q1; ++q) {
                        const uint8_t *s = c.bytes.data() + ((row + size_t(q - int(px))) * step + (planar_ ? 0 : size_t(sample))) * bytes;
                        uint8_t *d = out + ((size_t(r - y) * size_t(w) + size_t(q - x)) * size_t(count) + size_t(ch)) * bytes;
                        std::memcpy(d, s, bytes);
                    }
                }
            }
}

TiffMaskWriter::TiffMaskWriter(const std::string &path, int width, int height)
    : path_(path), partial_(path + ".partial"), w_(width), h_(height) {
    install_handlers();
    tif_ = TIFFOpen(partial_.c_str(), "w8");  // BigTIFF: masks of large images pass 4 GiB
    if (!tif_) throw std::runtime_error("cannot write " + partial_ + ": " + take_error());
    TIFFSetField(tif_, TIFFTAG_IMAGEWIDTH, uint32_t(width));
    TIFFSetField(tif_, TIFFTAG_IMAGELENGTH, uint32_t(height));
    TIFFSetField(tif_, TIFFTAG_BITSPERSAMPLE, uint16_t(8));
    TIFFSetField(tif_, TIFFTAG_SAMPLESPERPIXEL, uint16_t(1));
    TIFFSetField(tif_, TIFFTAG_SAMPLEFORMAT, uint16_t(SAMPLEFORMAT_UINT));
    TIFFSetField(tif_, TIFFTAG_PHOTOMETRIC, uint16_t(PHOTOMETRIC_MINISBLACK));
    TIFFSetField(tif_, TIFFTAG_PLANARCONFIG, uint16_t(PLANARCONFIG_CONTIG));
    TIFFSetField(tif_, TIFFTAG_COMPRESSION, uint16_t(COMPRESSION_ADOBE_DEFLATE));
    TIFFSetField(tif_, TIFFTAG_TILEWIDTH, uint32_t(256));
    TIFFSetField(tif_, TIFFTAG_TILELENGTH, uint32_t(256));
    TIFFSetField(tif_, TIFFTAG_SOFTWARE, "unetgen run");
}

TiffMaskWriter::~TiffMaskWriter() {
    if (finished_) return;
    if (tif_) TIFFClose(tif_);
    std::remove(partial_.c_str());
}

void TiffMaskWriter::write(int x, int y, int w, int h, const uint8_t *mask) {
    if (x < 0 || y < band_y0_ || w < 1 || h < 1 || x + w > w_ || y + h > h_)
        throw std::runtime_error("cannot write " + path_ + ": region " + std::to_string(x) + "," + std::to_string(y) +
                                 " arrived out of order");
    const size_t rows = size_t(y + h - band_y0_);
    if (row_filled_.size() < rows) {
        row_filled_.resize(rows, 0);
        band_.resize(rows * size_t(w_), 0);
    }
    for (int r = 0; r < h; ++r) {
        std::memcpy(band_.data() + size_t(y + r - band_y0_) * size_t(w_) + size_t(x), mask + size_t(r) * size_t(w), size_t(w));
        row_filled_[size_t(y + r - band_y0_)] += w;
    }
    int complete = 0;
    while (size_t(complete) < row_filled_.size() && row_filled_[size_t(complete)] >= w_) ++complete;
    flush_rows(band_y0_ + complete);
}

// Writes every row of tiles that rows [band_y0_, upto) complete, and drops those rows.
void TiffMaskWriter::flush_rows(int upto) {
    const int T = 256;
    std::vector<uint8_t> tile(size_t(T) * T);
    while (upto - band_y0_ >= T || (upto == h_ && band_y0_ < h_)) {
        const int rows = std::min(T, h_ - band_y0_);
        for (int tx = 0; tx < w_; tx += T) {
            std::fill(tile.begin(), tile.end(), 0);
            const int cols = std::min(T, w_ - tx);
            for (int r = 0; r < rows; ++r)
                std::memcpy(tile.data() + size_t(r) * T, band_.data() + size_t(r) * size_t(w_) + size_t(tx), size_t(cols));
            if (TIFFWriteEncodedTile(tif_, TIFFComputeTile(tif_, uint32_t(tx), uint32_t(band_y0_), 0, 0), tile.data(),
                                     tmsize_t(tile.size())) < 0)
                throw std::runtime_error("cannot write " + partial_ + ": " + take_error());
        }
        band_.erase(band_.begin(), band_.begin() + std::ptrdiff_t(size_t(rows) * size_t(w_)));
        row_filled_.erase(row_filled_.begin(), row_filled_.begin() + rows);
        band_y0_ += rows;
    }
}

void TiffMaskWriter::finish() {
    if (band_y0_ != h_)
        throw std::runtime_error("cannot finish " + path_ + ": rows " + std::to_string(band_y0_) + ".." +
                                 std::to_string(h_) + " never arrived");
    if (!TIFFFlush(tif_)) throw std::runtime_error("cannot write " + partial_ + ": " + take_error());
    TIFF *t = tif_;
    tif_ = nullptr;
    TIFFClose(t);
    if (std::rename(partial_.c_str(), path_.c_str()) != 0)
        throw std::runtime_error("cannot rename " + partial_ + " to " + path_ + ": " + std::strerror(errno));
    finished_ = true;
}

}  // namespace unetgen::cli
