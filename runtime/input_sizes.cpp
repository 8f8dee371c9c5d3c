// input_sizes.cpp — check_input_size(): size rules of a network in words, with suggestions.
#include "runtime/input_sizes.h"

#include "common/norm_extent.h"
#include "runtime/runtime_failure.h"

#include <algorithm>

namespace unetgen::rt {

int64_t output_extent(const Manifest &m, int64_t in) { return m.sizes.evaluate(in)[size_t(m.output_node)]; }

std::vector<int64_t> nearest_extents(const Manifest &m, int64_t in, int count) {
    std::vector<int64_t> near = m.sizes.nearest_accepted(std::max<int64_t>(in, 1), count);
    std::sort(near.begin(), near.end());
    return near;
}

namespace {

// The rule of constraint `c` as a formula in H, shortened when a deep network makes it unreadable.
std::string rule_text(const SizeProgram &p, const SizeConstraint &c) {
    auto f = [&](int node) {
        std::string s = p.to_string(node);
        return s.size() > 120 ? "size(node " + std::to_string(node) + ")" : s;
    };
    std::string rule;
    switch (c.kind) {
    case SizeConstraint::Kind::Positive: rule = f(c.a) + " >= 1"; break;
    case SizeConstraint::Kind::GreaterEqual: rule = f(c.a) + " >= " + f(c.b); break;
    case SizeConstraint::Kind::Equal: rule = f(c.a) + " == " + f(c.b); break;
    case SizeConstraint::Kind::Even: rule = f(c.a) + " is even"; break;
    }
    return c.what.empty() ? rule : rule + " (at " + c.what + ")";
}

}  // namespace

void check_input_size(const Manifest &m, int64_t h, int64_t w) {
    const std::string input = "a " + std::to_string(h) + "x" + std::to_string(w) + " input";
    const int64_t limit = int64_t(1) << 24;  // beyond any image; keeps the size arithmetic far from overflow
    for (int64_t v : {h, w})
        if (v < 1 || v > limit)
            fail(UNETGEN_ERR_BAD_SIZE, "cannot segment " + input + " with " + m.name +
                                           ": height and width must be between 1 and " + std::to_string(limit));
    std::string broken;
    int64_t bad_value = 0;
    for (int64_t v : {h, w}) {
        int c = m.sizes.first_violation(v);
        if (c == -3)
            fail(UNETGEN_ERR_BAD_SIZE, "cannot segment " + input + " with " + m.name + ": the network's size arithmetic "
                                       "overflows 64 bits at " + std::to_string(v) + " (its manifest is broken)");
        if (c >= 0) {
            broken = rule_text(m.sizes, m.sizes.constraints[size_t(c)]);
            bad_value = v;
            break;
        }
    }
    if (broken.empty()) {
        std::vector<int> nodes;
        std::vector<const PackingEntry *> layers;
        for (const PackingEntry &e : m.packing)
            if (e.sample_norm && e.size_node >= 0 && e.size_node < int(m.sizes.nodes.size())) {
                nodes.push_back(e.size_node);
                layers.push_back(&e);
            }
        const int k = single_pixel_norm(m.sizes, nodes, h, w);
        if (k >= 0)
            fail(UNETGEN_ERR_BAD_SIZE, "cannot segment " + input + " with " + m.name + ": the norm after " +
                                           layers[size_t(k)]->layer + " would normalise a single pixel (1x1); an "
                                           "instance / group norm needs more than one, as PyTorch does");
        return;
    }
    std::string msg = "cannot segment " + input + " with " + m.name + ": the network takes sizes H where " + broken +
                      ", and " + std::to_string(bad_value) + " breaks it";
    std::vector<int64_t> near = nearest_extents(m, bad_value, 3);
    if (!near.empty()) {
        msg += "; nearest: ";
        for (size_t i = 0; i < near.size(); ++i) msg += (i ? ", " : "") + std::to_string(near[i]);
    }
    fail(UNETGEN_ERR_BAD_SIZE, msg);
}

}  // namespace unetgen::rt
