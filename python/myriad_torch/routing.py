"""PyTorch mirrors of Myriad's routing layers: MoE (topk / expert-choice / hash routers, shared
experts, capacity, balancing loss), PKM and PEER over exact product-key top-k. Expert tables of PKM
and PEER are `nn.Embedding(sparse=True)`, so their gradients are row-sparse as in Myriad."""
from __future__ import annotations

import math
from typing import Optional

import torch
from torch import nn

from .layers import BatchNorm1d, Embedding, FeedForward, LayerNorm, Linear, activation_fn

M32 = 0xFFFFFFFF


def product_key_topk(q: torch.Tensor, sub_keys: torch.Tensor, k: int):
    """Exact top-k over numKeys² product keys per head. q [rows, H, dk]; sub_keys [H, 2, n, dk/2]
    (PKM) or [2, n, dk/2] (shared, PEER). Returns scores [rows, H, k] (descending) and int64
    expert indices i·n + j."""
    rows, H, dk = q.shape
    half = dk // 2
    n = sub_keys.shape[-2]
    q1, q2 = q[..., :half], q[..., half:]
    if sub_keys.dim() == 3:
        s1 = q1 @ sub_keys[0].t()  # [rows, H, n]
        s2 = q2 @ sub_keys[1].t()
    else:
        s1 = torch.einsum("rhd,hnd->rhn", q1, sub_keys[:, 0])
        s2 = torch.einsum("rhd,hnd->rhn", q2, sub_keys[:, 1])
    v1, i1 = torch.topk(s1, k, dim=-1)
    v2, i2 = torch.topk(s2, k, dim=-1)
    cand = (v1.unsqueeze(-1) + v2.unsqueeze(-2)).reshape(rows, H, k * k)
    scores, c = torch.topk(cand, k, dim=-1)
    a, b = torch.div(c, k, rounding_mode="floor"), c % k
    idx = torch.gather(i1, -1, a) * n + torch.gather(i2, -1, b)
    return scores, idx


def _query_norm(kind: str, heads: int, dim_key: int):
    if kind == "batch":
        return BatchNorm1d(heads * dim_key)
    if kind == "layer":
        return LayerNorm(dim_key)
    if kind == "none":
        return None
    raise ValueError(f"unknown queryNorm {kind!r}; expected batch, layer or none")


def _normalize_queries(norm, q: torch.Tensor, heads: int, dim_key: int) -> torch.Tensor:
    tokens = q.shape[0]
    if isinstance(norm, BatchNorm1d):
        return norm(q).reshape(tokens, heads, dim_key)
    per_head = q.reshape(tokens, heads, dim_key)
    return per_head if norm is None else norm(per_head)


