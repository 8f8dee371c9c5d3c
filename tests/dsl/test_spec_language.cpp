// test_spec_language.cpp — language details the examples do not show: defaults, value forms,
// lexer columns, the error limit, the renderer's window on long lines, reading files.
#include "spec_test_support.h"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

using namespace unetgen;
using unetgen::test::parse_text;

namespace {

const std::string kMinimal = "input channels = 3\noutput classes = 2\nencoder channels = [16, 32, 64]\n";

NetworkSpec parse_clean(const std::string &file, const std::string &source) {
    auto parsed = parse_text(file, source);
    INFO(parsed.rendered);
    REQUIRE(parsed.rendered.empty());
    return parsed.spec;
}

}  // namespace

TEST_CASE("a minimal spec gets every default", "[dsl][language]") {
    NetworkSpec s = parse_clean("specs/my-net.v2.unet", kMinimal);
    CHECK(s.name == "my_net_v2");  // the file stem, made a C identifier
    CHECK(s.in_channels == 3);
    CHECK(s.mean == std::vector<double>{0, 0, 0});
    CHECK(s.std == std::vector<double>{1, 1, 1});
    CHECK(s.classes == 2);
    CHECK(s.activation == Activation::None);
    CHECK(s.threshold == 0.5);
    CHECK(s.encoder == std::vector<int>{16, 32, 64});
    CHECK(s.decoder == std::vector<int>{32, 16});  // encoder levels depth-2 .. 0
    CHECK(s.encoder_convs == 2);
    CHECK(s.decoder_convs == 2);
    CHECK(s.block.convs == 2);
    CHECK(s.block.kernel == 3);
    CHECK(s.block.padding == Padding::Same);
    CHECK(s.block.bias == true);
    CHECK(s.block.norm == NormKind::None);
    CHECK(s.block.order == NormOrder::ConvNormRelu);
    CHECK(s.block.eps == 1e-5);
    CHECK(s.up == UpMode::Transposed);
    CHECK(s.up_kernel == 2);
    CHECK(s.align_corners == false);
    CHECK(s.up_channels == UpChannels::Skip);
    CHECK(s.up_bias == true);
    CHECK(s.skip_order == SkipOrder::SkipFirst);
    CHECK(s.skip_match == SkipMatch::Exact);
    CHECK(s.pre.empty());
    CHECK(s.post.empty());
    CHECK(parse_clean("3d.unet", kMinimal).name == "net_3d");
}

TEST_CASE("values: numbers, per-channel lists, names, strings, optional commas", "[dsl][language]") {
    NetworkSpec s = parse_clean("t.unet",
                                "network name = \"Seg_2\"   # a string name\n"
                                "input   channels = 3, mean = [0.485, 0.456, 0.406] std = [.229, 0.224, 2.25e-1]\n"
                                "output  classes = 1 activation = sigmoid threshold = 1\n"
                                "encoder base = 8, depth = 4, convs = 3\n"
                                "decoder convs = 1, channels = [32, 16, 8,]\n"
                                "block   kernel = 5, eps = 1E-3, norm = batchnorm, order = conv_relu_norm, bias = false\n"
                                "up      mode = transposed, kernel = 3, channels = same, bias = false\n"
                                "pre     channels = []\n"
                                "post    channels = [\n  7,\n  9\n]\n");
    CHECK(s.name == "Seg_2");
    CHECK(s.mean == std::vector<double>{0.485, 0.456, 0.406});
    CHECK(s.std == std::vector<double>{0.229, 0.224, 0.225});
    CHECK(s.activation == Activation::Sigmoid);
    CHECK(s.threshold == 1.0);
    CHECK(s.encoder == std::vector<int>{8, 16, 32, 64});
    CHECK(s.encoder_convs == 3);
    CHECK(s.decoder == std::vector<int>{32, 16, 8});
    CHECK(s.decoder_convs == 1);
    CHECK(s.block.kernel == 5);
    CHECK(s.block.eps == 1e-3);
    CHECK(s.block.bias == false);
    CHECK(s.up_kernel == 3);
    CHECK(s.up_channels == UpChannels::Same);
    CHECK(s.up_bias == false);
    CHECK(s.pre.empty());
    CHECK(s.post == std::vector<int>{7, 9});

    NetworkSpec one = parse_clean("t.unet", "input channels = 2, mean = 0.5, std = 2\n"
                                            "output classes = 3\nencoder channels = [4, 8]\n");
    CHECK(one.mean == std::vector<double>{0.5, 0.5});  // one number applies to every channel
    CHECK(one.std == std::vector<double>{2, 2});
}

