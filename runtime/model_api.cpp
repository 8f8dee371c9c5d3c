// model_api.cpp — the C API of models: load (file or memory), free, queries, sizes, last error.
#include "runtime/input_sizes.h"
#include "runtime/c_enums.h"
#include "runtime/model.h"
#include "runtime/pack_weights.h"
#include "runtime/safetensors.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>

namespace unetgen::rt {

namespace {
thread_local std::string t_last_error;
}

void set_last_error(const std::string &message) { t_last_error = message; }

namespace {

void check_desc(const unetgen_network_desc *net) {
    if (net == nullptr) fail(UNETGEN_ERR_INVALID_ARGUMENT, "cannot load a model with no network: the descriptor is NULL");
    if (net->abi_version < UNETGEN_ABI_VERSION_MIN || net->abi_version > UNETGEN_ABI_VERSION)
        fail(UNETGEN_ERR_BAD_NETWORK, "cannot use network " + std::string(net->name ? net->name : "?") +
                                          ": it was generated for runtime ABI " + std::to_string(net->abi_version) +
                                          ", this runtime speaks ABI " + std::to_string(UNETGEN_ABI_VERSION_MIN) +
                                          " to " + std::to_string(UNETGEN_ABI_VERSION) + " (rebuild it with this unetgen)");
    if (net->pipeline == nullptr)
        fail(UNETGEN_ERR_BAD_NETWORK, "cannot use network " + std::string(net->name ? net->name : "?") +
                                          ": its descriptor has no pipeline function");
}

unetgen_model *load(const unetgen_network_desc *net, const uint8_t *data, size_t size, const std::string &what) {
    auto model = std::make_unique<unetgen_model>();
    model->desc = net;
    model->manifest = parse_manifest(net->manifest_json);
    SafetensorsFile file = parse_safetensors(data, size, what);
    model->packed = pack_weights(model->manifest, file, what);
    prepare_device(*model);
    return model.release();
}

std::vector<uint8_t> read_file(const std::string &path) {
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    if (!in) fail(UNETGEN_ERR_IO, "cannot open weights file " + path + ": " + std::strerror(errno));
    std::streamoff size = in.tellg();
    if (size < 0) fail(UNETGEN_ERR_IO, "cannot read weights file " + path + ": it is not a regular file");
    std::vector<uint8_t> bytes(static_cast<size_t>(size));
    in.seekg(0);
    if (size > 0 && !in.read(reinterpret_cast<char *>(bytes.data()), size))
        fail(UNETGEN_ERR_IO, "cannot read weights file " + path + ": read failed after " +
                                 std::to_string(in.gcount()) + " of " + std::to_string(size) + " bytes");
    return bytes;
}

const unetgen_model &need(const unetgen_model *m) {
    if (m == nullptr) fail(UNETGEN_ERR_INVALID_ARGUMENT, "cannot use a model: the model pointer is NULL");
    return *m;
}

}  // namespace
}  // namespace unetgen::rt

using namespace unetgen::rt;

