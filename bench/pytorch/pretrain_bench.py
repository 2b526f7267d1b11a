#!/usr/bin/env python3
"""Time eager PyTorch pretraining steps of the LTG-BERT masked LM over the
masked batches that bench/pretrain.mjs wrote.

    /usr/bin/python3 bench/pytorch/pretrain_bench.py --batches FILE --preset mini
    /usr/bin/python3 bench/pytorch/pretrain_bench.py --batches FILE --config '{"vocab_size": 16384, ...}'

The batches file (written by bench/pretrain.mjs) has the format
"ltgbert-mlm-batches" that batch_file.py describes: the shape [B_i, T_i] of
every batch, W untimed steps, the optimizer's settings and schedule, then
the ids (after masking), masks and labels (-100 where the loss does not
look) of all batches as int32 arrays.

Each batch is one optimizer step, in the file's order: LtgBertForMaskedLM
from ltg_bert.py in train mode, dropout 0.1; forward of the encoder, then
the MLM head on the chosen positions only, as LTG-BERT's own pretraining
runs it (`masked_lm_loss`), and the cross-entropy of the chosen tokens;
backward; clip_grad_norm_ to the header's max_grad_norm; torch.optim.AdamW
with the header's learning rate, betas, eps and weight decay on all
parameters but biases and LayerNorm parameters (Hugging Face's rule,
common.decay_groups, the tied decoder/embedding weight once); a LambdaLR
step of the linear schedule (the header's warmup_steps of total_steps);
zero_grad(set_to_none=True); loss read back as a float. The int32 arrays
become int64 tensors inside the loop, as a data loader would hand them over.
The first W batches run untimed (the first step allocates the gradients and
AdamW's state); each of the others is timed on its own.

Prints one JSON line on stdout:
  {config, threads, batches, timed, seconds_all, seconds_timed,
   seconds_per_step_median, losses, tokens, masked_tokens, padded_tokens,
   flops, flops_per_step, flops_breakdown, torch_version}
`tokens`, `masked_tokens` and `padded_tokens` count the timed batches (the
masks' ones, the labels other than -100, the sum of B_i * T_i); `flops` is
the matmul FLOP count of the timed steps (flops.mlm_train_step_flops),
`flops_breakdown` that of the first batch. With --progress S, a line on
stderr every S seconds says how far the loop is.
"""

from __future__ import annotations

import json
import statistics
import sys
import time

sys.dont_write_bytecode = True
from batch_file import read_batch_file  # noqa: E402
from common import (  # noqa: E402 (sets sys.path)
    Progress,
    check_finite,
    check_longest,
    decay_groups,
    linear_schedule,
    optimizer_step,
    start_batches_bench,
)
from flops import mlm_train_step_flops  # noqa: E402

IGNORE_INDEX = -100


def read_mlm_batches(path: str, torch):
    """The header and a list of (input_ids, attention_mask, labels) int32 views, each (B, T)."""
    header, body = read_batch_file(path, torch, "ltgbert-mlm-batches")
    shapes = [tuple(s) for s in header["shapes"]]
    cells = sum(b * t for b, t in shapes)
    if body.numel() != 3 * cells:
        sys.exit(f"{path}: {body.numel()} int32 values after the header, expected {3 * cells}")
    parts = body[:cells], body[cells : 2 * cells], body[2 * cells :]
    batches = []
    at = 0
    for b, t in shapes:
        batches.append(tuple(p[at : at + b * t].view(b, t) for p in parts))  # (B, T) each
        at += b * t
    return header, batches


def masked_lm_loss(model, ids, mask, labels):
    """Cross-entropy of the chosen tokens, the head run on their positions alone."""
    import torch.nn.functional as F

    hidden = model.encode(ids, mask)
    chosen = labels != IGNORE_INDEX
    return F.cross_entropy(model.classifier(hidden[chosen]), labels[chosen])


def unique_decay_groups(model, torch, weight_decay: float):
    """common.decay_groups with this run's decay, each parameter once: the
    decoder's weight is the word embedding's, and would be listed twice."""
    groups = decay_groups(model, torch, weight_decay)
    seen = set()
    for group in groups:
        kept = []
        for p in group["params"]:
            if id(p) not in seen:
                seen.add(id(p))
                kept.append(p)
        group["params"] = kept
    return groups


def main() -> int:
    args, name, cfg, torch, header, batches = start_batches_bench(__doc__, "bench/pretrain.mjs", read_mlm_batches)
    from ltg_bert import LtgBertConfig, LtgBertForMaskedLM

    warmup = header["warmup"]
    if not 0 <= warmup < len(batches):
        sys.exit(f"{args.batches}: warmup {warmup} of {len(batches)} batches leaves none to time")
    check_longest(header["shapes"], cfg)
    warmup_steps, total_steps = header["warmup_steps"], header["total_steps"]

    # dropout probabilities are the config defaults (0.1); the constructor calls init_weights
    model = LtgBertForMaskedLM(LtgBertConfig.from_dict(cfg)).train()
    opt = torch.optim.AdamW(
        unique_decay_groups(model, torch, header["weight_decay"]),
        lr=header["learning_rate"],
        betas=tuple(header["betas"]),
        eps=header["eps"],
    )
    sched = torch.optim.lr_scheduler.LambdaLR(opt, linear_schedule(warmup_steps, total_steps))
    params = [p for p in model.parameters() if p.requires_grad]
    max_grad_norm = header["max_grad_norm"]

    losses, times = [], []
    progress = Progress(args.progress, len(batches), "steps", time.perf_counter())
    for i, (ids, mask, labels) in enumerate(batches):
        t0 = time.perf_counter()
        loss = masked_lm_loss(model, ids.long(), mask.long(), labels.long())
        loss, grad_norm = optimizer_step(loss, params, opt, sched, max_grad_norm, torch)
        if i >= warmup:
            times.append(time.perf_counter() - t0)
        losses.append(loss)
        check_finite(f"batch {i}", loss, grad_norm)
        progress(i + 1)

    timed = batches[warmup:]
    flops = [
        mlm_train_step_flops(cfg, b, t, int((labels != -100).sum()))
        for (b, t), (_, _, labels) in zip(header["shapes"][warmup:], batches[warmup:])
    ]
    print(
        json.dumps(
            {
                "config": dict(cfg, name=name),
                "threads": args.threads,
                "batches": len(batches),
                "timed": len(timed),
                "seconds_all": times,
                "seconds_timed": sum(times),
                "seconds_per_step_median": statistics.median(times),
                "losses": losses,
                "tokens": int(sum(int(m.sum()) for _, m, _ in timed)),
                "masked_tokens": int(sum(int((l != IGNORE_INDEX).sum()) for _, _, l in timed)),
                "padded_tokens": sum(b * t for b, t in header["shapes"][warmup:]),
                "flops": sum(f["flops"] for f in flops),
                "flops_per_step": [f["flops"] for f in flops],
                "flops_breakdown": flops[0]["breakdown"],
                "torch_version": torch.__version__,
            }
        ),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
