// image_cases.h — kImageCases: the network kinds the image-decoder fuzzers (fuzz_png, fuzz_tiff)
// read every input for: gray and RGB networks, each with and without the conversion it can ask
// for (cli/channel_conversion.h).
#pragma once

#include "cli/channel_conversion.h"

#include <utility>

inline constexpr std::pair<int, unetgen::cli::ChannelConversion> kImageCases[] = {
    {1, unetgen::cli::ChannelConversion::none},
    {1, unetgen::cli::ChannelConversion::to_gray},
    {3, unetgen::cli::ChannelConversion::none},
    {3, unetgen::cli::ChannelConversion::to_rgb}};
