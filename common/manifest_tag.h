// manifest_tag.h — manifest_tag(): the 32-bit FNV-1a hash of a manifest's text, shared by the
// compiler and the runtime.
//
// `unetgen build` compiles the tag of the manifest it writes into the pipeline as a requirement
// (Pipeline::add_requirement), and the runtime passes the tag of the manifest it packed the
// weights by: a descriptor whose manifest was edited or swapped for another build's fails with a
// clear error instead of running a pipeline on weights packed for a different network.
#pragma once

#include <cstdint>

namespace unetgen {

inline int32_t manifest_tag(const char *text) {
    uint32_t h = 2166136261u;
    for (const char *p = text; p && *p; ++p) h = (h ^ uint8_t(*p)) * 16777619u;
    return int32_t(h & 0x7fffffffu);  // non-negative: it prints and parses the same everywhere
}

}  // namespace unetgen
