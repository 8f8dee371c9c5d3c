// segment_png.cpp — the smallest complete unetgen application: segment one PNG with a network
// compiled into this executable.
//
//     segment_png WEIGHTS.safetensors INPUT.png MASK.png [--overlay OVERLAY.png]
//                 [--label LABEL.png] [--min-iou X]
//
// The network is the bundled demo model, models/coins.unet: CMakeLists.txt compiles it with
// unetgen_add_library(), which generates coins_unetgen.h declaring coins_network(). Another spec
// gives another NAME_network(); nothing else here depends on the network. Weights are read at run
// time, so retraining needs no rebuild.
//
// Prints what it did (network, image size, classes, time of the segment() call). With --label it
// prints the IoU of the foreground against the label's nonzero pixels; with --min-iou it exits 3
// when the IoU is below X (the demo test uses that). Exit codes: 0 ok, 1 error, 2 usage, 3 IoU low.
#include "coins_unetgen.h"  // generated: const unetgen_network_desc *coins_network(void);
#include "mask_picture.h"
#include "png_image.h"
#include "unetgen.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

int usage() {
    std::fprintf(stderr, "usage: segment_png WEIGHTS.safetensors INPUT.png MASK.png [--overlay OVERLAY.png]\n"
                         "                   [--label LABEL.png] [--min-iou X]\n");
    return 2;
}

int fail(const std::string &message) {
    std::fprintf(stderr, "segment_png: %s\n", message.c_str());
    return 1;
}

}  // namespace

int main(int argc, char **argv) {
    std::vector<std::string> positional;
    std::string overlay_path, label_path;
    double min_iou = -1.0;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        bool has_value = i + 1 < argc;
        if (a == "--overlay" && has_value) overlay_path = argv[++i];
        else if (a == "--label" && has_value) label_path = argv[++i];
        else if (a == "--min-iou" && has_value) {
            char *end = nullptr;
            min_iou = std::strtod(argv[++i], &end);
            if (*end != '\0' || min_iou < 0.0 || min_iou > 1.0)
                return fail(std::string("cannot use --min-iou ") + argv[i] + ": it must be a number in [0, 1]");
        } else if (!a.empty() && a[0] == '-') return usage();
        else positional.push_back(a);
    }
    if (positional.size() != 3 || (min_iou >= 0.0 && label_path.empty())) return usage();
    const std::string &weights_path = positional[0], &input_path = positional[1], &mask_path = positional[2];

    // 1. Load the weights for the compiled-in network: checked against the spec, BN folded, packed.
    unetgen_model *model = nullptr;
    if (unetgen_model_load(coins_network(), weights_path.c_str(), &model) != UNETGEN_OK)
        return fail(unetgen_last_error());
    const int channels = unetgen_model_in_channels(model), classes = unetgen_model_classes(model);

    // 2. Read the image as the network's channel count (gray or RGB).
    example::Image input;
    std::string error;
    if (!example::read_png(input_path, channels, input, error)) {
        unetgen_model_free(model);
        return fail(error);
    }

    // 3. Segment: 8-bit interleaved pixels in (normalised by the spec's mean/std), class mask out.
    unetgen_segment_args args{};
    args.input_format = UNETGEN_INPUT_U8_NHWC;
    args.input = input.pixels.data();
    args.n = 1;
    args.channels = channels;
    args.h = input.h;
    args.w = input.w;
    args.output_kind = UNETGEN_OUTPUT_MASK;
    size_t count = 0;
    if (unetgen_output_count(model, 1, input.h, input.w, UNETGEN_OUTPUT_MASK, &count) != UNETGEN_OK) {
        // e.g. the network cannot take this size; the message names the nearest sizes it takes
        std::string message = unetgen_last_error();
        unetgen_model_free(model);
        return fail(message);
    }
    std::vector<uint8_t> mask(count);
    args.output = mask.data();
    args.output_capacity = count;
    auto t0 = std::chrono::steady_clock::now();
    unetgen_status status = unetgen_segment(model, &args);
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (status != UNETGEN_OK) {
        std::string message = unetgen_last_error();
        unetgen_model_free(model);
        return fail(message);
    }
    std::printf("segment_png: network %s, %s %dx%d (%d channel%s) -> mask %dx%d, %d class%s, %.1f ms\n",
                unetgen_model_name(model), input_path.c_str(), input.w, input.h, channels,
                channels == 1 ? "" : "s", args.out_w, args.out_h, classes, classes == 1 ? "" : "es", ms);
    unetgen_model_free(model);

    // 4. Write the mask (and the overlay); score against the label.
    if (!example::write_png(mask_path, example::mask_to_picture(mask, args.out_w, args.out_h, classes), error))
        return fail(error);
    std::printf("segment_png: wrote %s\n", mask_path.c_str());
    if (!overlay_path.empty()) {
        if (args.out_w != input.w || args.out_h != input.h)
            return fail("cannot write the overlay " + overlay_path +
                        ": the mask is smaller than the input (a valid-padding network), so it does not cover it");
        if (!example::write_png(overlay_path, example::overlay_mask(input, mask), error)) return fail(error);
        std::printf("segment_png: wrote %s\n", overlay_path.c_str());
    }
    if (!label_path.empty()) {
        example::Image label;
        if (!example::read_png(label_path, 1, label, error)) return fail(error);
        if (label.w != args.out_w || label.h != args.out_h)
            return fail("cannot compare with the label " + label_path + ": it is " + std::to_string(label.w) +
                        "x" + std::to_string(label.h) + ", the mask " + std::to_string(args.out_w) + "x" +
                        std::to_string(args.out_h));
        double iou = example::foreground_iou(mask, label);
        std::printf("segment_png: IoU against %s: %.4f\n", label_path.c_str(), iou);
        if (min_iou >= 0.0 && iou < min_iou) {
            std::fprintf(stderr, "segment_png: IoU %.4f is below the floor %.4f\n", iou, min_iou);
            return 3;
        }
    }
    return 0;
}
