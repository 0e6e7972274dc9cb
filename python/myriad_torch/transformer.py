"""TransformerLM as Myriad builds it (nanoGPT layout, camelCase names), the train-lm example's
model builder, and Myriad's parameter order (which numbers the optimizer state)."""
from __future__ import annotations

import math
import re
from typing import Callable, Iterator, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from .layers import CausalSelfAttention, Embedding, FeedForward, LayerNorm, Linear
from .routing import MoE, PEER, PKM


class TransformerBlock(nn.Module):
    """Pre-norm block: h = x + attn(ln1(x)); y = h + ffw(ln2(h))."""

    MYRIAD_FIELDS = ("ln1", "attn", "ln2", "ffw")

    def __init__(self, dim: int, heads: int, ffw: nn.Module):
        super().__init__()
        self.ln1 = LayerNorm(dim)
        self.attn = CausalSelfAttention(dim, heads)
        self.ln2 = LayerNorm(dim)
        self.ffw = ffw

    def forward(self, x: torch.Tensor, context: Optional[dict] = None) -> torch.Tensor:
        h = x + self.attn(self.ln1(x))
        return h + self.ffw(self.ln2(h), context)


class TransformerLM(nn.Module):
    """int ids [B, T] → logits [B, T, vocab]; head.weight tied to tokenEmbedding.weight by default."""

    MYRIAD_FIELDS = ("tokenEmbedding", "positionEmbedding", "blocks", "norm", "head")

    def __init__(self, vocab_size: int, dim: int, depth: int, heads: int, context_length: int, ffw: Optional[Callable[[int], nn.Module]] = None, tie_weights: bool = True):
        super().__init__()
        self.vocab_size, self.dim, self.context_length = vocab_size, dim, context_length
        self.tokenEmbedding = Embedding(vocab_size, dim, std=0.02)
        self.positionEmbedding = Embedding(context_length, dim, std=0.02)
        make = ffw or (lambda _l: FeedForward(dim, 4 * dim))
        self.blocks = nn.ModuleList(TransformerBlock(dim, heads, make(l)) for l in range(depth))
        self.norm = LayerNorm(dim)
        self.head = Linear(dim, vocab_size, bias=False)
        if tie_weights:
            self.head.weight = self.tokenEmbedding.weight

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        T = ids.shape[1]
        if T > self.context_length:
            raise ValueError(f"TransformerLM.forward: sequence length {T} exceeds contextLength {self.context_length}")
        h = self.tokenEmbedding(ids) + self.positionEmbedding(torch.arange(T, device=ids.device))
        ctx = {"token_ids": ids}
        for block in self.blocks:
            h = block(h, ctx)
        return self.head(self.norm(h))

    def aux_loss(self) -> Optional[torch.Tensor]:
        """Sum of the routing layers' balancing losses from the last forward, or None."""
        total = None
        for m in self.modules():
            if isinstance(m, MoE) and m.last_aux_loss is not None:
                total = m.last_aux_loss if total is None else total + m.last_aux_loss
        return total

    def loss(self, ids: torch.Tensor, targets: torch.Tensor, aux: bool = True) -> Tuple[torch.Tensor, torch.Tensor]:
        """(total loss, cross-entropy): mean next-token cross-entropy plus the auxiliary losses unless aux=False."""
        logits = self(ids)
        ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
        extra = self.aux_loss() if aux else None
        return (ce if extra is None else ce + extra), ce

    @torch.no_grad()
    def generate(self, prompt: torch.Tensor, max_new_tokens: int, temperature: float = 1.0, top_k: Optional[int] = None, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """Extends a [T] or [B, T] prompt by sampling (greedy at temperature 0), cropping to contextLength."""
        was = self.training
        self.eval()
        seq = prompt.reshape(1, -1) if prompt.dim() == 1 else prompt
        seq = seq.to(torch.int64)
        for _ in range(max_new_tokens):
            logits = self(seq[:, -self.context_length :])[:, -1, :]
            if temperature == 0:
                nxt = logits.argmax(-1, keepdim=True)
            else:
                if top_k is not None:
                    kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]
                    logits = logits.masked_fill(logits < kth, float("-inf"))
                nxt = torch.multinomial(torch.softmax(logits / temperature, -1), 1, generator=generator)
            seq = torch.cat([seq, nxt], dim=1)
        self.train(was)
        return seq.reshape(-1) if prompt.dim() == 1 else seq


