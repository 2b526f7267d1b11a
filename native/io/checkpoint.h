// Checkpoint files as Python's PyTorch and Hugging Face write them: tensors by
// name, read into CPU tensors and written back in a form Python loads.
//
// Every failure is an ltgbert::Error whose message starts with the file (and
// the key when there is one), then expected and actual values:
//   LTGBERT_FILE_NOT_FOUND  the file or folder (when writing: the target's
//                           folder) does not exist
//   LTGBERT_BAD_CHECKPOINT  the file is truncated, corrupt, or uses a dtype,
//                           opcode or global that a checkpoint may not use
//   LTGBERT_INVALID_ARGUMENT  (writing) an empty, non-UTF-8 or repeated name,
//                           an undefined, meta or sparse tensor, an unsupported
//                           dtype; a target this process may not write
//   LTGBERT_INTERNAL        (writing) the system refused the write (disk full,
//                           I/O error); the previous file is left as it was
//
//   io::TensorList weights = io::ReadCheckpoint("/models/ltgbert-base");
//   for (auto& [name, tensor] : weights) params.at(name).copy_(tensor);
#pragma once

#include <ATen/core/Tensor.h>

#include <map>
#include <string>
#include <vector>

namespace ltgbert::io {

struct NamedTensor {
  std::string name;
  at::Tensor tensor;
};
// In the file's order: for safetensors, the order of the data in the file;
// for torch.save archives, the order of the pickled dict.
using TensorList = std::vector<NamedTensor>;

// model.safetensors, read whole into memory of its own (io::FileBuffer). The
// tensors may alias that buffer, which they keep alive: copy_ them into
// parameters rather than keeping them. Dtypes F32, F16, BF16, F64, I64, I32, I16, I8, U8,
// BOOL. A tensor whose data is not aligned to its element size is copied.
TensorList ReadSafetensors(const std::string& path);

// model.safetensors.index.json, Hugging Face's sharded layout:
// {"metadata": ..., "weight_map": {key: shard file}}. Shards are resolved in
// the index's folder; every key of weight_map must be in its shard, and every
// tensor of a shard must be listed. Shards ending in ".bin" are read as
// torch.save archives (pytorch_model.bin.index.json).
TensorList ReadSafetensorsIndex(const std::string& index_path);

// pytorch_model.bin as torch.save writes it (the zip format of torch >= 1.6):
// storages are the archive's data/<key> records, and data.pkl is read by a
// restricted unpickler that executes nothing. The top object must be a dict of
// name -> tensor; other values are skipped (an OrderedDict's `_metadata` is an
// attribute, not a value). A checkpoint that nests the state dict
// ({"model": ..., "optimizer": ...}) is refused with the key to save instead.
// Tensors that shared a storage in Python (a tied weight) share it here too.
TensorList ReadTorchArchive(const std::string& path);

// A model folder: model.safetensors, else model.safetensors.index.json, else
// pytorch_model.bin. A file is read by its name: *.safetensors,
// *.index.json, *.bin / *.pt / *.pth (else by its first bytes).
TensorList ReadCheckpoint(const std::string& dir_or_file);

// The file ReadCheckpoint reads for `dir_or_file` (the same choice), or
// LTGBERT_FILE_NOT_FOUND.
std::string FindCheckpointFile(const std::string& dir_or_file);

// Writes `tensors` (any device, any strides; copied to CPU one at a time) in
// the given order, contiguous, with "__metadata__" holding `metadata` plus
// "format": "pt" when the caller gave no "format". Atomic: the target is
// replaced only once the new file is complete and synced.
void WriteSafetensors(const std::string& path, const TensorList& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// Writes a torch.save-style zip that Python's torch.load (weights_only too)
// reads as a dict of tensors, in order, and libtorch's torch::pickle_load
// reads as a GenericDict. Every tensor gets its own storage (a
// tied weight listed twice is written twice). Atomic like WriteSafetensors.
void WriteTorchArchive(const std::string& path, const TensorList& tensors);

}  // namespace ltgbert::io
