"""PyTorch mirrors of @myriad/nn's layers: the same parameter names, layouts and forward math, so a
Myriad state dict loads with `load_state_dict(strict=True)` and gives the same outputs.

`MYRIAD_FIELDS` lists each module's tensors and submodules in Myriad's field order; it fixes the
parameter numbering of Myriad's optimizer state (see `myriad_named_parameters`)."""
from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS = {
    "gelu": lambda x: F.gelu(x),  # exact erf form, as Myriad
    "relu": F.relu,
    "silu": F.silu,
    "tanh": torch.tanh,
}


def activation_fn(name: str):
    """The function of an activation name ('gelu' exact, 'relu', 'silu', 'tanh')."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; expected one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]


class Linear(nn.Linear):
    """y = x·Wᵀ + b; `weight` [out, in], `bias` [out] or absent."""

    MYRIAD_FIELDS = ("weight", "bias")


class Embedding(nn.Embedding):
    """`weight` [n, dim]; `sparse=True` gives row-sparse gradients (Myriad's are always row-sparse)."""

    MYRIAD_FIELDS = ("weight",)

    def __init__(self, num_embeddings: int, dim: int, sparse: bool = False, std: float = 1.0):
        super().__init__(num_embeddings, dim, sparse=sparse)
        with torch.no_grad():
            self.weight.normal_(0.0, std)


class LayerNorm(nn.Module):
    """(x − μ)/√(σ² + eps)·weight + bias over the last dim (biased variance)."""

    MYRIAD_FIELDS = ("weight", "bias")

    def __init__(self, dim: int, eps: float = 1e-5, bias: bool = True):
        super().__init__()
        self.dim, self.eps = dim, eps
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, (self.dim,), self.weight, self.bias, self.eps)


class RMSNorm(nn.Module):
    """x / √(mean(x²) + eps) · weight (Myriad's default eps 1e-6)."""

    MYRIAD_FIELDS = ("weight",)

    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.dim, self.eps = dim, eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x / torch.sqrt((x * x).mean(-1, keepdim=True) + self.eps) * self.weight

class BatchNorm1d(nn.Module):
    """Feature dim LAST; training normalises over every leading dim and moves `runningMean` /
    `runningVar` (unbiased) with `momentum`, PyTorch's convention; eval uses the running statistics.
    Under DDP each rank normalises with its own batch and the buffers are rank 0's (broadcast)."""

    MYRIAD_FIELDS = ("weight", "bias", "runningMean", "runningVar")

    def __init__(self, dim: int, eps: float = 1e-5, momentum: float = 0.1, affine: bool = True):
        super().__init__()
        self.dim, self.eps, self.momentum = dim, eps, momentum
        self.weight = nn.Parameter(torch.ones(dim)) if affine else None
        self.bias = nn.Parameter(torch.zeros(dim)) if affine else None
        self.register_buffer("runningMean", torch.zeros(dim))
        self.register_buffer("runningVar", torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.dim:
            raise ValueError(f"BatchNorm1d.forward: input {list(x.shape)} must end in dim = {self.dim}")
        flat = x.reshape(-1, self.dim)
        y = F.batch_norm(flat, self.runningMean, self.runningVar, self.weight, self.bias, self.training, self.momentum, self.eps)
        return y.reshape(x.shape)


class CausalSelfAttention(nn.Module):
    """qkv (Linear dim→3·dim: q | k | v blocks of dim rows, heads contiguous), causal softmax attention, out (Linear)."""

    MYRIAD_FIELDS = ("qkv", "out")

    def __init__(self, dim: int, heads: int, bias: bool = True):
        super().__init__()
        if dim % heads != 0:
            raise ValueError(f"CausalSelfAttention: dim {dim} is not divisible by heads {heads}")
        self.dim, self.heads, self.head_dim = dim, heads, dim // heads
        self.qkv = Linear(dim, 3 * dim, bias=bias)
        self.out = Linear(dim, dim, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, _ = x.shape
        H, hd = self.heads, self.head_dim
        qkv = self.qkv(x).reshape(B, T, 3, H, hd).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        mask = torch.full((T, T), float("-inf"), dtype=x.dtype, device=x.device).triu(1)
        w = torch.softmax(q @ k.transpose(-2, -1) * (1 / math.sqrt(hd)) + mask, dim=-1)
        return self.out((w @ v).permute(0, 2, 1, 3).reshape(B, T, self.dim))


class FeedForward(nn.Module):
    """down(act(up(x))) with up (Linear dim→hidden), down (Linear hidden→dimOut)."""

    MYRIAD_FIELDS = ("up", "down")

    def __init__(self, dim: int, hidden: int, dim_out: Optional[int] = None, activation: str = "gelu", bias: bool = True):
        super().__init__()
        self.activation = activation
        self.act = activation_fn(activation)
        self.up = Linear(dim, hidden, bias=bias)
        self.down = Linear(hidden, dim_out or dim, bias=bias)

    def forward(self, x: torch.Tensor, context: Optional[dict] = None) -> torch.Tensor:
        return self.down(self.act(self.up(x)))
