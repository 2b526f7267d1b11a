#!/usr/bin/env python3
"""The machine's float32 matmul rate with torch at N threads: "the limit".

    /usr/bin/python3 bench/matmul_rate.py [--threads 2] [--sizes 1024,2048] [--repeats 10]

For each size n: C = A @ B with A, B [n, n] float32 (torch.mm into a
preallocated C), a few untimed calls, then the best of `--repeats` timed
calls; rate = 2 n^3 / t. Also times two shapes that the base model runs
(tokens x hidden x 4*intermediate etc.) for comparison. The limit reported
(`gflops_limit`) is the best square-matrix rate.

Prints one JSON line: {threads, torch_version, blas, square: {n: GFLOP/s},
model_shapes: {...}, gflops_limit}.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time

import torch


def rate(m: int, k: int, n: int, repeats: int, max_seconds: float) -> float:
    a = torch.randn(m, k)
    b = torch.randn(k, n)
    c = torch.empty(m, n)
    for _ in range(2):
        torch.mm(a, b, out=c)
    best = float("inf")
    deadline = time.perf_counter() + max_seconds
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.mm(a, b, out=c)
        best = min(best, time.perf_counter() - t0)
        if time.perf_counter() > deadline:
            break
    return 2.0 * m * k * n / best / 1e9


def blas_name() -> str:
    try:
        cfg = torch.__config__.show()
    except Exception:
        return "unknown"
    m = re.search(r"BLAS_INFO=([^,\s]+)", cfg)
    return m.group(1) if m else ("mkl" if "MKL" in cfg else "unknown")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sizes", default="1024,2048")
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--max-seconds", type=float, default=20.0, help="per shape")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    square = {}
    for n in (int(s) for s in args.sizes.split(",") if s):
        square[str(n)] = round(rate(n, n, n, args.repeats, args.max_seconds), 2)
    # [tokens, in] x [in, out] as nn.Linear runs them in the base model at 8 x 128
    shapes = {"1024x768x4096 (mlp in)": (1024, 768, 4096), "1024x768x16384 (mlm head)": (1024, 768, 16384)}
    model_shapes = {k: round(rate(*v, max(3, args.repeats // 2), args.max_seconds), 2) for k, v in shapes.items()}
    print(json.dumps({
        "threads": args.threads,
        "torch_version": torch.__version__,
        "blas": blas_name(),
        "square": square,
        "model_shapes": model_shapes,
        "gflops_limit": max(square.values()),
    }), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
