"""LTG-BERT in plain PyTorch eager mode: the project's own Python reference.

Written from ../../shared/DESIGN.md (not copied from ltgoslo or Hugging Face).
Used by check_fixtures.py (to prove it agrees with the golden fixtures), by
the tests (test/python/mlm_loss_grad.py) and by the benches'
PyTorch side (bench/pytorch/*.py, bench/transfer-memory.mjs).

Module and parameter names equal the checkpoints' state-dict keys:

    embedding.word_embedding.weight            [vocab, D]
    embedding.relative_embedding               [2*bucket-1, D]
    embedding.relative_layer_norm.{weight,bias}
    transformer.layers.N.attention.position_indices   int64 [max_pos, max_pos] (buffer)
    transformer.layers.N.attention.in_proj_qk.{weight,bias}  [2D, D]
    transformer.layers.N.attention.in_proj_v.{weight,bias}   [D, D]
    transformer.layers.N.attention.out_proj.{weight,bias}    [D, D]
    transformer.layers.N.attention.post_layer_norm.{weight,bias}
    transformer.layers.N.mlp.mlp.1.weight      [2I, D]   (no bias)
    transformer.layers.N.mlp.mlp.4.weight      [D, I]    (no bias)
    classifier.nonlinearity.{1,5}.*            masked-LM head (5.weight tied)
    classifier.{weight,bias}                   linear sequence-classification head
    head.nonlinearity.{1,5}.*                  MLP head: sequence classification
                                               (first token), token classification
                                               (every position), question answering
                                               (every position, 2 outputs), multiple
                                               choice (each choice's first token, 1 output)

Tensors are batch-first here ([B, T, D]); the original code runs [T, B, D],
which changes nothing in the numbers.

Only torch is needed; safetensors files are read by `read_safetensors` below
(json header + raw little-endian buffers), pytorch_model.bin by torch.load.
"""

from __future__ import annotations

import json
import math
import os
import struct
from dataclasses import dataclass, field, fields
from typing import Dict, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

POSITION_QK_SPLITS = ("per_head", "global")


# --------------------------------------------------------------------------
# Config
# --------------------------------------------------------------------------


@dataclass
class LtgBertConfig:
    vocab_size: int = 16384
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 2048
    max_position_embeddings: int = 512
    position_bucket_size: int = 32
    layer_norm_eps: float = 1e-7
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    classifier_dropout: Optional[float] = None  # None: hidden_dropout_prob
    num_labels: int = 2
    # None or "single_label_classification": cross-entropy; "regression": mean squared error
    problem_type: Optional[str] = None
    classifier_head: str = "linear"  # "linear" (seed) or "mlp" (hub)
    position_qk_split: str = "per_head"  # absent in a config.json means per_head
    extra: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        if self.hidden_size % self.num_attention_heads != 0:
            raise ValueError(
                f"hidden_size {self.hidden_size} is not a multiple of "
                f"num_attention_heads {self.num_attention_heads}"
            )
        if self.position_qk_split not in POSITION_QK_SPLITS:
            raise ValueError(
                f"position_qk_split must be one of {POSITION_QK_SPLITS}, "
                f"got {self.position_qk_split!r}"
            )
        if self.classifier_head not in ("linear", "mlp"):
            raise ValueError(f"classifier_head must be linear or mlp, got {self.classifier_head!r}")

    @classmethod
    def from_dict(cls, d: dict, **overrides) -> "LtgBertConfig":
        d = dict(d)
        d.update(overrides)
        known = {f.name for f in fields(cls)} - {"extra"}
        kwargs = {k: v for k, v in d.items() if k in known}
        cfg = cls(**kwargs)
        cfg.extra = {k: v for k, v in d.items() if k not in known}
        if "id2label" in d and "num_labels" not in d:
            cfg.num_labels = len(d["id2label"])
        return cfg

    @classmethod
    def from_json_file(cls, path: str, **overrides) -> "LtgBertConfig":
        with open(path) as f:
            return cls.from_dict(json.load(f), **overrides)

    @property
    def head_size(self) -> int:
        return self.hidden_size // self.num_attention_heads


# --------------------------------------------------------------------------
# Relative positions
# --------------------------------------------------------------------------


