// spec_suggest.cpp — "did you mean" for misspelt section, key and value names.
//
// closest_word() is an edit distance over lower-cased text, with a threshold that
// grows with the word (one typo in a short word, about one in four characters in a long one), so
// 'encodr' finds 'encoder' but 'bn' does not claim 'on'.
#include "dsl/parse_spec.h"

#include <algorithm>
#include <cctype>

namespace unetgen {

static std::string lower(std::string_view text) {
    std::string out(text);
    for (char &c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

// Levenshtein distance with adjacent transpositions counting one edit ("vaild" -> "valid"), the
// optimal-string-alignment variant; three rows suffice.
static size_t edit_distance(const std::string &a, const std::string &b) {
    std::vector<size_t> before(b.size() + 1), prev(b.size() + 1), row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        row[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            row[j] = std::min({prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                row[j] = std::min(row[j], before[j - 2] + 1);
        }
        std::swap(before, prev);
        std::swap(prev, row);
    }
    return prev[b.size()];
}

std::string closest_word(std::string_view word, const std::vector<std::string> &candidates) {
    if (word.empty() || word.size() > 64) return {};
    std::string w = lower(word);
    std::string best;
    size_t best_distance = 0;
    for (const std::string &candidate : candidates) {
        if (candidate == word) continue;
        size_t d = edit_distance(w, lower(candidate));
        size_t allowed = std::max<size_t>(1, (std::max(w.size(), candidate.size()) + 2) / 4);
        if (d <= allowed && (best.empty() || d < best_distance)) {
            best = candidate;
            best_distance = d;
        }
    }
    return best;
}

std::string did_you_mean(std::string_view word, const std::vector<std::string> &candidates) {
    std::string best = closest_word(word, candidates);
    return best.empty() ? std::string() : "; did you mean '" + best + "'?";
}

}  // namespace unetgen
