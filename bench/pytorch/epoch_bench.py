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
import math
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# the reference model, reference/ltg_bert.py
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "reference"))

from batch_file import read_batch_file  # noqa: E402
from forward_bench import batches_bench_arguments, parse_config  # noqa: E402
from train_bench import BETAS, EPS, LEARNING_RATE, MAX_GRAD_NORM, decay_groups  # noqa: E402


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
    args = batches_bench_arguments(__doc__, "bench/epoch.mjs")

    name, cfg = parse_config(args)

    import torch

    from ltg_bert import LtgBertConfig, LtgBertForSequenceClassification

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    header, batches = read_batches(args.batches, torch)
    num_labels = header["num_labels"]
    warmup_steps, total_steps = header["warmup_steps"], header["total_steps"]
    longest = max(t for _, t in header["shapes"])
    if longest > cfg["max_position_embeddings"]:
        sys.exit(f"a batch is {longest} tokens long, more than max_position_embeddings {cfg['max_position_embeddings']}")

    def linear_schedule(step: int) -> float:
        """Hugging Face's get_linear_schedule_with_warmup factor."""
        if step < warmup_steps:
            return step / max(1, warmup_steps)
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))

    # dropout probabilities are the config defaults (0.1); the constructor calls init_weights
    config = LtgBertConfig.from_dict(cfg, num_labels=num_labels, classifier_head="linear")
    model = LtgBertForSequenceClassification(config).train()
    opt = torch.optim.AdamW(decay_groups(model, torch), lr=LEARNING_RATE, betas=BETAS, eps=EPS)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, linear_schedule)
    params = [p for p in model.parameters() if p.requires_grad]

    losses = []
    t0 = time.perf_counter()
    next_report = t0 + args.progress
    for i, (ids, mask, labels) in enumerate(batches):
        out = model(ids.long(), mask.long(), labels.long())
        out["loss"].backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(params, MAX_GRAD_NORM)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        loss = out["loss"].item()
        losses.append(loss)
        if not (math.isfinite(loss) and math.isfinite(grad_norm.item())):
            sys.exit(f"batch {i}: loss {loss}, grad norm {grad_norm.item()}")
        if args.progress > 0 and time.perf_counter() >= next_report:
            now = time.perf_counter()
            print(f"progress: {i + 1}/{len(batches)} batches, {now - t0:.0f} s", file=sys.stderr, flush=True)
            next_report = now + args.progress
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
