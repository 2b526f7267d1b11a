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

bench/inference.mjs has the same formula in JS and cross-checks it against
this one.
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


if __name__ == "__main__":
    import json
    import sys

    cfg = json.loads(sys.argv[1])
    print(json.dumps(forward_flops(cfg, int(sys.argv[2]) if len(sys.argv) > 2 else 8,
                                   int(sys.argv[3]) if len(sys.argv) > 3 else 128)))
