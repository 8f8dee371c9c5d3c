// lexer.cpp — tokens of the .unet language (see lexer.h).
//
// Lexer::next() is the whole interface: it skips blanks and comments and returns one token.
// Every path consumes at least one byte or returns End, and nothing looks back, so a file of any
// size lexes in one linear pass. Numbers are checked here (overflow is an error, never UB), the
// bytes of the file too (NUL, invalid UTF-8, control characters).
#include "dsl/lexer.h"

#include <charconv>
#include <cstring>
#include <limits>

namespace unetgen {

// ---- SpecReporter ----------------------------------------------------------------------------

void SpecReporter::error(SourcePos pos, const std::string &message, int length) {
    if (stopped_) return;
    if (errors_ == limit_) {
        // The error past the limit is not shown; the note says why the output ends here.
        stopped_ = true;
        sink_.note({}, "too many errors: stopped after " + std::to_string(limit_));
        return;
    }
    ++errors_;
    sink_.error(pos, message, length);
}

void SpecReporter::warning(SourcePos pos, const std::string &message, int length) {
    if (!stopped_) sink_.warning(pos, message, length);
}

void SpecReporter::note(SourcePos pos, const std::string &message, int length) {
    if (!stopped_) sink_.note(pos, message, length);
}

// ---- helpers for messages ----------------------------------------------------------------------

std::string quote_for_message(std::string_view text, size_t max_chars) {
    if (text.size() <= max_chars) return "'" + std::string(text) + "'";
    size_t cut = max_chars;
    // Back up to the start of a UTF-8 sequence so the message stays valid text.
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    return "'" + std::string(text.substr(0, cut)) + "...'";
}

std::string describe_token(const Token &token) {
    switch (token.kind) {
    case TokenKind::Ident:
    case TokenKind::Int:
    case TokenKind::Number:
    case TokenKind::String: return quote_for_message(token.text);
    case TokenKind::LBracket: return "'['";
    case TokenKind::RBracket: return "']'";
    case TokenKind::Comma: return "','";
    case TokenKind::Equals: return "'='";
    case TokenKind::Newline: return "end of line";
    case TokenKind::End: return "end of file";
    case TokenKind::Bad: return "an unreadable character";
    }
    return "a token";
}

static std::string hex_byte(unsigned char byte) {
    static const char digits[] = "0123456789abcdef";
    return std::string("0x") + digits[byte >> 4] + digits[byte & 15];
}

static bool is_ident_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_ident_char(char c) { return is_ident_start(c) || is_digit(c); }

// ---- Lexer -------------------------------------------------------------------------------------

Lexer::Lexer(std::string_view source, SpecReporter &reporter) : src_(source), reporter_(reporter) {
    // A UTF-8 byte order mark (some Windows editors write one) is not part of the text.
    if (src_.substr(0, 3) == "\xEF\xBB\xBF") at_ = 3;
}

char Lexer::peek(size_t ahead) const { return at_ + ahead < src_.size() ? src_[at_ + ahead] : '\0'; }

size_t utf8_sequence_length(std::string_view text, size_t at) {
    auto byte = [&](size_t i) -> unsigned { return i < text.size() ? static_cast<unsigned char>(text[i]) : 0u; };
    unsigned b0 = byte(at);
    if (b0 < 0x80) return 1;
    size_t n;
    unsigned min_second = 0x80, max_second = 0xBF;  // overlong forms and surrogates are not UTF-8
    if (b0 >= 0xC2 && b0 <= 0xDF) n = 2;
    else if (b0 >= 0xE0 && b0 <= 0xEF) {
        n = 3;
        if (b0 == 0xE0) min_second = 0xA0;
        if (b0 == 0xED) max_second = 0x9F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        n = 4;
        if (b0 == 0xF0) min_second = 0x90;
        if (b0 == 0xF4) max_second = 0x8F;
    } else
        return 0;
    unsigned b1 = byte(at + 1);
    if (b1 < min_second || b1 > max_second) return 0;
    for (size_t i = 2; i < n; ++i)
        if ((byte(at + i) & 0xC0) != 0x80) return 0;
    return n;
}

void Lexer::advance() {
    if (at_ >= src_.size()) return;
    if (src_[at_] == '\n') {
        ++line_;
        col_ = 1;
        ++at_;
        line_has_token_ = false;
        return;
    }
    size_t n = utf8_length(at_);
    at_ += n == 0 ? 1 : n;  // an invalid byte is one column, as the renderer shows it ('?')
    ++col_;
}

void Lexer::skip_line() {
    size_t nl = src_.find('\n', at_);
    at_ = nl == std::string_view::npos ? src_.size() : nl;
}

void Lexer::skip_comment() {
    // Comments may hold any UTF-8 text, but not bytes that make the file something other than text.
    while (at_ < src_.size() && src_[at_] != '\n') {
        unsigned char c = static_cast<unsigned char>(src_[at_]);
        SourcePos pos{line_, col_};
        if (c == 0) {
            reporter_.error(pos, "cannot read comment: it holds a NUL byte, and a spec file is text");
            skip_line();
            return;
        }
        if (c >= 0x80 && utf8_length(at_) == 0) {
            reporter_.error(pos, "cannot read comment: byte " + hex_byte(c) + " is not valid UTF-8 text");
            skip_line();
            return;
        }
        advance();
    }
}

Token Lexer::next() {
    for (;;) {
        if (reporter_.stopped()) at_ = src_.size();
        char c = peek();
        if (at_ < src_.size() && (c == ' ' || c == '\t' || c == '\r')) {
            advance();
            continue;
        }
        if (c == '#') {
            skip_comment();
            continue;
        }
        break;
    }

    Token token;
    token.pos = {line_, col_};
    token.first_on_line = !line_has_token_;
    line_has_token_ = true;
    size_t start = at_;
    if (at_ >= src_.size()) {
        token.kind = TokenKind::End;
        return token;
    }
    char c = peek();
    auto single = [&](TokenKind kind) {
        advance();
        token.kind = kind;
        token.text = src_.substr(start, 1);
        return token;
    };
    switch (c) {
    case '\n': return single(TokenKind::Newline);
    case '[': return single(TokenKind::LBracket);
    case ']': return single(TokenKind::RBracket);
    case ',': return single(TokenKind::Comma);
    case '=': return single(TokenKind::Equals);
    case '"': return lex_string(token);
    default: break;
    }
    if (is_ident_start(c)) {
        while (at_ < src_.size() && is_ident_char(src_[at_])) ++at_;
        token.kind = TokenKind::Ident;
        token.text = src_.substr(start, at_ - start);
        token.length = int(std::min<size_t>(at_ - start, std::numeric_limits<int>::max()));
        col_ += token.length;
        return token;
    }
    bool sign = c == '+' || c == '-';
    char after_sign = peek(sign ? 1 : 0);
    if (is_digit(after_sign) || (after_sign == '.' && is_digit(peek(sign ? 2 : 1)))) return lex_number(token);
    return lex_bad_character(token);
}

// Numbers: [+-]? digits ('.' digits)? ([eE] [+-]? digits)?, also ".5" and "5.". The lexer first
// takes the longest run of characters a number could touch (so "12abc" is one bad number, not a
// number and a name), then checks it against that grammar.
Token Lexer::lex_number(Token token) {
    size_t start = at_;
    if (peek() == '+' || peek() == '-') ++at_;
    while (at_ < src_.size()) {
        char c = src_[at_];
        bool exponent_sign = (c == '+' || c == '-') && (src_[at_ - 1] == 'e' || src_[at_ - 1] == 'E');
        if (!is_ident_char(c) && c != '.' && !exponent_sign) break;
        ++at_;
    }
    std::string_view text = src_.substr(start, at_ - start);
    token.text = text;
    token.length = int(std::min<size_t>(text.size(), std::numeric_limits<int>::max()));
    col_ += token.length;

    size_t i = 0;
    bool negative = false;
    if (text[i] == '+' || text[i] == '-') negative = text[i++] == '-';
    size_t int_begin = i;
    while (i < text.size() && is_digit(text[i])) ++i;
    size_t int_end = i;
    bool has_fraction = false, has_exponent = false, well_formed = true;
    size_t mantissa_digits = int_end - int_begin;
    if (i < text.size() && text[i] == '.') {
        has_fraction = true;
        size_t f = ++i;
        while (i < text.size() && is_digit(text[i])) ++i;
        mantissa_digits += i - f;
    }
    if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
        has_exponent = true;
        ++i;
        if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
        size_t e = i;
        while (i < text.size() && is_digit(text[i])) ++i;
        if (i == e) well_formed = false;
    }
    if (i != text.size() || mantissa_digits == 0) well_formed = false;

