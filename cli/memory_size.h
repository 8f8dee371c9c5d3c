// memory_size.h — parse_memory_size() / format_bytes(): "2GB", "1.5GiB", "800M" <-> bytes.
#pragma once

#include <cstddef>
#include <string>

namespace unetgen::cli {

// A byte count: a number with an optional unit, B, K / KiB, M / MiB, G / GiB, T / TiB (powers of
// 1024) or KB, MB, GB, TB (powers of 1000); case does not matter. Throws std::runtime_error
// ("cannot read --memory X: ...") for anything else or for zero.
size_t parse_memory_size(const std::string &text, const std::string &option = "--memory");

// "1.50 GiB", "300 MiB", "12 KiB".
std::string format_bytes(double bytes);

}  // namespace unetgen::cli
