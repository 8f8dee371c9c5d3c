// image_io.h — read_png() / write_mask_png(): 8-bit images in and class masks out, via libpng.
#pragma once

#include "cli/channel_conversion.h"

#include <cstdint>
#include <string>
#include <vector>

namespace unetgen::cli {

extern const uint64_t kMaxPngPixels;

struct Image {
    int w = 0, h = 0, channels = 0;  // interleaved rows, top to bottom
    int bits = 8;                    // 8: `pixels`; 16: `wide`
    std::vector<uint8_t> pixels;
    std::vector<uint16_t> wide;
    std::vector<std::string> notices;  // what was dropped or ignored, for the user
};

// Reads a PNG as `channels` (1 or 3) channels, values as stored: 8-bit stays 8-bit, 16-bit stays
// 16-bit (the caller scales it by 1/65535), no gamma correction (a gAMA chunk is ignored, with
// a notice when it is not 1/2.2), gray of 1, 2 or 4 bits widened to 8. Channels: a palette is
// RGB, or gray when every entry is gray; an alpha channel or tRNS transparency is dropped with a
// notice; gray for an RGB network or colour for a gray one follows check_channels (converted
// only as `conversion` asks, else refused with the rule).
// Errors throw std::runtime_error("cannot read FILE: <rule>"); a header claiming more than
// kMaxPngPixels is refused before anything is allocated, truncated data is named as such.
Image read_png(const std::string &path, int channels, ChannelConversion conversion = ChannelConversion::none);

// How a class mask is written as PNG (`unetgen run --png-mask`).
enum class MaskPng {
    picture,  // visible: one or two classes as 0 / 255 gray; more as an indexed-colour PNG whose
              // palette index is the class (so tools reading indices get the classes back) and
              // whose colours are mask_colour()
    index,    // 8-bit gray whose value is the class index (0, 1, 2, ...), for further processing
};

// The picture's colour of class c, 0xRRGGBB: class 0 black; class c > 0 takes the top 24 bits of
// the 32-bit product c * 2654435761 (Knuth's multiplicative hash, so neighbouring classes differ),
// with 0x20 added to red's high bits so no class but 0 is black.
uint32_t mask_colour(int c);

// "class 0 #000000, class 1 #9e3779, ..." for the first `classes` classes (at most `limit` named).
std::string mask_legend(int classes, int limit = 16);

// Writes an h x w class mask as PNG in `style`.
void write_mask_png(const std::string &path, const uint8_t *mask, int h, int w, int classes,
                    MaskPng style = MaskPng::picture);

}  // namespace unetgen::cli
