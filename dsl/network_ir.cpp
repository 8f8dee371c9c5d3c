// network_ir.cpp — whole-network costs of the layer IR (see network_ir.h).
//
// int64_t Network::param_count() const
//   What PyTorch's sum(p.numel() for p in model.parameters()) gives: every weight tensor but the
//   BatchNorm running statistics, which are buffers, not parameters.
// double Network::flops(h, w) const
//   The sum of layer_flops (check_report.h) over all layers for an h x w input.
#include "dsl/network_ir.h"

#include "dsl/check_report.h"

namespace unetgen {

static int64_t numel(const std::vector<int64_t> &shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

static bool is_parameter(const WeightTensor &w) {
    return w.role != WeightRole::BnMean && w.role != WeightRole::BnVar;
}

int64_t Network::param_count() const {
    int64_t total = 0;
    for (const WeightTensor &w : weights)
        if (is_parameter(w)) total += numel(w.shape);
    return total;
}

double Network::flops(int64_t h, int64_t w) const {
    const std::vector<int64_t> hs = sizes.evaluate(h), ws = sizes.evaluate(w);
    double total = 0;
    for (size_t i = 0; i < layers.size(); ++i) total += layer_flops(*this, int(i), hs, ws);
    return total;
}

int64_t layer_params(const Network &net, int i) {
    int64_t total = 0;
    for (const WeightTensor &w : net.weights)
        if (w.layer == i && is_parameter(w)) total += numel(w.shape);
    return total;
}

double layer_flops(const Network &net, int i, const std::vector<int64_t> &h_sizes,
                   const std::vector<int64_t> &w_sizes) {
    const Layer &l = net.layers[size_t(i)];
    const double kk = double(l.kernel) * l.kernel;
    const double macs_per_pixel = double(l.in_channels) * l.out_channels * kk;
    switch (l.op) {
    case LayerOp::Conv:
    case LayerOp::Head:
        return 2.0 * macs_per_pixel * double(h_sizes[size_t(l.size)]) * double(w_sizes[size_t(l.size)]);
    case LayerOp::ConvTranspose: {
        const int in = net.layers[size_t(l.inputs[0])].size;
        return 2.0 * macs_per_pixel * double(h_sizes[size_t(in)]) * double(w_sizes[size_t(in)]);
    }
    case LayerOp::Input:
    case LayerOp::MaxPool:
    case LayerOp::AvgPool:
    case LayerOp::Upsample:
    case LayerOp::Concat:
    case LayerOp::Add:
    case LayerOp::Multiply:
    case LayerOp::Count: return 0.0;
    }
    return 0.0;
}

}  // namespace unetgen
