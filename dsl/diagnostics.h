// diagnostics.h — the one sink every front-end pass reports into.
//
// Passes never stop at the first problem: they report and keep going, and the driver refuses to
// lower a spec once `error_count() > 0`. Rendering follows the compilers users know:
//   file:line:col: error: message
//     source line
//          ^
#pragma once

#include "dsl/network_spec.h"

#include <iosfwd>
#include <string>
#include <vector>

namespace unetgen {

enum class Severity { Error, Warning, Note };

struct Diagnostic {
    Severity severity = Severity::Error;
    SourcePos pos;            // line 0: not tied to a line (e.g. "file is empty")
    int length = 1;           // carets under the offending token
    std::string message;
};

class DiagnosticSink {
public:
    DiagnosticSink(std::string file, std::string source);

    void error(SourcePos pos, std::string message, int length = 1);
    void warning(SourcePos pos, std::string message, int length = 1);
    void note(SourcePos pos, std::string message, int length = 1);

    int error_count() const;
    const std::vector<Diagnostic> &all() const { return diags_; }

    // Renders every diagnostic in source order of reporting, with the line and carets.
    void render(std::ostream &out) const;
    std::string render() const;

    const std::string &file() const { return file_; }
    const std::string &source() const { return source_; }

private:
    std::string file_;
    std::string source_;
    std::vector<Diagnostic> diags_;
};

}  // namespace unetgen
