// spec_apply.cpp — statements to NetworkSpec fields: apply_statements() (see parse_spec.h).
//
// One handler per section maps each key onto its field, checking the value's type and range on
// the way ("cannot set block kernel to 4: ..."). Unknown keys get a "did you mean", or the
// section they belong to. A repeated section is reported and then checked into a scratch spec,
// so its own mistakes still show. Required keys and sections are checked at the end, where the
// derived defaults (decoder channels, per-channel mean/std, convs per block) are filled in.
#include "dsl/parse_spec.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

namespace unetgen {

using spec_syntax::ListItem;
using spec_syntax::Setting;
using spec_syntax::SpecLocations;
using spec_syntax::Span;
using spec_syntax::Statement;
using spec_syntax::Value;

namespace {

constexpr int kMaxChannels = 65536;
constexpr int kMaxLevels = 16;
constexpr int kMaxConvs = 8;

// The language's keys: one row per (section, key), built in Applier::rows() with its handler.
const std::vector<SpecKeyInfo> &key_rows();

const std::vector<std::string> &keys_of(const std::string &section) {
    static const std::map<std::string, std::vector<std::string>> by_section = [] {
        std::map<std::string, std::vector<std::string>> m;
        for (const SpecKeyInfo &row : key_rows()) m[row.section].push_back(row.key);
        return m;
    }();
    static const std::vector<std::string> none;
    auto at = by_section.find(section);
    return at == by_section.end() ? none : at->second;
}

// "a, b or c"
std::string one_of(const std::vector<std::string> &names) {
    std::string out;
    for (size_t i = 0; i < names.size(); ++i) {
        if (i > 0) out += i + 1 == names.size() ? " or " : ", ";
        out += names[i];
    }
    return out;
}

std::string kind_name(Value::Kind kind) {
    switch (kind) {
    case Value::Kind::Int: return "an integer";
    case Value::Kind::Number: return "a decimal number";
    case Value::Kind::Ident: return "a name";
    case Value::Kind::String: return "a string";
    case Value::Kind::List: return "a list";
    }
    return "a value";
}

// ", found a name" — what the value is, unless the message already says ("to a list").
std::string found(const Value &value) {
    return value.kind == Value::Kind::List ? "" : ", found " + kind_name(value.kind);
}

std::string shown(const Value &value) { return value.kind == Value::Kind::List ? "a list" : value.shown; }

template <class E>
using Names = std::vector<std::pair<std::string, E>>;

// Mean or std as written: one number for every channel, or a list with one per channel.
struct PerChannel {
    bool given = false;
    bool single = false;
    std::vector<double> values;
    Span span;
};

class Applier {
public:
    Applier(NetworkSpec &spec, SpecLocations &where, SpecReporter &rep) : spec_(spec), where_(where), rep_(rep) {}

    void run(const std::vector<Statement> &statements) {
        // A syntax error may have swallowed a whole statement: then "section missing" would
        // most likely be wrong, and the user sees it on the next run if it is not.
        syntax_errors_ = rep_.errors() > 0;
        std::map<std::string, const Statement *> first;
        for (const Statement &statement : statements) {
            if (rep_.stopped()) return;
            auto seen = first.find(statement.section);
            if (seen != first.end()) {
                rep_.error(statement.pos,
                           "cannot repeat section '" + statement.section + "': a section appears at most once",
                           statement.length);
                rep_.note(seen->second->pos, "'" + statement.section + "' first appears here", seen->second->length);
                // Still check its settings, into a scratch spec, so its own mistakes show too.
                NetworkSpec scratch;
                SpecLocations scratch_where;
                Applier(scratch, scratch_where, rep_).apply(statement);
                continue;
            }
            first[statement.section] = &statement;
            where_.sections[statement.section] = {statement.pos, statement.length};
            spec_.section_pos.emplace_back(statement.section, statement.pos);
            apply(statement);
        }
        if (!rep_.stopped()) finish();
    }

private:
    void apply(const Statement &st) {
        section_ = st.section;
        std::map<std::string, const Setting *> seen;
        for (const std::string &key : st.broken_keys) present_.insert(section_ + "." + key);
        for (const Setting &s : st.settings) {
            const std::vector<std::string> &keys = keys_of(section_);
            if (std::find(keys.begin(), keys.end(), s.key) == keys.end()) {
                unknown_key(s);
                continue;
            }
            auto before = seen.find(s.key);
            if (before != seen.end()) {
                rep_.error(s.key_pos, "cannot set " + what(s) + " twice: a key appears once in its section",
                           s.key_length);
                rep_.note(before->second->key_pos, what(s) + " was first set here", before->second->key_length);
                continue;
            }
            seen[s.key] = &s;
            present_.insert(section_ + "." + s.key);
            if (set(s)) where_.values[section_ + "." + s.key] = {s.value.pos, s.value.length};
        }
    }

