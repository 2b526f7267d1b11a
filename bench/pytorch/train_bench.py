#!/usr/bin/env python3
"""Time one eager PyTorch training step of the LTG-BERT sequence classifier.

    /usr/bin/python3 bench/pytorch/train_bench.py --preset mini
    /usr/bin/python3 bench/pytorch/train_bench.py --config '{"vocab_size": 16384, ...}'
    /usr/bin/python3 bench/pytorch/train_bench.py --preset base --threads 2 --runs 3

What is timed, per step (the same work as the package's `model.trainStep`):
LtgBertForSequenceClassification from ltg_bert.py (linear head on the first
token) in train mode, dropout 0.1 everywhere; forward with cross-entropy
loss; backward; torch.nn.utils.clip_grad_norm_(params, 1.0);
torch.optim.AdamW (lr 2e-5, betas (0.9, 0.999), eps 1e-8) with weight decay
0.01 on all parameters but biases and LayerNorm parameters (Hugging Face's
rule), 0 on those; a LambdaLR step of the linear schedule (10 warmup steps,
1000 in all); zero_grad(set_to_none=True); loss and grad norm read back as
Python floats. Inputs: B x T random token ids (fixed seed), attention mask
all ones, labels 0, 1, 0, 1, ... Weights: random init. `--warmup` untimed
steps (the first one allocates AdamW's state), then `--runs` timed steps;
the median is reported. `--max-seconds` bounds the timed loop.

Prints one JSON line on stdout:
  {config, batch, seq, num_labels, threads, seconds_per_step_median, runs,
   torch_version, seconds_all, warmup, losses, flops, flops_breakdown,
   gflops_per_s, peak_rss_growth_bytes}
`flops` is the matmul FLOP count of one step (flops.train_step_flops).
`peak_rss_growth_bytes`: peak resident memory of this process at the end
minus its resident memory just before the model was built.
--flops-only prints the FLOP fields without building a model.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys

sys.dont_write_bytecode = True
from common import (  # noqa: E402 (sets sys.path)
    BETAS,
    EPS,
    LEARNING_RATE,
    MAX_GRAD_NORM,
    add_model_arguments,
    check_finite,
    check_seq,
    decay_groups,
    linear_schedule,
    optimizer_step,
    parse_config,
    time_runs,
    timing_record,
)
from flops import train_step_flops  # noqa: E402

WARMUP_STEPS = 10
TOTAL_STEPS = 1000


def resident_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_arguments(ap)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--num-labels", type=int, default=2)
    ap.add_argument("--runs", type=int, default=5, help="timed steps (median reported)")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    ap.add_argument("--max-seconds", type=float, default=600.0, help="stop the timed loop after this long")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--flops-only", action="store_true")
    args = ap.parse_args()

    name, cfg = parse_config(args)
    check_seq(args.seq, cfg)
    fl = train_step_flops(cfg, args.batch, args.seq, args.num_labels)
    record = {"config": dict(cfg, name=name), "batch": args.batch, "seq": args.seq, "num_labels": args.num_labels}
    if args.flops_only:
        record.update(flops=fl["flops"], flops_breakdown=fl["breakdown"])
        print(json.dumps(record))
        return 0

    import torch

    from ltg_bert import LtgBertConfig, LtgBertForSequenceClassification

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rss_before = resident_bytes()
    # dropout probabilities are the config defaults (0.1); the constructor calls init_weights
    config = LtgBertConfig.from_dict(cfg, num_labels=args.num_labels, classifier_head="linear")
    model = LtgBertForSequenceClassification(config).train()
    opt = torch.optim.AdamW(decay_groups(model, torch), lr=LEARNING_RATE, betas=BETAS, eps=EPS)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, linear_schedule(WARMUP_STEPS, TOTAL_STEPS))
    params = [p for p in model.parameters() if p.requires_grad]

    g = torch.Generator().manual_seed(args.seed)
    input_ids = torch.randint(0, cfg["vocab_size"], (args.batch, args.seq), generator=g, dtype=torch.long)
    attention_mask = torch.ones_like(input_ids)
    labels = torch.arange(args.batch, dtype=torch.long) % args.num_labels

    def step():
        out = model(input_ids, attention_mask, labels)
        return optimizer_step(out["loss"], params, opt, sched, MAX_GRAD_NORM, torch)

    def check(result):
        loss, grad_norm = result
        losses.append(loss)
        check_finite(f"step {len(losses)}", loss, grad_norm)

    losses = []
    for _ in range(args.warmup):
        losses.append(step()[0])
    times = time_runs(args.runs, args.max_seconds, step, check)
    # ru_maxrss is in KiB on Linux
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    timing = timing_record(args, times, "seconds_per_step_median", torch)
    record.update(
        timing,
        losses=losses,
        flops=fl["flops"],
        flops_breakdown=fl["breakdown"],
        gflops_per_s=fl["flops"] / timing["seconds_per_step_median"] / 1e9,
        peak_rss_growth_bytes=peak - rss_before,
    )
    print(json.dumps(record), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
