// Learning-rate schedules as Hugging Face's transformers defines them: a
// multiplier of the base rate for each optimizer step (0-based).
#pragma once

#include <cstdint>
#include <string>

namespace ltgbert::train {

enum class ScheduleKind { kConstant, kConstantWithWarmup, kLinear, kCosine };

struct Schedule {
  ScheduleKind kind = ScheduleKind::kConstant;
  int64_t warmup_steps = 0;
  int64_t total_steps = 0;  // linear and cosine
  double num_cycles = 0.5;  // cosine: half a cosine from the peak to zero
};

// "constant", "constant_with_warmup", "linear", "cosine"; else
// LTGBERT_INVALID_ARGUMENT.
ScheduleKind ParseScheduleKind(const std::string& name);

// The multiplier for step `step`: warmup rises linearly from 0 (step 0) to 1
// (step warmup_steps); linear then falls to 0 at total_steps, cosine follows
// 0.5 (1 + cos(pi * 2 num_cycles * progress)).
double LearningRateFactor(const Schedule& schedule, int64_t step);

}  // namespace ltgbert::train
