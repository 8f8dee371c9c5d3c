// test_parse_errors.cpp — every case in errors/ against the exact diagnostics a user should see.
//
// errors/NAME.expected holds the rendered output for errors/NAME.unet, with the file shown as
// "errors/NAME.unet". Cases too big or too binary to commit (10 MB inputs, random bytes) are
// made here by a generator named like the case, and have only the .expected file on disk.
// UNETGEN_UPDATE_EXPECTED=1 rewrites the .expected files from the current output: review every
// change it makes, since an expected file must be what a user should see, not what the code prints.
#include "spec_test_support.h"

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

using namespace unetgen;
using unetgen::test::parse_text;
using unetgen::test::read_test_file;
namespace fs = std::filesystem;

namespace {

const char *kSpecHead = "input   channels = 3\noutput  classes = 2\n";

// About 10 MB of comment lines between a good head and one bad line at the very end: the whole
// file must be read, in linear time, and the error still found at the right line.
std::string huge_comments() {
    std::string text = std::string(kSpecHead) + "encoder channels = [64, 128]\n";
    std::string comment = "# " + std::string(97, 'x') + "\n";  // 100 bytes
    while (text.size() < 10u * 1024 * 1024) text += comment;
    text += "block   kernel = 4\n";
    return text;
}

// One 10 MB line: a list with far more entries than any channel count could need.
std::string huge_line() {
    std::string text = std::string(kSpecHead) + "encoder channels = [";
    while (text.size() < 10u * 1024 * 1024) text += "64, ";
    text += "64]\n";
    return text;
}

// 1 MB of pseudo-random bytes (a fixed LCG, so the output is stable): NULs, invalid UTF-8, all of it.
std::string binary_garbage() {
    std::string text(1u << 20, '\0');
    uint32_t state = 12345;
    for (char &c : text) {
        state = state * 1664525u + 1013904223u;
        c = char(state >> 24);
    }
    return text;
}

// A file of NUL bytes only (what a truncated or preallocated file looks like).
std::string nul_bytes() { return std::string(65536, '\0'); }

const std::map<std::string, std::function<std::string()>> &generated_cases() {
    static const std::map<std::string, std::function<std::string()>> cases = {
        {"generated_huge_comments", huge_comments},
        {"generated_huge_line", huge_line},
        {"generated_binary_garbage", binary_garbage},
        {"generated_nul_bytes", nul_bytes},
    };
    return cases;
}

std::vector<std::string> lines_of(const std::string &text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

// Where two outputs first differ, line by line, then the whole actual output.
std::string describe_mismatch(const std::string &name, const std::string &expected, const std::string &actual) {
    std::vector<std::string> e = lines_of(expected), a = lines_of(actual);
    size_t i = 0;
    while (i < e.size() && i < a.size() && e[i] == a[i]) ++i;
    std::ostringstream out;
    out << "errors/" << name << ".unet: output differs from errors/" << name << ".expected at line " << i + 1
        << "\n  expected: " << (i < e.size() ? e[i] : "<end of output>")
        << "\n  actual:   " << (i < a.size() ? a[i] : "<end of output>") << "\n--- actual output ---\n"
        << actual << "--- end ---";
    return out.str();
}

}  // namespace

TEST_CASE("every error case gives exactly its expected diagnostics", "[dsl][errors]") {
    const fs::path dir = fs::path(UNETGEN_DSL_TEST_DIR) / "errors";
    const bool update = std::getenv("UNETGEN_UPDATE_EXPECTED") != nullptr;
    // Every case: each .unet file, each generator, each .expected file (which must have one of those).
    std::set<std::string> names;
    for (const auto &[name, generator] : generated_cases()) names.insert(name);
    for (const auto &entry : fs::directory_iterator(dir)) {
        const fs::path &path = entry.path();
        if (path.extension() == ".expected" || path.extension() == ".unet") names.insert(path.stem().string());
    }
    CHECK(names.size() >= 30 + generated_cases().size());

    for (const std::string &name : names) {
        fs::path spec = dir / (name + ".unet");
        std::string source;
        auto generator = generated_cases().find(name);
        if (fs::exists(spec)) {
            source = read_test_file(spec.string());
        } else if (generator != generated_cases().end()) {
            source = generator->second();
        } else {
            FAIL_CHECK("errors/" << name << ".expected has neither a .unet file nor a generator");
            continue;
        }
        auto start = std::chrono::steady_clock::now();
        auto parsed = parse_text("errors/" + name + ".unet", source);
        double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        // Linear time: a 10 MB input takes well under a second; a quadratic pass would take hours.
        INFO("errors/" << name << ".unet took " << seconds << " s");
        CHECK(seconds < 5.0);
        if (update) {
            std::ofstream(dir / (name + ".expected"), std::ios::binary) << parsed.rendered;
            continue;
        }
        if (!fs::exists(dir / (name + ".expected"))) {
            FAIL_CHECK("errors/" << name << ".expected is missing (UNETGEN_UPDATE_EXPECTED=1 writes it; review it)");
            continue;
        }
        std::string expected = read_test_file((dir / (name + ".expected")).string());
        if (parsed.rendered != expected) FAIL_CHECK(describe_mismatch(name, expected, parsed.rendered));
    }
}

TEST_CASE("error cases that are errors report at least one error", "[dsl][errors]") {
    // Cases named *_warnings or softmax_one_class only warn; everything else must fail to parse.
    const fs::path dir = fs::path(UNETGEN_DSL_TEST_DIR) / "errors";
    for (const auto &entry : fs::directory_iterator(dir)) {
        if (entry.path().extension() != ".unet") continue;
        std::string name = entry.path().stem().string();
        auto parsed = parse_text("errors/" + name + ".unet", read_test_file(entry.path().string()));
        INFO("errors/" << name << ".unet");
        const std::string tail = "_warnings";
        bool warns_only = name == "softmax_one_class" ||
                          (name.size() >= tail.size() && name.compare(name.size() - tail.size(), tail.size(), tail) == 0);
        CHECK((parsed.errors == 0) == warns_only);
        CHECK(!parsed.rendered.empty());
    }
}
