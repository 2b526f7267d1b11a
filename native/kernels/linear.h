// Linear layers for CPU float32 on oneDNN, when the build has it: its
// AVX-512/AMX-era matmul kernels run ahead of the BLAS libtorch links. At
// inference (Path::kInference) they add the bias inside the product and
// fuse the GELU and the GeGLU product into the same pass, reading weights
// reordered once into oneDNN's preferred layout; in training
// (Path::kTraining) the forward and both backward products run on it.
// Everywhere else (other devices or dtypes, a build without oneDNN,
// LTGBERT_DISABLE_ONEDNN=1) the plain libtorch ops run.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "kernels/path.h"

namespace ltgbert::kernels {

enum class Epilogue { kNone, kGeluTanh, kGeluErf };

// Which oneDNN the build uses ("3.4.1"), or "" without one.
std::string OneDnnVersion();

// epilogue(x @ W[rows]^T + bias) * multiplier, where W[rows] are rows
// [row_begin, row_begin + row_count) of `weight` (N_total, K), x is (M, K),
// bias (row_count) and multiplier (M, row_count) are optional. On oneDNN
// where FusedLinear(ChoosePath(x)) holds and x is 2-D, else libtorch's ops.
torch::Tensor LinearRows(const torch::Tensor& x, const torch::Tensor& weight, int64_t row_begin, int64_t row_count,
                         const torch::Tensor& bias, Epilogue epilogue = Epilogue::kNone,
                         const torch::Tensor& multiplier = {});

// Drops the reordered weights that inference kept for tensors that are gone
// (a disposed model's); Linear also does so when it meets a new weight.
void ReleasePackedWeights();

// How many weights (or row ranges of one) inference keeps reordered, and their bytes.
struct PackedWeightStats {
  int64_t tensors = 0;
  int64_t bytes = 0;
};
PackedWeightStats GetPackedWeightStats();

// A strided float32 array for BatchedMatmul: data, sizes and strides in
// elements (outermost first).
struct StridedArray {
  const float* data;
  std::vector<int64_t> sizes;
  std::vector<int64_t> strides;
};

// out = alpha * a @ b (+ out, when accumulating) over leading batch dimensions, every operand read or
// written in place through its strides, on oneDNN. Returns false, doing
// nothing, where oneDNN is not built in or has no optimised kernel for these
// layouts: the caller then computes it another way.
bool BatchedMatmul(const StridedArray& a, const StridedArray& b, const StridedArray& out, float alpha,
                   bool accumulate = false);

// A torch::nn::Linear applied to 2-D x on `path`, then `epilogue`: fused
// into a oneDNN product where FusedLinear(path); on kTraining with oneDNN, a
// oneDNN product whose backward is oneDNN's too; else linear.forward(x).
torch::Tensor Linear(torch::nn::LinearImpl& linear, const torch::Tensor& x, Path path,
                     Epilogue epilogue = Epilogue::kNone);

}  // namespace ltgbert::kernels