    void unknown_key(const Setting &s) {
        std::string message = "cannot set " + what(s) + ": section '" + section_ + "' has no key " +
                              quote_for_message(s.key);
        std::string hint = did_you_mean(s.key, keys_of(section_));
        if (hint.empty()) {
            std::vector<std::string> owners;
            for (const std::string &section : spec_section_names()) {
                const std::vector<std::string> &keys = keys_of(section);
                if (std::find(keys.begin(), keys.end(), s.key) != keys.end()) owners.push_back(section);
            }
            if (owners.size() == 1) hint = "; it is a key of section '" + owners.front() + "'";
            else if (!owners.empty()) hint = "; it is a key of sections " + one_of(owners);
            else hint = " (its keys are " + one_of(keys_of(section_)) + ")";
        }
        rep_.error(s.key_pos, message + hint, s.key_length);
    }

    std::string what(const Setting &s) const {
        std::string key = quote_for_message(s.key, 40);
        return section_ + " " + key.substr(1, key.size() - 2);
    }

    void bad_value(const Setting &s, const std::string &rule) {
        rep_.error(s.value.pos, "cannot set " + what(s) + " to " + shown(s.value) + ": " + rule, s.value.length);
    }

    // ---- conversions: each reports its own error and returns false --------------------------------

    bool get_int(const Setting &s, int lo, int hi, const std::string &rule, int &out) {
        if (s.value.kind != Value::Kind::Int) {
            bad_value(s, "expected an integer" + found(s.value));
            return false;
        }
        if (s.value.int_value < lo || s.value.int_value > hi) {
            bad_value(s, rule);
            return false;
        }
        out = int(s.value.int_value);
        return true;
    }

    bool get_number(const Setting &s, double &out) {
        if (s.value.kind != Value::Kind::Int && s.value.kind != Value::Kind::Number) {
            bad_value(s, "expected a number" + found(s.value));
            return false;
        }
        out = s.value.number_value;
        return true;
    }

    template <class E>
    bool get_name(const Setting &s, const Names<E> &names, E &out) {
        std::vector<std::string> options;
        for (const auto &entry : names) options.push_back(entry.first);
        if (s.value.kind == Value::Kind::Ident) {
            for (const auto &entry : names)
                if (entry.first == s.value.text) {
                    out = entry.second;
                    return true;
                }
            bad_value(s, "expected " + one_of(options) + did_you_mean(s.value.text, options));
            return false;
        }
        bool quoted_option = s.value.kind == Value::Kind::String &&
                             std::find(options.begin(), options.end(), s.value.text) != options.end();
        bad_value(s, "expected " + one_of(options) +
                         (quoted_option ? ", written without quotes" : found(s.value)));
        return false;
    }

    bool get_bool(const Setting &s, bool &out) { return get_name<bool>(s, {{"true", true}, {"false", false}}, out); }

