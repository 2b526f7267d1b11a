"""Masked-LM loss and gradient norm in PyTorch, for test/train.test.ts.

Usage: python3 mlm_loss_grad.py MODEL_DIR BATCH_JSON

BATCH_JSON: {"input_ids": [[...]], "attention_mask": [[...]], "labels": [[...]]}
(-100: not scored). Builds the project's Python reference
(reference/ltg_bert.py) from MODEL_DIR with dropout off, computes the
logits at every position and cross_entropy(ignore_index=-100) over all of
them, backpropagates, and prints {"loss", "grad_norm"}: the loss and the
global L2 norm of every parameter's gradient (a tied weight once).
"""

import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "reference"))
import ltg_bert  # noqa: E402

model_dir, batch = sys.argv[1], json.loads(sys.argv[2])
model = ltg_bert.from_pretrained(model_dir, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
model.train()
out = model(
    torch.tensor(batch["input_ids"]),
    torch.tensor(batch["attention_mask"]),
    labels=torch.tensor(batch["labels"]),
)
out["loss"].backward()
norm = torch.sqrt(sum(p.grad.double().pow(2).sum() for p in model.parameters() if p.grad is not None))
print(json.dumps({"loss": out["loss"].item(), "grad_norm": norm.item()}))