def bucket_relative_position(relative: torch.Tensor, bucket_size: int, max_position: int) -> torch.Tensor:
    """Log-bucketed relative position, in [-(bucket_size-1), bucket_size-1].

    With mid = bucket_size // 2:
      |r| <= mid : r itself (exact, one bucket per offset)
      |r| >  mid : sign(r) * (mid + ceil((mid-1) * log(|r|/mid) / log((max_position-1)/mid)))
    so |r| = max_position-1 lands on exactly sign(r) * (2*mid-1).
    Offsets beyond max_position-1 are clamped to it (they never occur while
    sequences are limited to max_position tokens).
    """
    mid = bucket_size // 2
    sign = torch.sign(relative)
    magnitude = relative.abs().clamp(max=max_position - 1)
    # keep the log argument >= 1 where the exact branch is taken anyway
    safe = torch.where(magnitude > mid, magnitude, torch.full_like(magnitude, mid + 1)).double()
    log_part = torch.ceil(torch.log(safe / mid) / math.log((max_position - 1) / mid) * (mid - 1)).long() + mid
    return torch.where(magnitude <= mid, relative, sign * log_part).long()


def make_position_indices(bucket_size: int, max_position: int) -> torch.Tensor:
    """idx[q, k] = bucket(q - k) + bucket_size - 1, an int64 [max_pos, max_pos] table
    of rows into the relative table [2*bucket_size-1, D]."""
    positions = torch.arange(max_position, dtype=torch.long)
    relative = positions[:, None] - positions[None, :]  # query - key
    idx = bucket_relative_position(relative, bucket_size, max_position) + bucket_size - 1
    assert int(idx.min()) >= 0 and int(idx.max()) <= 2 * bucket_size - 2
    return idx


# --------------------------------------------------------------------------
# Building blocks
# --------------------------------------------------------------------------


class Embedding(nn.Module):
    def __init__(self, config: LtgBertConfig):
        super().__init__()
        # registration order reproduces the checkpoints' key order
        self.relative_embedding = nn.Parameter(
            torch.empty(2 * config.position_bucket_size - 1, config.hidden_size)
        )
        self.word_embedding = nn.Embedding(config.vocab_size, config.hidden_size)
        self.word_layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps, elementwise_affine=False)
        self.relative_layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids: torch.Tensor):
        words = self.dropout(self.word_layer_norm(self.word_embedding(input_ids)))
        relative = self.relative_layer_norm(self.relative_embedding)
        return words, relative


