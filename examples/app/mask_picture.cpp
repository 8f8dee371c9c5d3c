// mask_picture.cpp — mask_to_picture, overlay_mask, foreground_iou.
#include "mask_picture.h"

namespace example {

Image mask_to_picture(const std::vector<uint8_t> &mask, int w, int h, int classes) {
    Image out;
    out.w = w;
    out.h = h;
    out.channels = 1;
    out.pixels.resize(mask.size());
    int top = classes > 2 ? classes - 1 : 1;   // one sigmoid class or two softmax classes: 0 / 255
    for (size_t i = 0; i < mask.size(); ++i)
        out.pixels[i] = uint8_t(mask[i] >= top ? 255 : mask[i] * 255 / top);
    return out;
}

Image overlay_mask(const Image &input, const std::vector<uint8_t> &mask) {
    static const int tint[3] = {255, 128, 0};
    Image out;
    out.w = input.w;
    out.h = input.h;
    out.channels = 3;
    out.pixels.resize(size_t(input.w) * size_t(input.h) * 3);
    for (size_t p = 0; p < mask.size(); ++p) {
        for (int c = 0; c < 3; ++c) {
            int v = input.pixels[p * size_t(input.channels) + size_t(input.channels == 3 ? c : 0)];
            // integer rounding of 0.55 * v + 0.45 * tint
            if (mask[p] != 0) v = (55 * v + 45 * tint[c] + 50) / 100;
            out.pixels[p * 3 + size_t(c)] = uint8_t(v);
        }
    }
    return out;
}

double foreground_iou(const std::vector<uint8_t> &mask, const Image &label) {
    size_t inter = 0, uni = 0;
    for (size_t p = 0; p < mask.size(); ++p) {
        bool a = mask[p] != 0;
        bool b = label.pixels[p * size_t(label.channels)] != 0;
        inter += a && b;
        uni += a || b;
    }
    return uni == 0 ? 1.0 : double(inter) / double(uni);
}

}  // namespace example
