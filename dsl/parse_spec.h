// parse_spec.h — from .unet text to a validated NetworkSpec.
//
// Lexes, parses and validates in one go, reporting every problem to the sink (all errors at once,
// never a crash, bounded time and memory on any input). The spec is only meaningful when the
// sink holds no errors afterwards.
#pragma once

#include "dsl/diagnostics.h"
#include "dsl/network_spec.h"

#include <string>

namespace unetgen {

// Parses `source` (the contents of `file`). Returns the spec with defaults applied.
NetworkSpec parse_spec(const std::string &file, const std::string &source, DiagnosticSink &sink);

// Reads and parses a file. I/O problems are reported to `sink` as errors at line 0.
// The sink is created by the caller with the file's text (see read_spec_source).
bool read_spec_source(const std::string &path, std::string &text, std::string &error);

}  // namespace unetgen
