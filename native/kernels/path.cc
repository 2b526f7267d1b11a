#include "kernels/path.h"

#include "common/settings.h"

namespace ltgbert::kernels {

Path ChoosePath(const torch::Tensor& x) {
  if (!x.is_cpu() || x.scalar_type() != torch::kFloat32) return Path::kReference;
  if (!torch::GradMode::is_enabled()) return Path::kInference;
  // Training's hand-written kernels are off with oneDNN under
  // LTGBERT_DISABLE_ONEDNN, so that they can be compared with libtorch's.
  return GetSettings().disable_onednn ? Path::kReference : Path::kTraining;
}

bool OneDnnActive() {
#ifdef LTGBERT_WITH_DNNL
  return !GetSettings().disable_onednn;
#else
  return false;
#endif
}

bool FusedLinear(Path path) { return path == Path::kInference && OneDnnActive(); }

}  // namespace ltgbert::kernels
