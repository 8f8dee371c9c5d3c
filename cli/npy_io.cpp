// npy_io.cpp — the .npy format (version 1-3): magic, header length, a Python dict literal with
// descr / fortran_order / shape, then the raw data.
#include "cli/npy_io.h"

#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace unetgen::cli {

namespace {

[[noreturn]] void bad(const std::string &path, const std::string &rule) {
    throw std::runtime_error("cannot read " + path + ": " + rule);
}

// The text after `'key':` in the header dict, trimmed of spaces.
std::string field(const std::string &header, const std::string &key, const std::string &path) {
    size_t k = header.find("'" + key + "'");
    if (k == std::string::npos) bad(path, "the .npy header has no '" + key + "'");
    size_t colon = header.find(':', k);
    if (colon == std::string::npos) bad(path, "the .npy header is malformed near '" + key + "'");
    size_t b = header.find_first_not_of(' ', colon + 1);
    return b == std::string::npos ? "" : header.substr(b);
}

std::vector<int64_t> parse_shape(const std::string &text, const std::string &path) {
    if (text.empty() || text[0] != '(') bad(path, "the .npy shape is not a tuple");
    size_t close = text.find(')');
    if (close == std::string::npos) bad(path, "the .npy shape tuple is not closed");
    std::vector<int64_t> shape;
    std::string inner = text.substr(1, close - 1);
    size_t pos = 0;
    while (pos < inner.size()) {
        size_t comma = inner.find(',', pos);
        std::string item = inner.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
        item.erase(0, item.find_first_not_of(' '));
        item.erase(item.find_last_not_of(' ') + 1);
        if (!item.empty()) {
            if (item.size() > 12 || item.find_first_not_of("0123456789") != std::string::npos)
                bad(path, "the .npy shape holds '" + item + "', not a dimension");
            shape.push_back(std::stoll(item));
        }
        if (comma == std::string::npos) break;
        pos = comma + 1;
    }
    return shape;
}

void write(const std::string &path, const std::string &descr, const std::vector<int64_t> &shape, const void *data,
           size_t bytes) {
    std::string dims;  // Python tuple syntax: "(2, 3)", "(3,)", "()"
    for (size_t i = 0; i < shape.size(); ++i) dims += (i ? ", " : "") + std::to_string(shape[i]);
    if (shape.size() == 1) dims += ",";
    std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (" + dims + "), }";
    size_t total = 10 + header.size() + 1;
    header.append((64 - total % 64) % 64, ' ');
    header += '\n';
    std::ofstream out(path, std::ios::binary);
    if (!out) throw std::runtime_error("cannot write " + path + ": cannot open it for writing");
    const char magic[] = "\x93NUMPY\x01\x00";
    out.write(magic, 8);
    uint16_t len = uint16_t(header.size());
    const char len_bytes[2] = {char(len & 0xff), char(len >> 8)};
    out.write(len_bytes, 2);
    out << header;
    out.write(static_cast<const char *>(data), std::streamsize(bytes));
    if (!out) throw std::runtime_error("cannot write " + path + ": the write failed (disk full?)");
}

}  // namespace

NpyArray read_npy_f32(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) bad(path, "cannot open it");
    std::string blob((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (blob.size() < 10 || blob.compare(0, 6, "\x93NUMPY") != 0) bad(path, "it is not a .npy file (no \\x93NUMPY magic)");
    int major = uint8_t(blob[6]);
    size_t header_len = 0, start = 0;
    if (major == 1) {
        header_len = uint8_t(blob[8]) | size_t(uint8_t(blob[9])) << 8;
        start = 10;
    } else if (major == 2 || major == 3) {
        if (blob.size() < 12) bad(path, "the .npy header is truncated");
        for (int i = 3; i >= 0; --i) header_len = header_len << 8 | uint8_t(blob[size_t(8 + i)]);
        start = 12;
    } else {
        bad(path, ".npy version " + std::to_string(major) + " is not 1, 2 or 3");
    }
    if (header_len > blob.size() - start) bad(path, "the .npy header runs past the end of the file");
    std::string header = blob.substr(start, header_len);
    std::string descr = field(header, "descr", path);
    bool f8 = descr.rfind("'<f8'", 0) == 0;
    if (descr.rfind("'<f4'", 0) != 0 && !f8)
        bad(path, "its dtype is " + descr.substr(0, descr.find(',')) + "; float32 ('<f4') or float64 ('<f8') is needed");
    if (field(header, "fortran_order", path).rfind("False", 0) != 0)
        bad(path, "it is in Fortran order; save it C-contiguous (np.ascontiguousarray)");
    NpyArray a;
    a.shape = parse_shape(field(header, "shape", path), path);
    size_t n = 1;
    for (int64_t d : a.shape) {
        if (d != 0 && n > (size_t(1) << 40) / size_t(d)) bad(path, "its shape is too large");
        n *= size_t(d);
    }
    size_t elem = f8 ? 8 : 4, data_at = start + header_len;
    if (blob.size() - data_at != n * elem)
        bad(path, "it holds " + std::to_string(blob.size() - data_at) + " data bytes, its shape needs " +
                      std::to_string(n * elem));
    a.values.resize(n);
    for (size_t i = 0; i < n; ++i) {
        if (f8) {
            double d;
            std::memcpy(&d, blob.data() + data_at + 8 * i, 8);
            a.values[i] = float(d);
        } else {
            std::memcpy(&a.values[i], blob.data() + data_at + 4 * i, 4);
        }
    }
    return a;
}

void write_npy_f32(const std::string &path, const std::vector<int64_t> &shape, const float *values) {
    size_t n = 1;
    for (int64_t d : shape) n *= size_t(d);
    write(path, "<f4", shape, values, n * 4);
}

void write_npy_u8(const std::string &path, const std::vector<int64_t> &shape, const uint8_t *values) {
    size_t n = 1;
    for (int64_t d : shape) n *= size_t(d);
    write(path, "|u1", shape, values, n);
}

}  // namespace unetgen::cli
