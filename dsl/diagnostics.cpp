// diagnostics.cpp — collecting and rendering diagnostics (see diagnostics.h).
#include "dsl/diagnostics.h"

#include "dsl/lexer.h"

#include <algorithm>
#include <map>
#include <ostream>
#include <sstream>
#include <string_view>

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

// The text of each 1-based line in `wanted` (sorted, unique), without its newline, found in one
// pass over the source: rendering stays linear however many diagnostics a large file has.
static std::map<int, std::string_view> source_lines(std::string_view source, const std::vector<int> &wanted) {
    std::map<int, std::string_view> lines;
    size_t start = 0;
    int line = 1;
    for (int target : wanted) {
        while (line < target) {
            size_t nl = source.find('\n', start);
            if (nl == std::string_view::npos) return lines;
            start = nl + 1;
            ++line;
        }
        size_t end = source.find('\n', start);
        std::string_view text = source.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
        if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
        lines[target] = text;
    }
    return lines;
}

// One line shown under a diagnostic and the caret line beneath it. Columns count characters as
// the lexer does (a UTF-8 sequence or an invalid byte is one); bytes that would garble a terminal
// (control characters, invalid UTF-8) show as '?'. Long lines show a window around the column.
static void render_excerpt(std::ostream &out, std::string_view text, int col, int length) {
    constexpr int kWidth = 200;
    int first = col - 1 > kWidth * 3 / 4 ? col - 1 - kWidth / 2 : 0;  // first column shown (0-based)
    std::string shown, pad;
    int unit = 0, caret_at = -1, shown_units = 0;
    size_t at = 0;
    bool more = false;
    for (; at < text.size(); ++unit) {
        size_t n = utf8_sequence_length(text, at);
        unsigned char c = static_cast<unsigned char>(text[at]);
        // C1 controls (U+0080..U+009F, bytes C2 80..C2 9F) act on terminals like C0 ones.
        bool c1_control = n == 2 && c == 0xC2 && static_cast<unsigned char>(text[at + 1]) < 0xA0;
        bool unprintable = n == 0 || (c < 0x20 && c != '\t') || c == 0x7F || c1_control;
        std::string piece = unprintable ? "?" : std::string(text.substr(at, n));
        at += n == 0 ? 1 : n;
        if (unit < first) continue;
        if (shown_units == kWidth) {
            more = true;
            break;
        }
        if (unit == col - 1) caret_at = shown_units;
        if (caret_at < 0) pad += piece == "\t" ? '\t' : ' ';
        shown += piece;
        ++shown_units;
    }
    if (caret_at < 0) {  // the column is past the end of the line (e.g. "expected a value, found end of line")
        caret_at = shown_units;
        if (!more) pad.append(size_t(std::max(0, col - 1 - unit)), ' ');
    }
    out << "  " << (first > 0 ? "..." : "") << shown << (more ? "..." : "") << '\n';
    out << "  " << (first > 0 ? "   " : "") << pad << '^';
    // Carets under the token, but not past what is shown.
    int room = std::max(0, shown_units - caret_at - 1);
    out << std::string(size_t(std::min(std::max(0, length - 1), room)), '~') << '\n';
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
    std::vector<int> wanted;
    for (const Diagnostic &d : diags_)
        if (d.pos.line > 0) wanted.push_back(d.pos.line);
    std::sort(wanted.begin(), wanted.end());
    wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
    std::map<int, std::string_view> lines = source_lines(source_, wanted);

    for (const Diagnostic &d : diags_) {
        out << file_;
        if (d.pos.line > 0) out << ':' << d.pos.line << ':' << d.pos.col;
        out << ": " << severity_name(d.severity) << ": " << d.message << '\n';
        if (d.pos.line <= 0) continue;
        auto line = lines.find(d.pos.line);
        render_excerpt(out, line == lines.end() ? std::string_view() : line->second, std::max(1, d.pos.col), d.length);
    }
}

std::string DiagnosticSink::render() const {
    std::ostringstream s;
    render(s);
    return s.str();
}

}  // namespace unetgen
