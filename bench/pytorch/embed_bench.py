#!/usr/bin/env python3
"""Sentence embeddings with the eager PyTorch reference, and the files that
bench/embed.mjs times the other two sides with.

    /usr/bin/python3 bench/pytorch/embed_bench.py --batches FILE --out DIR --preset base

Reads the batches file that bench/embed.mjs writes ("ltgbert-embed-batches",
see batch_file.py): the sentences, tokenized, longest first, padded per
batch. Builds the bare encoder of reference/ltg_bert.py (`LtgBertModel`,
the reference's seeded random init) with mean pooling over unpadded
positions on top, and writes into --out:

  config.json, pytorch_model.bin   the encoder's weights (torch.save of its
                                   state dict), which the package loads
  model.onnx                       the same module through torch.onnx.export
                                   (opset 14, batch and sequence dynamic):
                                   input_ids, attention_mask (int64) ->
                                   embeddings [B, hidden]
  pytorch_embeddings.f32           the vectors of one pass, float32, batch
                                   after batch (the file's order)

then times passes over all the batches under torch.inference_mode():
`--warmup` untimed, then `--runs` timed (the median reported; `--max-seconds`
bounds the timed loop). torch.onnx.export needs no `onnx` package on torch
1.13: it writes the protobuf itself.

Prints one JSON line on stdout:
  {config, sentences, batches, threads, seconds_per_pass_median, runs,
   seconds_all, warmup, torch_version, onnx_opset, seconds_export}
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.dont_write_bytecode = True
from batch_file import read_batch_file  # noqa: E402
from common import add_model_arguments, check_longest, parse_config, time_runs, timing_record  # noqa: E402 (sets sys.path)

ONNX_OPSET = 14


def read_embed_batches(path: str, torch):
    """The header and the (input_ids, attention_mask) int64 pairs of an "ltgbert-embed-batches" file."""
    header, body = read_batch_file(path, torch, "ltgbert-embed-batches")
    shapes = header["shapes"]
    total = sum(b * t for b, t in shapes)
    if body.numel() != 2 * total:
        sys.exit(f"{path}: {body.numel()} values, expected {2 * total} for the shapes in its header")
    ids, mask = body[:total].long(), body[total:].long()
    batches, at = [], 0
    for b, t in shapes:
        batches.append((ids[at : at + b * t].view(b, t), mask[at : at + b * t].view(b, t)))
        at += b * t
    return header, batches


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batches", required=True, help="the batches file written by bench/embed.mjs")
    ap.add_argument("--out", required=True, help="folder for the weights, model.onnx and the vectors")
    add_model_arguments(ap)
    ap.add_argument("--runs", type=int, default=3, help="timed passes (median reported)")
    ap.add_argument("--warmup", type=int, default=1, help="untimed passes first")
    ap.add_argument("--max-seconds", type=float, default=300.0, help="stop the timed loop after this long")
    ap.add_argument("--seed", type=int, default=0, help="torch.manual_seed: the random init")
    ap.add_argument("--skip-onnx", action="store_true", help="write no model.onnx")
    args = ap.parse_args()

    name, cfg = parse_config(args)

    import torch

    from ltg_bert import LtgBertConfig, LtgBertModel, init_weights

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    header, batches = read_embed_batches(args.batches, torch)
    check_longest(header["shapes"], cfg)
    sentences = sum(b for b, _ in header["shapes"])

    class MeanPooled(torch.nn.Module):
        """The encoder's last hidden state averaged over the positions whose mask is 1."""

        def __init__(self, encoder):
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids, attention_mask):
            hidden = self.encoder.encode(input_ids, attention_mask)  # [B, T, D]
            weights = attention_mask.unsqueeze(-1).to(hidden.dtype)  # [B, T, 1]
            return (hidden * weights).sum(1) / weights.sum(1)  # [B, D]

    encoder = LtgBertModel(LtgBertConfig.from_dict(cfg))
    init_weights(encoder)
    model = MeanPooled(encoder.eval()).eval()

    os.makedirs(args.out, exist_ok=True)
    torch.save(encoder.state_dict(), os.path.join(args.out, "pytorch_model.bin"))
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(dict(cfg, architectures=["LtgBertModel"], model_type="ltgbert", position_qk_split="per_head"), f)

    seconds_export = None
    if not args.skip_onnx:
        t0 = time.perf_counter()
        with torch.no_grad():
            torch.onnx.export(
                model,
                batches[0],
                os.path.join(args.out, "model.onnx"),
                input_names=["input_ids", "attention_mask"],
                output_names=["embeddings"],
                dynamic_axes={
                    "input_ids": {0: "batch", 1: "sequence"},
                    "attention_mask": {0: "batch", 1: "sequence"},
                    "embeddings": {0: "batch"},
                },
                opset_version=ONNX_OPSET,
            )
        seconds_export = time.perf_counter() - t0

    def one_pass():
        return [model(ids, mask) for ids, mask in batches]

    with torch.inference_mode():
        vectors = torch.cat(one_pass())
        vectors.numpy().astype("<f4").tofile(os.path.join(args.out, "pytorch_embeddings.f32"))
        for _ in range(args.warmup):
            one_pass()
        times = time_runs(args.runs, args.max_seconds, one_pass)

    record = {"config": dict(cfg, name=name), "sentences": sentences, "batches": len(batches)}
    record.update(timing_record(args, times, "seconds_per_pass_median", torch))
    record.update(onnx_opset=None if args.skip_onnx else ONNX_OPSET, seconds_export=seconds_export)
    print(json.dumps(record), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
