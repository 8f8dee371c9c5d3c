// library.cpp — unetgen_library_open(): dlopen a `unetgen build` output and fetch its descriptor.
//
// A build directory names its shared library in build.json ("shared_library"); RTLD_LOCAL keeps
// each library's Halide runtime copy and symbols to itself, so several networks can be open.
#include "runtime/model.h"

#include "common/file_digest.h"

#include <nlohmann/json.hpp>

#include <dlfcn.h>
#include <sys/stat.h>

#include <fstream>
#include <iterator>
#include <memory>

struct unetgen_library {
    void *handle = nullptr;
    const unetgen_network_desc *desc = nullptr;
    void (*pool_stats)(size_t *live, size_t *peak, size_t *cached, int reset) = nullptr;  // NULL: no pool
    void (*pool_release)() = nullptr;  // thread pool and cached blocks, before dlclose (NULL: older build)
};

using namespace unetgen::rt;
using unetgen::FileDigest;
using unetgen::file_digest;

namespace {

bool is_directory(const std::string &p) {
    struct stat st;
    return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// What a build directory's build.json says: the shared library, the manifest file ("" when
// none), and the library's size and hash (absent in builds before they were recorded).
struct BuildDir {
    std::string library, manifest;
    bool has_digest = false;
    uint64_t bytes = 0;
    std::string fnv1a64;
};

std::string in_dir(const std::string &dir, const std::string &file) {
    return !file.empty() && file[0] == '/' ? file : dir + "/" + file;
}

BuildDir read_build_dir(const std::string &dir) {
    std::ifstream in(dir + "/build.json");
    if (!in) fail(UNETGEN_ERR_IO, "cannot open network build " + dir + ": it has no build.json (run unetgen build)");
    nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("shared_library") || !j["shared_library"].is_string())
        fail(UNETGEN_ERR_BAD_NETWORK, "cannot open network build " + dir +
                                          ": build.json is not a JSON object with a string \"shared_library\"");
    BuildDir b;
    b.library = in_dir(dir, j["shared_library"].get<std::string>());
    if (j.contains("manifest") && j["manifest"].is_string() && !j["manifest"].get<std::string>().empty())
        b.manifest = in_dir(dir, j["manifest"].get<std::string>());
    const bool has_bytes = j.contains("shared_library_bytes"), has_hash = j.contains("shared_library_fnv1a64");
    if (has_bytes || has_hash) {
        if (!has_bytes || !has_hash || !j["shared_library_bytes"].is_number_unsigned() ||
            !j["shared_library_fnv1a64"].is_string())
            fail(UNETGEN_ERR_BAD_NETWORK, "cannot open network build " + dir +
                                              ": build.json's shared_library_bytes (a count) and shared_library_fnv1a64 "
                                              "(hex) must come together");
        b.has_digest = true;
        b.bytes = j["shared_library_bytes"].get<uint64_t>();
        b.fnv1a64 = j["shared_library_fnv1a64"].get<std::string>();
    }
    return b;
}

// A library that is not the file `unetgen build` wrote (a partial copy, one from another build)
// is refused before dlopen maps it.
void check_digest(const std::string &dir, const BuildDir &b) {
    if (!b.has_digest) return;
    const FileDigest d = file_digest(b.library);
    if (!d.ok) fail(UNETGEN_ERR_IO, "cannot load network library " + b.library + ": the file cannot be read");
    const std::string rebuild = "; rebuild with unetgen build, or copy the whole directory again";
    if (d.bytes != b.bytes)
        fail(UNETGEN_ERR_BAD_NETWORK, "cannot load network library " + b.library + ": it has " + std::to_string(d.bytes) +
                                          " bytes, " + dir + "/build.json recorded " + std::to_string(b.bytes) +
                                          " (truncated or replaced)" + rebuild);
    if (d.hex() != b.fnv1a64)
        fail(UNETGEN_ERR_BAD_NETWORK, "cannot load network library " + b.library + ": its FNV-1a hash " + d.hex() +
                                          " is not the " + b.fnv1a64 + " that " + dir +
                                          "/build.json recorded (modified, or from another build)" + rebuild);
}

// dlopen maps a shared library's segments straight from the file: a truncated file faults
// (SIGBUS) inside dlopen. So read the ELF header first and refuse a file that is not a 64-bit
// little-endian ELF or whose loadable segments or section table run past its end.
void check_elf_file(const std::string &path) {
    auto bad = [&](const std::string &why) { fail(UNETGEN_ERR_BAD_NETWORK, "cannot load network library " + path + ": " + why); };
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    if (!in) fail(UNETGEN_ERR_IO, "cannot load network library " + path + ": the file cannot be opened");
    const uint64_t size = uint64_t(in.tellg());
    auto read = [&](uint64_t offset, void *dst, size_t n) {
        if (offset + n > size) return false;
        in.seekg(std::streamoff(offset));
        return bool(in.read(static_cast<char *>(dst), std::streamsize(n)));
    };
    unsigned char ident[16] = {};
    if (!read(0, ident, 16) || ident[0] != 0x7f || ident[1] != 'E' || ident[2] != 'L' || ident[3] != 'F')
        bad("it is not an ELF shared library (" + std::to_string(size) + " bytes)");
    if (ident[4] != 2 || ident[5] != 1) bad("it is not a 64-bit little-endian ELF file");
    uint64_t phoff = 0, shoff = 0;
    uint16_t phentsize = 0, phnum = 0, shentsize = 0, shnum = 0;
    if (!read(0x20, &phoff, 8) || !read(0x28, &shoff, 8) || !read(0x36, &phentsize, 2) || !read(0x38, &phnum, 2) ||
        !read(0x3A, &shentsize, 2) || !read(0x3C, &shnum, 2))
        bad("its ELF header is truncated");
    if (shoff + uint64_t(shnum) * shentsize > size)
        bad("it is truncated: its section table ends at byte " + std::to_string(shoff + uint64_t(shnum) * shentsize) +
            ", the file has " + std::to_string(size));
    for (uint16_t i = 0; i < phnum; ++i) {
        uint32_t type = 0;
        uint64_t offset = 0, filesz = 0;
        const uint64_t at = phoff + uint64_t(i) * phentsize;
        if (!read(at, &type, 4) || !read(at + 8, &offset, 8) || !read(at + 32, &filesz, 8))
            bad("it is truncated inside its program headers");
        if (type == 1 && offset + filesz > size)  // PT_LOAD
            bad("it is truncated: a loadable segment ends at byte " + std::to_string(offset + filesz) +
                ", the file has " + std::to_string(size));
    }
}

}  // namespace

