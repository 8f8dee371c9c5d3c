// c_enums.h — enum values from C callers, read as the integers they are.
//
// A C caller may store any int in an enum field or pass one as an enum argument; in C++ merely
// loading an enum object whose value is outside the enumeration's range is undefined behaviour
// (UBSan: -fsanitize=enum). The C API therefore copies the bits into an int, checks the range,
// and only then has an enum value (checked_enum), so no out-of-range enum is ever loaded.
#pragma once

#include "runtime/runtime_failure.h"

#include <cstring>
#include <string>

namespace unetgen::rt {

template <typename E>
int enum_bits(const E &e) {
    static_assert(sizeof(E) == sizeof(int), "the C API's enums are int-sized");
    int v = 0;
    std::memcpy(&v, &e, sizeof v);
    return v;
}

// `e` if its integer lies in [lo, hi]; else INVALID_ARGUMENT: ctx + "<field> <v> <rule>".
template <typename E>
E checked_enum(const E &e, int lo, int hi, const std::string &ctx, const std::string &field, const std::string &rule) {
    const int v = enum_bits(e);
    if (v < lo || v > hi) fail(UNETGEN_ERR_INVALID_ARGUMENT, ctx + field + " " + std::to_string(v) + " " + rule);
    return static_cast<E>(v);
}

}  // namespace unetgen::rt
