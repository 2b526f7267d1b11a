"""PyTorch's own DistributedDataParallel on the project's Python reference,
for test/distributed.test.ts: the steps the Node ranks run, run by
torch.nn.parallel.DistributedDataParallel over Gloo, 2 processes on
loopback.

Usage: python3 ddp_reference.py SPEC_FILE OUT_FILE

SPEC_FILE (JSON): {"task": "cls" | "mlm", "model_dir", "port",
"options": {"learning_rate", "eps", "weight_decay", "max_grad_norm",
"warmup_steps", "total_steps"}, "ranks": [rank 0's steps, rank 1's steps]},
each step a list of micro-batches {"ids", "mask", "labels"}.

Each rank builds the reference model from model_dir with dropout off, wraps
it in DDP (which copies rank 0's weights to every rank), and trains with
torch.optim.AdamW (no weight decay on biases and LayerNorm parameters, as
Hugging Face groups them), a linear schedule with warm-up (LambdaLR), and
clip_grad_norm_. Gradients are synchronised on the last micro-batch of a
step only (DDP's no_sync on the others). Each micro-batch's mean loss is
weighted by its share of the step's scored items over all ranks (an
all-reduced count), times the world size because DDP averages the ranks'
gradients: the loss of one batch of everything, as the package defines it.
Rank 0 writes {"losses": [...], "grad_norms": [...], "weights": {key:
[...]}} to OUT_FILE.
"""

import contextlib
import json
import os
import sys

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "reference"))
import ltg_bert  # noqa: E402

WORLD = 2


def items(task, labels):
    return int((labels != -100).sum()) if task == "mlm" else labels.shape[0]


def run(rank, spec, out_file):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(spec["port"])
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    torch.set_num_threads(1)
    task, o = spec["task"], spec["options"]
    model = ltg_bert.from_pretrained(spec["model_dir"], hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                                     classifier_dropout=0.0)
    model.train()
    ddp = nn.parallel.DistributedDataParallel(model)

    no_decay = set()
    for module in model.modules():
        if isinstance(module, nn.LayerNorm):
            no_decay.update(id(p) for p in module.parameters(recurse=False))
    for name, p in model.named_parameters():
        if name.endswith("bias"):
            no_decay.add(id(p))
    params = list(model.parameters())
    groups = [
        {"params": [p for p in params if id(p) not in no_decay], "weight_decay": o["weight_decay"]},
        {"params": [p for p in params if id(p) in no_decay], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=o["learning_rate"], eps=o["eps"])
    warmup, total = o["warmup_steps"], o["total_steps"]
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: s / max(1, warmup) if s < warmup else max(0.0, (total - s) / max(1, total - warmup)))

    losses, grad_norms = [], []
    for step in spec["ranks"][rank]:
        micro = [(torch.tensor(m["ids"]), torch.tensor(m["mask"]), torch.tensor(m["labels"])) for m in step]
        count = torch.tensor([float(sum(items(task, labels) for _, _, labels in micro))], dtype=torch.float64)
        dist.all_reduce(count)
        local_loss = 0.0
        optimizer.zero_grad(set_to_none=True)
        for i, (ids, mask, labels) in enumerate(micro):
            sync = contextlib.nullcontext() if i == len(micro) - 1 else ddp.no_sync()
            with sync:
                loss = ddp(ids, mask, labels=labels)["loss"]
                share = items(task, labels) / count.item()
                (loss * share * WORLD).backward()
            local_loss += loss.item() * share
        total_loss = torch.tensor([local_loss], dtype=torch.float64)
        dist.all_reduce(total_loss)
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), o["max_grad_norm"])
        optimizer.step()
        schedule.step()
        losses.append(total_loss.item())
        grad_norms.append(norm.item())

    if rank == 0:
        weights = {k: v.flatten().tolist() for k, v in model.state_dict().items() if v.dtype == torch.float32}
        with open(out_file, "w") as f:
            json.dump({"losses": losses, "grad_norms": grad_norms, "weights": weights}, f)
    dist.destroy_process_group()


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    mp.spawn(run, args=(spec, sys.argv[2]), nprocs=WORLD, join=True)