    // A list of channel counts (pre, post, encoder and decoder channels).
    bool get_channels(const Setting &s, std::vector<int> &out) {
        if (s.value.kind != Value::Kind::List) {
            bad_value(s, "expected a list of channel counts such as [64, 128]");
            return false;
        }
        bool ok = true;
        out.clear();
        for (const ListItem &item : s.value.items) {
            if (!item.is_int || item.int_value < 1 || item.int_value > kMaxChannels) {
                rep_.error(item.pos,
                           "cannot use " + item.shown + " in " + what(s) + ": a channel count is an integer from 1 to " +
                               std::to_string(kMaxChannels),
                           item.length);
                ok = false;
                continue;
            }
            out.push_back(int(item.int_value));
        }
        if (!ok) out.clear();  // a partial list would mislead the checks that follow
        return ok;
    }

    bool get_per_channel(const Setting &s, bool positive, PerChannel &out) {
        out = PerChannel();
        out.span = {s.value.pos, s.value.length};
        std::string rule = positive ? "std must be greater than 0 (the input is divided by it)" : "";
        if (s.value.kind == Value::Kind::Int || s.value.kind == Value::Kind::Number) {
            if (positive && !(s.value.number_value > 0)) {
                bad_value(s, rule);
                return false;
            }
            out.given = out.single = true;
            out.values = {s.value.number_value};
            return true;
        }
        if (s.value.kind != Value::Kind::List) {
            bad_value(s, "expected a number or a list of numbers, one per input channel");
            return false;
        }
        bool ok = true;
        for (const ListItem &item : s.value.items) {
            if (positive && !(item.number_value > 0)) {
                rep_.error(item.pos, "cannot use " + item.shown + " in " + what(s) + ": " + rule, item.length);
                ok = false;
            }
            out.values.push_back(item.number_value);
        }
        out.given = ok;
        return ok;
    }

    // ---- the keys: one row each ----------------------------------------------------------------

public:
    // Every key of the language with its type and default as docs/spec-language.md states them
    // (tests/dsl checks the docs against these rows) and the handler that checks and stores its
    // value. A key is one row here: the key lists, "did you mean" and the "it is a key of section"
    // hints all come from the rows.
    struct Row {
        SpecKeyInfo info;
        bool (*set)(Applier &, const Setting &);
    };

