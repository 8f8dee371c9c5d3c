// parse_spec.cpp — .unet text to statements, and the parse_spec() driver (see parse_spec.h).
//
// parse_statements() reads `SECTION key = value, key = value ...` lines with one token of
// lookahead. On a syntax error it reports once and drops the rest of the line (a list that
// spans lines is abandoned at the first name that starts a line), so every statement after it
// is still checked and one run shows all errors.
#include "dsl/parse_spec.h"

#include <algorithm>
#include <fstream>
#include <ostream>
#include <sstream>
#include <sys/stat.h>

namespace unetgen {

namespace {

using spec_syntax::ListItem;
using spec_syntax::Setting;
using spec_syntax::Statement;
using spec_syntax::Value;

// A value as a message shows it: numbers and "strings" as written, names in quotes.
std::string shown_in_message(const Token &token) {
    if (token.kind == TokenKind::Ident) return quote_for_message(token.text);
    std::string quoted = quote_for_message(token.text);
    return quoted.substr(1, quoted.size() - 2);
}

// A list longer than any channel count can be is an error; past it items are read, not stored.
constexpr size_t kMaxListItems = 65536;

class StatementParser {
public:
    StatementParser(std::string_view source, SpecReporter &reporter) : lexer_(source, reporter), rep_(reporter) {}

    std::vector<Statement> parse_file() {
        std::vector<Statement> statements;
        advance();
        while (!rep_.stopped() && cur_.kind != TokenKind::End) {
            if (cur_.kind == TokenKind::Newline) {
                advance();
                continue;
            }
            if (cur_.kind != TokenKind::Ident) {
                if (cur_.kind != TokenKind::Bad)
                    rep_.error(cur_.pos,
                               "cannot start a statement with " + describe_token(cur_) +
                                   ": a line starts with a section name such as 'input' or 'encoder'",
                               cur_.length);
                drop_line();
                continue;
            }
            const std::vector<std::string> &sections = spec_section_names();
            std::string name(cur_.text);
            if (std::find(sections.begin(), sections.end(), name) == sections.end()) {
                std::string hint = did_you_mean(name, sections);
                if (hint.empty()) hint = " (the sections are network, input, output, encoder, decoder, block, down, "
                                         "up, skip, pre and post)";
                rep_.error(cur_.pos,
                           "cannot read section " + quote_for_message(name) + ": there is no such section" + hint,
                           cur_.length);
                drop_line();
                continue;
            }
            Statement statement;
            statement.section = name;
            statement.pos = cur_.pos;
            statement.length = cur_.length;
            advance();
            parse_settings(statement);
            statements.push_back(std::move(statement));
        }
        return statements;
    }

private:
    void advance() { cur_ = lexer_.next(); }

    // Error recovery: forget the rest of this line; cur_ becomes its newline (or the end).
    void drop_line() {
        if (cur_.kind == TokenKind::Newline || cur_.kind == TokenKind::End) return;
        lexer_.skip_line();
        advance();
    }

    bool at_line_end() const { return cur_.kind == TokenKind::Newline || cur_.kind == TokenKind::End; }

    // Reports `message` at the current token unless the lexer already reported it (Bad), then
    // drops the line.
    void syntax_error(const std::string &message) {
        if (cur_.kind != TokenKind::Bad) rep_.error(cur_.pos, message, cur_.length);
        drop_line();
    }

    void parse_settings(Statement &statement) {
        const std::string &section = statement.section;
        bool after_comma = false;
        for (;;) {
            if (at_line_end()) {
                if (after_comma)
                    rep_.error(cur_.pos, "cannot read the settings of '" + section +
                                             "': a ',' must be followed by another key = value on the same line");
                return;
            }
            if (cur_.kind != TokenKind::Ident) {
                syntax_error("cannot read the settings of '" + section + "': expected a key name, found " +
                             describe_token(cur_));
                return;
            }
            Setting setting;
            setting.key = std::string(cur_.text);
            setting.key_pos = cur_.pos;
            setting.key_length = cur_.length;
            advance();
            std::string key = quote_for_message(setting.key, 40);
            std::string what = section + " " + key.substr(1, key.size() - 2);
            if (cur_.kind != TokenKind::Equals) {
                statement.broken_keys.push_back(setting.key);
                syntax_error("cannot set " + what + ": expected '=' after the key, found " + describe_token(cur_));
                return;
            }
            advance();
            ValueResult result = parse_value(setting.value, what);
            if (result != ValueResult::Ok) statement.broken_keys.push_back(setting.key);
            if (result == ValueResult::Abandon) return;
            if (result == ValueResult::Ok) statement.settings.push_back(std::move(setting));
            if (cur_.kind == TokenKind::Comma) {
                advance();
                after_comma = true;
                continue;
            }
            after_comma = false;
            if (at_line_end() || cur_.kind == TokenKind::Ident) continue;  // commas between pairs are optional
            syntax_error("cannot read the settings of '" + section + "': expected ',' or the end of the line after " +
                         what + ", found " + describe_token(cur_));
            return;
        }
    }