TEST_CASE("CRLF line endings, a byte order mark, tabs and trailing comments are fine", "[dsl][language]") {
    NetworkSpec s = parse_clean("t.unet", "\xEF\xBB\xBFinput\tchannels = 1\r\noutput classes = 2 # two\r\n"
                                          "encoder channels = [8, 16]   # end\r\n# last line without newline");
    CHECK(s.in_channels == 1);
    CHECK(s.encoder == std::vector<int>{8, 16});
}

TEST_CASE("columns count characters, not bytes", "[dsl][lexer]") {
    DiagnosticSink sink("t.unet", "");
    SpecReporter reporter(sink);
    std::string text = "\"h\xC3\xA9llo\" 5\n  x";
    Lexer lexer(text, reporter);
    Token string = lexer.next();
    CHECK(string.kind == TokenKind::String);
    CHECK(string.length == 7);
    Token number = lexer.next();
    CHECK(number.kind == TokenKind::Int);
    CHECK(number.pos.col == 9);  // "héllo" with its quotes is 7 columns (8 bytes), then a blank
    CHECK(lexer.next().kind == TokenKind::Newline);
    Token name = lexer.next();
    CHECK(name.pos.line == 2);
    CHECK(name.pos.col == 3);
    CHECK(name.first_on_line);
    CHECK(lexer.next().kind == TokenKind::End);
    CHECK(sink.all().empty());
}

TEST_CASE("numbers: forms, limits and overflow", "[dsl][lexer]") {
    auto lex_one = [](const std::string &text, int &errors) {
        DiagnosticSink sink("t.unet", text);
        SpecReporter reporter(sink);
        Lexer lexer(text, reporter);
        Token token = lexer.next();
        errors = sink.error_count();
        return token;
    };
    int errors = 0;
    CHECK(lex_one("9223372036854775807", errors).int_value == INT64_MAX);
    CHECK(errors == 0);
    CHECK(lex_one("-9223372036854775807", errors).int_value == -INT64_MAX);
    CHECK(lex_one("9223372036854775808", errors).kind == TokenKind::Bad);
    CHECK(errors == 1);
    CHECK(lex_one("0.5", errors).number_value == 0.5);
    CHECK(lex_one(".5", errors).number_value == 0.5);
    CHECK(lex_one("-.5", errors).number_value == -0.5);
    CHECK(lex_one("5.", errors).number_value == 5.0);
    CHECK(lex_one("+2e3", errors).number_value == 2000.0);
    CHECK(lex_one("1e-5", errors).kind == TokenKind::Number);
    CHECK(lex_one("1e400", errors).kind == TokenKind::Bad);
    CHECK(lex_one("1e-400", errors).kind == TokenKind::Bad);
    CHECK(lex_one("0x10", errors).kind == TokenKind::Bad);
    CHECK(lex_one("1." + std::string(100, '0'), errors).kind == TokenKind::Bad);  // too long to be a setting
}

TEST_CASE("parsing stops after 50 errors with a note", "[dsl][language]") {
    std::string text;
    for (int i = 0; i < 80; ++i) text += "input channels = x\n";
    auto parsed = parse_text("t.unet", text);
    CHECK(parsed.errors == 50);
    const std::string last = "t.unet: note: too many errors: stopped after 50\n";
    REQUIRE(parsed.rendered.size() > last.size());
    CHECK(parsed.rendered.substr(parsed.rendered.size() - last.size()) == last);
}

TEST_CASE("the renderer shows a window of long lines and keeps carets on it", "[dsl][diagnostics]") {
    std::string line = "encoder channels = [" + std::string(500, '1') + "]";
    DiagnosticSink sink("t.unet", line + "\n");
    sink.error({1, 400}, "far", 1000);  // carets would run past the window
    sink.error({1, 3}, "near", 2);
    sink.error({1, 600}, "past the end");
    sink.warning({}, "no line");
    std::string out = sink.render();
    std::vector<std::string> lines;
    for (size_t start = 0, nl; (nl = out.find('\n', start)) != std::string::npos; start = nl + 1)
        lines.push_back(out.substr(start, nl - start));
    REQUIRE(lines.size() == 10);
    CHECK(lines[0] == "t.unet:1:400: error: far");
    // 200 columns from column 300 shown, between "..." marks; the caret under column 400
    CHECK(lines[1] == "  ..." + line.substr(299, 200) + "...");
    CHECK(lines[2].find('^') == 2 + 3 + 100);
    CHECK(lines[2].size() <= lines[1].size());  // carets clamped to the shown text
    CHECK(lines[4] == "  " + line.substr(0, 200) + "...");
    CHECK(lines[5] == "    ^~");
    CHECK(lines[9] == "t.unet: warning: no line");
}

