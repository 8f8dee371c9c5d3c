// safetensors.cpp — parse_safetensors(): check a safetensors image and index its tensors.
//
// Checks, in order: the 8-byte length fits, the header fits in the file, the header is a JSON
// object, each entry has a string dtype, an integer shape and two integer data_offsets, the
// offsets lie inside the data area, match dtype size x element count, and no two tensors overlap.
#include "runtime/safetensors.h"

#include "runtime/runtime_failure.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <limits>

namespace unetgen::rt {

using nlohmann::json;

int64_t TensorView::numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

size_t safetensors_dtype_size(const std::string &dtype) {
    if (dtype == "F64" || dtype == "I64" || dtype == "U64") return 8;
    if (dtype == "F32" || dtype == "I32" || dtype == "U32") return 4;
    if (dtype == "F16" || dtype == "BF16" || dtype == "I16" || dtype == "U16") return 2;
    if (dtype == "I8" || dtype == "U8" || dtype == "BOOL" || dtype == "F8_E4M3" || dtype == "F8_E5M2") return 1;
    return 0;
}

namespace {

[[noreturn]] void bad_file(const std::string &what, const std::string &rule) {
    fail(UNETGEN_ERR_BAD_WEIGHTS_FILE, "cannot read safetensors file " + what + ": " + rule);
}

// A non-negative integer that fits in int64 (JSON may hold floats, negatives, huge numbers).
bool as_count(const json &v, int64_t &out) {
    if (v.is_number_unsigned()) {
        uint64_t u = v.get<uint64_t>();
        if (u > uint64_t(std::numeric_limits<int64_t>::max())) return false;
        out = int64_t(u);
        return true;
    }
    if (v.is_number_integer()) {
        int64_t i = v.get<int64_t>();
        if (i < 0) return false;
        out = i;
        return true;
    }
    return false;
}

TensorView parse_entry(const std::string &name, const json &e, const uint8_t *data_area, uint64_t data_size,
                       const std::string &what) {
    const std::string where = "tensor " + name + ": ";
    if (!e.is_object()) bad_file(what, where + "its header entry is not an object");
    auto dt = e.find("dtype"), sh = e.find("shape"), off = e.find("data_offsets");
    if (dt == e.end() || !dt->is_string()) bad_file(what, where + "\"dtype\" is missing or not a string");
    if (sh == e.end() || !sh->is_array()) bad_file(what, where + "\"shape\" is missing or not an array");
    if (off == e.end() || !off->is_array() || off->size() != 2)
        bad_file(what, where + "\"data_offsets\" must be an array [begin, end]");

    TensorView t;
    t.dtype = dt->get<std::string>();
    if (sh->size() > 8) bad_file(what, where + "shape has " + std::to_string(sh->size()) + " dimensions (at most 8)");
    // Element count with overflow guard: any count beyond the file size is already wrong.
    const uint64_t cap = uint64_t(1) << 56;  // saturate: no file holds that many elements
    uint64_t numel = 1;
    for (const json &d : *sh) {
        int64_t v = 0;
        if (!as_count(d, v)) bad_file(what, where + "shape entries must be non-negative integers");
        t.shape.push_back(v);
        if (v != 0 && numel > cap / uint64_t(v)) numel = cap;
        else numel = std::min(numel * uint64_t(v), cap);
    }
    int64_t begin = 0, end = 0;
    if (!as_count((*off)[0], begin) || !as_count((*off)[1], end))
        bad_file(what, where + "data_offsets must be non-negative integers");
    if (begin > end)
        bad_file(what, where + "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                           "] end before they begin");
    if (uint64_t(end) > data_size)
        bad_file(what, where + "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                           "] run past the data (" + std::to_string(data_size) + " bytes; file truncated?)");
    size_t elem = safetensors_dtype_size(t.dtype);
    if (elem != 0) {
        uint64_t expect = numel >= cap ? cap : numel * elem;
        if (uint64_t(end - begin) != expect)
            bad_file(what, where + "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) + "] hold " +
                               std::to_string(end - begin) + " bytes, but " + t.dtype + " " +
                               shape_string(t.shape) + " needs " +
                               (numel >= cap ? std::string("more than the file holds")
                                                  : std::to_string(numel * elem)));
    }
    t.data = data_area + begin;
    t.bytes = size_t(end - begin);
    return t;
}

}  // namespace

