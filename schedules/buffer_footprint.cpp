// buffer_footprint.cpp — tile_geometry_of(): the network's geometry with what this target's
// schedule stores, for the tile planner (common/tile_geometry.h) in the manifest and `check`.
//
// The rules here restate the schedules' storage decisions (which Funcs are compute_root, how many
// channels a pixel's storage holds, what is allocated per call), next to the helpers that make
// them, so a schedule change that moves memory is one file away from the model of it.
// tests/runtime checks the model against the pool allocator's measured peak.
#include "schedules/schedule.h"

#include <stdexcept>

namespace unetgen::schedules {

int stored_channels(int channels, const CpuTiles &t) {
    return channels * 4 >= t.pad_channel_bytes ? channels + 16 : channels;
}

TileGeometry tile_geometry_of(const Network &net, const codegen::LoweredNetwork &ln, const Halide::Target &target) {
    using G = GeometryLayer;
    const bool gpu = target.has_gpu_feature();
    const CpuTiles tiles = cpu_tiles_for(target);
    auto stored = [&](int channels) { return gpu ? channels : stored_channels(channels, tiles); };
    TileGeometry g;
    g.sizes = net.sizes;
    for (size_t li = 0; li < net.layers.size(); ++li) {
        const Layer &l = net.layers[li];
        G e;
        e.name = l.name;
        for (size_t k = 0; k < l.inputs.size() && k < 2; ++k) e.inputs[k] = l.inputs[k];
        e.kernel = std::max(1, l.dilation * (l.kernel - 1) + 1);  // the span a dilated kernel reads
        e.pad = l.pad;
        e.stride = std::max(1, l.stride);
        e.size = l.size;
        e.channels = l.out_channels;
        switch (l.op) {
        case LayerOp::Input: e.op = G::Op::Input; break;
        case LayerOp::Conv:
        case LayerOp::Head: {
            e.op = G::Op::Conv;
            const codegen::ConvStages &s = ln.convs.at(li);
            e.stored_channels = stored(l.out_channels);
            // GPU convs stage their input in shared memory, not in a buffer of their own.
            if (s.staged.defined() && !s.staged_inline && !gpu) e.staged_channels = stored(l.in_channels);
            for (int a = 0; a < 2; ++a) {
                e.round[a] = s.round[a];
                e.staged_round[a] = s.staged_round[a];
            }
            if (s.winograd.enabled) e.grid = s.winograd.m;
            e.task_rows = s.task_rows;
            e.task_bytes_per_column = s.task_bytes_per_column;
            if (s.winograd.enabled) {
                const int64_t t = int64_t(s.winograd.m + 2) * (s.winograd.m + 2);
                const int64_t o = (int64_t(l.out_channels) + 15) / 16 * 16;
                e.transient_bytes = t * o * l.in_channels * int64_t(sizeof(float));  // U, compute_root
            }
            e.macs_per_pixel = int64_t(l.in_channels) * l.out_channels * l.kernel * l.kernel;
            break;
        }
        case LayerOp::ConvTranspose:
            e.op = G::Op::ConvTranspose;
            e.stored_channels = stored(l.out_channels);
            // The phase form's zero-padded input copy: stored like the result (schedule_cpu_staged).
            if (ln.convs.at(li).phase_stride > 0 && !gpu)
                e.staged_channels = ln.convs.at(li).channels_innermost ? stored(l.in_channels) : l.in_channels;
            for (int a = 0; a < 2; ++a) {
                e.round[a] = ln.convs.at(li).round[a];
                e.staged_round[a] = ln.convs.at(li).staged_round[a];
            }
            e.macs_per_pixel = int64_t(l.in_channels) * l.out_channels * l.kernel * l.kernel / (e.stride * e.stride);
            break;
        case LayerOp::MaxPool:
        case LayerOp::AvgPool: e.op = G::Op::MaxPool; break;  // the same 2x2 window, as the tiler sees it
        case LayerOp::Upsample:
            e.op = G::Op::Upsample;
            e.bilinear = l.up_mode == UpMode::Bilinear;
            e.align_corners = l.align_corners;
            break;
        case LayerOp::Concat:
            e.op = G::Op::Concat;
            switch (l.skip_match) {
            case SkipMatch::Crop: e.match = G::Match::Crop; break;
            case SkipMatch::Pad: e.match = G::Match::Pad; break;
            case SkipMatch::Exact: e.match = G::Match::Exact; break;
            case SkipMatch::Replicate: e.match = G::Match::Replicate; break;
            }
            e.offset = l.offset;
            break;
        case LayerOp::Add:
        case LayerOp::Multiply:
            // Elementwise over two inputs of one extent: as the tiler sees it, an exact concat.
            e.op = G::Op::Concat;
            e.match = G::Match::Exact;
            break;
        case LayerOp::Count: throw std::logic_error("cannot describe layer " + l.name + ": LayerOp::Count is not an op");
        }
        g.layers.push_back(e);
    }
    // The output layer: the head conv, or the last decoder layer of a network without one (which the
    // pipeline's output stage reads, inlined when it is elementwise).
    if (g.layers.empty() || g.layers.back().channels != net.spec.classes)
        throw std::logic_error("cannot describe the buffers of " + net.spec.name + ": its last layer does not make the classes");
    return g;
}

}  // namespace unetgen::schedules