    static const std::vector<Row> &rows() {
        using A = Applier;
        using S = const Setting &;
        static const Names<MidRule> mids = {{"out", MidRule::Out}, {"half_in", MidRule::HalfIn}};
        static const std::string convs_rule = "a block has 1 to " + std::to_string(kMaxConvs) + " convs";
        static const std::string levels_rule = "a U-Net has 2 to " + std::to_string(kMaxLevels) +
                                               " levels (counting the bottleneck; a max-pool between each two)";
        static const std::vector<Row> table = {
            {{"network", "name", "name or string", "the file's stem"}, [](A &a, S s) { return a.set_name(s); }},
            {{"input", "channels", "integer", "**required**"},
             [](A &a, S s) { return a.get_int(s, 1, kMaxChannels, "an input has 1 to 65536 channels", a.spec_.in_channels); }},
            {{"input", "mean", "number or list", "0"}, [](A &a, S s) { return a.get_per_channel(s, false, a.mean_); }},
            {{"input", "std", "number or list, each > 0", "1"}, [](A &a, S s) { return a.get_per_channel(s, true, a.std_); }},
            {{"input", "patch", "integer or list [height, width]", "none"}, [](A &a, S s) { return a.set_patch(s); }},
            {{"input", "step", "number in (0, 1]", "0.5"}, [](A &a, S s) { return a.set_step(s); }},
            {{"output", "classes", "integer 1..65536", "**required**"},
             [](A &a, S s) { return a.get_int(s, 1, kMaxChannels, "a network has 1 to 65536 classes", a.spec_.classes); }},
            {{"output", "activation", "`none` | `sigmoid` | `softmax`", "`none`"},
             [](A &a, S s) {
                 return a.get_name<Activation>(
                     s, {{"none", Activation::None}, {"sigmoid", Activation::Sigmoid}, {"softmax", Activation::Softmax}},
                     a.spec_.activation);
             }},
            {{"output", "threshold", "number in [0, 1]", "0.5"}, [](A &a, S s) { return a.set_threshold(s); }},
            {{"output", "head", "`conv` | `none`", "`conv`"},
             [](A &a, S s) { return a.get_name<bool>(s, {{"conv", true}, {"none", false}}, a.spec_.head); }},
            {{"encoder", "channels", "list of 2..16 channel counts", "—"},
             [](A &a, S s) { return a.get_levels(s, a.encoder_list_); }},
            {{"encoder", "base", "integers; depth 2..16", "—"},
             [](A &a, S s) { return a.get_int(s, 1, kMaxChannels, "a channel count is from 1 to 65536", a.encoder_base_); }},
            {{"encoder", "depth", "integers; depth 2..16", "—"},
             [](A &a, S s) { return a.get_int(s, 2, kMaxLevels, levels_rule, a.encoder_depth_); }},
            {{"encoder", "convs", "integer 1..8", "`block convs`"},
             [](A &a, S s) { return a.get_int(s, 1, kMaxConvs, convs_rule, a.spec_.encoder_convs); }},
            {{"encoder", "mid", "`out` | `half_in`", "`out`"}, [](A &a, S s) { return a.get_name(s, mids, a.spec_.encoder_mid); }},
            {{"decoder", "channels", "list of depth-1 channel counts", "the encoder's channels of levels depth-2 .. 0"},
             [](A &a, S s) { return a.get_channels(s, a.spec_.decoder); }},
            {{"decoder", "convs", "integer 1..8", "`block convs`"},
             [](A &a, S s) { return a.get_int(s, 1, kMaxConvs, convs_rule, a.spec_.decoder_convs); }},
            {{"decoder", "mid", "`out` | `half_in`", "`out`"}, [](A &a, S s) { return a.get_name(s, mids, a.spec_.decoder_mid); }},
            {{"decoder", "order", "`up_then_merge` | `merge_then_up`", "`up_then_merge`"},
             [](A &a, S s) {
                 return a.get_name<DecoderOrder>(
                     s, {{"up_then_merge", DecoderOrder::UpThenMerge}, {"merge_then_up", DecoderOrder::MergeThenUp}},
                     a.spec_.decoder_order);
             }},
            {{"block", "convs", "integer 1..8", "2"},
             [](A &a, S s) { return a.get_int(s, 1, kMaxConvs, convs_rule, a.spec_.block.convs); }},
            {{"block", "kernel", "1 | 3 | 5 | 7", "3"}, [](A &a, S s) { return a.set_kernel(s); }},
            {{"block", "padding", "`same` | `valid`", "`same`"},
             [](A &a, S s) { return a.get_name<Padding>(s, {{"same", Padding::Same}, {"valid", Padding::Valid}}, a.spec_.block.padding); }},
            {{"block", "bias", "`true` | `false`", "`true`"}, [](A &a, S s) { return a.get_bool(s, a.spec_.block.bias); }},
            {{"block", "norm", "`none` | `batchnorm` | `instance` | `group`", "`none`"},
             [](A &a, S s) {
                 return a.get_name<NormKind>(s,
                                             {{"none", NormKind::None},
                                              {"batchnorm", NormKind::BatchNorm},
                                              {"instance", NormKind::Instance},
                                              {"group", NormKind::Group}},
                                             a.spec_.block.norm);
             }},
            {{"block", "affine", "`true` | `false`", "PyTorch's: `false` for instance, `true` for group"},
             [](A &a, S s) { return a.get_bool(s, a.spec_.block.affine); }},
            {{"block", "groups", "integer 1..65536", "**required** with norm = group"},
             [](A &a, S s) { return a.get_int(s, 1, kMaxChannels, "GroupNorm has 1 to 65536 groups", a.spec_.block.groups); }},
            {{"block", "order", "`conv_norm_relu` | `conv_relu_norm`", "`conv_norm_relu`"},
             [](A &a, S s) {
                 return a.get_name<NormOrder>(
                     s, {{"conv_norm_relu", NormOrder::ConvNormRelu}, {"conv_relu_norm", NormOrder::ConvReluNorm}},
                     a.spec_.block.order);
             }},
            {{"block", "eps", "number > 0", "1e-5"}, [](A &a, S s) { return a.set_eps(s); }},
            {{"block", "residual", "`none` | `monai`", "`none`"},
             [](A &a, S s) {
                 return a.get_name<Residual>(s, {{"none", Residual::None}, {"monai", Residual::Monai}}, a.spec_.block.residual);
             }},
            {{"block", "dilation", "integer 1..8", "1"},
             [](A &a, S s) { return a.get_int(s, 1, 8, "a dilation is from 1 to 8", a.spec_.block.dilation); }},
            {{"block", "padding_mode", "`zeros` | `replicate` | `reflect`", "`zeros`"},
             [](A &a, S s) {
                 return a.get_name<PaddingMode>(
                     s, {{"zeros", PaddingMode::Zeros}, {"replicate", PaddingMode::Replicate}, {"reflect", PaddingMode::Reflect}},
                     a.spec_.block.padding_mode);
             }},
            {{"block", "act", "`relu` | `leaky_relu` | `prelu` | `elu` | `gelu`", "`relu`"},
             [](A &a, S s) {
                 return a.get_name<UnitActivation>(
                     s,
                     {{"relu", UnitActivation::Relu},
                      {"leaky_relu", UnitActivation::LeakyRelu},
                      {"prelu", UnitActivation::PRelu},
                      {"elu", UnitActivation::Elu},
                      {"gelu", UnitActivation::Gelu}},
                     a.spec_.block.act);
             }},
            {{"block", "slope", "number", "0.01"}, [](A &a, S s) { return a.set_slope(s); }},
            {{"down", "mode", "`maxpool` | `conv` | `avgpool`", "`maxpool`"},
             [](A &a, S s) {
                 return a.get_name<DownMode>(
                     s, {{"maxpool", DownMode::MaxPool}, {"conv", DownMode::Conv}, {"avgpool", DownMode::AvgPool}}, a.spec_.down);
             }},
            {{"down", "levels", "`below_top` | `above_bottom`", "`below_top`"},
             [](A &a, S s) {
                 return a.get_name<DownLevels>(
                     s, {{"below_top", DownLevels::BelowTop}, {"above_bottom", DownLevels::AboveBottom}}, a.spec_.down_levels);
             }},
            {{"up", "mode", "`transposed` | `bilinear` | `nearest`", "`transposed`"},
             [](A &a, S s) {
                 return a.get_name<UpMode>(
                     s, {{"transposed", UpMode::Transposed}, {"bilinear", UpMode::Bilinear}, {"nearest", UpMode::Nearest}},
                     a.spec_.up);
             }},
            {{"up", "kernel", "2 | 3", "2"},
             [](A &a, S s) {
                 return a.get_int(s, 2, 3,
                                  "a transposed conv upsampler has kernel 2 (stride 2) or 3 (stride 2, padding 1, "
                                  "output_padding 1)",
                                  a.spec_.up_kernel);
             }},
            {{"up", "align_corners", "`true` | `false`", "`false`"}, [](A &a, S s) { return a.get_bool(s, a.spec_.align_corners); }},
            {{"up", "channels", "`skip` | `half` | `same`, or a list of depth-1 channel counts", "`skip`"},
             [](A &a, S s) {
                 if (s.value.kind == Value::Kind::List) return a.get_channels(s, a.spec_.up_channel_list);
                 return a.get_name<UpChannels>(
                     s, {{"skip", UpChannels::Skip}, {"half", UpChannels::Half}, {"same", UpChannels::Same}},
                     a.spec_.up_channels);
             }},
            {{"up", "bias", "`true` | `false`", "`true`"}, [](A &a, S s) { return a.get_bool(s, a.spec_.up_bias); }},
            {{"up", "norm", "`true` | `false`", "`false`"}, [](A &a, S s) { return a.get_bool(s, a.spec_.up_norm); }},
            {{"skip", "order", "`skip_first` | `up_first`", "`skip_first`"},
             [](A &a, S s) {
                 return a.get_name<SkipOrder>(s, {{"skip_first", SkipOrder::SkipFirst}, {"up_first", SkipOrder::UpFirst}},
                                              a.spec_.skip_order);
             }},
            {{"skip", "match", "`exact` | `crop` | `pad` | `replicate`", "`exact`"},
             [](A &a, S s) {
                 return a.get_name<SkipMatch>(s,
                                              {{"crop", SkipMatch::Crop},
                                               {"pad", SkipMatch::Pad},
                                               {"exact", SkipMatch::Exact},
                                               {"replicate", SkipMatch::Replicate}},
                                              a.spec_.skip_match);
             }},
            {{"skip", "gate", "`none` | `attention`", "`none`"},
             [](A &a, S s) {
                 return a.get_name<SkipGate>(s, {{"none", SkipGate::None}, {"attention", SkipGate::Attention}},
                                             a.spec_.skip_gate);
             }},
            {{"pre", "channels", "list of channel counts (may be empty)", "`[]`"},
             [](A &a, S s) { return a.get_channels(s, a.spec_.pre); }},
            {{"post", "channels", "list of channel counts (may be empty)", "`[]`"},
             [](A &a, S s) { return a.get_channels(s, a.spec_.post); }},
        };
        return table;
    }

private:
    bool set(const Setting &s) {
        for (const Row &row : rows())
            if (section_ == row.info.section && s.key == row.info.key) return row.set(*this, s);
        return false;  // apply() only passes known keys
    }