    if (!well_formed) {
        reporter_.error(token.pos,
                        "cannot read number " + quote_for_message(text) +
                            ": a number is digits with an optional fraction and exponent, such as 64, 0.5 or 1e-5",
                        token.length);
        token.kind = TokenKind::Bad;
        return token;
    }
    if (!has_fraction && !has_exponent) {
        // Accumulate with an explicit bound: an overlong literal is the user's mistake, not UB.
        const uint64_t limit = uint64_t(std::numeric_limits<int64_t>::max());
        uint64_t value = 0;
        for (size_t d = int_begin; d < int_end; ++d) {
            unsigned digit = unsigned(text[d] - '0');
            if (value > (limit - digit) / 10) {
                reporter_.error(token.pos,
                                "cannot read integer " + quote_for_message(text) + ": it is beyond the 64-bit range",
                                token.length);
                token.kind = TokenKind::Bad;
                return token;
            }
            value = value * 10 + digit;
        }
        token.kind = TokenKind::Int;
        token.int_value = negative ? -int64_t(value) : int64_t(value);
        token.number_value = double(token.int_value);
        return token;
    }
    // Decimals: no settings need more than a handful of digits, and a bound keeps parsing linear.
    if (text.size() > 64) {
        reporter_.error(token.pos,
                        "cannot read number " + quote_for_message(text) + ": it is longer than 64 characters",
                        token.length);
        token.kind = TokenKind::Bad;
        return token;
    }
    std::string digits(text.substr(text[0] == '+' ? 1 : 0));
    if (digits.back() == '.') digits.pop_back();  // "5." reads as 5
    if (digits[0] == '.' || (digits[0] == '-' && digits[1] == '.')) digits.insert(digits[0] == '-' ? 1 : 0, "0");
    double value = 0;
    auto result = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (result.ec == std::errc::result_out_of_range) {
        reporter_.error(token.pos,
                        "cannot read number " + quote_for_message(text) + ": it is beyond the range of a double",
                        token.length);
        token.kind = TokenKind::Bad;
        return token;
    }
    if (result.ec != std::errc() || result.ptr != digits.data() + digits.size()) {
        reporter_.error(token.pos, "cannot read number " + quote_for_message(text) + ": it is not a decimal number",
                        token.length);
        token.kind = TokenKind::Bad;
        return token;
    }
    token.kind = TokenKind::Number;
    token.number_value = value;
    return token;
}

