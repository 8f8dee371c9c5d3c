// png_image.cpp — read_png / write_png on top of libpng's png_image (simplified) API.
#include "png_image.h"

#include <png.h>

namespace example {

bool read_png(const std::string &path, int channels, Image &image, std::string &error) {
    if (channels != 1 && channels != 3) {
        error = "cannot read " + path + " as " + std::to_string(channels) +
                " channels: the example reads gray (1) or RGB (3) images only";
        return false;
    }
    png_image png{};
    png.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&png, path.c_str())) {
        error = "cannot read " + path + ": " + png.message;
        return false;
    }
    png.format = channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
    image.w = int(png.width);
    image.h = int(png.height);
    image.channels = channels;
    image.pixels.assign(PNG_IMAGE_SIZE(png), 0);
    // A NULL background composites any alpha onto black.
    if (!png_image_finish_read(&png, nullptr, image.pixels.data(), 0, nullptr)) {
        error = "cannot read " + path + ": " + png.message;
        png_image_free(&png);
        return false;
    }
    return true;
}

bool write_png(const std::string &path, const Image &image, std::string &error) {
    if ((image.channels != 1 && image.channels != 3) || image.w < 1 || image.h < 1 ||
        image.pixels.size() != size_t(image.w) * size_t(image.h) * size_t(image.channels)) {
        error = "cannot write " + path + ": the image must be gray or RGB with w*h*channels bytes";
        return false;
    }
    png_image png{};
    png.version = PNG_IMAGE_VERSION;
    png.width = png_uint_32(image.w);
    png.height = png_uint_32(image.h);
    png.format = image.channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
    if (!png_image_write_to_file(&png, path.c_str(), 0, image.pixels.data(), 0, nullptr)) {
        error = "cannot write " + path + ": " + png.message;
        return false;
    }
    return true;
}

}  // namespace example