TEST_CASE("read_spec_source reads files and explains failures", "[dsl][language]") {
    std::string text, error;
    std::string examples = UNETGEN_EXAMPLE_SPECS_DIR;
    CHECK(read_spec_source(examples + "/small.unet", text, error));
    CHECK(text.find("encoder channels = [4, 8, 32, 64]") != std::string::npos);
    CHECK_FALSE(read_spec_source(examples + "/no_such.unet", text, error));
    CHECK(error == "cannot read spec '" + examples + "/no_such.unet': the file cannot be opened");
    CHECK_FALSE(read_spec_source(examples, text, error));
    CHECK(error == "cannot read spec '" + examples + "': it is a directory");
}

TEST_CASE("did-you-mean finds typos, transpositions and case slips, not unrelated words", "[dsl][language]") {
    const std::vector<std::string> sections = spec_section_names();
    CHECK(closest_word("encodr", sections) == "encoder");
    CHECK(closest_word("Decoder", sections) == "decoder");
    CHECK(closest_word("ouptut", sections) == "output");  // a transposition is one edit
    CHECK(closest_word("optimizer", sections).empty());
    CHECK(closest_word("bn", {"none", "batchnorm"}).empty());
    CHECK(closest_word(std::string(1000, 'e'), sections).empty());  // long words are not compared
    CHECK(did_you_mean("vaild", {"same", "valid"}) == "; did you mean 'valid'?");
}

// The key registry (spec_keys(), one row per key in dsl/spec_apply.cpp) and the language's
// reference (docs/spec-language.md) say the same: every key has a row in its section's table
// there, with the registry's type and default, and every table row names keys the registry has.
namespace {

// The cells of a markdown table row, `\|` unescaped, trimmed.
std::vector<std::string> table_cells(const std::string &line) {
    std::vector<std::string> cells;
    std::string cell;
    for (size_t i = 1; i < line.size(); ++i) {
        if (line[i] == '\\' && i + 1 < line.size() && line[i + 1] == '|') {
            cell += '|';
            ++i;
        } else if (line[i] == '|') {
            const size_t a = cell.find_first_not_of(' '), b = cell.find_last_not_of(' ');
            cells.push_back(a == std::string::npos ? "" : cell.substr(a, b - a + 1));
            cell.clear();
        } else {
            cell += line[i];
        }
    }
    return cells;
}

// The `quoted` names in text up to the first ':' or '(' ("`pre`, `post` (optional)" -> pre, post).
std::vector<std::string> quoted_names(const std::string &text) {
    std::vector<std::string> names;
    const std::string head = text.substr(0, text.find_first_of(":("));
    for (size_t at = head.find('`'); at != std::string::npos; at = head.find('`', at)) {
        const size_t end = head.find('`', at + 1);
        if (end == std::string::npos) break;
        names.push_back(head.substr(at + 1, end - at - 1));
        at = end + 1;
    }
    return names;
}

}  // namespace

TEST_CASE("every spec key is documented with its type and default", "[dsl][language][registry]") {
    std::ifstream in(std::string(UNETGEN_DOCS_DIR) + "/spec-language.md");
    REQUIRE(in);
    std::map<std::string, std::vector<std::string>> documented;  // "section.key" -> [type, default]
    std::vector<std::string> sections;
    bool in_keys = false;
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("## ", 0) == 0) in_keys = line == "## Sections and keys";
        if (!in_keys) continue;
        if (line.rfind("### ", 0) == 0) sections = quoted_names(line.substr(4));
        if (line.rfind("| `", 0) != 0) continue;
        const std::vector<std::string> cells = table_cells(line);
        REQUIRE(cells.size() >= 3);
        for (const std::string &section : sections)
            for (const std::string &key : quoted_names(cells[0]))
                documented[section + "." + key] = {cells[1], cells[2]};
    }
    std::set<std::string> registered;
    for (const SpecKeyInfo &row : spec_keys()) {
        const std::string name = std::string(row.section) + "." + row.key;
        INFO(name);
        registered.insert(name);
        auto doc = documented.find(name);
        REQUIRE(doc != documented.end());
        CHECK(doc->second[0] == row.takes);
        CHECK(doc->second[1] == row.fallback);
    }
    for (const auto &[name, cells] : documented) {
        INFO("documented key " << name);
        CHECK(registered.count(name) == 1);
    }
    CHECK(registered.size() >= 30);
}
