// manifest_tie.cpp — a pipeline runs only with weights packed by the manifest it was built with
// (issue 13: a descriptor whose manifest was edited or swapped ran silently wrong). Loads the
// small build's descriptor as it is (segment must succeed) and with a manifest that parses but
// differs (segment must fail with the requirement's message).
//
// usage: manifest_tie BUILD_DIR
#include "tests/codegen/library_test_support.h"

#include <cstdio>
#include <cstring>
#include <string>

namespace {

unetgen_status segment_with(const unetgen_network_desc *net, std::string &message) {
    unetgen_model *model = nullptr;
    unetgen_status s = load_synthetic(net, &model, message);
    if (s == UNETGEN_OK) s = segment_constant(model, 64, 64, 0.5f, UNETGEN_OUTPUT_LOGITS, message);
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
