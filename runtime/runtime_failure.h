// runtime_failure.h — how the runtime's internals report a failure: an exception carrying the
// C API status, turned into (status, thread-local last error) at the C boundary (model_api.cpp).
#pragma once

#include "runtime/unetgen.h"

#include <stdexcept>
#include <string>

namespace unetgen::rt {

struct Failure : std::runtime_error {
    unetgen_status status;
    Failure(unetgen_status s, const std::string &message) : std::runtime_error(message), status(s) {}
};

[[noreturn]] inline void fail(unetgen_status status, const std::string &message) {
    throw Failure(status, message);
}

// Formats a shape as PyTorch prints it in messages: [64, 3, 3, 3].
template <typename Vec>
std::string shape_string(const Vec &shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

}  // namespace unetgen::rt
