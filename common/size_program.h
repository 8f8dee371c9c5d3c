// size_program.h — symbolic spatial sizes of a network, shared by the compiler and the runtime.
//
// Every spatial extent in a U-Net is a function of the input extent (H or W; kernels are square,
// so one program serves both axes). The compiler records each layer's extent as a node of a
// SizeProgram; the runtime (which must not link the compiler) evaluates the same program to
// check an input size and to suggest sizes the network can take. Header-only, no dependencies.
#pragma once

#include <climits>
#include <cstdint>
#include <string>
#include <vector>

namespace unetgen {

struct SizeNode {
    enum class Op { Input, AddConst, MulConst, FloorDivConst, Sub, Min };
    Op op = Op::Input;
    int a = -1;       // operand node index (all ops but Input)
    int b = -1;       // second operand (Sub, Min)
    int64_t k = 0;    // constant (AddConst, MulConst, FloorDivConst)
};

struct SizeConstraint {
    enum class Kind {
        Positive,     // node a >= 1
        GreaterEqual, // node a >= node b (skip at least as large as the upsampled tensor)
        Equal,        // node a == node b (exact skip merge)
        Even,         // node a even: not required, but an odd size makes a max-pool drop a row
    };
    Kind kind = Kind::Positive;
    int a = -1, b = -1;
    std::string what;  // the layer that imposes it, e.g. "enc2.pool" (for messages)
};

struct SizeProgram {
    std::vector<SizeNode> nodes;             // node 0 is always Input
    std::vector<SizeConstraint> constraints;

    SizeProgram() { nodes.push_back(SizeNode{}); }

    int input() const { return 0; }
    int add(SizeNode n) { nodes.push_back(n); return int(nodes.size()) - 1; }
    int add_const(int a, int64_t k) { return k == 0 ? a : add({SizeNode::Op::AddConst, a, -1, k}); }
    int mul_const(int a, int64_t k) { return add({SizeNode::Op::MulConst, a, -1, k}); }
    int floordiv_const(int a, int64_t k) { return add({SizeNode::Op::FloorDivConst, a, -1, k}); }
    int sub(int a, int b) { return add({SizeNode::Op::Sub, a, b, 0}); }

    // Values of every node for input extent `in`. Arithmetic is checked: a node that leaves
    // int64 saturates and sets *overflow (when given), so no signed overflow ever happens.
    std::vector<int64_t> evaluate(int64_t in, bool *overflow = nullptr) const {
        std::vector<int64_t> v(nodes.size(), 0);
        bool over = false;
        auto saturate = [&](bool failed, int64_t value, bool negative) {
            if (!failed) return value;
            over = true;
            return negative ? INT64_MIN : INT64_MAX;
        };
        for (size_t i = 0; i < nodes.size(); ++i) {
            const SizeNode &n = nodes[i];
            int64_t r = 0;
            switch (n.op) {
            case SizeNode::Op::Input: r = in; break;
            case SizeNode::Op::AddConst: {
                const bool f = __builtin_add_overflow(v[n.a], n.k, &r);
                r = saturate(f, r, n.k < 0);
                break;
            }
            case SizeNode::Op::MulConst: {
                const bool f = __builtin_mul_overflow(v[n.a], n.k, &r);
                r = saturate(f, r, (v[n.a] < 0) != (n.k < 0));
                break;
            }
            case SizeNode::Op::FloorDivConst: {
                const int64_t x = v[n.a];
                if (n.k == 0 || (x == INT64_MIN && n.k == -1)) {
                    r = saturate(true, 0, false);
                    break;
                }
                r = x / n.k;
                if ((x % n.k != 0) && ((x < 0) != (n.k < 0))) --r;  // floor, like PyTorch's pooling
                break;
            }
            case SizeNode::Op::Sub: {
                const bool f = __builtin_sub_overflow(v[n.a], v[n.b], &r);
                r = saturate(f, r, v[n.b] > 0);
                break;
            }
            case SizeNode::Op::Min: r = v[n.a] < v[n.b] ? v[n.a] : v[n.b]; break;
            }
            v[i] = r;
        }
        if (overflow) *overflow = over;
        return v;
    }

    // Index of the first hard constraint violated at input extent `in`, or -1 if it is accepted;
    // -2 for an extent below 1, -3 when the size arithmetic overflows at `in` (never accepted).
    // Even constraints are advisory and never reject.
    int first_violation(int64_t in) const {
        if (in < 1) return -2;
        bool overflow = false;
        std::vector<int64_t> v = evaluate(in, &overflow);
        if (overflow) return -3;
        for (size_t i = 0; i < constraints.size(); ++i) {
            const SizeConstraint &c = constraints[i];
            bool ok = true;
            switch (c.kind) {
            case SizeConstraint::Kind::Positive: ok = v[c.a] >= 1; break;
            case SizeConstraint::Kind::GreaterEqual: ok = v[c.a] >= v[c.b]; break;
            case SizeConstraint::Kind::Equal: ok = v[c.a] == v[c.b]; break;
            case SizeConstraint::Kind::Even: ok = true; break;
            }
            if (!ok) return int(i);
        }
        return -1;
    }

    bool accepts(int64_t in) const { return first_violation(in) == -1; }

    // True when `in` is accepted and no max-pool drops a row or column.
    bool pools_evenly(int64_t in) const {
        if (!accepts(in)) return false;
        std::vector<int64_t> v = evaluate(in);
        for (const SizeConstraint &c : constraints)
            if (c.kind == SizeConstraint::Kind::Even && (v[c.a] % 2) != 0) return false;
        return true;
    }

    // Up to `count` accepted extents nearest to `in` (ties: smaller first), searched within +-radius.
    template <typename Pred>
    std::vector<int64_t> nearest(int64_t in, int count, Pred ok, int64_t radius = 4096) const {
        std::vector<int64_t> out;
        for (int64_t d = 0; d <= radius && int(out.size()) < count; ++d) {
            if (in - d >= 1 && ok(in - d)) out.push_back(in - d);
            if (d != 0 && int(out.size()) < count && ok(in + d)) out.push_back(in + d);
        }
        return out;
    }
    std::vector<int64_t> nearest_accepted(int64_t in, int count = 4) const {
        return nearest(in, count, [this](int64_t s) { return accepts(s); });
    }
    std::vector<int64_t> nearest_even_pooling(int64_t in, int count = 4) const {
        return nearest(in, count, [this](int64_t s) { return pools_evenly(s); });
    }

    // Human-readable formula of node i in terms of "H" (or any variable name).
    std::string to_string(int i, const std::string &var = "H") const {
        const SizeNode &n = nodes[i];
        switch (n.op) {
        case SizeNode::Op::Input: return var;
        case SizeNode::Op::AddConst:
            return to_string(n.a, var) + (n.k < 0 ? " - " + std::to_string(-n.k) : " + " + std::to_string(n.k));
        case SizeNode::Op::MulConst: return std::to_string(n.k) + "*(" + to_string(n.a, var) + ")";
        case SizeNode::Op::FloorDivConst: return "floor((" + to_string(n.a, var) + ")/" + std::to_string(n.k) + ")";
        case SizeNode::Op::Sub: return "(" + to_string(n.a, var) + ") - (" + to_string(n.b, var) + ")";
        case SizeNode::Op::Min: return "min(" + to_string(n.a, var) + ", " + to_string(n.b, var) + ")";
        }
        return "?";
    }
};

}  // namespace unetgen
