// progress_line.cpp — ProgressLine and format_duration().
#include "cli/progress_line.h"

#include <unistd.h>

#include <string>

namespace unetgen::cli {

std::string format_duration(double s) {
    char buf[32];
    const long t = long(s + 0.5);
    if (t >= 3600) std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, (t / 60) % 60);
    else if (t >= 60) std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
    else std::snprintf(buf, sizeof buf, "%lds", t);
    return buf;
}

ProgressLine::ProgressLine(double megapixels, FILE *out)
    : megapixels_(megapixels), out_(out), tty_(isatty(fileno(out)) != 0),
      start_(std::chrono::steady_clock::now()), last_(start_) {}

void ProgressLine::update(int64_t done, int64_t total) {
    if (total <= 1) return;  // one tile: nothing to watch
    const auto now = std::chrono::steady_clock::now();
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    const int64_t tenth = done * 10 / total;
    if (tty_ ? (done != total && std::chrono::duration<double>(now - last_).count() < 0.1)
             : (tenth == last_tenth_ && done != total))
        return;
    last_ = now;
    last_tenth_ = tenth;
    const double frac = double(done) / double(total);
    const double rate = elapsed > 0 ? megapixels_ * frac / elapsed : 0;
    const std::string eta = done < total && frac > 0 ? ", " + format_duration(elapsed * (1 - frac) / frac) + " left" : "";
    char bar[21];
    const int fill = int(frac * 20);
    for (int i = 0; i < 20; ++i) bar[i] = i < fill ? '#' : '.';
    bar[20] = 0;
    std::fprintf(out_, "%s  [%s] tile %lld/%lld  %3.0f%%  %.2f MP/s  %s elapsed%s%s", tty_ ? "\r" : "", bar,
                 (long long)done, (long long)total, 100 * frac, rate, format_duration(elapsed).c_str(), eta.c_str(),
                 tty_ ? "\033[K" : "\n");
    std::fflush(out_);
    drawn_ = true;
}

void ProgressLine::finish() {
    if (tty_ && drawn_) std::fprintf(out_, "\n");
    drawn_ = false;
}

}  // namespace unetgen::cli
