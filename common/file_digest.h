// file_digest.h — file_digest(): the size and 64-bit FNV-1a hash of a file, shared by the
// compiler (which records them for NAME.so in build.json) and the runtime (which checks them
// before dlopen, so a truncated, replaced or foreign library is named, not loaded).
//
// FNV-1a is not a cryptographic hash: the generated library is trusted code (docs/security.md),
// and this guards against accidents (a partial copy, a file from another build), not attackers.
#pragma once

#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <string>

namespace unetgen {

struct FileDigest {
    bool ok = false;     // false: the file could not be read
    uint64_t bytes = 0;
    uint64_t fnv1a64 = 0;

    // 16 lower-case hex digits, as build.json spells the hash.
    std::string hex() const {
        char buf[17];
        std::snprintf(buf, sizeof buf, "%016" PRIx64, fnv1a64);
        return buf;
    }
};

inline FileDigest file_digest(const std::string &path) {
    FileDigest d;
    std::FILE *f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) return d;
    uint64_t h = 14695981039346656037ull;
    unsigned char buf[1 << 16];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
        for (size_t i = 0; i < n; ++i) h = (h ^ buf[i]) * 1099511628211ull;
        d.bytes += n;
    }
    d.ok = !std::ferror(f);
    std::fclose(f);
    d.fnv1a64 = h;
    return d;
}

}  // namespace unetgen