    // Ok: value read, cur_ is after it. Invalid: reported, but the statement can go on after it.
    // Abandon: reported; cur_ is at a line end or at a name that starts the next statement.
    enum class ValueResult { Ok, Invalid, Abandon };

    ValueResult parse_value(Value &value, const std::string &what) {
        value.pos = cur_.pos;
        value.length = cur_.length;
        switch (cur_.kind) {
        case TokenKind::Int:
        case TokenKind::Number:
        case TokenKind::Ident:
        case TokenKind::String:
            value.kind = cur_.kind == TokenKind::Int      ? Value::Kind::Int
                         : cur_.kind == TokenKind::Number ? Value::Kind::Number
                         : cur_.kind == TokenKind::Ident  ? Value::Kind::Ident
                                                          : Value::Kind::String;
            value.int_value = cur_.int_value;
            value.number_value = cur_.number_value;
            if (cur_.kind == TokenKind::String) value.text = std::string(cur_.text.substr(1, cur_.text.size() - 2));
            else if (cur_.kind == TokenKind::Ident) value.text = std::string(cur_.text);
            value.shown = shown_in_message(cur_);
            advance();
            return ValueResult::Ok;
        case TokenKind::LBracket: return parse_list(value, what);
        case TokenKind::Newline:
        case TokenKind::End:
            rep_.error(cur_.pos, "cannot set " + what + ": expected a value after '=', found " + describe_token(cur_));
            return ValueResult::Abandon;
        default:
            syntax_error("cannot set " + what + ": expected a value after '=', found " + describe_token(cur_));
            return ValueResult::Abandon;
        }
    }

    // A name at the start of a line inside a list: the list was never closed and this is the
    // next statement, which must not be swallowed.
    bool starts_next_statement(const Value &list) const {
        return cur_.kind == TokenKind::Ident && cur_.first_on_line && cur_.pos.line > list.pos.line;
    }

    ValueResult parse_list(Value &list, const std::string &what) {
        list.kind = Value::Kind::List;
        list.shown = "the list";
        advance();  // '['
        bool expect_item = true;
        bool broken = false;  // after an error: skip to ']' without further reports
        bool too_long = false;
        int nested = 0;  // '[' inside a broken list, so that "[[16]]" closes where it should
        for (;;) {
            if (cur_.kind == TokenKind::End || starts_next_statement(list)) {
                if (!broken)
                    rep_.error(list.pos, "cannot read the list of " + what + ": its '[' is never closed", 1);
                return ValueResult::Abandon;
            }
            if (cur_.kind == TokenKind::Newline) {
                advance();
                continue;
            }
            if (broken && cur_.kind == TokenKind::LBracket) ++nested;
            if (cur_.kind == TokenKind::RBracket && nested > 0) {
                --nested;
                advance();
                continue;
            }
            if (cur_.kind == TokenKind::RBracket) {
                if (cur_.pos.line == list.pos.line) list.length = cur_.pos.col + 1 - list.pos.col;
                advance();
                return broken ? ValueResult::Invalid : ValueResult::Ok;
            }
            if (broken) {
                advance();
                continue;
            }
            if (cur_.kind == TokenKind::Bad) {
                broken = true;
                advance();
                continue;
            }
            if (expect_item && (cur_.kind == TokenKind::Int || cur_.kind == TokenKind::Number)) {
                if (list.items.size() < kMaxListItems) {
                    ListItem item;
                    item.is_int = cur_.kind == TokenKind::Int;
                    item.int_value = cur_.int_value;
                    item.number_value = cur_.number_value;
                    item.pos = cur_.pos;
                    item.length = cur_.length;
                    item.shown = shown_in_message(cur_);
                    list.items.push_back(std::move(item));
                } else if (!too_long) {
                    too_long = true;
                    rep_.error(cur_.pos, "cannot read the list of " + what + ": it has more than " +
                                             std::to_string(kMaxListItems) + " entries");
                    broken = true;
                }
                expect_item = false;
                advance();
                continue;
            }
            if (!expect_item && cur_.kind == TokenKind::Comma) {
                expect_item = true;
                advance();
                continue;
            }
            std::string expected = expect_item ? (list.items.empty() ? "a number or ']'" : "a number")
                                               : "',' or ']'";
            rep_.error(cur_.pos,
                       "cannot read the list of " + what + ": expected " + expected + ", found " + describe_token(cur_),
                       cur_.length);
            broken = true;
            if (cur_.kind == TokenKind::LBracket) ++nested;
            advance();
        }
    }