SafetensorsFile parse_safetensors(const uint8_t *data, size_t size, const std::string &what) {
    if (data == nullptr && size != 0) bad_file(what, "no data");
    if (size < 8)
        bad_file(what, "it has " + std::to_string(size) + " bytes, fewer than the 8-byte header length");
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | data[i];
    if (header_len > size - 8)
        bad_file(what, "the header length " + std::to_string(header_len) + " runs past the end of the file (" +
                           std::to_string(size) + " bytes; truncated or not safetensors?)");
    const char *hb = reinterpret_cast<const char *>(data + 8);
    json header;
    try {
        header = json::parse(hb, hb + header_len);
    } catch (const json::exception &e) {
        bad_file(what, std::string("the header is not valid JSON (") + e.what() + ")");
    }
    if (!header.is_object()) bad_file(what, "the header is not a JSON object");

    SafetensorsFile file;
    const uint8_t *data_area = data + 8 + header_len;
    uint64_t data_size = size - 8 - header_len;
    std::vector<std::pair<size_t, std::string>> ranges;  // begin, name (to find overlaps)
    for (auto it = header.begin(); it != header.end(); ++it) {
        if (it.key() == "__metadata__") {
            if (!it->is_object()) bad_file(what, "\"__metadata__\" is not an object");
            for (auto m = it->begin(); m != it->end(); ++m)
                if (m->is_string()) file.metadata[m.key()] = m->get<std::string>();
            continue;
        }
        TensorView t = parse_entry(it.key(), *it, data_area, data_size, what);
        ranges.emplace_back(size_t(t.data - data_area), it.key());
        file.tensors.emplace(it.key(), std::move(t));
    }
    std::sort(ranges.begin(), ranges.end());
    for (size_t i = 1; i < ranges.size(); ++i) {
        const TensorView &prev = file.tensors.at(ranges[i - 1].second);
        size_t prev_end = ranges[i - 1].first + prev.bytes;
        if (prev.bytes != 0 && file.tensors.at(ranges[i].second).bytes != 0 && ranges[i].first < prev_end)
            bad_file(what, "tensors " + ranges[i - 1].second + " and " + ranges[i].second +
                               " overlap (data_offsets " + std::to_string(ranges[i - 1].first) + ".." +
                               std::to_string(prev_end) + " and " + std::to_string(ranges[i].first) + "..)");
    }
    return file;
}

namespace {

float half_to_float(uint16_t h) {
    uint32_t sign = uint32_t(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else {  // subnormal: renormalise
            int e = -1;
            do { ++e; man <<= 1; } while ((man & 0x400) == 0);
            bits = sign | uint32_t(127 - 15 - e) << 23 | (man & 0x3ff) << 13;
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | man << 13;
    } else {
        bits = sign | (exp + 127 - 15) << 23 | man << 13;
    }
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

}  // namespace

std::vector<float> tensor_to_float(const TensorView &t, const std::string &name, const std::string &what) {
    if (t.dtype != "F32" && t.dtype != "F64" && t.dtype != "F16" && t.dtype != "BF16")
        fail(UNETGEN_ERR_WEIGHTS_MISMATCH, "cannot load tensor " + name + " from " + what + ": its dtype " + t.dtype +
                                               " is not a float type (F32, F16, BF16 or F64)");
    // Known dtypes were checked against their byte range by parse_safetensors, so n is sane.
    size_t n = t.bytes / safetensors_dtype_size(t.dtype);
    std::vector<float> out(n);
    const uint8_t *p = t.data;
    if (t.dtype == "F32") {
        if (n) std::memcpy(out.data(), p, n * 4);  // safetensors is little-endian, as is every host we target
    } else if (t.dtype == "F64") {
        for (size_t i = 0; i < n; ++i) {
            double d;
            std::memcpy(&d, p + 8 * i, 8);
            out[i] = float(d);
        }
    } else if (t.dtype == "F16") {
        for (size_t i = 0; i < n; ++i) out[i] = half_to_float(uint16_t(p[2 * i] | p[2 * i + 1] << 8));
    } else {  // BF16: the upper half of a float32
        for (size_t i = 0; i < n; ++i) {
            uint32_t bits = uint32_t(p[2 * i] | p[2 * i + 1] << 8) << 16;
            std::memcpy(&out[i], &bits, 4);
        }
    }
    return out;
}

}  // namespace unetgen::rt
