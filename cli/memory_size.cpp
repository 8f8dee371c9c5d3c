// memory_size.cpp — parse_memory_size() and format_bytes().
#include "cli/memory_size.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace unetgen::cli {

size_t parse_memory_size(const std::string &text, const std::string &option) {
    auto bad = [&](const std::string &rule) {
        throw std::runtime_error("cannot read " + option + " " + text + ": " + rule);
    };
    size_t used = 0;
    double value = 0;
    try {
        value = std::stod(text, &used);
    } catch (const std::exception &) {
        bad("it must be a number of bytes with an optional unit (e.g. 2GB, 1.5GiB, 800M)");
    }
    std::string unit = text.substr(used);
    std::transform(unit.begin(), unit.end(), unit.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    double scale = 0;
    const struct { const char *name; double scale; } units[] = {
        {"", 1}, {"b", 1},
        {"k", 1024.0}, {"kib", 1024.0}, {"kb", 1e3},
        {"m", 1048576.0}, {"mib", 1048576.0}, {"mb", 1e6},
        {"g", 1073741824.0}, {"gib", 1073741824.0}, {"gb", 1e9},
        {"t", 1099511627776.0}, {"tib", 1099511627776.0}, {"tb", 1e12},
    };
    for (const auto &u : units)
        if (unit == u.name) scale = u.scale;
    if (scale == 0) bad("unknown unit '" + text.substr(used) + "' (B, K, M, G, T, KiB .. TiB, KB .. TB)");
    const double bytes = value * scale;
    if (!(bytes >= 1) || !std::isfinite(bytes) || bytes > 1e18) bad("it must be at least 1 byte and finite");
    return size_t(bytes);
}

std::string format_bytes(double bytes) {
    char s[64];
    if (bytes >= 1073741824.0) std::snprintf(s, sizeof s, "%.2f GiB", bytes / 1073741824.0);
    else if (bytes >= 1048576.0) std::snprintf(s, sizeof s, "%.0f MiB", bytes / 1048576.0);
    else std::snprintf(s, sizeof s, "%.0f KiB", std::max(0.0, bytes) / 1024.0);
    return s;
}

}  // namespace unetgen::cli
