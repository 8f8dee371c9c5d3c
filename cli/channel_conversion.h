// channel_conversion.h — the rule for an image whose channels are not the network's, shared by
// the PNG and TIFF readers: convert only when asked (`unetgen run --gray` / `--rgb`), otherwise
// refuse and say which flag does what. A network trained on gray images given colour (or the
// reverse) would run, and its mask would look plausible, so a silent guess is never made.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace unetgen::cli {

enum class ChannelConversion {
    none,     // the image must have the network's channels
    to_gray,  // colour becomes gray by BT.601 luma (luma_601)
    to_rgb,   // gray becomes RGB by repeating it into R, G and B
};

// BT.601 luma in 16.16 fixed point, rounded to nearest: 0.299 R + 0.587 G + 0.114 B, exactly the
// integer formula of PIL's Image.convert("L") for 8-bit pixels; the same weights for 16-bit.
inline uint32_t luma_601(uint32_t r, uint32_t g, uint32_t b) {
    return uint32_t((uint64_t(r) * 19595 + uint64_t(g) * 38470 + uint64_t(b) * 7471 + 0x8000) >> 16);
}

// Throws "cannot read PATH: <rule>" unless an image that is `colour` (else gray) can reach a
// network of `channels` (1 or 3) channels under `conversion`. `kind` names the format ("PNG").
inline void check_channels(const std::string &path, const char *kind, bool colour, int channels,
                           ChannelConversion conversion) {
    auto bad = [&](const std::string &rule) { throw std::runtime_error("cannot read " + path + ": " + rule); };
    if (channels == 1 && colour && conversion != ChannelConversion::to_gray)
        bad(std::string("it is a colour ") + kind + " for a 1-channel network; pass --gray to convert it by BT.601 luma "
            "(0.299 R + 0.587 G + 0.114 B, as PIL's convert(\"L\")), or convert it the way the training data was");
    if (channels == 3 && !colour && conversion != ChannelConversion::to_rgb)
        bad(std::string("it is a gray ") + kind + " for a 3-channel (RGB) network; pass --rgb to repeat the gray value "
            "into R, G and B, or give the network the colour image");
}

}  // namespace unetgen::cli
