// The GeGLU activation of training on CPU float32 with a hand-written
// backward (model::GeGLU chooses it on Path::kTraining).
#pragma once

#include <torch/torch.h>

namespace ltgbert::kernels {

// x * gelu_tanh(gate) over the two halves of a 2-D (M, 2I) float32 CPU
// tensor [x | gate], under autograd: one pass forward and one backward,
// the activation recomputed rather than stored.
torch::Tensor GeGLU(const torch::Tensor& x);

}  // namespace ltgbert::kernels
