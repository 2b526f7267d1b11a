#include "train/schedule.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"

namespace ltgbert::train {

ScheduleKind ParseScheduleKind(const std::string& name) {
  if (name == "constant") return ScheduleKind::kConstant;
  if (name == "constant_with_warmup") return ScheduleKind::kConstantWithWarmup;
  if (name == "linear") return ScheduleKind::kLinear;
  if (name == "cosine") return ScheduleKind::kCosine;
  Fail(ErrorCode::kInvalidArgument,
       "schedule.kind: expected \"constant\", \"constant_with_warmup\", \"linear\" or \"cosine\", got \"", name, "\"");
}

double LearningRateFactor(const Schedule& s, int64_t step) {
  if (s.kind == ScheduleKind::kConstant) return 1.0;
  if (step < s.warmup_steps) {
    return static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, s.warmup_steps));
  }
  const double after_warmup = static_cast<double>(std::max<int64_t>(1, s.total_steps - s.warmup_steps));
  switch (s.kind) {
    case ScheduleKind::kConstant:
    case ScheduleKind::kConstantWithWarmup:
      return 1.0;
    case ScheduleKind::kLinear:
      return std::max(0.0, static_cast<double>(s.total_steps - step) / after_warmup);
    case ScheduleKind::kCosine: {
      const double progress = static_cast<double>(step - s.warmup_steps) / after_warmup;
      return std::max(0.0, 0.5 * (1.0 + std::cos(M_PI * s.num_cycles * 2.0 * progress)));
    }
  }
  return 1.0;
}

}  // namespace ltgbert::train
