// progress_line.h — ProgressLine: tiles done, throughput and time left of a long segmentation.
//
// On a terminal one line is redrawn in place (at most ~10 times a second); elsewhere (logs, CI)
// a line is printed at every tenth of the work, so a log shows progress without flooding.
// Debian ships no C++ progress-bar library; this is the few lines it takes.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace unetgen::cli {

class ProgressLine {
public:
    // `megapixels`: the output of the whole run, for the throughput.
    ProgressLine(double megapixels, FILE *out = stderr);
    void update(int64_t done, int64_t total);
    void finish();  // ends the terminal line

private:
    double megapixels_;
    FILE *out_;
    bool tty_;
    std::chrono::steady_clock::time_point start_, last_;
    int64_t last_tenth_ = 0;
    bool drawn_ = false;
};

// "1h02m", "4m05s", "12s".
std::string format_duration(double seconds);

}  // namespace unetgen::cli