    bool set_patch(const Setting &s) {
        const std::string rule = "a patch is a side, or [height, width], each from 1 to 65536";
        std::vector<int> sides;
        if (s.value.kind == Value::Kind::List) {
            for (const ListItem &item : s.value.items) {
                if (!item.is_int || item.int_value < 1 || item.int_value > kMaxChannels) {
                    bad_value(s, rule);
                    return false;
                }
                sides.push_back(int(item.int_value));
            }
        } else {
            int side = 0;
            if (!get_int(s, 1, kMaxChannels, rule, side)) return false;
            sides = {side, side};
        }
        if (sides.size() != 2) {
            bad_value(s, rule);
            return false;
        }
        spec_.patch_h = sides[0];
        spec_.patch_w = sides[1];
        return true;
    }

    bool set_step(const Setting &s) {
        double step = 0;
        if (!get_number(s, step)) return false;
        if (!(step > 0 && step <= 1)) {
            bad_value(s, "a step is a fraction of the patch, greater than 0 and at most 1");
            return false;
        }
        spec_.patch_step = step;
        return true;
    }

    bool set_threshold(const Setting &s) {
        double threshold = 0;
        if (!get_number(s, threshold)) return false;
        if (!(threshold >= 0 && threshold <= 1)) {
            bad_value(s, "a threshold is a probability, from 0 to 1");
            return false;
        }
        spec_.threshold = threshold;
        return true;
    }