class Attention(nn.Module):
    """Disentangled self-attention: content-content + content-to-position +
    position-to-content, all three scaled by 1/sqrt(3 * head_size)."""

    def __init__(self, config: LtgBertConfig, dense_relative: bool = False):
        super().__init__()
        self.num_heads = config.num_attention_heads
        self.head_size = config.head_size
        self.hidden_size = config.hidden_size
        self.max_position = config.max_position_embeddings
        self.position_qk_split = config.position_qk_split
        # dense_relative=True builds the [T, T, ...] gathered position tensors
        # and takes dot products per (query, key) pair, which is the literal
        # definition; False (default) projects each query/key onto the
        # 2*bucket-1 table rows first and gathers the scores. Same numbers
        # up to float rounding, far less work.
        self.dense_relative = dense_relative
        self.register_buffer(
            "position_indices",
            make_position_indices(config.position_bucket_size, config.max_position_embeddings),
            persistent=True,
        )
        self.pre_layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps, elementwise_affine=False)
        self.in_proj_qk = nn.Linear(config.hidden_size, 2 * config.hidden_size, bias=True)
        self.in_proj_v = nn.Linear(config.hidden_size, config.hidden_size, bias=True)
        self.out_proj = nn.Linear(config.hidden_size, config.hidden_size, bias=True)
        self.post_layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.attention_dropout = nn.Dropout(config.attention_probs_dropout_prob)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.scale = 1.0 / math.sqrt(3 * self.head_size)

    def split_position(self, pos: torch.Tensor):
        """pos [P, 2D] -> (query_pos, key_pos), each [H, P, d]."""
        P = pos.shape[0]
        H, d = self.num_heads, self.head_size
        if self.position_qk_split == "per_head":
            # head h: query_pos = pos[:, 2hd : 2hd+d], key_pos = pos[:, 2hd+d : 2(h+1)d]
            query_pos, key_pos = pos.view(P, H, 2 * d).chunk(2, dim=-1)
        else:  # "global": like the content q/k, halves first, then heads
            query_pos, key_pos = pos.chunk(2, dim=-1)
            query_pos = query_pos.reshape(P, H, d)
            key_pos = key_pos.reshape(P, H, d)
        return query_pos.transpose(0, 1), key_pos.transpose(0, 1)

    def forward(self, x: torch.Tensor, padding_mask: torch.Tensor, relative: torch.Tensor) -> torch.Tensor:
        """x [B, T, D]; padding_mask [B, T] bool, True = padding; relative [P, D]."""
        B, T, D = x.shape
        H, d = self.num_heads, self.head_size
        if T > self.max_position:
            raise ValueError(f"sequence length {T} exceeds max_position_embeddings {self.max_position}")

        h = self.pre_layer_norm(x)
        query, key = self.in_proj_qk(h).chunk(2, dim=-1)
        value = self.in_proj_v(h)
        query = query.view(B, T, H, d).transpose(1, 2)  # [B, H, T, d]
        key = key.view(B, T, H, d).transpose(1, 2)
        value = value.view(B, T, H, d).transpose(1, 2)
        query_s = query * self.scale  # every score term carries the scale once
        key_s = key * self.scale

        pos = self.in_proj_qk(self.dropout(relative))  # [P, 2D], same projection as content
        query_pos, key_pos = self.split_position(pos)  # [H, P, d] each
        idx = self.position_indices[:T, :T]  # [T(q), T(k)]

        # content-to-content
        scores = query_s @ key.transpose(-1, -2)  # [B, H, Tq, Tk]
        if self.dense_relative:
            kp = key_pos[:, idx]  # [H, Tq, Tk, d]
            qp = query_pos[:, idx]  # [H, Tq, Tk, d]
            c2p = torch.einsum("bhqd,hqkd->bhqk", query_s, kp)
            p2c = torch.einsum("bhkd,hqkd->bhqk", key_s, qp)
        else:
            # c2p[b,h,q,k] = scale * query[b,h,q] . key_pos[h, idx[q,k]]
            c2p_rows = query_s @ key_pos.transpose(-1, -2).unsqueeze(0)  # [B, H, Tq, P]
            c2p = c2p_rows.gather(-1, idx.expand(B, H, T, T))
            # p2c[b,h,q,k] = scale * key[b,h,k] . query_pos[h, idx[q,k]]
            p2c_rows = key_s @ query_pos.transpose(-1, -2).unsqueeze(0)  # [B, H, Tk, P]
            p2c = p2c_rows.gather(-1, idx.t().expand(B, H, T, T)).transpose(-1, -2)
        scores = scores + c2p + p2c

        # masked softmax over keys: padded keys get probability exactly 0
        key_mask = padding_mask[:, None, None, :]
        scores = scores.masked_fill(key_mask, float("-inf"))
        probs = torch.softmax(scores, dim=-1).masked_fill(key_mask, 0.0)
        self.probabilities = probs  # what output_attentions returns: before dropout
        probs = self.attention_dropout(probs)

        context = (probs @ value).transpose(1, 2).reshape(B, T, D)
        out = self.post_layer_norm(self.out_proj(context))
        return self.dropout(out)


