"""Optimizers that continue a Myriad AdamW run: torch.optim.AdamW for dense parameters and
SparseAdamW (torch.optim.SparseAdam's lazy row update plus AdamW's decoupled decay on the touched
rows, Myriad's exact formula) for the sparse expert tables, with state converted from / to Myriad's
optimizer state (`optim.<n>.expAvg` / `optim.<n>.expAvgSq`, steps and groups in the metadata)."""
from __future__ import annotations

import math
from typing import Dict, List, Optional, Tuple

import torch
from torch import nn

from .transformer import weight_decay_groups


class SparseAdamW(torch.optim.Optimizer):
    """Lazy Adam for row-sparse gradients: only the gradient's rows of p, m and v change (as
    torch.optim.SparseAdam); those rows are also decayed p ← p·(1 − lr·λ) (AdamW). Per-parameter step
    counts for bias correction; the same update as Myriad's AdamW on sparse rows."""

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        """One lazy update of every parameter that has a (sparse) gradient."""
        for group in self.param_groups:
            b1, b2 = group["betas"]
            lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                if not p.grad.is_sparse:
                    raise RuntimeError(f"SparseAdamW: parameter of shape {list(p.shape)} got a dense gradient; use AdamW for it")
                g = p.grad.coalesce()
                rows, vals = g.indices()[0], g.values()
                st = self.state[p]
                if not st:
                    st["step"] = torch.tensor(0.0)
                    st["exp_avg"] = torch.zeros_like(p)
                    st["exp_avg_sq"] = torch.zeros_like(p)
                st["step"] += 1
                t = float(st["step"])
                m = st["exp_avg"][rows].mul_(b1).add_(vals, alpha=1 - b1)
                v = st["exp_avg_sq"][rows].mul_(b2).addcmul_(vals, vals, value=1 - b2)
                st["exp_avg"][rows] = m
                st["exp_avg_sq"][rows] = v
                denom = v.sqrt().div_(math.sqrt(1 - b2**t)).add_(eps)
                p[rows] = p[rows] * (1 - lr * wd) - (lr / (1 - b1**t)) * m / denom
        return None


def sparse_parameter_ids(model: nn.Module) -> set:
    """ids of the weights of nn.Embedding(sparse=True) tables not shared with a dense use."""
    return {id(m.weight) for m in model.modules() if isinstance(m, nn.Embedding) and m.sparse}