// Strings: "..." on one line, any UTF-8 text but '"' inside; there are no escapes because no
// setting needs them (names are identifiers anyway).
Token Lexer::lex_string(Token token) {
    size_t start = at_;
    int start_col = col_;
    advance();  // the opening quote
    while (at_ < src_.size() && src_[at_] != '"' && src_[at_] != '\n') {
        unsigned char c = static_cast<unsigned char>(src_[at_]);
        SourcePos pos{line_, col_};
        std::string problem;
        if (c < 0x20 && c != '\t') problem = "it holds control character " + hex_byte(c);
        else if (c >= 0x80 && utf8_length(at_) == 0) problem = "byte " + hex_byte(c) + " is not valid UTF-8 text";
        if (!problem.empty()) {
            reporter_.error(pos, "cannot read string: " + problem);
            token.kind = TokenKind::Bad;
            return token;
        }
        advance();
    }
    if (at_ >= src_.size() || src_[at_] != '"') {
        reporter_.error(token.pos, "cannot read string: the closing '\"' is missing on its line");
        token.kind = TokenKind::Bad;
        return token;
    }
    advance();  // the closing quote
    token.kind = TokenKind::String;
    token.text = src_.substr(start, at_ - start);
    token.length = col_ - start_col;
    return token;
}

Token Lexer::lex_bad_character(Token token) {
    unsigned char c = static_cast<unsigned char>(peek());
    size_t n = utf8_length(at_);
    std::string message;
    if (c == 0) message = "cannot read byte 0x00: a spec file is text and holds no NUL bytes";
    else if (c >= 0x80 && n == 0) message = "cannot read byte " + hex_byte(c) + ": the file is not valid UTF-8 text";
    else if (c < 0x20 || c == 0x7F) message = "cannot read control character " + hex_byte(c) + ": a spec file is plain text";
    else if (c >= 0x80)
        message = "cannot read character '" + std::string(src_.substr(at_, n)) +
                  "': outside comments and strings a spec is ASCII";
    else if (c == ':')
        message = "cannot read character ':': settings are written key = value";
    else
        message = "cannot read character '" + std::string(1, char(c)) +
                  "': expected a name, a number, a \"string\", '=', ',', '[' or ']'";
    reporter_.error(token.pos, message);
    token.kind = TokenKind::Bad;
    token.text = src_.substr(at_, n == 0 ? 1 : n);
    advance();
    return token;
}

}  // namespace unetgen
