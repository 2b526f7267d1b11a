// Helpers shared by the writers of both formats (defined in checkpoint.cc).
#pragma once

#include <string>

#include "io/checkpoint.h"

namespace ltgbert::io::internal {

// The dtypes both formats read and write: float32/16, bfloat16, float64,
// int64/32/16/8, uint8, bool.
bool IsSupportedDtype(at::ScalarType type);

// Before anything is written: every name non-empty, valid UTF-8 (Python
// decodes it) and unique, every tensor defined and of a supported dtype, and
// no name equal to `reserved` (nullptr for none). Else
// LTGBERT_INVALID_ARGUMENT naming the path and the tensor.
void CheckTensorsToWrite(const std::string& path, const TensorList& tensors, const char* reserved);

// The tensor as a dense CPU tensor, without autograd history: copies only when
// it must (another device, or a non-contiguous layout).
at::Tensor CpuContiguous(const at::Tensor& tensor);

// "[2, 3]"
std::string ShapeString(at::IntArrayRef shape);

}  // namespace ltgbert::io::internal
