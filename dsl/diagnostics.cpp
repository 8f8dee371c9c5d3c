// diagnostics.cpp — collecting and rendering diagnostics (see diagnostics.h).
#include "dsl/diagnostics.h"

#include <algorithm>
#include <ostream>
#include <sstream>

namespace unetgen {

DiagnosticSink::DiagnosticSink(std::string file, std::string source)
    : file_(std::move(file)), source_(std::move(source)) {}

void DiagnosticSink::error(SourcePos pos, std::string message, int length) {
    diags_.push_back({Severity::Error, pos, length, std::move(message)});
}
void DiagnosticSink::warning(SourcePos pos, std::string message, int length) {
    diags_.push_back({Severity::Warning, pos, length, std::move(message)});
}
void DiagnosticSink::note(SourcePos pos, std::string message, int length) {
    diags_.push_back({Severity::Note, pos, length, std::move(message)});
}

int DiagnosticSink::error_count() const {
    return int(std::count_if(diags_.begin(), diags_.end(),
                             [](const Diagnostic &d) { return d.severity == Severity::Error; }));
}

// The text of 1-based line `line`, without its newline; empty if out of range.
static std::string source_line(const std::string &source, int line) {
    size_t start = 0;
    for (int l = 1; l < line; ++l) {
        size_t nl = source.find('\n', start);
        if (nl == std::string::npos) return {};
        start = nl + 1;
    }
    size_t end = source.find('\n', start);
    std::string text = source.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (!text.empty() && text.back() == '\r') text.pop_back();
    return text;
}

static const char *severity_name(Severity s) {
    switch (s) {
    case Severity::Error: return "error";
    case Severity::Warning: return "warning";
    case Severity::Note: return "note";
    }
    return "error";
}

void DiagnosticSink::render(std::ostream &out) const {
    for (const Diagnostic &d : diags_) {
        out << file_;
        if (d.pos.line > 0) out << ':' << d.pos.line << ':' << d.pos.col;
        out << ": " << severity_name(d.severity) << ": " << d.message << '\n';
        if (d.pos.line <= 0) continue;
        std::string text = source_line(source_, d.pos.line);
        // Non-printable bytes would garble the terminal; show them as '?' (same width, so the caret lines up).
        for (char &c : text)
            if ((unsigned char)c < 0x20 && c != '\t') c = '?';
        if (text.size() > 200) text = text.substr(0, 200) + "...";
        out << "  " << text << '\n' << "  ";
        int col = std::max(1, d.pos.col);
        for (int i = 1; i < col && i - 1 < int(text.size()); ++i) out << (text[i - 1] == '\t' ? '\t' : ' ');
        out << '^';
        for (int i = 1; i < d.length; ++i) out << '~';
        out << '\n';
    }
}

std::string DiagnosticSink::render() const {
    std::ostringstream s;
    render(s);
    return s.str();
}

}  // namespace unetgen