class MyriadAdamW:
    """AdamW over a Myriad model's parameters, numbered and grouped as @myriad/train's
    weightDecayGroups; dense ones in torch.optim.AdamW, sparse tables in SparseAdamW."""

    def __init__(self, model: nn.Module, lr: float = 3e-3, betas=(0.9, 0.95), eps: float = 1e-8, weight_decay: float = 0.1):
        self.groups = weight_decay_groups(model)
        self.hyper: List[dict] = [
            {"lr": lr, "betas": list(betas), "eps": eps, "weightDecay": weight_decay if gi == 0 and self._is_decay_group(gi) else 0.0}
            for gi, _ in enumerate(self.groups)
        ]
        self._build(model)

    def _is_decay_group(self, gi: int) -> bool:
        # weightDecayGroups drops empty groups: group 0 is the decayed one unless nothing decays.
        from .transformer import is_no_decay

        return not all(is_no_decay(n, p) for n, p in self.groups[gi])

    def _build(self, model: nn.Module) -> None:
        sparse = sparse_parameter_ids(model)
        dense_groups, sparse_groups = [], []
        for h, g in zip(self.hyper, self.groups):
            kw = dict(lr=h["lr"], betas=tuple(h["betas"]), eps=h["eps"], weight_decay=h["weightDecay"])
            d = [p for _, p in g if id(p) not in sparse]
            s = [p for _, p in g if id(p) in sparse]
            if d:
                dense_groups.append(dict(params=d, **kw))
            if s:
                sparse_groups.append(dict(params=s, **kw))
        self.dense = torch.optim.AdamW(dense_groups) if dense_groups else None
        self.sparse = SparseAdamW(sparse_groups) if sparse_groups else None
        self._group_of: Dict[int, List[dict]] = {}
        for opt in (self.dense, self.sparse):
            if opt is None:
                continue
            for pg in opt.param_groups:
                for p in pg["params"]:
                    self._group_of[id(p)] = pg

    def params(self) -> List[Tuple[str, nn.Parameter]]:
        """(name, parameter) in Myriad's numbering."""
        return [np for g in self.groups for np in g]

    def zero_grad(self) -> None:
        """Sets every gradient to None."""
        for opt in (self.dense, self.sparse):
            if opt is not None:
                opt.zero_grad(set_to_none=True)

    def set_lr(self, lr: float) -> None:
        """Sets the learning rate of every group (Myriad's groups share one lr)."""
        for h in self.hyper:
            h["lr"] = lr
        for opt in (self.dense, self.sparse):
            if opt is not None:
                for pg in opt.param_groups:
                    pg["lr"] = lr

    def step(self) -> None:
        """One update of dense and sparse parameters."""
        for opt in (self.dense, self.sparse):
            if opt is not None:
                opt.step()

    def _state_of(self, p: torch.Tensor) -> dict:
        opt = self.sparse if self.sparse is not None and any(p is q for pg in self.sparse.param_groups for q in pg["params"]) else self.dense
        return opt.state[p]

    def load_myriad_state(self, meta: dict, tensors: Dict[str, torch.Tensor]) -> None:
        """Restores Myriad's AdamW state (metadata `optimizer` + `optim.*` tensors); checks type, groups and shapes."""
        if meta.get("type") not in ("AdamW", "Adam"):
            raise ValueError(f"MyriadAdamW.load_myriad_state: the checkpoint's optimizer is {meta.get('type')!r}; only AdamW state converts")
        saved = meta["groups"]
        if len(saved) != len(self.groups):
            raise ValueError(f"MyriadAdamW.load_myriad_state: {len(saved)} parameter groups in the checkpoint, {len(self.groups)} here")
        for gi, (sg, g) in enumerate(zip(saved, self.groups)):
            shapes = [list(p.shape) for _, p in g]
            if sg["shapes"] != shapes:
                raise ValueError(f"MyriadAdamW.load_myriad_state: group {gi} parameter shapes differ from the model's (another model, or parameter order changed)")
        for gi, sg in enumerate(saved):
            self.hyper[gi] = {k: sg[k] for k in ("lr", "betas", "eps", "weightDecay")}
        self._rebuild_hyper()
        steps = meta.get("steps", {})
        for i, (_, p) in enumerate(self.params()):
            if str(i) not in steps:
                continue
            st = self._state_of(p)
            st["step"] = torch.tensor(float(steps[str(i)]))
            st["exp_avg"] = tensors[f"{i}.expAvg"].to(p.dtype).reshape(p.shape).clone()
            st["exp_avg_sq"] = tensors[f"{i}.expAvgSq"].to(p.dtype).reshape(p.shape).clone()

    def _rebuild_hyper(self) -> None:
        for (h, g) in zip(self.hyper, self.groups):
            for _, p in g:
                pg = self._group_of[id(p)]
                pg["lr"], pg["betas"], pg["eps"], pg["weight_decay"] = h["lr"], tuple(h["betas"]), h["eps"], h["weightDecay"]

    def myriad_state(self) -> Tuple[dict, Dict[str, torch.Tensor]]:
        """(metadata, tensors) in Myriad's OptimizerStateDict form, type AdamW."""
        tensors: Dict[str, torch.Tensor] = {}
        steps: Dict[str, int] = {}
        i = 0
        groups = []
        for h, g in zip(self.hyper, self.groups):
            for _, p in g:
                st = self._state_of(p)
                if st:
                    steps[str(i)] = int(float(st["step"]))
                    tensors[f"{i}.expAvg"] = st["exp_avg"].detach().float().contiguous()
                    tensors[f"{i}.expAvgSq"] = st["exp_avg_sq"].detach().float().contiguous()
                i += 1
            groups.append({**h, "shapes": [list(p.shape) for _, p in g]})
        return {"type": "AdamW", "groups": groups, "steps": steps}, tensors


def clip_grad_norm(params, max_norm: float) -> float:
    """Myriad's clipGradNorm (= torch's clip_grad_norm_) with sparse gradients: scale by
    min(1, max_norm / (‖g‖ + 1e-6)); sparse gradients are coalesced first so repeated rows sum."""
    total = 0.0
    grads = []
    for p in params:
        if p.grad is None:
            continue
        if p.grad.is_sparse:
            p.grad = p.grad.coalesce()
            total += float(p.grad._values().pow(2).sum())
        else:
            total += float(p.grad.pow(2).sum())
        grads.append(p)
    norm = math.sqrt(total)
    if not math.isfinite(norm):
        return norm
    scale = max_norm / (norm + 1e-6)
    if scale < 1:
        for p in grads:
            p.grad.mul_(scale)
    return norm
