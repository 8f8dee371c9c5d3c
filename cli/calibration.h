// calibration.h — measure_agreement(): a reduced-precision build's class masks against the fp32
// build's on sample images (`unetgen build --precision bf16 --weights W --calibrate IMG ...`).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace unetgen::cli {

struct ImageAgreement {
    std::string image;
    int64_t pixels = 0;      // output pixels compared (all images of a .npy batch)
    double agreement = 0;    // share of them whose class is the same in both masks
    double max_diff = 0;     // largest |difference| of the outputs after the spec's activation
};

// Segments every image (.png, 8 or 16 bit, or a normalised float .npy, CHW or NCHW) with the
// library in `fast_dir` and the one in `reference_dir`, both with `weights`, and compares their
// class masks (the runtime's own: argmax, or the threshold of a one-class network) and their
// probabilities. Errors throw std::runtime_error ("cannot calibrate with IMAGE: <rule>").
std::vector<ImageAgreement> measure_agreement(const std::string &fast_dir, const std::string &reference_dir,
                                              const std::string &weights, const std::vector<std::string> &images);

// Reads one calibration image as the network's input: NCHW float32 or NHWC uint8 (the one that
// is filled), its batch and size. Used to check the images before the build starts, too.
struct CalibrationInput {
    std::vector<float> nchw;
    std::vector<uint8_t> nhwc;
    std::vector<uint16_t> wide;  // a 16-bit PNG, normalised once the model is known
    int n = 1, channels = 0, h = 0, w = 0;
};
CalibrationInput read_calibration_input(const std::string &path, int channels);

}  // namespace unetgen::cli
