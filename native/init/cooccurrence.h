// Word vectors from document-level co-occurrence: which tokens appear in the
// same documents, as positive pointwise mutual information (PPMI), reduced
// to `dim` dimensions by a seeded randomized SVD. A masked LM's word
// embeddings can start from them instead of noise (`ltgbert pretrain
// --embedding-init cooccurrence`).
#pragma once

#include <torch/torch.h>

#include <cstdint>

namespace ltgbert::init {

struct CooccurrenceOptions {
  int64_t vocab_size = 0;
  int64_t dim = 0;
  // Pairs seen together in fewer documents than this get PMI 0.
  int64_t min_count = 5;
  // Power iterations of the randomized SVD, and its extra sampled columns.
  int64_t power_iterations = 4;
  int64_t oversampling = 8;
  uint64_t seed = 42;
};

struct CooccurrenceVectors {
  torch::Tensor vectors;          // [vocab_size, dim] float32: U·sqrt(S)
  torch::Tensor singular_values;  // [dim] float32, descending
  int64_t documents = 0;
  int64_t pairs = 0;  // distinct token pairs kept (count ≥ min_count)
};

// `ids` holds each document's token ids, one after the other; document d is
// ids[offsets[d], offsets[d + 1]). Repeats within a document count once.
// Ids must lie in [0, vocab_size). An id that never occurs gets a zero row.
CooccurrenceVectors Cooccurrence(const torch::Tensor& ids, const torch::Tensor& offsets,
                                 const CooccurrenceOptions& options);

}  // namespace ltgbert::init
