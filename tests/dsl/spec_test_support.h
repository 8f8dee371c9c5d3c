// spec_test_support.h — reading test files and parsing them the way `unetgen check` does.
#pragma once

#include "dsl/parse_spec.h"

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace unetgen::test {

// The whole file, bytes as they are; throws when it cannot be read (a broken test setup).
inline std::string read_test_file(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read test file " + path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

struct ParsedSpec {
    NetworkSpec spec;
    std::string rendered;  // every diagnostic as the user sees it
    int errors = 0;
};

// Parses `source` under the name `file` (the name the diagnostics show).
inline ParsedSpec parse_text(const std::string &file, const std::string &source) {
    DiagnosticSink sink(file, source);
    ParsedSpec out;
    out.spec = parse_spec(file, source, sink);
    out.rendered = sink.render();
    out.errors = sink.error_count();
    return out;
}

}  // namespace unetgen::test
