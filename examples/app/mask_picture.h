// mask_picture.h — what the example does with a mask: make it visible and score it.
#pragma once

#include "png_image.h"

namespace example {

// A picture of class indices: 0 stays black; with one foreground class it is 255 (white), with
// more the indices are spread over 0..255 so neighbouring classes stay distinguishable.
Image mask_to_picture(const std::vector<uint8_t> &mask, int w, int h, int classes);

// The input (gray or RGB) as RGB with every pixel whose class is not 0 tinted orange:
// 55% of the pixel + 45% of (255, 128, 0), rounded.
Image overlay_mask(const Image &input, const std::vector<uint8_t> &mask);

// Intersection over union of foreground (class != 0) in `mask` and nonzero pixels of the label
// picture (its first channel). Both must be the same size; 1.0 when both are empty.
double foreground_iou(const std::vector<uint8_t> &mask, const Image &label);

}  // namespace example
