#!/usr/bin/env python3
"""Time one eager PyTorch training epoch of the LTG-BERT sequence classifier
over batches planned by bench/epoch.mjs.

    /usr/bin/python3 bench/pytorch/epoch_bench.py --batches FILE --preset mini
    /usr/bin/python3 bench/pytorch/epoch_bench.py --batches FILE --config '{"vocab_size": 16384, ...}'

The batches file (written by bench/epoch.mjs) has the format
"ltgbert-batches" that batch_file.py describes: the shape [B_i, T_i] of
every batch (dynamic padding), the schedule's W warm-up steps of N, then the
ids, masks and labels of all batches as int32 arrays.

What is timed: the whole loop over the file's batches, in the file's order,
each one the step of train_bench.py (LtgBertForSequenceClassification with
the linear head, train mode, dropout 0.1; forward with cross-entropy;
backward; clip_grad_norm_ to 1.0; AdamW with Hugging Face's decay groups and
train_bench.py's hyperparameters; the linear schedule's step, here with the
header's W warm-up steps out of N; zero_grad(set_to_none=True); loss read
back as a float), with the int32 ids, mask and labels turned into int64
tensors inside the loop, as a data loader would hand them over. Not timed:
reading the file, building the model and the optimizer. There are no untimed
warm-up steps: the first step allocates the gradients and AdamW's state, as
the first step of any epoch does.

Prints one JSON line on stdout:
  {config, threads, batches, examples, tokens, padded_tokens, seconds_epoch,
   losses, torch_version, warmup_steps, total_steps}
`tokens` counts the mask's ones, `padded_tokens` the sum of B_i * T_i. With
--progress S, a line on stderr every S seconds says how far the loop is.
"""

from __future__ import annotations

import json
import sys
import time

sys.dont_write_bytecode = True
from batch_file import read_batch_file  # noqa: E402
from common import (  # noqa: E402 (sets sys.path)
    BETAS,
    EPS,
    LEARNING_RATE,
    MAX_GRAD_NORM,
    Progress,
    check_finite,
    check_longest,
    decay_groups,
    linear_schedule,
    optimizer_step,
    start_batches_bench,
)


def read_batches(path: str, torch):
    """The header and a list of (input_ids, attention_mask, labels) int32 views."""
    header, body = read_batch_file(path, torch, "ltgbert-batches")
    shapes = [tuple(s) for s in header["shapes"]]
    cells = sum(b * t for b, t in shapes)
    rows = sum(b for b, _ in shapes)
    if body.numel() != 2 * cells + rows:
        sys.exit(f"{path}: {body.numel()} int32 values after the header, expected {2 * cells + rows}")
    ids, mask, labels = body[:cells], body[cells : 2 * cells], body[2 * cells :]
    batches = []
    at = row = 0
    for b, t in shapes:
        batches.append(
            (
                ids[at : at + b * t].view(b, t),  # (B, T)
                mask[at : at + b * t].view(b, t),  # (B, T)
                labels[row : row + b],  # (B,)
            )
        )
        at += b * t
        row += b
    return header, batches


def main() -> int:
    args, name, cfg, torch, header, batches = start_batches_bench(__doc__, "bench/epoch.mjs", read_batches)
    from ltg_bert import LtgBertConfig, LtgBertForSequenceClassification

    num_labels = header["num_labels"]
    warmup_steps, total_steps = header["warmup_steps"], header["total_steps"]
    check_longest(header["shapes"], cfg)

    # dropout probabilities are the config defaults (0.1); the constructor calls init_weights
    config = LtgBertConfig.from_dict(cfg, num_labels=num_labels, classifier_head="linear")
    model = LtgBertForSequenceClassification(config).train()
    opt = torch.optim.AdamW(decay_groups(model, torch), lr=LEARNING_RATE, betas=BETAS, eps=EPS)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, linear_schedule(warmup_steps, total_steps))
    params = [p for p in model.parameters() if p.requires_grad]

    losses = []
    t0 = time.perf_counter()
    progress = Progress(args.progress, len(batches), "batches", t0)
    for i, (ids, mask, labels) in enumerate(batches):
        out = model(ids.long(), mask.long(), labels.long())
        loss, grad_norm = optimizer_step(out["loss"], params, opt, sched, MAX_GRAD_NORM, torch)
        losses.append(loss)
        check_finite(f"batch {i}", loss, grad_norm)
        progress(i + 1)
    seconds = time.perf_counter() - t0

    print(
        json.dumps(
            {
                "config": dict(cfg, name=name),
                "threads": args.threads,
                "batches": len(batches),
                "examples": sum(b for b, _ in header["shapes"]),
                "tokens": int(sum(int(m.sum()) for _, m, _ in batches)),
                "padded_tokens": sum(b * t for b, t in header["shapes"]),
                "seconds_epoch": seconds,
                "losses": losses,
                "torch_version": torch.__version__,
                "warmup_steps": warmup_steps,
                "total_steps": total_steps,
            }
        ),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
