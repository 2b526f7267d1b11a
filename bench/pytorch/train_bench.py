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
import math
import os
import resource
import statistics
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# the reference model, reference/ltg_bert.py
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "reference"))

from flops import train_step_flops  # noqa: E402
from forward_bench import add_model_arguments, parse_config  # noqa: E402

LEARNING_RATE = 2e-5
BETAS = (0.9, 0.999)
EPS = 1e-8
WEIGHT_DECAY = 0.01
MAX_GRAD_NORM = 1.0
WARMUP_STEPS = 10
TOTAL_STEPS = 1000


def resident_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def linear_schedule(step: int) -> float:
    """Hugging Face's get_linear_schedule_with_warmup factor."""
    if step < WARMUP_STEPS:
        return step / max(1, WARMUP_STEPS)
    return max(0.0, (TOTAL_STEPS - step) / max(1, TOTAL_STEPS - WARMUP_STEPS))


def decay_groups(model, torch):
    """Weight decay on everything but biases and LayerNorm parameters."""
    decay, no_decay = [], []
    for module in model.modules():
        for name, p in module.named_parameters(recurse=False):
            if name == "bias" or isinstance(module, torch.nn.LayerNorm):
                no_decay.append(p)
            else:
                decay.append(p)
    return [{"params": decay, "weight_decay": WEIGHT_DECAY}, {"params": no_decay, "weight_decay": 0.0}]


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
    if args.seq > cfg["max_position_embeddings"]:
        sys.exit(f"--seq {args.seq} exceeds max_position_embeddings {cfg['max_position_embeddings']}")
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
    sched = torch.optim.lr_scheduler.LambdaLR(opt, linear_schedule)
    params = [p for p in model.parameters() if p.requires_grad]

    g = torch.Generator().manual_seed(args.seed)
    input_ids = torch.randint(0, cfg["vocab_size"], (args.batch, args.seq), generator=g, dtype=torch.long)
    attention_mask = torch.ones_like(input_ids)
    labels = torch.arange(args.batch, dtype=torch.long) % args.num_labels

    def step():
        out = model(input_ids, attention_mask, labels)
        out["loss"].backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(params, MAX_GRAD_NORM)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        return out["loss"].item(), grad_norm.item()

    losses = []
    for _ in range(args.warmup):
        losses.append(step()[0])
    times = []
    deadline = time.perf_counter() + args.max_seconds
    for _ in range(args.runs):
        t0 = time.perf_counter()
        loss, grad_norm = step()
        times.append(time.perf_counter() - t0)
        losses.append(loss)
        if not (math.isfinite(loss) and math.isfinite(grad_norm)):
            sys.exit(f"step {len(losses)}: loss {loss}, grad norm {grad_norm}")
        if time.perf_counter() > deadline:
            break
    # ru_maxrss is in KiB on Linux
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    med = statistics.median(times)
    record.update(
        threads=args.threads,
        seconds_per_step_median=med,
        runs=len(times),
        torch_version=torch.__version__,
        seconds_all=times,
        warmup=args.warmup,
        losses=losses,
        flops=fl["flops"],
        flops_breakdown=fl["breakdown"],
        gflops_per_s=fl["flops"] / med / 1e9,
        peak_rss_growth_bytes=peak - rss_before,
    )
    print(json.dumps(record), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
