// calibration.cpp — measure_agreement(): a fast build's masks against the fp32 build's.
//
// Both libraries run through the runtime as an application would (weights folded and packed at
// load, the same tile plan), so the figure is the agreement a user of the fast build gets.
#include "cli/calibration.h"

#include "cli/image_io.h"
#include "cli/npy_io.h"
#include "cli/wide_normaliser.h"
#include "runtime/unetgen.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace unetgen::cli {

namespace {

bool ends_with(const std::string &s, const std::string &tail) {
    if (s.size() < tail.size()) return false;
    std::string t = s.substr(s.size() - tail.size());
    std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return t == tail;
}

std::vector<float> as_nchw(const CalibrationInput &in, const Model &model) {
    if (in.wide.empty()) return in.nchw;
    std::vector<float> out(in.wide.size());
    const WideNormaliser normalise(model);
    normalise(in.wide.data(), size_t(in.w) * size_t(in.h), in.channels, out.data());
    return out;
}

}  // namespace

CalibrationInput read_calibration_input(const std::string &path, int channels) {
    CalibrationInput in;
    in.channels = channels;
    if (ends_with(path, ".png")) {
        Image img = read_png(path, channels);
        in.h = img.h;
        in.w = img.w;
        if (img.bits == 16) in.wide = std::move(img.wide);
        else in.nhwc = std::move(img.pixels);
        return in;
    }
    if (ends_with(path, ".npy")) {
        NpyArray a = read_npy_f32(path);
        std::vector<int64_t> s = a.shape;
        if (s.size() == 3) s.insert(s.begin(), 1);
        if (s.size() != 4)
            throw std::runtime_error("cannot calibrate with " + path + ": it has " + std::to_string(a.shape.size()) +
                                     " dimensions; NCHW (4) or CHW (3) are needed");
        if (s[1] != channels)
            throw std::runtime_error("cannot calibrate with " + path + ": it has " + std::to_string(s[1]) +
                                     " channels, the network takes " + std::to_string(channels));
        if (s[0] < 1 || s[2] < 1 || s[3] < 1 || s[0] > (1 << 20) || s[2] > (1 << 24) || s[3] > (1 << 24))
            throw std::runtime_error("cannot calibrate with " + path + ": its shape is empty or too large");
        in.n = int(s[0]);
        in.h = int(s[2]);
        in.w = int(s[3]);
        in.nchw = std::move(a.values);
        return in;
    }
    throw std::runtime_error("cannot calibrate with " + path + ": a calibration image must be a .png or a .npy file");
}

std::vector<ImageAgreement> measure_agreement(const std::string &fast_dir, const std::string &reference_dir,
                                              const std::string &weights, const std::vector<std::string> &images) {
    Library fast_lib(fast_dir), ref_lib(reference_dir);
    const Model fast = Model::load(fast_lib.network(), weights);
    const Model ref = Model::load(ref_lib.network(), weights);
    std::vector<ImageAgreement> out;
    for (const std::string &path : images) {
        const CalibrationInput in = read_calibration_input(path, fast.in_channels());
        Mask mf, mr;
        Scores pf, pr;
        try {
            if (!in.nhwc.empty()) {
                mf = fast.segment_mask(in.nhwc, in.n, in.h, in.w);
                mr = ref.segment_mask(in.nhwc, in.n, in.h, in.w);
                pf = fast.segment(in.nhwc, in.n, in.h, in.w);
                pr = ref.segment(in.nhwc, in.n, in.h, in.w);
            } else {
                const std::vector<float> x = as_nchw(in, fast);
                mf = fast.segment_mask(x, in.n, in.h, in.w);
                mr = ref.segment_mask(x, in.n, in.h, in.w);
                pf = fast.segment(x, in.n, in.h, in.w);
                pr = ref.segment(x, in.n, in.h, in.w);
            }
        } catch (const std::exception &e) {
            throw std::runtime_error("cannot calibrate with " + path + ": " + e.what());
        }
        if (mf.values.size() != mr.values.size() || pf.values.size() != pr.values.size() || mf.values.empty())
            throw std::logic_error("cannot calibrate with " + path + ": the two builds made outputs of different sizes");
        ImageAgreement a;
        a.image = path;
        a.pixels = int64_t(mf.values.size());
        int64_t same = 0;
        for (size_t i = 0; i < mf.values.size(); ++i) same += mf.values[i] == mr.values[i];
        a.agreement = double(same) / double(a.pixels);
        for (size_t i = 0; i < pf.values.size(); ++i) {
            const double d = std::fabs(double(pf.values[i]) - double(pr.values[i]));
            a.max_diff = std::isnan(d) ? INFINITY : std::max(a.max_diff, d);
        }
        out.push_back(a);
    }
    return out;
}

}  // namespace unetgen::cli
