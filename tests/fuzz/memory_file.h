// memory_file.h — MemoryFile: fuzz input bytes as a file path, for readers that open paths
// (read_png, TiffReader). The bytes go into an anonymous memfd; /proc/self/fd/N names it, so
// nothing touches the disk and every input costs two system calls.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>

class MemoryFile {
public:
    MemoryFile(const uint8_t *data, size_t size) {
        fd_ = memfd_create("fuzz-input", 0);
        if (fd_ < 0) std::abort();
        for (size_t done = 0; done < size;) {
            const ssize_t n = write(fd_, data + done, size - done);
            if (n <= 0) std::abort();
            done += size_t(n);
        }
        path_ = "/proc/self/fd/" + std::to_string(fd_);
    }
    ~MemoryFile() { close(fd_); }
    MemoryFile(const MemoryFile &) = delete;

    const std::string &path() const { return path_; }

private:
    int fd_ = -1;
    std::string path_;
};
