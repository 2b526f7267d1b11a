#!/usr/bin/env python3
"""Time a training step of PyTorch's DistributedDataParallel, the reference
for bench/distributed.mjs.

    /usr/bin/python3 bench/pytorch/ddp_bench.py --preset mini --world 2 --threads 1 --batch 8

Each of --world processes (torch.multiprocessing, Gloo over loopback, each
with --threads threads) trains the project's reference sequence classifier
(reference/ltg_bert.py, linear head, dropout 0.1, random init, the same
seed everywhere) wrapped in torch.nn.parallel.DistributedDataParallel
(default buckets, 25 MiB; its all-reduce overlaps the backward pass) on its
own --batch x --seq random ids, with the optimizer of train_bench.py
(AdamW with Hugging Face's decay groups, linear schedule, clipping at 1).
Every step starts at a barrier, as bench/distributed-worker.mjs's do.
`--warmup` untimed steps, then `--runs` timed ones; rank 0 prints one JSON
line: {world, threads, batch, seq, step_seconds: [...], torch_version}.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.dont_write_bytecode = True
from common import (  # noqa: E402 (sets sys.path)
    BETAS,
    EPS,
    LEARNING_RATE,
    MAX_GRAD_NORM,
    add_model_arguments,
    decay_groups,
    linear_schedule,
    parse_config,
)


def run(rank, args, cfg):
    import torch
    import torch.distributed as dist

    from ltg_bert import LtgBertConfig, LtgBertForSequenceClassification

    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(args.port)
    dist.init_process_group("gloo", rank=rank, world_size=args.world)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = LtgBertConfig.from_dict(cfg, num_labels=2, classifier_head="linear")
    model = LtgBertForSequenceClassification(config).train()
    ddp = torch.nn.parallel.DistributedDataParallel(model)
    opt = torch.optim.AdamW(decay_groups(model, torch), lr=LEARNING_RATE, betas=BETAS, eps=EPS)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, linear_schedule(10, 1000))
    g = torch.Generator().manual_seed(rank)
    input_ids = torch.randint(0, cfg["vocab_size"], (args.batch, args.seq), generator=g, dtype=torch.long)
    attention_mask = torch.ones_like(input_ids)
    labels = torch.arange(args.batch, dtype=torch.long) % 2
    times = []
    for i in range(args.warmup + args.runs):
        dist.barrier()
        t0 = time.perf_counter()
        loss = ddp(input_ids, attention_mask, labels)["loss"]
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), MAX_GRAD_NORM)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        loss.item()
        if i >= args.warmup:
            times.append(time.perf_counter() - t0)
    if rank == 0:
        print(json.dumps({"world": args.world, "threads": args.threads, "batch": args.batch, "seq": args.seq,
                          "step_seconds": times, "torch_version": torch.__version__}), flush=True)
    dist.destroy_process_group()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_arguments(ap)
    ap.add_argument("--world", type=int, default=2)
    ap.add_argument("--batch", type=int, default=8, help="rows a rank")
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--port", type=int, default=29611)
    args = ap.parse_args()
    _, cfg = parse_config(args)
    import torch.multiprocessing as mp

    mp.spawn(run, args=(args, cfg), nprocs=args.world, join=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