    Lexer lexer_;
    SpecReporter &rep_;
    Token cur_;
};

// The default network name: the file's stem made into a C identifier, since the name also
// names the generated library and its functions ("my-net.unet" -> "my_net").
std::string default_network_name(const std::string &file) {
    size_t slash = file.find_last_of("/\\");
    std::string stem = slash == std::string::npos ? file : file.substr(slash + 1);
    size_t dot = stem.rfind('.');
    if (dot != std::string::npos && dot > 0) stem.resize(dot);
    for (char &c : stem)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) c = '_';
    if (stem.empty() || (stem[0] >= '0' && stem[0] <= '9')) stem.insert(0, "net_");
    return stem;
}

}  // namespace

std::vector<spec_syntax::Statement> parse_statements(std::string_view source, SpecReporter &reporter) {
    return StatementParser(source, reporter).parse_file();
}

NetworkSpec parse_spec(const std::string &file, const std::string &source, DiagnosticSink &sink) {
    NetworkSpec spec;
    spec.file = file;
    spec.name = default_network_name(file);
    SpecReporter reporter(sink);
    if (source.find_first_not_of(" \t\r\n") == std::string::npos) {
        reporter.error({}, std::string("cannot read spec: the file is ") + (source.empty() ? "empty" : "blank") +
                               "; a spec needs at least the sections input, output and encoder");
        return spec;
    }
    std::vector<spec_syntax::Statement> statements = parse_statements(source, reporter);
    if (reporter.stopped()) return spec;
    if (statements.empty() && reporter.errors() == 0) {
        reporter.error({}, "cannot read spec: the file has only comments; a spec needs at least the sections "
                           "input, output and encoder");
        return spec;
    }
    spec_syntax::SpecLocations where;
    apply_statements(statements, spec, where, reporter);
    if (!reporter.stopped()) validate_spec(spec, where, reporter);
    return spec;
}

bool read_spec_source(const std::string &path, std::string &text, std::string &error) {
    // A spec is a few lines; the bound keeps `unetgen check /dev/zero` from reading forever.
    constexpr std::streamsize kMaxBytes = 64 << 20;
    struct stat info;
    if (stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode)) {
        error = "cannot read spec '" + path + "': it is a directory";
        return false;
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        error = "cannot read spec '" + path + "': the file cannot be opened";
        return false;
    }
    text.clear();
    char buffer[1 << 16];
    while (in) {
        in.read(buffer, sizeof buffer);
        text.append(buffer, size_t(in.gcount()));
        if (std::streamsize(text.size()) > kMaxBytes) {
            error = "cannot read spec '" + path + "': it is larger than 64 MiB, and a spec is a few lines of text";
            text.clear();
            return false;
        }
    }
    if (in.bad()) {
        error = "cannot read spec '" + path + "': reading failed";
        return false;
    }
    return true;
}

bool load_spec_file(const std::string &path, NetworkSpec &spec, std::ostream &diagnostics) {
    std::string text, io_error;
    if (!read_spec_source(path, text, io_error)) {
        DiagnosticSink sink(path, "");
        sink.error({}, io_error);
        sink.render(diagnostics);
        return false;
    }
    DiagnosticSink sink(path, text);
    spec = parse_spec(path, text, sink);
    sink.render(diagnostics);  // errors and warnings alike
    return sink.error_count() == 0;
}

}  // namespace unetgen
