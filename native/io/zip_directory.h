// The central directory of a zip file (a torch.save archive), read on our
// own before libtorch's reader inflates anything: what each record declares
// about itself, so that sizes can be checked first and a record that would
// inflate to gigabytes (a zip bomb) is refused without allocating them.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace ltgbert::io {

struct ZipEntry {
  uint16_t method = 0;  // 0 stored, 8 deflated
  uint64_t compressed_size = 0;
  uint64_t uncompressed_size = 0;
};

// Records by name, as the archive spells them ("archive/data/0"). Fails
// with LTGBERT_BAD_CHECKPOINT naming the file when the directory cannot be
// found or runs past the file. Zip64 sizes are read where the record says so.
std::map<std::string, ZipEntry> ReadZipDirectory(const std::string& path);

}  // namespace ltgbert::io
