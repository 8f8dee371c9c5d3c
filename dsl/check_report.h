// check_report.h — what `unetgen check` says about a network: per-layer costs, which input sizes it
// takes (and why not), a torchsummary-like table, the JSON report and a Graphviz drawing.
//
// Everything here is a pure function of a built Network and an input extent; the command line
// (cli/cmd_check.cpp) only chooses which to print. H and W share one SizeProgram (square kernels),
// so an H x W input is checked by evaluating the program once per axis.
#pragma once

#include "dsl/network_ir.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace unetgen {

// PyTorch parameters() of layer `i` (conv weight and bias, BN weight and bias; not BN running stats).
int64_t layer_params(const Network &net, int i);

// 2 x multiply-accumulates of layer `i`, given every SizeProgram node evaluated for H and for W.
// Conv and head: 2*Cout*Cin*k*k*Hout*Wout; transposed conv: 2*Cin*Cout*k*k*Hin*Win (each input pixel
// is scattered through the whole kernel, the usual count); pools, resizes and concats: 0.
double layer_flops(const Network &net, int i, const std::vector<int64_t> &h_sizes,
                   const std::vector<int64_t> &w_sizes);

// Short op names for JSON ("conv", "conv_transpose", ...) and a descriptive label for tables.
const char *layer_op_name(LayerOp op);
std::string layer_op_label(const Layer &layer);
const char *module_kind_name(ModuleKind kind);   // "Conv2d", "ConvTranspose2d", "BatchNorm2d"

// "H_out = <formula in H>" for the network's output extent (W_out is the same formula in W).
std::string output_size_formula(const Network &net);

// The square extent `check` uses when none is given: the smallest accepted extent >= 256 that pools
// evenly, else the smallest accepted extent >= 256, else the accepted extent nearest 256; nullopt if
// the network takes no extent within the search range.
std::optional<int64_t> default_check_extent(const Network &net);

// Empty when the network takes an input of extent `extent` along `axis` ("height", "width" or
// "" for a square input); otherwise "cannot <do what> <with what> at input <axis> N: <the rule>".
std::string size_rejection(const Network &net, int64_t extent, const std::string &axis = "");

// Empty when no max-pool drops a row or column for this input; otherwise a sentence naming the
// first pool that does and the nearest extents that pool evenly.
std::string odd_pooling_warning(const Network &net, int64_t h, int64_t w);

// The torchsummary-style table for a C x H x W input the network accepts, with totals and formula.
std::string layer_table(const Network &net, int64_t h, int64_t w);

// Four accepted extents for checking a PyTorch module against the network (tools/export_pytorch.py
// pairs them into two non-square inputs): the smallest ones whose every layer is at least 3 pixels
// wide, so that no upsampling mode, pool or crop degenerates into another on a 1- or 2-pixel map.
// Consecutive accepted extents, so odd ones come in wherever the network takes them. Fewer than
// four if the search range holds fewer.
std::vector<int64_t> verification_extents(const Network &net);

// The JSON report (see docs/architecture.md; tools/export_pytorch.py reads its `weights`).
nlohmann::json check_json(const Network &net, int64_t h, int64_t w);

// Graphviz text drawing the network as a U: encoder down the left, decoder up the right, skip
// edges across each level. Shapes are those of an H x W input.
std::string network_dot(const Network &net, int64_t h, int64_t w);

}  // namespace unetgen
