#include "model/dropout.h"

#include "kernels/dropout.h"

namespace ltgbert::model {

torch::Tensor DropoutImpl::forward(const torch::Tensor& x) {
  if (!is_training() || p_ <= 0) return x;
  if (!kernels::StreamDropoutApplies(x)) return torch::dropout(x, p_, /*train=*/true);
  if (p_ >= 1) return x * 0;
  return kernels::StreamDropout(x, p_);
}

}  // namespace ltgbert::model