class GeGLU(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, gate = x.chunk(2, dim=-1)  # first half is the value, second the gate
        return x * F.gelu(gate, approximate="tanh")


class FeedForward(nn.Module):
    def __init__(self, config: LtgBertConfig):
        super().__init__()
        D, I, eps = config.hidden_size, config.intermediate_size, config.layer_norm_eps
        self.mlp = nn.Sequential(
            nn.LayerNorm(D, eps=eps, elementwise_affine=False),  # 0
            nn.Linear(D, 2 * I, bias=False),  # 1
            GeGLU(),  # 2
            nn.LayerNorm(I, eps=eps, elementwise_affine=False),  # 3
            nn.Linear(I, D, bias=False),  # 4
            nn.Dropout(config.hidden_dropout_prob),  # 5
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(x)


class EncoderLayer(nn.Module):
    def __init__(self, config: LtgBertConfig, dense_relative: bool = False):
        super().__init__()
        self.attention = Attention(config, dense_relative)
        self.mlp = FeedForward(config)

    def forward(self, x, padding_mask, relative):
        x = x + self.attention(x, padding_mask, relative)
        return x + self.mlp(x)


class Encoder(nn.Module):
    def __init__(self, config: LtgBertConfig, dense_relative: bool = False):
        super().__init__()
        self.layers = nn.ModuleList(
            [EncoderLayer(config, dense_relative) for _ in range(config.num_hidden_layers)]
        )

    def forward(self, x, padding_mask, relative):
        for layer in self.layers:
            x = layer(x, padding_mask, relative)
        return x


def _nonlinearity(config: LtgBertConfig, out_features: int, dropout: float) -> nn.Sequential:
    """LN -> Linear [1] -> GELU(erf) -> LN -> Dropout -> Linear [5]; LNs without affine."""
    D, eps = config.hidden_size, config.layer_norm_eps
    return nn.Sequential(
        nn.LayerNorm(D, eps=eps, elementwise_affine=False),  # 0
        nn.Linear(D, D),  # 1
        nn.GELU(),  # 2 (exact, erf)
        nn.LayerNorm(D, eps=eps, elementwise_affine=False),  # 3
        nn.Dropout(dropout),  # 4
        nn.Linear(D, out_features),  # 5
    )


class MaskClassifier(nn.Module):
    def __init__(self, config: LtgBertConfig, word_embedding: nn.Embedding):
        super().__init__()
        self.nonlinearity = _nonlinearity(config, config.vocab_size, config.hidden_dropout_prob)
        self.nonlinearity[5].weight = word_embedding.weight  # tied; bias is its own

    def forward(self, x):
        return self.nonlinearity(x)


class MlpHead(nn.Module):
    def __init__(self, config: LtgBertConfig, dropout: float, out_features: Optional[int] = None):
        super().__init__()
        self.nonlinearity = _nonlinearity(config, out_features or config.num_labels, dropout)

    def forward(self, x):
        return self.nonlinearity(x)


# --------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------


class LtgBertModel(nn.Module):
    def __init__(self, config: LtgBertConfig, dense_relative: bool = False):
        super().__init__()
        self.config = config
        self.embedding = Embedding(config)
        self.transformer = Encoder(config, dense_relative)

    def encode(self, input_ids: torch.Tensor, attention_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """input_ids [B, T]; attention_mask [B, T], 1/True = token, 0/False = padding.
        Returns the last hidden state [B, T, D] (no final LayerNorm)."""
        if input_ids.dim() != 2:
            raise ValueError(f"input_ids must be [batch, seq], got {list(input_ids.shape)}")
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        if attention_mask.shape != input_ids.shape:
            raise ValueError(
                f"attention_mask {list(attention_mask.shape)} != input_ids {list(input_ids.shape)}"
            )
        padding_mask = attention_mask == 0
        x, relative = self.embedding(input_ids)
        return self.transformer(x, padding_mask, relative)

    def encode_layers(self, input_ids: torch.Tensor, attention_mask: Optional[torch.Tensor] = None):
        """Returns (outputs, attentions): the embedding's output and each
        layer's ([B, T, D] each, L + 1), and each layer's attention
        probabilities after the masked softmax, before dropout ([B, H, T, T])."""
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        padding_mask = attention_mask == 0
        x, relative = self.embedding(input_ids)
        outputs, attentions = [x], []
        for layer in self.transformer.layers:
            x = layer(x, padding_mask, relative)
            outputs.append(x)
            attentions.append(layer.attention.probabilities)
        return outputs, attentions

    def forward(self, input_ids, attention_mask=None, output_hidden_states=False, output_attentions=False):
        outputs, attentions = self.encode_layers(input_ids, attention_mask)
        out = {"last_hidden_state": outputs[-1]}
        if output_hidden_states:
            out["layer_outputs"] = outputs
            # The Hub code's hidden states: the embedding's output, then each
            # layer's output minus the previous one's.
            out["hidden_states"] = [outputs[0]] + [outputs[i] - outputs[i - 1] for i in range(1, len(outputs))]
        if output_attentions:
            out["attentions"] = attentions
        return out


class LtgBertForMaskedLM(LtgBertModel):
    def __init__(self, config: LtgBertConfig, dense_relative: bool = False):
        super().__init__(config, dense_relative)
        self.classifier = MaskClassifier(config, self.embedding.word_embedding)
        init_weights(self)

    def forward(self, input_ids, attention_mask=None, labels=None):
        hidden = self.encode(input_ids, attention_mask)
        logits = self.classifier(hidden)
        out = {"last_hidden_state": hidden, "logits": logits}
        if labels is not None:
            out["loss"] = F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=-100)
        return out


class LtgBertForSequenceClassification(LtgBertModel):
    """classifier_head "linear": dropout -> `classifier` Linear on the first token.
    classifier_head "mlp": `head.nonlinearity` on the first token."""

    def __init__(self, config: LtgBertConfig, dense_relative: bool = False):
        super().__init__(config, dense_relative)
        p = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        if config.classifier_head == "linear":
            self.dropout = nn.Dropout(p)
            self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        else:
            self.head = MlpHead(config, p)
        init_weights(self)

    def forward(self, input_ids, attention_mask=None, labels=None):
        hidden = self.encode(input_ids, attention_mask)
        first = hidden[:, 0]
        if self.config.classifier_head == "linear":
            logits = self.classifier(self.dropout(first))
        else:
            logits = self.head(first)
        out = {"last_hidden_state": hidden, "logits": logits}
        if labels is not None:
            if self.config.problem_type == "regression":
                # As transformers' sequence classifiers: one output is squeezed to the labels' shape.
                if self.config.num_labels == 1:
                    out["loss"] = F.mse_loss(logits.squeeze(), labels.float().squeeze())
                else:
                    out["loss"] = F.mse_loss(logits, labels.float())
            else:
                out["loss"] = F.cross_entropy(logits, labels)
        return out


def _head_dropout(config: LtgBertConfig) -> float:
    return config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob


class LtgBertForTokenClassification(LtgBertModel):
    """`head.nonlinearity` on every position; labels [B, T], -100 not scored."""

    def __init__(self, config: LtgBertConfig, dense_relative: bool = False):
        super().__init__(config, dense_relative)
        self.head = MlpHead(config, _head_dropout(config))
        init_weights(self)

    def forward(self, input_ids, attention_mask=None, labels=None):
        hidden = self.encode(input_ids, attention_mask)
        logits = self.head(hidden)  # [B, T, num_labels]
        out = {"last_hidden_state": hidden, "logits": logits}
        if labels is not None:
            out["loss"] = F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=-100)
        return out


class LtgBertForQuestionAnswering(LtgBertModel):
    """`head.nonlinearity` with 2 outputs on every position: start and end
    logits. Positions are clamped to [0, T] and T is ignored in the loss."""

    def __init__(self, config: LtgBertConfig, dense_relative: bool = False):
        super().__init__(config, dense_relative)
        self.head = MlpHead(config, _head_dropout(config), out_features=2)
        init_weights(self)

    def forward(self, input_ids, attention_mask=None, start_positions=None, end_positions=None):
        hidden = self.encode(input_ids, attention_mask)
        start_logits, end_logits = self.head(hidden).unbind(-1)  # [B, T] each
        out = {"last_hidden_state": hidden, "start_logits": start_logits, "end_logits": end_logits}
        if start_positions is not None and end_positions is not None:
            ignored = start_logits.shape[1]
            start = F.cross_entropy(start_logits, start_positions.clamp(0, ignored), ignore_index=ignored)
            end = F.cross_entropy(end_logits, end_positions.clamp(0, ignored), ignore_index=ignored)
            out["loss"] = (start + end) / 2
        return out


class LtgBertForMultipleChoice(LtgBertModel):
    """input_ids [B, C, T]: each choice a row of the encoder; `head.nonlinearity`
    with 1 output on each choice's first token gives logits [B, C]."""

    def __init__(self, config: LtgBertConfig, dense_relative: bool = False):
        super().__init__(config, dense_relative)
        self.head = MlpHead(config, _head_dropout(config), out_features=1)
        init_weights(self)

    def forward(self, input_ids, attention_mask=None, labels=None):
        B, C, T = input_ids.shape
        mask = None if attention_mask is None else attention_mask.reshape(B * C, T)
        hidden = self.encode(input_ids.reshape(B * C, T), mask)  # [B*C, T, D]
        logits = self.head(hidden[:, 0]).view(B, C)
        out = {"last_hidden_state": hidden, "logits": logits}
        if labels is not None:
            out["loss"] = F.cross_entropy(logits, labels)
        return out


ARCHITECTURES = {
    "LtgBertModel": LtgBertModel,
    "LtgBertForMaskedLM": LtgBertForMaskedLM,
    "LtgBertForSequenceClassification": LtgBertForSequenceClassification,
    "LtgBertForTokenClassification": LtgBertForTokenClassification,
    "LtgBertForQuestionAnswering": LtgBertForQuestionAnswering,
    "LtgBertForMultipleChoice": LtgBertForMultipleChoice,
}


@torch.no_grad()
def init_weights(model: nn.Module) -> None:
    """Random init: truncated normal, std sqrt(2 / (5 D)), cut at 2 std; biases 0;
    LayerNorm affine 1/0. Only used where no checkpoint is loaded (benchmarks)."""
    std = math.sqrt(2.0 / (5.0 * model.config.hidden_size))
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.trunc_normal_(module.weight, mean=0.0, std=std, a=-2 * std, b=2 * std)
            if isinstance(module, nn.Linear) and module.bias is not None:
                module.bias.zero_()
        elif isinstance(module, nn.LayerNorm) and module.elementwise_affine:
            module.weight.fill_(1.0)
            module.bias.zero_()
        elif isinstance(module, Embedding):
            nn.init.trunc_normal_(module.relative_embedding, mean=0.0, std=std, a=-2 * std, b=2 * std)


def count_parameters(model: nn.Module) -> int:
    """Unique parameters (a tied weight counts once)."""
    return sum(p.numel() for p in model.parameters())


# --------------------------------------------------------------------------
# Checkpoint reading
# --------------------------------------------------------------------------

_SAFETENSORS_DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}