class PKM(nn.Module):
    """Product-key memory (Lample et al. 2019): query, queryNorm, keys [H, 2, n, dk/2], values (Embedding n²→dimOut)."""

    MYRIAD_FIELDS = ("query", "queryNorm", "keys", "values")

    def __init__(self, dim: int, num_keys: int, dim_out: Optional[int] = None, heads: int = 4, top_k: int = 32, dim_key: int = 128, query_norm: str = "batch", sparse: bool = True):
        super().__init__()
        self.dim, self.dim_out, self.heads, self.num_keys, self.top_k, self.dim_key = dim, dim_out or dim, heads, num_keys, top_k, dim_key
        self.num_experts = num_keys * num_keys
        self.query = Linear(dim, heads * dim_key, bias=False)
        self.queryNorm = _query_norm(query_norm, heads, dim_key)
        self.keys = nn.Parameter(torch.randn(heads, 2, num_keys, dim_key // 2) * math.sqrt(2 / dim_key))
        self.values = Embedding(self.num_experts, self.dim_out, sparse=sparse, std=math.sqrt(top_k / heads))

    def forward(self, x: torch.Tensor, context: Optional[dict] = None) -> torch.Tensor:
        lead = x.shape[:-1]
        xf = x.reshape(-1, self.dim)
        tokens = xf.shape[0]
        q = _normalize_queries(self.queryNorm, self.query(xf), self.heads, self.dim_key)
        scores, idx = product_key_topk(q, self.keys, self.top_k)
        w = torch.softmax(scores, dim=-1).reshape(tokens, 1, self.heads * self.top_k)
        v = self.values(idx.reshape(tokens, -1))  # [T, H·k, dimOut], sparse gradient
        return (w @ v).reshape(*lead, self.dim_out)


ACT_SECOND_MOMENT = {"gelu": 0.4252, "relu": 0.5, "silu": 0.3557, "tanh": 0.3943}


class PEER(nn.Module):
    """PEER (He 2024): query, queryNorm, keys [2, n, dk/2] shared by the heads, down / up (Embedding N→dim / N→dimOut)."""

    MYRIAD_FIELDS = ("query", "queryNorm", "keys", "down", "up")

    def __init__(self, dim: int, num_experts: int, dim_out: Optional[int] = None, heads: int = 8, top_k: int = 16, dim_key: int = 128, query_norm: str = "batch", activation: str = "gelu", score_fn: str = "softmax", sparse: bool = True):
        super().__init__()
        n = int(round(math.sqrt(num_experts)))
        if n * n != num_experts:
            raise ValueError(f"PEER: numExperts must be a perfect square, got {num_experts}")
        if score_fn not in ("softmax", "sigmoid"):
            raise ValueError(f"PEER: unknown scoreFn {score_fn!r}")
        self.dim, self.dim_out, self.heads, self.num_experts, self.num_keys = dim, dim_out or dim, heads, num_experts, n
        self.top_k, self.dim_key, self.activation, self.score_fn = top_k, dim_key, activation, score_fn
        self.act = activation_fn(activation)
        self.query = Linear(dim, heads * dim_key, bias=False)
        self.queryNorm = _query_norm(query_norm, heads, dim_key)
        self.keys = nn.Parameter(torch.randn(2, n, dim_key // 2) * math.sqrt(2 / dim_key))
        self.down = Embedding(num_experts, dim, sparse=sparse, std=1 / math.sqrt(dim))
        g2 = 1 / top_k if score_fn == "softmax" else top_k
        self.up = Embedding(num_experts, self.dim_out, sparse=sparse, std=1 / math.sqrt(heads * ACT_SECOND_MOMENT[activation] * g2))

    def forward(self, x: torch.Tensor, context: Optional[dict] = None) -> torch.Tensor:
        lead = x.shape[:-1]
        xf = x.reshape(-1, self.dim)
        tokens = xf.shape[0]
        q = _normalize_queries(self.queryNorm, self.query(xf), self.heads, self.dim_key)
        scores, idx = product_key_topk(q, self.keys, self.top_k)
        g = torch.softmax(scores, dim=-1) if self.score_fn == "softmax" else torch.sigmoid(scores)
        experts = idx.reshape(tokens, -1)
        u = self.down(experts)  # [T, H·k, dim]
        v = self.up(experts)  # [T, H·k, dimOut]
        hidden = self.act(u @ xf.unsqueeze(-1))  # [T, H·k, 1]
        gated = hidden * g.reshape(tokens, -1, 1)
        return (gated.transpose(1, 2) @ v).reshape(*lead, self.dim_out)


def hash32(value: int, seed: int) -> int:
    """murmur3's finaliser, as Myriad's hash router."""
    h = (value ^ ((((seed ^ 0x9E3779B9) & M32) * 0x85EBCA6B) & M32)) & M32
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & M32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & M32
    h ^= h >> 16
    return h


def hash_experts(ids, num_experts: int, k: int, seed: int) -> torch.Tensor:
    """Token id → k distinct experts (collisions probe the following experts): [tokens, k]."""
    out = []
    for tid in ids:
        row = []
        for j in range(k):
            e = hash32(int(tid) & M32, (seed + j) & M32) % num_experts
            while e in row:
                e = (e + 1) % num_experts
            row.append(e)
        out.append(row)
    return torch.tensor(out, dtype=torch.int64).reshape(-1, k)


class MoE(nn.Module):
    """Mixture of FeedForward experts: router (Linear dim→E, no bias), experts.{i}, shared.{i}, expertBias (balance 'bias')."""

    MYRIAD_FIELDS = ("router", "experts", "shared", "expertBias")

    def __init__(self, dim: int, hidden: int, num_experts: int, top_k: int = 2, router: str = "topk", num_shared: int = 0, capacity_factor: float = math.inf, normalize_top_k: bool = True, balance: Optional[str] = None, balance_loss_coef: float = 0.01, z_loss_coef: float = 0.001, bias_update_rate: float = 0.001, activation: str = "gelu", hash_seed: int = 0):
        super().__init__()
        if router not in ("topk", "expert-choice", "hash"):
            raise ValueError(f"MoE: unknown router {router!r}")
        self.dim, self.num_experts, self.top_k, self.router_kind = dim, num_experts, top_k, router
        self.capacity_factor, self.normalize_top_k = capacity_factor, normalize_top_k
        self.balance = balance if balance is not None else ("loss" if router == "topk" else "none")
        self.balance_loss_coef, self.z_loss_coef, self.bias_update_rate, self.hash_seed = balance_loss_coef, z_loss_coef, bias_update_rate, hash_seed
        self.router = None if router == "hash" else Linear(dim, num_experts, bias=False)
        self.experts = nn.ModuleList(FeedForward(dim, hidden, activation=activation) for _ in range(num_experts))
        self.shared = nn.ModuleList(FeedForward(dim, hidden, activation=activation) for _ in range(num_shared))
        if self.balance == "bias":
            self.register_buffer("expertBias", torch.zeros(num_experts))
        else:
            self.expertBias = None
        self.last_aux_loss: Optional[torch.Tensor] = None
        self.dropped_fraction: Optional[float] = None

    def _capacity(self, tokens: int, k: int) -> float:
        cf = self.capacity_factor
        return math.inf if cf == math.inf else math.ceil(cf * tokens * k / self.num_experts)

    def _apply_capacity(self, expert: torch.Tensor, capacity: float) -> int:
        # Slot by slot (every first choice before any second), then token order, as GShard / Myriad.
        if capacity == math.inf:
            return 0
        tokens, k = expert.shape
        load = [0] * self.num_experts
        dropped = 0
        e_list = expert.tolist()
        for j in range(k):
            for t in range(tokens):
                e = e_list[t][j]
                if e < 0:
                    continue
                if load[e] < capacity:
                    load[e] += 1
                else:
                    e_list[t][j] = -1
                    dropped += 1
        expert.copy_(torch.tensor(e_list, dtype=expert.dtype))
        return dropped

    def forward(self, x: torch.Tensor, context: Optional[dict] = None) -> torch.Tensor:
        lead = x.shape[:-1]
        xf = x.reshape(-1, self.dim)
        tokens = xf.shape[0]
        E = self.num_experts
        self.last_aux_loss = None
        if self.router_kind == "expert-choice":
            probs = torch.softmax(self.router(xf), dim=-1)
            c = min(tokens, self._capacity(tokens, 1))
            gate, tok = torch.topk(probs.t(), int(c), dim=-1)  # [E, c]
            token = tok.reshape(-1)
            expert = torch.arange(E).repeat_interleave(int(c))
            gates = gate.reshape(-1)
            self.dropped_fraction = 1 - len(set(token.tolist())) / tokens
        else:
            k = self.top_k
            if self.router_kind == "topk":
                logits = self.router(xf)
                probs = torch.softmax(logits, dim=-1)
                with torch.no_grad():
                    sel = probs if self.expertBias is None else probs + self.expertBias
                    chosen = torch.topk(sel, k, dim=-1).indices
                gates = torch.gather(probs, 1, chosen)
                if self.normalize_top_k:
                    gates = gates / gates.sum(-1, keepdim=True)
            else:
                ids = None if context is None else context.get("token_ids")
                if ids is None:
                    raise ValueError("MoE.forward: router 'hash' needs token ids: forward(x, {'token_ids': ids})")
                chosen = hash_experts(ids.reshape(-1).tolist(), E, k, self.hash_seed)
                gates = torch.full((tokens, k), 1 / k, dtype=x.dtype)
            expert = chosen.clone()
            load = torch.bincount(expert.reshape(-1), minlength=E).to(x.dtype)
            if self.training and self.expertBias is not None:
                with torch.no_grad():
                    self.expertBias += self.bias_update_rate * torch.sign(load.mean() - load)
            dropped = self._apply_capacity(expert, self._capacity(tokens, k))
            self.dropped_fraction = dropped / (tokens * k)
            if self.balance == "loss":
                f = load / (tokens * k)
                P = probs.mean(0)
                lse = torch.logsumexp(logits, dim=-1)
                self.last_aux_loss = (f @ P) * (self.balance_loss_coef * E) + (lse * lse).mean() * self.z_loss_coef
            token = torch.arange(tokens).repeat_interleave(k)
            expert = expert.reshape(-1)
            gates = gates.reshape(-1)
        y = torch.zeros(tokens, self.experts[0].down.out_features, dtype=x.dtype, device=x.device)
        for e in range(E):
            slots = (expert == e).nonzero(as_tuple=True)[0]
            if slots.numel() == 0:
                continue
            rows = token[slots]
            y = y.index_add(0, rows, self.experts[e](xf[rows]) * gates[slots].unsqueeze(-1))
        for s in self.shared:
            y = y + s(xf)
        return y.reshape(*lead, -1)

    def aux_loss(self) -> Optional[torch.Tensor]:
        """The balancing loss of the last forward (balance 'loss'), else None."""
        return self.last_aux_loss