    bool set_kernel(const Setting &s) {
        const std::string rule = "a conv kernel is 1, 3, 5 or 7 (odd, so that same padding is symmetric)";
        int kernel = 0;
        bool ok = get_int(s, 1, 7, rule, kernel);
        if (ok && kernel % 2 == 0) {
            bad_value(s, rule);
            return false;
        }
        if (ok) spec_.block.kernel = kernel;
        return ok;
    }

    bool set_slope(const Setting &s) {
        double slope = 0;
        if (!get_number(s, slope)) return false;
        if (!std::isfinite(slope)) {
            bad_value(s, "a LeakyReLU slope is a finite number");
            return false;
        }
        spec_.block.slope = slope;
        return true;
    }

    bool set_eps(const Setting &s) {
        double eps = 0;
        if (!get_number(s, eps)) return false;
        if (!(eps > 0)) {
            bad_value(s, "eps must be greater than 0 (BatchNorm divides by sqrt(running_var + eps))");
            return false;
        }
        spec_.block.eps = eps;
        return true;
    }

    bool set_name(const Setting &s) {
        const std::string &name = s.value.text;
        bool identifier = !name.empty() && !(name[0] >= '0' && name[0] <= '9');
        for (char c : name)
            identifier = identifier && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                                        c == '_');
        if ((s.value.kind != Value::Kind::Ident && s.value.kind != Value::Kind::String) || !identifier) {
            bad_value(s, "a network name is a C identifier (letters, digits and '_', not starting with a digit), "
                         "because it names the generated library and its functions");
            return false;
        }
        spec_.name = name;
        return true;
    }

