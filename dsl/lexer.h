// lexer.h — splits .unet text into tokens, one at a time, in linear time.
//
// The language is line-oriented, so newlines are tokens; `# comments` and blanks are dropped.
// Columns count characters (one per UTF-8 code point, one per byte that is not valid UTF-8), the
// same unit DiagnosticSink::render uses to place the caret. Problems are reported through a
// SpecReporter, which stops the front end after a bounded number of errors so that binary
// garbage yields a screenful, not a million lines.
#pragma once

#include "dsl/diagnostics.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace unetgen {

// Reports into a DiagnosticSink, counting errors; after `limit` errors it adds a final note and
// refuses everything else (`stopped()` tells the parser to give up).
class SpecReporter {
public:
    explicit SpecReporter(DiagnosticSink &sink, int limit = 50) : sink_(sink), limit_(limit) {}

    void error(SourcePos pos, const std::string &message, int length = 1);
    void warning(SourcePos pos, const std::string &message, int length = 1);
    // Notes belong to the diagnostic just reported and are dropped with it once stopped.
    void note(SourcePos pos, const std::string &message, int length = 1);

    bool stopped() const { return stopped_; }
    int errors() const { return errors_; }

private:
    DiagnosticSink &sink_;
    int limit_;
    int errors_ = 0;
    bool stopped_ = false;
};

enum class TokenKind {
    Ident,      // [A-Za-z_][A-Za-z0-9_]*
    Int,        // [+-]?[0-9]+ that fits in int64
    Number,     // a decimal: 0.485, 1e-5, -2.5E+3
    String,     // "..." on one line, no escapes
    LBracket,   // [
    RBracket,   // ]
    Comma,      // ,
    Equals,     // =
    Newline,    // end of a line
    End,        // end of the file
    Bad,        // something already reported; the parser skips the rest of the line
};

struct Token {
    TokenKind kind = TokenKind::End;
    SourcePos pos;
    int length = 1;              // in columns, for the caret
    std::string_view text;       // the token's bytes in the source (strings: with quotes)
    int64_t int_value = 0;       // Int
    double number_value = 0;     // Int and Number
    bool first_on_line = false;  // nothing but blanks before it on its line
};

// What a token looks like in a message: 'text' shortened to a readable size, or a description
// such as "end of line" for the tokens without text.
std::string describe_token(const Token &token);

// Length in bytes of the valid UTF-8 sequence at text[at], or 0 when the bytes there are not one
// (overlong forms, surrogates and truncated sequences are not). Shared with the renderer, so that
// lexer columns and caret positions agree.
size_t utf8_sequence_length(std::string_view text, size_t at);

// Quotes `text` for a message, cutting it to `max_chars` bytes (on a UTF-8 boundary) with "...".
std::string quote_for_message(std::string_view text, size_t max_chars = 32);

class Lexer {
public:
    Lexer(std::string_view source, SpecReporter &reporter);

    // The next token; after End, End forever.
    Token next();
    // Drops the rest of the current line without reporting anything in it (error recovery).
    // The newline itself is still returned by the following next().
    void skip_line();

private:
    char peek(size_t ahead = 0) const;
    // Consumes one character (a valid UTF-8 sequence or a single byte), keeping line and column.
    void advance();
    size_t utf8_length(size_t at) const { return utf8_sequence_length(src_, at); }
    void skip_comment();
    Token lex_number(Token token);
    Token lex_string(Token token);
    Token lex_bad_character(Token token);

    std::string_view src_;
    SpecReporter &reporter_;
    size_t at_ = 0;
    int line_ = 1;
    int col_ = 1;
    bool line_has_token_ = false;
};

}  // namespace unetgen