# The middle layer's default sizes, as examples/train-lm/src/models.ts `layerDefaults` (matched active
# parameters 2·dim²): a checkpoint config without a layer block (older train-lm versions, the routing
# lab) means these.
def layer_defaults(dim: int, router: str = "topk") -> dict:
    """Default settings of each middle layer, keyed 'moe' / 'pkm' / 'peer', with Myriad's field names."""
    return {
        "moe": {"numExperts": 8, "topK": 2, "hidden": max(1, dim // 2), "router": router, "balance": "loss" if router == "topk" else "none",
                "capacityFactor": None, "numShared": 0, "dispatch": "auto"},
        "pkm": {"numExperts": 64 * 64, "heads": 4, "topK": 32, "dimKey": 32, "queryNorm": "batch"},
        "peer": {"numExperts": 64 * 64, "heads": 8, "topK": 8, "dimKey": 32, "queryNorm": "batch", "scoreFn": "softmax"},
    }


def layer_config(config: dict) -> Optional[dict]:
    """The middle layer's settings of a train-lm config: its `config[ffw]` block over the defaults (None for dense)."""
    kind = config["ffw"]
    if kind == "dense":
        return None
    if kind not in ("moe", "pkm", "peer"):
        raise ValueError(f"unknown ffw kind {kind!r}; train-lm knows dense, moe, pkm, peer")
    given = config.get(kind) or {}
    if not isinstance(given, dict):
        raise ValueError(f"config.{kind} must be an object of layer settings, got {given!r}")
    defaults = layer_defaults(config["dim"], given.get("router", "topk"))[kind]
    unknown = [k for k in given if k not in defaults]
    if unknown:
        raise ValueError(f"config.{kind}.{unknown[0]} is not a setting of the {kind} layer (it has {', '.join(defaults)})")
    return {**defaults, **given}


def sparse_layer(kind: str, dim: int, layer: Optional[dict] = None) -> nn.Module:
    """The middle block's layer of examples/train-lm (models.ts) from its settings (default: `layer_defaults`).
    MoE's `dispatch` is how Myriad schedules the work; PyTorch computes the same function either way."""
    if kind == "dense":
        return FeedForward(dim, dim)
    o = layer if layer is not None else layer_config({"ffw": kind, "dim": dim})
    if kind == "moe":
        cf = o["capacityFactor"]
        return MoE(dim, o["hidden"], num_experts=o["numExperts"], top_k=o["topK"], router=o["router"], num_shared=o["numShared"],
                   capacity_factor=math.inf if cf is None else float(cf), balance=o["balance"])
    num_keys = math.isqrt(o["numExperts"])
    if num_keys * num_keys != o["numExperts"]:
        raise ValueError(f"config.{kind}.numExperts must be a perfect square (product keys), got {o['numExperts']}")
    if kind == "pkm":
        return PKM(dim, num_keys=num_keys, heads=o["heads"], top_k=o["topK"], dim_key=o["dimKey"], query_norm=o["queryNorm"])
    if kind == "peer":
        return PEER(dim, num_experts=o["numExperts"], heads=o["heads"], top_k=o["topK"], dim_key=o["dimKey"], query_norm=o["queryNorm"], score_fn=o["scoreFn"])
    raise ValueError(f"unknown ffw kind {kind!r}; train-lm knows dense, moe, pkm, peer")


def build_train_lm_model(config: dict) -> TransformerLM:
    """The model of a train-lm checkpoint config { ffw, vocabSize, dim, depth, heads, contextLength, seed,
    and the middle layer's block `moe` / `pkm` / `peer` (missing fields: `layer_defaults`) }; `train` (the run's plan) is ignored."""
    need = ("ffw", "vocabSize", "dim", "depth", "heads", "contextLength")
    missing = [k for k in need if k not in (config or {})]
    if missing:
        raise ValueError(f"build_train_lm_model: config lacks {', '.join(missing)}; got {config!r} (pass your own model for other checkpoints)")
    dim, depth = config["dim"], config["depth"]
    middle = depth // 2
    layer = layer_config(config)
    return TransformerLM(
        config["vocabSize"], dim, depth, config["heads"], config["contextLength"],
        ffw=lambda l: sparse_layer(config["ffw"], dim, layer) if l == middle else FeedForward(dim, 4 * dim),
    )


def myriad_named_parameters(model: nn.Module) -> Iterator[Tuple[str, nn.Parameter]]:
    """Parameters in Myriad's `namedParameters()` order (field order, depth first, tied weights once
    under their first name); torch's own order differs where a module holds tensors and submodules."""
    seen = set()

    def walk(m: nn.Module, prefix: str):
        fields = getattr(m, "MYRIAD_FIELDS", None)
        if fields is None:
            if isinstance(m, nn.ModuleList):
                fields = tuple(str(i) for i in range(len(m)))
            else:
                raise TypeError(f"myriad_named_parameters: {type(m).__name__} has no MYRIAD_FIELDS")
        for f in fields:
            v = m._parameters.get(f) if f in m._parameters else m._modules.get(f) if f in m._modules else None
            name = f"{prefix}{f}"
            if isinstance(v, nn.Parameter):
                if id(v) not in seen:
                    seen.add(id(v))
                    yield name, v
            elif isinstance(v, nn.Module):
                yield from walk(v, name + ".")

    yield from walk(model, "")


def is_no_decay(name: str, p: torch.Tensor) -> bool:
    """@myriad/train's default weight-decay exemption: < 2 dims, or a name ending in bias/keys, or containing 'norm'."""
    if p.dim() < 2:
        return True
    parts = name.split(".")
    return parts[-1] in ("bias", "keys") or any(re.search("norm", s, re.I) for s in parts)


def weight_decay_groups(model: nn.Module) -> List[List[Tuple[str, nn.Parameter]]]:
    """[decayed, exempt] as weightDecayGroups numbers them (empty groups dropped)."""
    decay, exempt = [], []
    for name, p in myriad_named_parameters(model):
        (exempt if is_no_decay(name, p) else decay).append((name, p))
    return [g for g in (decay, exempt) if g]
