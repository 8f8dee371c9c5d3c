// spec_validate.cpp — rules between settings: validate_spec() (see parse_spec.h).
//
// apply_statements has checked every value on its own; here are the rules that tie settings
// together, each reported at the setting the user most likely has to change. A rule only runs
// when the settings it reads were accepted, so one bad value does not set off a cascade.
#include "dsl/parse_spec.h"

namespace unetgen {

using spec_syntax::SpecLocations;
using spec_syntax::Span;

namespace {


class Validator {
public:
    Validator(const NetworkSpec &spec, const SpecLocations &where, SpecReporter &rep)
        : spec_(spec), where_(where), rep_(rep) {}

    void run() {
        check_decoder_length();
        check_up_channel_list();
        check_skip_match();
        check_up_keys();
        check_half_channels();
        check_output();
        check_block();
        check_norm_keys();
        check_groups();
        check_gate();
        check_monai_keys();
    }

private:
    void error(const Span &at, const std::string &message) { rep_.error(at.pos, message, at.length); }
    void warning(const Span &at, const std::string &message) { rep_.warning(at.pos, message, at.length); }

    bool encoder_known() const { return spec_.encoder.size() >= 2; }
    int depth() const { return int(spec_.encoder.size()); }
    void check_decoder_length() {
        if (!encoder_known() || !where_.has("decoder", "channels")) return;
        size_t expected = spec_.encoder.size() - 1;
        if (spec_.decoder.size() == expected) return;
        error(where_.at("decoder", "channels"),
              "cannot use " + std::to_string(spec_.decoder.size()) + " decoder channels with " +
                  std::to_string(depth()) + " encoder levels: the decoder has one entry per level below the "
                  "bottleneck, deepest first (" + std::to_string(expected) + " here)");
    }

    void check_up_channel_list() {
        if (!encoder_known() || !where_.has("up", "channels") || spec_.up_channel_list.empty()) return;
        const size_t expected = spec_.encoder.size() - 1;
        if (spec_.up_channel_list.size() != expected)
            error(where_.at("up", "channels"),
                  "cannot use " + std::to_string(spec_.up_channel_list.size()) + " up channels with " +
                      std::to_string(depth()) + " encoder levels: the list has one width per upsampler, deepest "
                      "first (" + std::to_string(expected) + " here)");
    }

    void check_skip_match() {
        if (spec_.block.padding != Padding::Valid || spec_.block.kernel == 1) return;
        if (spec_.skip_match == SkipMatch::Crop) return;
        // Point at the match if it was written, else at the padding that makes the default wrong.
        Span at = where_.has("skip", "match") ? where_.at("skip", "match") : where_.at("block", "padding");
        if (spec_.skip_match == SkipMatch::Pad || spec_.skip_match == SkipMatch::Replicate)
            error(at, std::string("cannot ") + (spec_.skip_match == SkipMatch::Pad ? "pad" : "replicate-pad") +
                          " skips with valid padding: the upsampled tensor is smaller only because convs "
                          "trim it; use match = crop");
        else
            error(at, std::string("cannot concatenate skips ") +
                          (where_.has("skip", "match") ? "with match = exact" : "as they are (skip match = exact, "
                                                                                "the default)") +
                          " with valid padding: the convs trim every level, so the upsampled tensor is smaller "
                          "than its skip; use match = crop");
    }

    void check_up_keys() {
        if (!where_.has("up", "mode") && spec_.up == UpMode::Transposed) return;
        std::string mode = std::string("mode = ") + up_mode_name(spec_.up);
        if (spec_.up != UpMode::Transposed) {
            if (where_.has("up", "kernel"))
                error(where_.at("up", "kernel"), "cannot set up kernel with " + mode +
                                                     ": the kernel is the transposed conv's, and " + up_mode_name(spec_.up) +
                                                     " upsampling has no weights");
            if (where_.has("up", "channels"))
                error(where_.at("up", "channels"), "cannot set up channels with " + mode + ": " + up_mode_name(spec_.up) +
                                                       " upsampling keeps the channel count; only a transposed conv "
                                                       "chooses its output channels");
            if (where_.has("up", "bias"))
                error(where_.at("up", "bias"), "cannot set up bias with " + mode + ": " + up_mode_name(spec_.up) +
                                                   " upsampling has no weights");
        }
        if (spec_.up != UpMode::Bilinear && where_.has("up", "align_corners"))
            error(where_.at("up", "align_corners"),
                  "cannot set up align_corners with " + mode + ": align_corners applies to bilinear upsampling only");
    }

