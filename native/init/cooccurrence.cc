#include "init/cooccurrence.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "common/error.h"

namespace ltgbert::init {

namespace {

// Symmetric document co-occurrence counts: C[i][j] = documents holding both
// i and j (i ≠ j). Counted as float32 (exact up to 2^24 documents a pair)
// in the upper triangle, then mirrored: one V×V matrix in all.
torch::Tensor CountPairs(const int32_t* ids, const int64_t* offsets, int64_t documents, int64_t V) {
  auto counts = torch::zeros({V, V}, torch::kFloat32);
  float* c = counts.data_ptr<float>();
  std::vector<int32_t> unique;
  std::vector<int64_t> seen(V, -1);
  for (int64_t d = 0; d < documents; ++d) {
    unique.clear();
    for (int64_t k = offsets[d]; k < offsets[d + 1]; ++k) {
      const int32_t id = ids[k];
      if (seen[id] != d) {
        seen[id] = d;
        unique.push_back(id);
      }
    }
    std::sort(unique.begin(), unique.end());
    for (size_t a = 0; a < unique.size(); ++a) {
      float* row = c + static_cast<int64_t>(unique[a]) * V;
      for (size_t b = a + 1; b < unique.size(); ++b) row[unique[b]] += 1.0f;
    }
  }
  for (int64_t i = 0; i < V; ++i)
    for (int64_t j = i + 1; j < V; ++j) c[j * V + i] = c[i * V + j];
  return counts;
}

// Turns counts into PPMI in place: PMI(i, j) = log(C_ij · total / (C_i · C_j)),
// C_i the row sums, i.e. how much more often i and j share a document than
// their frequencies predict; negative values, and pairs sharing fewer than
// min_count documents, become 0. A block of rows at a time, so the only
// V×V matrix is the one given. Returns the positive entries over 2 (pairs).
int64_t ToPpmi(torch::Tensor& pmi, int64_t min_count) {
  const int64_t V = pmi.size(0);
  const double total = pmi.sum(torch::kFloat64).item<double>();
  auto log_rows = pmi.sum(1, false, torch::kFloat64).clamp_min(1.0).log().to(torch::kFloat32);
  const double log_total = std::log(std::max(total, 1.0));
  int64_t positive = 0;
  constexpr int64_t kRows = 256;
  for (int64_t r = 0; r < V; r += kRows) {
    auto block = pmi.narrow(0, r, std::min(kRows, V - r));
    auto rare = block < static_cast<double>(min_count);
    block.log_().add_(log_total).sub_(log_rows.narrow(0, r, block.size(0)).unsqueeze(1)).sub_(log_rows.unsqueeze(0));
    block.clamp_min_(0.0).masked_fill_(rare, 0.0);
    positive += (block > 0).sum().item<int64_t>();
  }
  return positive / 2;
}

// Top-`k` singular triplets of A by randomized subspace iteration (Halko,
// Martinsson and Tropp 2011, algorithm 4.4), with a seeded Gaussian start.
std::tuple<torch::Tensor, torch::Tensor> RandomizedSvd(const torch::Tensor& A, int64_t k, int64_t extra,
                                                       int64_t iterations, uint64_t seed) {
  const int64_t n = A.size(1);
  const int64_t l = std::min<int64_t>(k + extra, std::min(A.size(0), n));
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto omega = torch::empty({n, l}, torch::kFloat32);
  omega.normal_(0.0, 1.0, generator);
  auto q = std::get<0>(torch::linalg_qr(A.matmul(omega)));
  for (int64_t i = 0; i < iterations; ++i) {
    auto z = std::get<0>(torch::linalg_qr(A.t().matmul(q)));
    q = std::get<0>(torch::linalg_qr(A.matmul(z)));
  }
  auto b = q.t().matmul(A);  // [l, n]
  auto [ub, s, vt] = torch::linalg_svd(b, /*full_matrices=*/false);
  auto u = q.matmul(ub);
  return {u.narrow(1, 0, k), s.narrow(0, 0, k)};
}

}  // namespace

CooccurrenceVectors Cooccurrence(const torch::Tensor& ids, const torch::Tensor& offsets, const CooccurrenceOptions& o) {
  torch::NoGradGuard no_grad;
  const int64_t V = o.vocab_size;
  if (V < 2) Fail(ErrorCode::kInvalidArgument, "vocabSize: expected at least 2, got ", V);
  if (o.dim < 1 || o.dim > V) Fail(ErrorCode::kInvalidArgument, "dim: expected 1 to ", V, ", got ", o.dim);
  if (o.min_count < 1) Fail(ErrorCode::kInvalidArgument, "minCount: expected at least 1, got ", o.min_count);
  auto id = ids.to(torch::kInt32).contiguous();
  auto off = offsets.to(torch::kInt64).contiguous();
  const int64_t documents = off.numel() - 1;
  if (documents < 1) Fail(ErrorCode::kInvalidArgument, "offsets: expected at least 2 entries, got ", off.numel());
  const int64_t* po = off.data_ptr<int64_t>();
  if (po[0] != 0 || po[documents] != id.numel())
    Fail(ErrorCode::kInvalidArgument, "offsets: expected to run from 0 to ", id.numel(), ", got ", po[0], " to ",
         po[documents]);
  for (int64_t d = 0; d < documents; ++d)
    if (po[d + 1] < po[d]) Fail(ErrorCode::kInvalidArgument, "offsets[", d + 1, "]: smaller than offsets[", d, "]");
  const int32_t* pi = id.data_ptr<int32_t>();
  for (int64_t k = 0; k < id.numel(); ++k)
    if (pi[k] < 0 || pi[k] >= V)
      Fail(ErrorCode::kInvalidArgument, "ids[", k, "]: expected 0 to ", V - 1, ", got ", pi[k]);

  auto pmi = CountPairs(pi, po, documents, V);
  CooccurrenceVectors out;
  out.documents = documents;
  out.pairs = ToPpmi(pmi, o.min_count);
  auto [u, s] = RandomizedSvd(pmi, o.dim, o.oversampling, o.power_iterations, o.seed);
  out.vectors = (u * s.sqrt().unsqueeze(0)).contiguous();
  out.singular_values = s.contiguous();
  return out;
}

}  // namespace ltgbert::init
