// pack_weights.cpp — pack_weights(): check tensors against the manifest, fold BN, pack.
#include "runtime/pack_weights.h"

#include "runtime/runtime_failure.h"
#include "common/winograd.h"

#include <cmath>
#include <cstring>
#include <map>
#include <set>

namespace unetgen::rt {

namespace {

bool ends_with(const std::string &s, const std::string &tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

bool is_float_dtype(const std::string &d) { return d == "F32" || d == "F16" || d == "BF16" || d == "F64"; }

// Lists every mismatch between the file and the manifest; throws once with all of them.
void check_tensors(const Manifest &m, const SafetensorsFile &file, const std::string &what) {
    std::vector<std::string> problems;
    std::set<std::string> expected;
    for (const ManifestTensor &t : m.tensors) {
        expected.insert(t.name);
        auto it = file.tensors.find(t.name);
        if (it == file.tensors.end()) {
            problems.push_back("tensor " + t.name + " is missing (expected shape " + shape_string(t.shape) + ")");
            continue;
        }
        const TensorView &v = it->second;
        if (!is_float_dtype(v.dtype))
            problems.push_back("tensor " + t.name + ": expected dtype F32 (or F16, BF16, F64), file has " + v.dtype);
        else if (v.shape != t.shape)
            problems.push_back("tensor " + t.name + ": expected shape " + shape_string(t.shape) + ", file has " +
                               shape_string(v.shape));
    }
    for (const auto &[name, v] : file.tensors)
        if (!expected.count(name) && !ends_with(name, ".num_batches_tracked"))
            problems.push_back("tensor " + name + " " + shape_string(v.shape) + " is not in the spec of " + m.name);
    if (problems.empty()) return;

    std::string msg = "cannot load weights " + what + " into network " + m.name + ": ";
    if (problems.size() == 1) fail(UNETGEN_ERR_WEIGHTS_MISMATCH, msg + problems[0]);
    msg += std::to_string(problems.size()) + " problems:";
    const size_t shown = 20;
    for (size_t i = 0; i < problems.size() && i < shown; ++i) msg += "\n  " + problems[i];
    if (problems.size() > shown) msg += "\n  ... and " + std::to_string(problems.size() - shown) + " more";
    fail(UNETGEN_ERR_WEIGHTS_MISMATCH, msg);
}

struct TensorSource {
    const Manifest &m;
    const SafetensorsFile &file;
    const std::string &what;
    std::map<std::string, std::vector<int64_t>> manifest_shapes;

    // The float values of tensor `name`, whose shape the packing entry requires to be `shape`.
    std::vector<float> get(const PackingEntry &e, const std::string &name, const std::vector<int64_t> &shape) const {
        auto ms = manifest_shapes.find(name);
        if (ms == manifest_shapes.end())
            fail(UNETGEN_ERR_BAD_NETWORK, "cannot use the manifest of network " + m.name + ": packing entry " + e.layer +
                                              " uses tensor " + name + ", which its \"tensors\" list lacks");
        if (ms->second != shape)
            fail(UNETGEN_ERR_BAD_NETWORK, "cannot use the manifest of network " + m.name + ": packing entry " + e.layer +
                                              " needs " + name + " of shape " + shape_string(shape) +
                                              ", its \"tensors\" list says " + shape_string(ms->second));
        return tensor_to_float(file.tensors.at(name), name, what);  // present and shaped: checked before
    }
};

void pack_entry(const PackingEntry &e, const TensorSource &src, std::vector<float> &packed) {
    const int O = e.out_channels, I = e.in_channels, K = e.kernel;
    std::vector<int64_t> wshape = e.transposed ? std::vector<int64_t>{I, O, K, K} : std::vector<int64_t>{O, I, K, K};
    std::vector<float> w = src.get(e, e.weight, wshape);
    std::vector<float> b = e.bias.empty() ? std::vector<float>(size_t(O), 0.0f) : src.get(e, e.bias, {O});

    // Per output channel: weight multiplier, new bias, and (after_relu) scale and shift.
    std::vector<double> wmul(size_t(O), 1.0), bias(b.begin(), b.end()), scale, shift;
    if (e.sample_norm) {
        // Instance / group norm: statistics come from the image, so nothing folds; gamma and beta as they are.
        std::vector<float> gamma(size_t(O), 1.0f), beta(size_t(O), 0.0f);
        if (!e.bn.empty()) {
            gamma = src.get(e, e.bn + ".weight", {O});
            beta = src.get(e, e.bn + ".bias", {O});
        }
        scale.assign(gamma.begin(), gamma.end());
        shift.assign(beta.begin(), beta.end());
    } else if (!e.bn.empty()) {
        std::vector<float> gamma = src.get(e, e.bn + ".weight", {O}), beta = src.get(e, e.bn + ".bias", {O});
        std::vector<float> mean = src.get(e, e.bn + ".running_mean", {O}), var = src.get(e, e.bn + ".running_var", {O});
        for (int o = 0; o < O; ++o) {
            double denom = double(var[o]) + e.bn_eps;
            if (!(denom > 0))
                fail(UNETGEN_ERR_WEIGHTS_MISMATCH, "cannot fold BatchNorm " + e.bn + " from " + src.what + ": channel " +
                                                       std::to_string(o) + " has running_var " + std::to_string(var[o]) +
                                                       "; running_var + eps must be positive");
            double s = double(gamma[o]) / std::sqrt(denom);
            if (e.bn_after_relu) {
                scale.push_back(s);
                shift.push_back(double(beta[o]) - double(mean[o]) * s);
            } else {
                wmul[o] = s;
                bias[o] = (double(b[o]) - double(mean[o])) * s + double(beta[o]);
            }
        }
    }
    float *dst = packed.data();
    // bf16 bits at bf16 index k from weight_offset, two to a float slot (runtime/unetgen_bf16_gemm.h).
    auto put_bf16 = [&](int64_t k, float v) {
        const uint16_t b = bf16_bits(v);
        std::memcpy(reinterpret_cast<unsigned char *>(dst + e.weight_offset) + 2 * k, &b, sizeof b);
    };
    if (e.winograd) {
        // A Winograd conv reads U = G g G^T of every (BN-folded) kernel, transformed here once
        // (in double) rather than by the pipeline on every call.
        const WinogradMatrices wm = winograd_matrices(e.winograd);
        double g[9], u[36];
        for (int o = 0; o < O; ++o)
            for (int i = 0; i < I; ++i) {
                for (int k = 0; k < 9; ++k) g[k] = double(w[(size_t(o) * I + i) * 9 + size_t(k)]) * wmul[size_t(o)];
                winograd_transform_kernel(wm, g, u);
                if (e.winograd_bf16) {
                    for (int t = 0; t < wm.n * wm.n; ++t) put_bf16(winograd_bf16_index(O, I, o, i, t), float(u[t]));
                } else {
                    for (int t = 0; t < wm.n * wm.n; ++t)
                        dst[e.weight_offset + winograd_packed_index<int64_t>(O, I, o, i, t)] = float(u[t]);
                }
            }
    }
    if (e.transpose_bf16) {  // one GEMM's bf16 columns (kh, kw, o)
        for (int i = 0; i < I; ++i)
            for (int o = 0; o < O; ++o)
                for (int h = 0; h < 2; ++h)
                    for (int x = 0; x < 2; ++x)
                        put_bf16(transpose_bf16_index(O, I, o, i, h, x),
                                 float(double(w[((size_t(i) * O + o) * 2 + h) * 2 + x]) * wmul[size_t(o)]));
    }
    for (int o = 0; o < O && !e.winograd && !e.transpose_bf16; ++o)
        for (int i = 0; i < I; ++i)
            for (int h = 0; h < K; ++h)
                for (int x = 0; x < K; ++x) {
                    size_t src_index = e.transposed ? ((size_t(i) * O + o) * K + h) * K + x
                                                    : ((size_t(o) * I + i) * K + h) * K + x;
                    dst[e.weight_offset + packed_weight_index(e, o, i, h, x)] = float(double(w[src_index]) * wmul[o]);
                }
    for (int o = 0; o < O; ++o) dst[e.bias_offset + o] = float(bias[o]);
    if (!e.prelu.empty()) dst[e.act_offset] = src.get(e, e.prelu, {1})[0];  // PReLU's one learnt slope
    if (e.bn_after_relu || e.sample_norm)
        for (int o = 0; o < O; ++o) {
            dst[e.scale_offset + o] = float(scale[o]);
            dst[e.shift_offset + o] = float(shift[o]);
        }
}

}  // namespace

std::vector<float> pack_weights(const Manifest &m, const SafetensorsFile &file, const std::string &what) {
    check_tensors(m, file, what);
    TensorSource src{m, file, what, {}};
    for (const ManifestTensor &t : m.tensors) src.manifest_shapes[t.name] = t.shape;
    std::vector<float> packed(size_t(m.packed_floats), 0.0f);
    for (const PackingEntry &e : m.packing) pack_entry(e, src, packed);
    return packed;
}

}  // namespace unetgen::rt
