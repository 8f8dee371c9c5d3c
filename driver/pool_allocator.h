// pool_allocator.h — the C source of a caching halide_malloc / halide_free for NAME.so.
#pragma once

#include <string>

namespace unetgen::driver {

// C source overriding the Halide runtime's (weak) halide_malloc / halide_free inside the shared
// library: freed intermediate buffers are kept and handed out again on the next call, so a
// steady stream of segment() calls stops page-faulting (and zeroing) fresh memory every call.
std::string pool_allocator_source();

}  // namespace unetgen::driver
