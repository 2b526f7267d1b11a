"""Matmul FLOP count of one LTG-BERT masked-LM forward (no torch needed).

Counted: every matrix product, a multiply-add = 2 FLOPs. Elementwise work
(LayerNorm, softmax, GELU, masking, gathers) is not counted.

Per layer, with N = B*T tokens, D hidden, I intermediate, P = 2*bucket-1:
  in_proj_qk      2*N*D*2D
  in_proj_v       2*N*D*D
  out_proj        2*N*D*D
  position proj   2*P*D*2D      (the relative table through in_proj_qk)
  q.k             2*B*T*T*D     (all heads together: H*d = D)
  probs.v         2*B*T*T*D
  c2p, p2c        2*B*T*P*D each: each query (key) against the P table rows,
                  the [T, T] scores are then gathered. The literal form, a
                  d-long dot product per (query, key) pair, is 2*B*T*T*D each;
                  it is reported as `flops_dense_relative` but not used for
                  the headline, which counts the work an implementation needs.
  mlp             2*N*D*2I + 2*N*I*D
MLM head (all positions): 2*N*D*D + 2*N*D*V.

`train_step_flops` counts one training step of the sequence classifier (see
its docstring), `mlm_train_step_flops` one training step of the masked LM,
the vocabulary projection included.

This file is the only place the formulas are written. The Python benches
import it; the Node benches (bench/*.mjs) read their counts from it through
`flopCounts` in bench/common.mjs, which runs

    python3 flops.py --requests < [{"kind": "forward" | "train_step" |
        "mlm_train_step", "config": {...}, "batch": B, "seq": T,
        "num_labels": 2 (train_step), "scored": S (mlm_train_step)}, ...]

and reads back one JSON line, the list of the requests' `flops`. As before,
`python3 flops.py CONFIG_JSON [B [T]]` prints forward_flops.
"""


def forward_flops(config: dict, batch: int, seq: int) -> dict:
    B, T = batch, seq
    N = B * T
    D = config["hidden_size"]
    I = config["intermediate_size"]
    V = config["vocab_size"]
    L = config["num_hidden_layers"]
    P = 2 * config["position_bucket_size"] - 1
    per_layer = {
        "in_proj_qk": 2 * N * D * 2 * D,
        "in_proj_v": 2 * N * D * D,
        "out_proj": 2 * N * D * D,
        "position_proj": 2 * P * D * 2 * D,
        "qk": 2 * B * T * T * D,
        "probs_v": 2 * B * T * T * D,
        "c2p": 2 * B * T * P * D,
        "p2c": 2 * B * T * P * D,
        "mlp": 2 * N * D * 2 * I + 2 * N * I * D,
    }
    head = 2 * N * D * D + 2 * N * D * V
    layers = L * sum(per_layer.values())
    total = layers + head
    dense_extra = L * 2 * (2 * B * T * T * D - 2 * B * T * P * D)
    return {
        "flops": total,
        "flops_dense_relative": total + dense_extra,
        "breakdown": {
            "per_layer": per_layer,
            "layers_total": layers,
            "mlm_head": head,
        },
    }


def train_step_flops(config: dict, batch: int, seq: int, num_labels: int = 2) -> dict:
    """Matmul FLOPs of one training step of the linear sequence classifier.

    Forward: the encoder layers as in forward_flops (no masked-LM head: the
    classifier has none) plus the linear head on the first token,
    2*B*D*num_labels. Backward: twice the forward. Every product here has
    both operands requiring a gradient (weights are parameters; activations
    descend from the word and relative embeddings, which are parameters too),
    so each product C = A @ B costs two more of its size, dL/dA and dL/dB.
    Hence step = 3 * forward. The AdamW update, clipping and the embedding
    gradient's scatter are elementwise and not counted.
    """
    fwd = forward_flops(config, batch, seq)
    encoder = fwd["breakdown"]["layers_total"]
    head = 2 * batch * config["hidden_size"] * num_labels
    forward = encoder + head
    return {
        "flops": 3 * forward,
        "breakdown": {
            "per_layer_forward": fwd["breakdown"]["per_layer"],
            "encoder_forward": encoder,
            "classifier_forward": head,
            "forward": forward,
            "backward": 2 * forward,
        },
    }


def mlm_train_step_flops(config: dict, batch: int, seq: int, scored: int | None = None) -> dict:
    """Matmul FLOPs of one training step of the masked LM.

    Forward: the encoder layers as in forward_flops, plus the MLM head on the
    `scored` positions only (those the labels score; default: all B*T): its
    dense layer 2*S*D*D and the projection onto the vocabulary 2*S*D*V.
    LTG-BERT's pretraining, this package's trainStep and
    pretrain_bench.py all run the head on the scored positions alone.
    Backward: twice the forward, as in train_step_flops: every product has
    both operands requiring a gradient (the decoder's weight is the word
    embedding, a parameter; its input descends from the parameters), so
    C = A @ B costs dL/dA and dL/dB of the same size.
    """
    fwd = forward_flops(config, batch, seq)
    S = batch * seq if scored is None else scored
    D, V = config["hidden_size"], config["vocab_size"]
    vocab_projection = 2 * S * D * V
    head = 2 * S * D * D + vocab_projection
    forward = fwd["breakdown"]["layers_total"] + head
    return {
        "flops": 3 * forward,
        "breakdown": {
            "per_layer_forward": fwd["breakdown"]["per_layer"],
            "encoder_forward": fwd["breakdown"]["layers_total"],
            "mlm_head_forward": head,
            "vocab_projection_forward": vocab_projection,
            "forward": forward,
            "backward": 2 * forward,
        },
    }


COUNTS = {"forward": forward_flops, "train_step": train_step_flops, "mlm_train_step": mlm_train_step_flops}


def counts(requests: list) -> list:
    """The `flops` of each request: {"kind": a key of COUNTS, and that function's arguments}."""
    return [COUNTS[r["kind"]](**{k: v for k, v in r.items() if k != "kind"})["flops"] for r in requests]


if __name__ == "__main__":
    import json
    import sys

    if sys.argv[1:] == ["--requests"]:
        print(json.dumps(counts(json.load(sys.stdin))))
    else:
        cfg = json.loads(sys.argv[1])
        print(json.dumps(forward_flops(cfg, int(sys.argv[2]) if len(sys.argv) > 2 else 8,
                                       int(sys.argv[3]) if len(sys.argv) > 3 else 128)))