def read_safetensors(path: str) -> Dict[str, torch.Tensor]:
    """8-byte little-endian header length, JSON header, then raw tensor bytes."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n].decode("utf-8"))
    base = 8 + n
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = _SAFETENSORS_DTYPES[info["dtype"]]
        start, end = info["data_offsets"]
        buf = bytearray(raw[base + start : base + end])
        t = torch.frombuffer(buf, dtype=dtype) if end > start else torch.empty(0, dtype=dtype)
        tensors[name] = t.reshape(info["shape"]).clone()
    return tensors


def read_state_dict(directory: str) -> Dict[str, torch.Tensor]:
    st = os.path.join(directory, "model.safetensors")
    if os.path.exists(st):
        return read_safetensors(st)
    return torch.load(os.path.join(directory, "pytorch_model.bin"), map_location="cpu")


def load_checkpoint(model: nn.Module, state: Dict[str, torch.Tensor]) -> None:
    """Strict load that tolerates exactly what DESIGN.md says is normal: missing
    position_indices buffers and a missing tied decoder weight. Present
    position_indices must equal ours; a present tied weight must equal the
    word embedding."""
    own = model.state_dict()
    state = dict(state)
    for k in [k for k in state if k.endswith("attention.position_indices")]:
        if k not in own:
            raise KeyError(f"unexpected key {k}")
        if not torch.equal(state[k], own[k]):
            raise ValueError(f"{k}: checkpoint bucketing differs from ours")
        del state[k]
    tied = "classifier.nonlinearity.5.weight"
    if tied in state and isinstance(model, LtgBertForMaskedLM):
        if "embedding.word_embedding.weight" in state and not torch.equal(
            state[tied], state["embedding.word_embedding.weight"]
        ):
            raise ValueError(f"{tied} differs from embedding.word_embedding.weight")
        del state[tied]
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("attention.position_indices") and k != tied]
    if missing or unexpected:
        raise KeyError(f"missing keys {missing}, unexpected keys {unexpected}")


def from_pretrained(directory: str, cls=None, dense_relative: bool = False, **config_overrides):
    """Build the class named by config.json's `architectures` and load its weights."""
    config = LtgBertConfig.from_json_file(os.path.join(directory, "config.json"), **config_overrides)
    if cls is None:
        arch = (config.extra.get("architectures") or ["LtgBertForMaskedLM"])[0]
        cls = ARCHITECTURES[arch]
    model = cls(config, dense_relative)
    load_checkpoint(model, read_state_dict(directory))
    return model.eval()