    // mid = half_in and up channels = half need even channel counts where they halve.
    void check_half_channels() {
        if (!encoder_known() || !where_.has("input", "channels")) return;
        const std::vector<int> &enc = spec_.encoder;
        if (spec_.encoder_mid == MidRule::HalfIn) {
            Span at = where_.at("encoder", "mid");
            if (spec_.encoder_convs == 1)
                warning(at, "encoder mid = half_in has no effect: encoder blocks have one conv, so no middle width");
            else
                for (int level = 0; level < depth(); ++level) {
                    int in = level > 0 ? enc[size_t(level) - 1] : spec_.pre.empty() ? spec_.in_channels : spec_.pre.back();
                    if (in % 2 == 0) continue;
                    error(at, "cannot use mid = half_in at encoder level " + std::to_string(level) + ": its input has " +
                                  std::to_string(in) + " channels, an odd number");
                    break;
                }
        }
        if (spec_.decoder.size() + 1 != enc.size()) return;
        if (spec_.decoder_mid == MidRule::HalfIn && spec_.decoder_convs == 1)
            warning(where_.at("decoder", "mid"),
                    "decoder mid = half_in has no effect: decoder blocks have one conv, so no middle width");
        bool mid_reported = false;
        for (int level = depth() - 2; level >= 0; --level) {
            size_t index = size_t(depth() - 2 - level);
            int up_in = index == 0 ? enc.back() : spec_.decoder[index - 1];
            int up_out = up_in;
            if (spec_.up == UpMode::Transposed && !spec_.up_channel_list.empty()) {
                if (spec_.up_channel_list.size() != enc.size() - 1) return;  // reported by check_up_channel_list
                up_out = spec_.up_channel_list[index];
                if (spec_.decoder_mid == MidRule::HalfIn && spec_.decoder_convs > 1 && (enc[size_t(level)] + up_out) % 2 != 0 &&
                    !mid_reported) {
                    error(where_.at("decoder", "mid"),
                          "cannot use mid = half_in at decoder level " + std::to_string(level) + ": its input has " +
                              std::to_string(enc[size_t(level)] + up_out) + " channels (skip " +
                              std::to_string(enc[size_t(level)]) + " + upsampled " + std::to_string(up_out) +
                              "), an odd number");
                    mid_reported = true;
                }
                continue;
            }
            if (spec_.up == UpMode::Transposed && spec_.up_channels == UpChannels::Skip) up_out = enc[size_t(level)];
            if (spec_.up == UpMode::Transposed && spec_.up_channels == UpChannels::Half) {
                if (up_in % 2 != 0) {
                    error(where_.at("up", "channels"), "cannot halve the channels of up" + std::to_string(level) +
                                                           ": its input has " + std::to_string(up_in) +
                                                           " channels, an odd number");
                    return;
                }
                up_out = up_in / 2;
            }
            int in = enc[size_t(level)] + up_out;
            if (spec_.decoder_mid == MidRule::HalfIn && spec_.decoder_convs > 1 && in % 2 != 0 && !mid_reported) {
                error(where_.at("decoder", "mid"),
                      "cannot use mid = half_in at decoder level " + std::to_string(level) + ": its input has " +
                          std::to_string(in) + " channels (skip " + std::to_string(enc[size_t(level)]) +
                          " + upsampled " + std::to_string(up_out) + "), an odd number");
                mid_reported = true;
            }
        }
    }

    void check_output() {
        if (!where_.has("output", "classes")) return;
        if (spec_.activation == Activation::Softmax && spec_.classes == 1)
            warning(where_.at("output", "activation"),
                    "softmax over 1 class is always 1: use activation = sigmoid for a one-class probability");
        if (spec_.classes > 1 && where_.has("output", "threshold"))
            warning(where_.at("output", "threshold"),
                    "output threshold has no effect with " + std::to_string(spec_.classes) +
                        " classes: it applies to one-class networks (with more, each pixel takes its top class)");
    }

    void check_block() {
        if (spec_.block.act != UnitActivation::LeakyRelu && where_.has("block", "slope"))
            error(where_.at("block", "slope"), std::string("cannot set block slope with act = ") +
                                                   unit_activation_name(spec_.block.act) +
                                                   ": the slope is LeakyReLU's (set `block act = leaky_relu`)");
        if (where_.has("block", "padding_mode") && spec_.block.padding == Padding::Valid && spec_.block.kernel > 1)
            warning(where_.at("block", "padding_mode"), "block padding_mode has no effect with padding = valid (no padding)");
        if (spec_.block.norm != NormKind::None) return;
        if (where_.has("block", "order"))
            warning(where_.at("block", "order"), "block order has no effect with norm = none");
        if (where_.has("block", "eps"))
            warning(where_.at("block", "eps"), "block eps has no effect with norm = none");
    }

    // affine and groups belong to some norms only.
    void check_norm_keys() {
        const std::string norm = std::string("norm = ") + norm_name(spec_.block.norm);
        if (where_.has("block", "affine")) {
            if (spec_.block.norm == NormKind::None)
                warning(where_.at("block", "affine"), "block affine has no effect with norm = none");
            else if (spec_.block.norm == NormKind::BatchNorm && !spec_.block.affine)
                error(where_.at("block", "affine"),
                      "cannot set block affine = false with norm = batchnorm: BatchNorm's weight and bias are folded "
                      "into the conv, so they are always read (a BatchNorm2d(affine=False) checkpoint has none)");
        }
        if (where_.has("block", "groups") && spec_.block.norm != NormKind::Group)
            error(where_.at("block", "groups"), "cannot set block groups with " + norm +
                                                    ": groups are GroupNorm's (set `block norm = group`)");
        if (spec_.block.norm == NormKind::Group && !where_.has("block", "groups") && where_.has("block", "norm"))
            error(where_.at("block", "norm"),
                  "cannot use norm = group without its groups: set `block groups = G`, GroupNorm's num_groups");
    }

