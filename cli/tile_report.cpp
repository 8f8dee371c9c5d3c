// tile_report.cpp — tile_report(): the geometry of a spec's pipeline and its tile plan.
#include "cli/tile_report.h"

#include "cli/memory_size.h"
#include "codegen/lowering.h"
#include "codegen/weight_plan.h"
#include "runtime/unetgen.h"
#include "schedules/schedule.h"

#include <fmt/format.h>

#include <thread>

namespace unetgen::cli {

TileReport tile_report(const Network &net, int64_t h, int64_t w, size_t budget, const std::string &target) {
    const Halide::Target t = target == "host" ? Halide::get_host_target() : Halide::Target(target);
    const codegen::WeightPlan weights = codegen::plan_weights(net, schedules::packing_policy_for({t}));
    codegen::LoweredNetwork ln = codegen::lower_network(net, weights, schedules::lowering_choices_for(t));
    schedules::apply_schedule(ln, t);
    const TileGeometry g = schedules::tile_geometry_of(net, ln, t);
    TileReport r;
    r.budget = budget ? budget : UNETGEN_DEFAULT_MEMORY_BUDGET;
    r.alignment = tile_alignment(g);
    const std::vector<int64_t> wx = net.sizes.evaluate(w), hy = net.sizes.evaluate(h);
    const int64_t out_w = wx[size_t(net.output().size)], out_h = hy[size_t(net.output().size)];
    const int64_t threads = std::max(1u, std::thread::hardware_concurrency());
    const Span centre{out_w / 2, out_w / 2 + 1};
    r.receptive_field = g.required(0, w, centre).front().size();
    r.whole_peak = g.cost(w, h, {0, out_w}, {0, out_h}, 1, threads).peak_bytes;
    TileIo io;
    io.input_bytes_per_pixel = int64_t(net.spec.in_channels) * 4;
    io.output_bytes_per_pixel = int64_t(net.spec.classes) * 4;
    r.plan = plan_tiles(g, w, h, {0, out_w}, {0, out_h}, 1, int64_t(r.budget), io, threads);
    for (const Layer &l : net.layers) r.whole_image_only = r.whole_image_only || norm_uses_sample_statistics(l.norm);
    r.patch_h = net.spec.patch_h;
    r.patch_w = net.spec.patch_w;
    r.patch_step = net.spec.patch_step;
    return r;
}

std::string tile_report_text(const TileReport &r) {
    const TilePlan &p = r.plan;
    if (r.whole_image_only) {
        std::string s = fmt::format("large images: whole images only, in one pass of {}: instance / group norms use "
                                    "each image's own statistics, so tiles would not be exact\n",
                                    format_bytes(double(r.whole_peak)));
        const bool one = p.fits && p.count() == 1;
        s += fmt::format("  within {}: {}\n", format_bytes(double(r.budget)),
                         one ? "fits" : "refused (give the run at least " + format_bytes(double(r.whole_peak)) + ")");
        return s + (r.patch_h > 0 ? fmt::format("  any size by sliding window (border = sliding): {}x{} patches, step {:g}\n",
                                                r.patch_h, r.patch_w, r.patch_step)
                                  : std::string("  any size by sliding window once the spec has its training patch "
                                                "(`input patch = [h, w]`, then border = sliding)\n"));
    }
    std::string s = fmt::format("large images: receptive field {} px, tiles aligned to {} px, whole image in one pass {}\n",
                                r.receptive_field, r.alignment, format_bytes(double(r.whole_peak)));
    if (!p.fits)
        return s + fmt::format("  within {}: no tiling fits; the least budget for this size is {}\n",
                               format_bytes(double(r.budget)), format_bytes(double(p.min_budget)));
    if (p.count() == 1)
        return s + fmt::format("  within {}: one pass, peak {}\n", format_bytes(double(r.budget)),
                               format_bytes(double(p.peak_bytes)));
    return s + fmt::format("  within {}: {} x {} tiles of {}x{} output px, halo {} px, {:.0f}% of the work "
                           "recomputed in overlaps, peak {}\n",
                           format_bytes(double(r.budget)), p.rows, p.cols, p.tile_h, p.tile_w, p.halo,
                           100 * std::max(0.0, p.macs / p.whole_macs - 1), format_bytes(double(p.peak_bytes)));
}

nlohmann::json tile_report_json(const TileReport &r) {
    const TilePlan &p = r.plan;
    nlohmann::ordered_json j = {{"receptive_field", r.receptive_field},
                                {"alignment", r.alignment},
                                {"whole_image_bytes", r.whole_peak},
                                {"budget", r.budget},
                                {"fits", p.fits},
                                {"whole_image_only", r.whole_image_only}};
    if (p.fits) {
        j["rows"] = p.rows;
        j["cols"] = p.cols;
        j["tile_h"] = p.tile_h;
        j["tile_w"] = p.tile_w;
        j["halo"] = p.halo;
        j["overlap"] = std::max(0.0, p.macs / p.whole_macs - 1);
        j["peak_bytes"] = p.peak_bytes;
    } else {
        j["min_budget"] = p.min_budget;
    }
    return j;
}

}  // namespace unetgen::cli
