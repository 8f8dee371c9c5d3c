// manifest_tie.cpp — a pipeline runs only with weights packed by the manifest it was built with
// (issue 13: a descriptor whose manifest was edited or swapped ran silently wrong). Loads the
// small build's descriptor as it is (segment must succeed) and with a manifest that parses but
// differs (segment must fail with the requirement's message).
//
// usage: manifest_tie BUILD_DIR
#include "cli/synthetic_weights.h"
#include "runtime/unetgen.h"

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace {

unetgen_status segment_with(const unetgen_network_desc *net, std::string &message) {
    std::vector<uint8_t> weights = unetgen::cli::synthetic_weights(net->manifest_json);
    unetgen_model *model = nullptr;
    unetgen_status s = unetgen_model_load_from_memory(net, weights.data(), weights.size(), &model);
    if (s != UNETGEN_OK) {
        message = unetgen_last_error();
        return s;
    }
    const int c = unetgen_model_in_channels(model), h = 64, w = 64;
    std::vector<float> in(size_t(c) * h * w, 0.5f);
    size_t count = 0;
    unetgen_output_count(model, 1, h, w, UNETGEN_OUTPUT_LOGITS, &count);
    std::vector<float> out(count);
    unetgen_segment_args a{};
    a.input_format = UNETGEN_INPUT_F32_NCHW;
    a.input = in.data();
    a.n = 1, a.channels = c, a.h = h, a.w = w;
    a.output_kind = UNETGEN_OUTPUT_LOGITS;
    a.output = out.data();
    a.output_capacity = count;
    s = unetgen_segment(model, &a);
    message = s == UNETGEN_OK ? "" : unetgen_last_error();
    unetgen_model_free(model);
    return s;
}

}  // namespace

int main(int argc, char **argv) {
    if (argc < 2) return std::fprintf(stderr, "usage: manifest_tie BUILD_DIR\n"), 2;
    unetgen_library *lib = nullptr;
    if (unetgen_library_open(argv[1], &lib) != UNETGEN_OK) return std::fprintf(stderr, "%s\n", unetgen_last_error()), 1;
    const unetgen_network_desc *net = unetgen_library_network(lib);
    std::string message;
    if (segment_with(net, message) != UNETGEN_OK) return std::fprintf(stderr, "FAIL: as built: %s\n", message.c_str()), 1;
    // The same manifest with one more field: still valid for the runtime, but not what was built.
    std::string edited = net->manifest_json;
    edited.insert(edited.find('{') + 1, "\"edited\": true, ");
    unetgen_network_desc swapped = *net;
    swapped.manifest_json = edited.c_str();
    const unetgen_status s = segment_with(&swapped, message);
    unetgen_library_close(lib);
    if (s == UNETGEN_OK) return std::printf("FAIL: a different manifest ran\n"), 1;
    if (message.find("packed by another manifest") == std::string::npos)
        return std::printf("FAIL: status %d without the manifest message: %s\n", int(s), message.c_str()), 1;
    std::printf("ok: as built it runs; with another manifest: %s\n", message.c_str());
    return 0;
}
