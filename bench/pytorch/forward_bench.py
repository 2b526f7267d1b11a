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
import os
import statistics
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# the reference model, reference/ltg_bert.py
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "reference"))

from flops import forward_flops  # noqa: E402

PRESETS = {
    "mini": dict(
        vocab_size=16384,
        hidden_size=256,
        num_hidden_layers=4,
        num_attention_heads=4,
        intermediate_size=683,
        position_bucket_size=32,
        max_position_embeddings=512,
    ),
    "base": dict(
        vocab_size=16384,
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=2048,
        position_bucket_size=32,
        max_position_embeddings=512,
    ),
}
REQUIRED = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size")


def add_model_arguments(ap: argparse.ArgumentParser) -> None:
    """The options every PyTorch bench takes: the model (--preset or --config) and --threads."""
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--preset", choices=sorted(PRESETS), default="mini")
    src.add_argument("--config", help="JSON object (or a path to a JSON file) with the model config")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")


def batches_bench_arguments(doc: str, producer: str) -> argparse.Namespace:
    """The command line of a bench that replays a batches file written by `producer` (a bench/*.mjs)."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batches", required=True, help=f"the batches file written by {producer}")
    add_model_arguments(ap)
    ap.add_argument("--seed", type=int, default=0, help="torch.manual_seed: the init and dropout")
    ap.add_argument("--progress", type=float, default=0, help="seconds between progress lines on stderr (0: none)")
    return ap.parse_args()


def parse_config(args) -> tuple:
    if args.config:
        text = args.config
        if os.path.isfile(text):
            with open(text) as f:
                text = f.read()
        cfg = json.loads(text)
        name = cfg.pop("name", "custom") if isinstance(cfg, dict) else "custom"
        missing = [k for k in REQUIRED if k not in cfg]
        if missing:
            sys.exit(f"--config lacks {missing}")
        cfg.setdefault("position_bucket_size", 32)
        cfg.setdefault("max_position_embeddings", 512)
        return name, cfg
    return args.preset, dict(PRESETS[args.preset])


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
    if args.seq > cfg["max_position_embeddings"]:
        sys.exit(f"--seq {args.seq} exceeds max_position_embeddings {cfg['max_position_embeddings']}")
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

    times = []
    with grad_ctx():
        for _ in range(args.warmup):
            model(input_ids, attention_mask)
        deadline = time.perf_counter() + args.max_seconds
        for _ in range(args.runs):
            t0 = time.perf_counter()
            out = model(input_ids, attention_mask)
            times.append(time.perf_counter() - t0)
            assert out["logits"].shape == (args.batch, args.seq, cfg["vocab_size"])
            del out
            if time.perf_counter() > deadline:
                break
    med = statistics.median(times)
    record.update(
        threads=args.threads,
        seconds_per_batch_median=med,
        runs=len(times),
        torch_version=torch.__version__,
        seconds_all=times,
        warmup=args.warmup,
        grad_mode="torch.inference_mode" if args.grad_mode == "inference" else "torch.no_grad",
        attention=args.attention,
        flops=fl["flops"],
        flops_dense_relative=fl["flops_dense_relative"],
        flops_breakdown=fl["breakdown"],
        gflops_per_s=fl["flops"] / med / 1e9,
    )
    print(json.dumps(record), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