    bool get_levels(const Setting &s, std::vector<int> &out) {
        if (!get_channels(s, out)) return false;
        if (out.size() < 2 || out.size() > size_t(kMaxLevels)) {
            rep_.error(s.value.pos,
                       "cannot use " + std::to_string(out.size()) + " encoder level" + (out.size() == 1 ? "" : "s") +
                           ": a U-Net has 2 to " + std::to_string(kMaxLevels) +
                           " levels (counting the bottleneck; a max-pool between each two)",
                       s.value.length);
            out.clear();
            return false;
        }
        return true;
    }

    // ---- after the last statement: required keys and sections, derived defaults -----------------

    void require(const char *section, const char *key, const std::string &how) {
        auto at = where_.sections.find(section);
        if (at == where_.sections.end()) return;
        if (present_.count(std::string(section) + "." + key)) return;
        rep_.error(at->second.pos, std::string("cannot read section '") + section + "': it needs " + how,
                   at->second.length);
    }

    void finish() {
        const struct {
            const char *section;
            const char *example;
        } required[] = {{"input", "input channels = 3"},
                        {"output", "output classes = 1"},
                        {"encoder", "encoder channels = [64, 128, 256, 512] or encoder base = 64, depth = 4"}};
        for (const auto &r : required)
            if (!where_.sections.count(r.section) && !syntax_errors_)
                rep_.error({}, std::string("cannot find section '") + r.section + "': every spec needs one, e.g. '" +
                                   r.example + "'");
        require("input", "channels", "'channels = N', the number of input channels");
        require("output", "classes", "'classes = N', the number of output classes");
        finish_encoder();
        finish_per_channel("mean", mean_, 0.0, spec_.mean);
        finish_per_channel("std", std_, 1.0, spec_.std);
        if (!present_.count("block.affine")) spec_.block.affine = spec_.block.norm == NormKind::Group;
        if (!present_.count("encoder.convs")) spec_.encoder_convs = spec_.block.convs;
        if (!present_.count("decoder.convs")) spec_.decoder_convs = spec_.block.convs;
    }