    // Attention gates as Oktay et al. have them: on exact skips, BatchNorm or no norm in their convs.
    void check_gate() {
        if (spec_.skip_gate != SkipGate::Attention || !where_.has("skip", "gate")) return;
        const Span at = where_.at("skip", "gate");
        if (norm_uses_sample_statistics(spec_.block.norm))
            error(at, std::string("cannot use gate = attention with norm = ") + norm_name(spec_.block.norm) +
                          ": the gate's convs take the block's norm, and Attention U-Net's is batchnorm (or none)");
        if (spec_.skip_match != SkipMatch::Exact)
            error(where_.has("skip", "match") ? where_.at("skip", "match") : at,
                  std::string("cannot gate skips with match = ") + skip_match_name(spec_.skip_match) +
                      ": the gate resamples its signal from the level below onto the skip, so the skip and the "
                      "upsampled tensor must be the same size (match = exact)");
        if (encoder_known() && depth() < 3)
            warning(at, "gate = attention has no effect with 2 levels: the top skip is not gated, and there is no other");
    }

    // The keys MONAI's UNet needs, each with the settings it is defined for.
    void check_monai_keys() {
        if (where_.has("down", "levels") && spec_.down != DownMode::Conv && spec_.down_levels == DownLevels::AboveBottom)
            error(where_.at("down", "levels"), "cannot stride levels above the bottleneck with mode = maxpool: `levels` "
                                               "says which levels' first conv strides (set `down mode = conv`)");
        if (where_.has("decoder", "order") && spec_.decoder_order == DecoderOrder::MergeThenUp &&
            !(spec_.down == DownMode::Conv && spec_.down_levels == DownLevels::AboveBottom))
            error(where_.at("decoder", "order"),
                  "cannot merge skips before upsampling unless the bottleneck keeps the resolution of the level above "
                  "it: set `down mode = conv, levels = above_bottom` (MONAI's UNet)");
        if (where_.has("up", "norm") && spec_.up_norm) {
            if (!norm_uses_sample_statistics(spec_.block.norm))
                error(where_.at("up", "norm"), std::string("cannot follow the up conv with norm = ") +
                                                   norm_name(spec_.block.norm) +
                                                   ": up norm applies the block's instance or group norm (and its "
                                                   "activation) after the transposed conv");
            if (spec_.up != UpMode::Transposed)
                error(where_.at("up", "norm"), "cannot set up norm with mode = " + std::string(up_mode_name(spec_.up)) +
                                                   ": only a transposed conv is followed by a norm");
        }
        if (!spec_.head && where_.has("output", "head") && where_.has("output", "classes")) {
            const int last = !spec_.post.empty() ? spec_.post.back() : !spec_.decoder.empty() ? spec_.decoder.back() : 0;
            if (last != 0 && last != spec_.classes)
                error(where_.at("output", "head"),
                      "cannot leave out the head with " + std::to_string(spec_.classes) + " classes: the last " +
                          (spec_.post.empty() ? "decoder" : "post") + " level then makes the classes, and it has " +
                          std::to_string(last) + " channels");
        }
    }

    // GroupNorm splits every normalised conv unit's channels into `groups` equal groups.
    void check_groups() {
        if (spec_.block.norm != NormKind::Group || !where_.has("block", "groups") || spec_.block.groups <= 0) return;
        std::vector<std::pair<int, std::string>> widths;
        for (size_t i = 0; i < spec_.pre.size(); ++i) widths.push_back({spec_.pre[i], "pre unit " + std::to_string(i)});
        for (size_t l = 0; l < spec_.encoder.size(); ++l)
            widths.push_back({spec_.encoder[l], "encoder level " + std::to_string(l)});
        for (size_t d = 0; d < spec_.decoder.size(); ++d)
            widths.push_back({spec_.decoder[d], "decoder level " + std::to_string(int(spec_.decoder.size()) - 1 - int(d))});
        for (size_t i = 0; i < spec_.post.size(); ++i) widths.push_back({spec_.post[i], "post unit " + std::to_string(i)});
        for (const auto &[width, what] : widths)
            if (width % spec_.block.groups != 0) {
                error(where_.at("block", "groups"),
                      "cannot split the " + std::to_string(width) + " channels of " + what + " into " +
                          std::to_string(spec_.block.groups) + " groups: GroupNorm needs the groups to divide every "
                          "normalised conv's channels");
                return;
            }
    }

    const NetworkSpec &spec_;
    const SpecLocations &where_;
    SpecReporter &rep_;
};

}  // namespace

void validate_spec(const NetworkSpec &spec, const SpecLocations &where, SpecReporter &reporter) {
    Validator(spec, where, reporter).run();
}

}  // namespace unetgen
