"""What the PyTorch benches (forward_bench.py, train_bench.py, epoch_bench.py,
pretrain_bench.py, serve_baseline.py) share: the path to the reference model
(reference/ltg_bert.py), the model presets (bench/presets.json, which
bench/common.mjs reads too), the command-line options, the optimizer's
settings and the parts of a training step.

Importing it puts this folder and reference/ on sys.path.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
# the reference model, reference/ltg_bert.py
sys.path.insert(0, os.path.join(ROOT, "reference"))

with open(os.path.join(ROOT, "bench", "presets.json")) as _f:
    PRESETS = json.load(_f)
REQUIRED = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size")

# The optimizer of train_bench.py and epoch_bench.py (less the schedule),
# ADAMW in bench/common.mjs: change them together.
LEARNING_RATE = 2e-5
BETAS = (0.9, 0.999)
EPS = 1e-8
WEIGHT_DECAY = 0.01
MAX_GRAD_NORM = 1.0


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


def start_batches_bench(doc: str, producer: str, read) -> tuple:
    """The start of a bench that replays a batches file: its command line
    (batches_bench_arguments), the config, torch with the thread count and
    the seed set, and the file as read(path, torch) returns it. Returns
    (args, name, cfg, torch, header, batches)."""
    args = batches_bench_arguments(doc, producer)
    name, cfg = parse_config(args)

    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    header, batches = read(args.batches, torch)
    return args, name, cfg, torch, header, batches


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


def check_seq(seq: int, cfg: dict) -> None:
    """Exits when --seq does not fit the model's positions."""
    if seq > cfg["max_position_embeddings"]:
        sys.exit(f"--seq {seq} exceeds max_position_embeddings {cfg['max_position_embeddings']}")


def check_longest(shapes: list, cfg: dict) -> None:
    """Exits when the longest of a batches file's batches does not fit the model's positions."""
    longest = max(t for _, t in shapes)
    if longest > cfg["max_position_embeddings"]:
        sys.exit(f"a batch is {longest} tokens long, more than max_position_embeddings {cfg['max_position_embeddings']}")


def linear_schedule(warmup_steps: int, total_steps: int):
    """Hugging Face's get_linear_schedule_with_warmup factor, for LambdaLR."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return step / max(1, warmup_steps)
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))

    return factor


def decay_groups(model, torch, weight_decay: float = WEIGHT_DECAY):
    """Weight decay on everything but biases and LayerNorm parameters."""
    decay, no_decay = [], []
    for module in model.modules():
        for name, p in module.named_parameters(recurse=False):
            if name == "bias" or isinstance(module, torch.nn.LayerNorm):
                no_decay.append(p)
            else:
                decay.append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def optimizer_step(loss, params, opt, sched, max_grad_norm: float, torch) -> tuple:
    """After the forward: backward, clip_grad_norm_, the optimizer's and the
    schedule's step, zero_grad(set_to_none=True); the loss and the gradient
    norm as Python floats."""
    loss.backward()
    grad_norm = torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
    opt.step()
    sched.step()
    opt.zero_grad(set_to_none=True)
    return loss.item(), grad_norm.item()


def check_finite(what: str, loss: float, grad_norm: float) -> None:
    """Exits when a step's loss or gradient norm is not finite."""
    if not (math.isfinite(loss) and math.isfinite(grad_norm)):
        sys.exit(f"{what}: loss {loss}, grad norm {grad_norm}")


def time_runs(runs: int, max_seconds: float, step, check=lambda result: None) -> list:
    """Times `runs` calls of step, in seconds each, stopping early once
    `max_seconds` have passed; check sees each result, untimed."""
    times = []
    deadline = time.perf_counter() + max_seconds
    for _ in range(runs):
        t0 = time.perf_counter()
        result = step()
        times.append(time.perf_counter() - t0)
        check(result)
        del result
        if time.perf_counter() > deadline:
            break
    return times


def timing_record(args, times: list, median_key: str, torch) -> dict:
    """The fields forward_bench.py and train_bench.py report about their timed
    runs, `median_key` naming the median."""
    return {
        "threads": args.threads,
        median_key: statistics.median(times),
        "runs": len(times),
        "torch_version": torch.__version__,
        "seconds_all": times,
        "warmup": args.warmup,
    }


class Progress:
    """With --progress S, a line "progress: i/N UNIT, s s" on stderr every S
    seconds of a loop over N items (bench/common.mjs passes it on)."""

    def __init__(self, seconds: float, total: int, unit: str, start: float):
        self.seconds, self.total, self.unit = seconds, total, unit
        self.start = start
        self.next = self.start + seconds

    def __call__(self, done: int) -> None:
        if self.seconds > 0 and time.perf_counter() >= self.next:
            now = time.perf_counter()
            print(f"progress: {done}/{self.total} {self.unit}, {now - self.start:.0f} s", file=sys.stderr, flush=True)
            self.next = now + self.seconds