    void finish_encoder() {
        bool has_list = present_.count("encoder.channels") > 0;
        bool has_base = present_.count("encoder.base") > 0, has_depth = present_.count("encoder.depth") > 0;
        auto section = where_.sections.find("encoder");
        if (section != where_.sections.end()) {
            Span header = section->second;
            if (has_list && (has_base || has_depth)) {
                Span at = where_.at("encoder", has_base ? "base" : "depth");
                rep_.error(at.pos, "cannot set encoder " + std::string(has_base ? "base" : "depth") +
                                       " together with encoder channels: give the levels either as a list or as "
                                       "base and depth",
                           at.length);
                return;
            }
            if (!has_list && !(has_base && has_depth)) {
                std::string missing = has_base ? "'depth = N' to go with 'base'"
                                      : has_depth ? "'base = N' to go with 'depth'"
                                                  : "'channels = [...]' or 'base = N, depth = N'";
                rep_.error(header.pos, "cannot read section 'encoder': it needs " + missing, header.length);
                return;
            }
        }
        if (where_.has("encoder", "channels")) spec_.encoder = encoder_list_;
        if (has_base && has_depth && where_.has("encoder", "base") && where_.has("encoder", "depth")) {
            int64_t deepest = int64_t(encoder_base_) << (encoder_depth_ - 1);
            if (deepest > kMaxChannels) {
                Span at = where_.at("encoder", "depth");
                rep_.error(at.pos,
                           "cannot set encoder depth to " + std::to_string(encoder_depth_) + " with base " +
                               std::to_string(encoder_base_) + ": the bottleneck would have " +
                               std::to_string(deepest) + " channels, more than " + std::to_string(kMaxChannels),
                           at.length);
                where_.values.erase("encoder.depth");
                return;
            }
            spec_.encoder.clear();
            for (int level = 0; level < encoder_depth_; ++level) spec_.encoder.push_back(encoder_base_ << level);
        }
        // Default decoder: mirror the encoder (level depth-2 first, down to level 0).
        if (!present_.count("decoder.channels") && spec_.encoder.size() >= 2)
            spec_.decoder.assign(spec_.encoder.rbegin() + 1, spec_.encoder.rend());
    }

    void finish_per_channel(const char *key, const PerChannel &given, double fallback, std::vector<double> &out) {
        int channels = where_.has("input", "channels") ? spec_.in_channels : 0;
        out.assign(size_t(channels), fallback);
        if (!given.given) return;
        if (given.single) {
            out.assign(size_t(channels), given.values[0]);
            return;
        }
        if (channels > 0 && given.values.size() != size_t(channels)) {
            rep_.error(given.span.pos,
                       "cannot use " + std::to_string(given.values.size()) + " values for input " + key + " with " +
                           std::to_string(channels) + " input channels: give one per channel, or a single number for all",
                       given.span.length);
            where_.values.erase(std::string("input.") + key);
            return;
        }
        if (channels > 0) out = given.values;
    }

    NetworkSpec &spec_;
    SpecLocations &where_;
    SpecReporter &rep_;
    std::string section_;
    std::set<std::string> present_;  // "section.key" written (accepted or not)
    bool syntax_errors_ = false;
    std::vector<int> encoder_list_;
    int encoder_base_ = 0, encoder_depth_ = 0;
    PerChannel mean_, std_;
};

}  // namespace

Span SpecLocations::at(const std::string &section, const std::string &key) const {
    auto value = values.find(section + "." + key);
    if (value != values.end()) return value->second;
    auto header = sections.find(section);
    if (header != sections.end()) return header->second;
    return {};
}

namespace {

const std::vector<SpecKeyInfo> &key_rows() {
    static const std::vector<SpecKeyInfo> infos = [] {
        std::vector<SpecKeyInfo> out;
        for (const Applier::Row &row : Applier::rows()) out.push_back(row.info);
        return out;
    }();
    return infos;
}

}  // namespace

const std::vector<SpecKeyInfo> &spec_keys() { return key_rows(); }

const std::vector<std::string> &spec_section_names() {
    static const std::vector<std::string> names = [] {
        std::vector<std::string> out;
        for (const SpecKeyInfo &row : key_rows())
            if (std::find(out.begin(), out.end(), row.section) == out.end()) out.push_back(row.section);
        return out;
    }();
    return names;
}

void apply_statements(const std::vector<Statement> &statements, NetworkSpec &spec, SpecLocations &where,
                      SpecReporter &reporter) {
    Applier(spec, where, reporter).run(statements);
}

}  // namespace unetgen