extern "C" {

unetgen_status unetgen_library_open(const char *path, unetgen_library **out) {
    return guarded([&] {
        if (out == nullptr || path == nullptr)
            fail(UNETGEN_ERR_INVALID_ARGUMENT, "cannot open a network library: path or output pointer is NULL");
        *out = nullptr;
        const bool dir = is_directory(path);
        const BuildDir build = dir ? read_build_dir(path) : BuildDir{};
        std::string so = dir ? build.library : std::string(path);
        // dlopen needs a slash to load a file rather than search the library path
        if (so.find('/') == std::string::npos) so = "./" + so;
        if (dir) check_digest(path, build);
        check_elf_file(so);
        auto lib = std::make_unique<unetgen_library>();
        lib->handle = dlopen(so.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (lib->handle == nullptr) {
            const char *why = dlerror();
            fail(UNETGEN_ERR_IO, "cannot load network library " + so + ": " + (why ? why : "dlopen failed"));
        }
        auto get = reinterpret_cast<unetgen_get_network_fn>(dlsym(lib->handle, UNETGEN_GET_NETWORK_SYMBOL));
        const unetgen_network_desc *desc = get ? get() : nullptr;
        if (desc == nullptr || desc->abi_version < UNETGEN_ABI_VERSION_MIN || desc->abi_version > UNETGEN_ABI_VERSION) {
            std::string why = get == nullptr ? "it exports no " UNETGEN_GET_NETWORK_SYMBOL "()"
                              : desc == nullptr ? UNETGEN_GET_NETWORK_SYMBOL "() returned NULL"
                                                : "it was generated for runtime ABI " + std::to_string(desc->abi_version) +
                                                      ", this runtime speaks " + std::to_string(UNETGEN_ABI_VERSION_MIN) +
                                                      " to " + std::to_string(UNETGEN_ABI_VERSION);
            dlclose(lib->handle);
            fail(UNETGEN_ERR_BAD_NETWORK, "cannot use network library " + so + ": " + why);
        }
        // NAME.manifest.json is what a user reads about the build: it must say what the library
        // runs. A file edited or copied from another build is refused, not silently ignored.
        if (dir) {
            const std::string &file = build.manifest;
            std::ifstream mf(file, std::ios::binary);
            if (!file.empty() && mf) {
                const std::string text((std::istreambuf_iterator<char>(mf)), std::istreambuf_iterator<char>());
                if (desc->manifest_json == nullptr || text != desc->manifest_json) {
                    dlclose(lib->handle);
                    fail(UNETGEN_ERR_BAD_NETWORK, "cannot use network build " + std::string(path) + ": " + file +
                                                      " differs from the manifest compiled into " + so +
                                                      " (edited, or from another build); rebuild, or restore the file");
                }
            }
        }
        lib->desc = desc;
        lib->pool_stats = reinterpret_cast<decltype(lib->pool_stats)>(dlsym(lib->handle, "unetgen_pool_stats"));
        lib->pool_release = reinterpret_cast<decltype(lib->pool_release)>(dlsym(lib->handle, "unetgen_pool_release"));
        *out = lib.release();
    });
}

const unetgen_network_desc *unetgen_library_network(const unetgen_library *lib) { return lib ? lib->desc : nullptr; }

unetgen_status unetgen_library_memory(const unetgen_library *lib, int reset_peak, unetgen_memory_stats *stats) {
    return guarded([&] {
        if (lib == nullptr || stats == nullptr)
            fail(UNETGEN_ERR_INVALID_ARGUMENT, "cannot read a library's memory: the library or stats pointer is NULL");
        if (lib->pool_stats == nullptr)
            fail(UNETGEN_ERR_UNSUPPORTED, "cannot read the memory of network library " +
                                              std::string(lib->desc && lib->desc->name ? lib->desc->name : "?") +
                                              ": it has no buffer pool (built before unetgen_pool_stats)");
        lib->pool_stats(&stats->live, &stats->peak, &stats->cached, reset_peak);
    });
}

void unetgen_library_close(unetgen_library *lib) {
    if (lib == nullptr) return;
    if (lib->desc && lib->desc->release_device) lib->desc->release_device();
    if (lib->pool_release) lib->pool_release();
    dlclose(lib->handle);
    delete lib;
}

}  // extern "C"
