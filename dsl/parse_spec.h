// parse_spec.h — from .unet text to a validated NetworkSpec.
//
// Lexes, parses and validates in one go, reporting every problem to the sink (all errors at once,
// never a crash, bounded time and memory on any input). The spec is only meaningful when the
// sink holds no errors afterwards.
#pragma once

#include "dsl/diagnostics.h"
#include "dsl/lexer.h"
#include "dsl/network_spec.h"

#include <cstdint>
#include <map>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

namespace unetgen {

// Parses `source` (the contents of `file`). Returns the spec with defaults applied.
NetworkSpec parse_spec(const std::string &file, const std::string &source, DiagnosticSink &sink);

// Reads a spec file into `text` (binary-safe, at most 64 MiB). On failure returns false with
// `error` saying why ("cannot read spec 'x.unet': the file cannot be opened"); the caller then
// creates the DiagnosticSink with the text and calls parse_spec.
bool read_spec_source(const std::string &path, std::string &text, std::string &error);

// Reads and parses the spec at `path`, rendering every diagnostic (I/O problems, errors and
// warnings) to `diagnostics`. True when the spec has no errors and `spec` may be lowered.
bool load_spec_file(const std::string &path, NetworkSpec &spec, std::ostream &diagnostics);

}  // namespace unetgen

// ---- the pieces of parse_spec, for its own files and tests ---------------------------------
// parse_spec = parse_statements (parse_spec.cpp) -> apply_statements (spec_apply.cpp)
//            -> validate_spec (spec_validate.cpp). Other passes only need parse_spec above.

namespace unetgen {
namespace spec_syntax {

// One number inside a list.
struct ListItem {
    bool is_int = false;
    int64_t int_value = 0;
    double number_value = 0;
    SourcePos pos;
    int length = 1;
    std::string shown;              // as written, quoted for messages
};

// The right-hand side of `key = value`.
struct Value {
    enum class Kind { Int, Number, Ident, String, List } kind = Kind::Int;
    SourcePos pos;
    int length = 1;                 // columns of the value (a list: '[' to ']' when on one line)
    int64_t int_value = 0;          // Int
    double number_value = 0;        // Int, Number
    std::string text;               // Ident: the name; String: the contents without quotes
    std::string shown;              // as written, quoted and shortened for messages
    std::vector<ListItem> items;    // List
};

struct Setting {
    std::string key;
    SourcePos key_pos;
    int key_length = 1;
    Value value;
};

// `section key = value, ...` on one line (lists may continue on the next ones).
struct Statement {
    std::string section;
    SourcePos pos;
    int length = 1;
    std::vector<Setting> settings;  // only the settings that parsed
    // Keys whose value did not parse (already reported): they count as written, so that no
    // "missing key" error follows the syntax error.
    std::vector<std::string> broken_keys;
};

// Where a section or a value was written (line 0: nowhere, e.g. a default).
struct Span {
    SourcePos pos;
    int length = 1;
};

// Where the settings that made it into the NetworkSpec were written, for validate_spec.
struct SpecLocations {
    std::map<std::string, Span> sections;   // "encoder" -> its header
    std::map<std::string, Span> values;     // "encoder.channels" -> the value (set and accepted)
    bool has(const std::string &section, const std::string &key) const {
        return values.count(section + "." + key) > 0;
    }
    // The value's place, else its section's, else nowhere.
    Span at(const std::string &section, const std::string &key) const;
};

}  // namespace spec_syntax

// One key of the language, as docs/spec-language.md's tables state it (tests/dsl checks them).
struct SpecKeyInfo {
    const char *section;
    const char *key;
    const char *takes;     // the value's type ("integer 1..8", "`same` | `valid`")
    const char *fallback;  // the default ("2", "**required**", "—" when another key decides)
};

// Every key of the language, section by section in the order the docs list them.
const std::vector<SpecKeyInfo> &spec_keys();

// The section names of the language, in the order the docs list them.
const std::vector<std::string> &spec_section_names();

// Splits `source` into statements, reporting syntax errors (recovering at the next line).
std::vector<spec_syntax::Statement> parse_statements(std::string_view source, SpecReporter &reporter);

// Applies statements to `spec` (which holds the defaults): checks keys, value types and ranges,
// duplicates, required keys and sections (missing sections only when `reporter` holds no errors
// yet: a syntax error may have swallowed the section); fills the derived defaults (decoder channels, mean/std
// per channel, convs per block). Records in `where` what was set, and where.
void apply_statements(const std::vector<spec_syntax::Statement> &statements, NetworkSpec &spec,
                      spec_syntax::SpecLocations &where, SpecReporter &reporter);

// The rules that involve more than one setting (padding vs skip match, mode vs up keys, list
// lengths vs depth, half_in on odd channel counts, ...). Only looks at settings that were accepted.
void validate_spec(const NetworkSpec &spec, const spec_syntax::SpecLocations &where, SpecReporter &reporter);

// The candidate closest to `word` by edit distance (case-insensitive) if it is close enough to be a
// likely typo, else "". Cost O(|word| * |candidate|), and words longer than 64 characters are
// not compared at all, so a 10 MB identifier costs nothing.
std::string closest_word(std::string_view word, const std::vector<std::string> &candidates);

// "; did you mean 'x'?" or "" — the tail of an "unknown name" message.
std::string did_you_mean(std::string_view word, const std::vector<std::string> &candidates);

}  // namespace unetgen
