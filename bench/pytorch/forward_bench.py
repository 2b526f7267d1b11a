#!/usr/bin/env python3
"""Time the eager PyTorch forward of the LTG-BERT masked LM.

    /usr/bin/python3 bench/pytorch/forward_bench.py --preset mini
    /usr/bin/python3 bench/pytorch/forward_bench.py --config '{"vocab_size": 16384, ...}'
    /usr/bin/python3 bench/pytorch/forward_bench.py --preset base --threads 2 --runs 5

What is timed: model(input_ids, attention_mask) of LtgBertForMaskedLM from
ltg_bert.py in eval mode under torch.inference_mode() (default; --grad-mode
no_grad for torch.no_grad()), returning logits [B, T, vocab] for all
positions. Inputs: B x T random token ids (fixed seed), attention mask all
ones, int64. Weights: random init. `--warmup` untimed runs, then `--runs`
timed runs; the median is reported. `--max-seconds` bounds the timed loop
(it stops early and reports how many runs it made).

Prints one JSON line on stdout:
  {config, batch, seq, threads, seconds_per_batch_median, runs, torch_version,
   seconds_all, warmup, grad_mode, attention, flops, flops_dense_relative,
   flops_breakdown, gflops_per_s}
`flops` is the matmul FLOP count of one forward (see flops.py).
--flops-only prints the FLOP fields without building a model.
"""

from __future__ import annotations

import argparse
import json
import sys

sys.dont_write_bytecode = True
from common import add_model_arguments, check_seq, parse_config, time_runs, timing_record  # noqa: E402 (sets sys.path)
from flops import forward_flops  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_arguments(ap)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--runs", type=int, default=5, help="timed runs (median reported)")
    ap.add_argument("--warmup", type=int, default=2, help="untimed runs first")
    ap.add_argument("--max-seconds", type=float, default=300.0, help="stop the timed loop after this long")
    ap.add_argument("--grad-mode", choices=("inference", "no_grad"), default="inference")
    ap.add_argument("--attention", choices=("bucketed", "dense"), default="bucketed",
                    help="c2p/p2c against the table rows then gather (default), or the literal [T,T] form")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--flops-only", action="store_true")
    args = ap.parse_args()

    name, cfg = parse_config(args)
    check_seq(args.seq, cfg)
    fl = forward_flops(cfg, args.batch, args.seq)
    record = {"config": dict(cfg, name=name), "batch": args.batch, "seq": args.seq}
    if args.flops_only:
        record.update(flops=fl["flops"], flops_dense_relative=fl["flops_dense_relative"],
                      flops_breakdown=fl["breakdown"])
        print(json.dumps(record))
        return 0

    import torch

    from ltg_bert import LtgBertConfig, LtgBertForMaskedLM

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = LtgBertForMaskedLM(
        LtgBertConfig.from_dict(cfg), dense_relative=(args.attention == "dense")
    ).eval()
    g = torch.Generator().manual_seed(args.seed)
    input_ids = torch.randint(0, cfg["vocab_size"], (args.batch, args.seq), generator=g, dtype=torch.long)
    attention_mask = torch.ones_like(input_ids)
    grad_ctx = torch.inference_mode if args.grad_mode == "inference" else torch.no_grad

    def check(out):
        assert out["logits"].shape == (args.batch, args.seq, cfg["vocab_size"])

    with grad_ctx():
        for _ in range(args.warmup):
            model(input_ids, attention_mask)
        times = time_runs(args.runs, args.max_seconds, lambda: model(input_ids, attention_mask), check)
    timing = timing_record(args, times, "seconds_per_batch_median", torch)
    record.update(
        timing,
        grad_mode="torch.inference_mode" if args.grad_mode == "inference" else "torch.no_grad",
        attention=args.attention,
        flops=fl["flops"],
        flops_dense_relative=fl["flops_dense_relative"],
        flops_breakdown=fl["breakdown"],
        gflops_per_s=fl["flops"] / timing["seconds_per_batch_median"] / 1e9,
    )
    print(json.dumps(record), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