extern "C" {

const char *unetgen_status_string(unetgen_status status) {
    switch (unetgen::rt::enum_bits(status)) {  // a C caller may pass any int (c_enums.h)
    case int(UNETGEN_OK): return "ok";
    case int(UNETGEN_ERR_INVALID_ARGUMENT): return "invalid argument";
    case int(UNETGEN_ERR_IO): return "i/o error";
    case int(UNETGEN_ERR_BAD_NETWORK): return "bad network";
    case int(UNETGEN_ERR_BAD_WEIGHTS_FILE): return "bad weights file";
    case int(UNETGEN_ERR_WEIGHTS_MISMATCH): return "weights do not match the spec";
    case int(UNETGEN_ERR_BAD_SIZE): return "input size not accepted";
    case int(UNETGEN_ERR_PIPELINE): return "pipeline failed";
    case int(UNETGEN_ERR_OUT_OF_MEMORY): return "out of memory";
    case int(UNETGEN_ERR_UNSUPPORTED): return "unsupported";
    case int(UNETGEN_ERR_NO_DEVICE): return "no GPU device";
    case int(UNETGEN_ERR_MEMORY_BUDGET): return "memory budget too small";
    case int(UNETGEN_ERR_CALLBACK): return "callback failed";
    }
    return "unknown status";
}

const char *unetgen_last_error(void) { return t_last_error.c_str(); }

unetgen_status unetgen_model_load(const unetgen_network_desc *net, const char *weights_path, unetgen_model **out) {
    return guarded([&] {
        if (out == nullptr) fail(UNETGEN_ERR_INVALID_ARGUMENT, "cannot load a model: the output pointer is NULL");
        *out = nullptr;
        if (weights_path == nullptr) fail(UNETGEN_ERR_INVALID_ARGUMENT, "cannot load a model: the weights path is NULL");
        check_desc(net);
        std::vector<uint8_t> bytes = read_file(weights_path);
        *out = load(net, bytes.data(), bytes.size(), weights_path);
    });
}

unetgen_status unetgen_model_load_from_memory(const unetgen_network_desc *net, const void *data, size_t size,
                                              unetgen_model **out) {
    return guarded([&] {
        if (out == nullptr) fail(UNETGEN_ERR_INVALID_ARGUMENT, "cannot load a model: the output pointer is NULL");
        *out = nullptr;
        if (data == nullptr && size != 0)
            fail(UNETGEN_ERR_INVALID_ARGUMENT, "cannot load a model from memory: the data pointer is NULL");
        check_desc(net);
        *out = load(net, static_cast<const uint8_t *>(data), size, "(in memory)");
    });
}

void unetgen_model_free(unetgen_model *model) { delete model; }

const char *unetgen_model_name(const unetgen_model *m) { return m ? m->manifest.name.c_str() : nullptr; }
int unetgen_model_in_channels(const unetgen_model *m) { return m ? m->manifest.in_channels : -1; }
int unetgen_model_classes(const unetgen_model *m) { return m ? m->manifest.classes : -1; }
const char *unetgen_model_activation(const unetgen_model *m) { return m ? m->manifest.activation.c_str() : nullptr; }
size_t unetgen_model_packed_floats(const unetgen_model *m) { return m ? m->packed.size() : 0; }
const char *unetgen_model_manifest(const unetgen_model *m) { return m ? m->desc->manifest_json : nullptr; }

unetgen_status unetgen_output_size(const unetgen_model *model, int h, int w, int *out_h, int *out_w) {
    return guarded([&] {
        const unetgen_model &m = need(model);
        if (out_h == nullptr || out_w == nullptr)
            fail(UNETGEN_ERR_INVALID_ARGUMENT, "cannot report an output size: out_h or out_w is NULL");
        check_input_size(m.manifest, h, w);
        *out_h = int(output_extent(m.manifest, h));
        *out_w = int(output_extent(m.manifest, w));
    });
}

int unetgen_nearest_sizes(const unetgen_model *model, int extent, int *sizes, int capacity) {
    if (model == nullptr || sizes == nullptr || capacity <= 0) return 0;
    std::vector<int64_t> near = nearest_extents(model->manifest, extent, capacity);
    for (size_t i = 0; i < near.size(); ++i) sizes[i] = int(near[i]);
    return int(near.size());
}

unetgen_status unetgen_set_num_threads(const unetgen_model *model, int n) {
    return guarded([&] {
        const unetgen_model &m = need(model);
        if (m.desc->set_num_threads == nullptr)
            fail(UNETGEN_ERR_UNSUPPORTED, "cannot set the thread count of network " + m.manifest.name +
                                              ": its library exports no set_num_threads hook");
        m.desc->set_num_threads(n <= 0 ? 0 : n);
        note_num_threads(*m.desc, n);
    });
}

}  // extern "C"
