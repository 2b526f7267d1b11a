// Which kernels a forward call runs on, decided once per call from its
// input. The modules in model/ compute as the reference does; where a path
// other than kReference is chosen they hand the same work to the kernels in
// this folder, which give the same numbers faster on the CPU.
#pragma once

#include <torch/torch.h>

namespace ltgbert::kernels {

enum class Path {
  // libtorch's own ops under autograd, as the reference computes: other
  // devices and dtypes, and CPU training under LTGBERT_DISABLE_ONEDNN=1.
  kReference,
  // CPU float32 without autograd: fused attention (scores, position terms
  // and softmax without autograd's intermediates) and, with oneDNN, linear
  // layers whose activation rides on the product (FusedLinear).
  kInference,
  // CPU float32 with autograd: hand-written backward passes (attention,
  // GeGLU) and, with oneDNN, linear layers whose backward is oneDNN's too.
  kTraining,
};

// The path for a call whose activations are `x`.
Path ChoosePath(const torch::Tensor& x);

// True where the build has oneDNN and LTGBERT_DISABLE_ONEDNN does not turn
// it off: linear layers and batched products may take it.
bool OneDnnActive();

// True where inference's linear layers run on oneDNN with their epilogue
// (bias, GELU, GeGLU product) fused into the product: kInference with
// oneDNN active. The modules then call kernels::LinearRows directly.
bool FusedLinear(Path path);

}  // namespace ltgbert::kernels
