"""Myriad checkpoints (@myriad/train's format) read and written from PyTorch.

One safetensors file: tensors `model.<key>` (state dict) and `optim.<n>.<buffer>` (optimizer), and
string metadata: format, version, step, config, tokenizer, rng, loader, optimizer, extra (JSON each)
and checksum (FNV-1a over names, dtypes, shapes and 32-bit words, as checksum.ts)."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Dict, Optional

import torch
from torch import nn

from .data import Rng, tokenizer_from_json
from .safetensors import load_safetensors, save_safetensors
from .transformer import build_train_lm_model, weight_decay_groups

FORMAT = "myriad-checkpoint"
VERSION = "1"
_DTYPE_NAME = {torch.float32: "float32", torch.float64: "float64", torch.int32: "int32"}


def _mix_string(h: int, s: str) -> int:
    units = s.encode("utf-16-le")
    for i in range(0, len(units), 2):
        h = ((h ^ (units[i] | (units[i + 1] << 8))) * 0x01000193) & 0xFFFFFFFF
    return h


def tensors_checksum(tensors: Dict[str, torch.Tensor]) -> str:
    """checksum.ts's FNV-1a over sorted names, 'name|dtype|shape|' and each 32-bit word, 8 hex digits."""
    h = 0x811C9DC5
    for name in sorted(tensors, key=lambda n: n.encode("utf-16-be")):
        t = tensors[name].detach().contiguous()
        if t.dtype not in _DTYPE_NAME:
            raise ValueError(f"tensors_checksum: {name} has dtype {t.dtype}; Myriad stores float32, float64 and int32")
        h = _mix_string(h, f"{name}|{_DTYPE_NAME[t.dtype]}|{','.join(str(d) for d in t.shape)}|")
        words = t.reshape(-1).view(torch.int32).to(torch.int64) & 0xFFFFFFFF
        # Vectorised FNV-1a is inherently sequential; a Python loop over words is fine at our sizes.
        for w in words.tolist():
            h = ((h ^ w) * 0x01000193) & 0xFFFFFFFF
    return f"{h:08x}"


@dataclass
class MyriadCheckpoint:
    """The parsed contents of a Myriad checkpoint."""

    path: str
    step: int
    config: Any
    tokenizer: Optional[dict]
    rng: Optional[list]
    loader: Optional[dict]
    model: Dict[str, torch.Tensor]
    optimizer: Optional[dict]
    optim_tensors: Dict[str, torch.Tensor] = field(default_factory=dict)
    extra: Dict[str, Any] = field(default_factory=dict)


def read_myriad_checkpoint(path: str, verify_checksum: bool = True) -> MyriadCheckpoint:
    """Reads and validates a checkpoint (format, version, checksum) without building a model."""
    tensors, meta = load_safetensors(path)
    if meta.get("format") != FORMAT:
        raise ValueError(f"read_myriad_checkpoint: {path} is not a Myriad checkpoint (metadata format is {meta.get('format')!r})")
    if meta.get("version") != VERSION:
        raise ValueError(f"read_myriad_checkpoint: {path} has checkpoint version {meta.get('version')!r}; this reads version {VERSION}")
    if verify_checksum:
        s = tensors_checksum(tensors)
        if s != meta.get("checksum"):
            raise ValueError(f"read_myriad_checkpoint: {path} is corrupt: checksum {s} differs from the recorded {meta.get('checksum')}")
    model, optim = {}, {}
    for k, t in tensors.items():
        if k.startswith("model."):
            model[k[6:]] = t
        elif k.startswith("optim."):
            optim[k[6:]] = t
        else:
            raise ValueError(f"read_myriad_checkpoint: {path} holds tensor {k!r}, neither model.* nor optim.*")
    j = lambda key: json.loads(meta[key]) if key in meta else None
    return MyriadCheckpoint(path, int(meta["step"]), j("config"), j("tokenizer"), j("rng"), j("loader"), model, j("optimizer"), optim, j("extra") or {})


def load_myriad_checkpoint(path: str, model: Optional[nn.Module] = None, sparse: bool = True):
    """(model, tokenizer, checkpoint) from a Myriad checkpoint. Without `model`, a train-lm config
    ({ffw, vocabSize, dim, depth, heads, contextLength, seed}) builds one; the weights load strictly
    (every key, every shape). `sparse=False` gives the expert tables dense gradients."""
    ck = read_myriad_checkpoint(path)
    if model is None:
        model = build_train_lm_model(ck.config)
    if not sparse:
        for m in model.modules():
            if isinstance(m, nn.Embedding):
                m.sparse = False
    own = model.state_dict()
    missing = [k for k in own if k not in ck.model]
    unexpected = [k for k in ck.model if k not in own]
    shapes = [f"{k}: checkpoint {list(ck.model[k].shape)}, model {list(own[k].shape)}" for k in own if k in ck.model and ck.model[k].shape != own[k].shape]
    if missing or unexpected or shapes:
        raise ValueError(f"load_myriad_checkpoint: {path} does not fit the model: missing {missing[:5]}, unexpected {unexpected[:5]}, shapes {shapes[:5]}")
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in ck.model.items()}, strict=True)
    tok = tokenizer_from_json(ck.tokenizer) if ck.tokenizer is not None else None
    return model, tok, ck


def fresh_optimizer_state(model: nn.Module, lr: float = 3e-3, betas=(0.9, 0.95), eps: float = 1e-8, weight_decay: float = 0.1) -> dict:
    """Optimizer metadata with no moments (every parameter starts fresh), laid out as train-lm's AdamW groups, so `--resume` accepts it."""
    groups = []
    for g in weight_decay_groups(model):
        from .transformer import is_no_decay

        decays = not all(is_no_decay(n, p) for n, p in g)
        groups.append({"lr": lr, "betas": list(betas), "eps": eps, "weightDecay": weight_decay if decays else 0.0, "shapes": [list(p.shape) for _, p in g]})
    return {"type": "AdamW", "groups": groups, "steps": {}}


def save_myriad_checkpoint(model: nn.Module, path: str, *, step: int = 0, config: Any = None, tokenizer=None, optimizer: Optional[dict] = None, optim_tensors: Optional[Dict[str, torch.Tensor]] = None, loader: Optional[dict] = None, rng: Optional[list] = None, extra: Optional[dict] = None, fresh_optimizer: bool = True) -> None:
    """Writes a checkpoint Myriad's loadCheckpoint reads (atomically). `optimizer` / `optim_tensors`
    is Myriad's optimizer state (MyriadAdamW.myriad_state()); without it and with fresh_optimizer,
    an empty AdamW state in train-lm's group layout is written (Node's Trainer.resume refuses a file
    with none). `rng` defaults to Myriad's generator seeded with config['seed'] (or 0)."""
    tensors = {f"model.{k}": v.detach().cpu().float() if v.dtype in (torch.float16, torch.bfloat16) else v.detach().cpu() for k, v in model.state_dict().items()}
    if optimizer is None and fresh_optimizer:
        optimizer = fresh_optimizer_state(model)
    for k, t in (optim_tensors or {}).items():
        tensors[f"optim.{k}"] = t.detach().cpu()
    if rng is None:
        seed = config.get("seed", 0) if isinstance(config, dict) else 0
        rng = Rng(seed).get_state()
    tok = tokenizer.to_json() if hasattr(tokenizer, "to_json") else tokenizer
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "step": str(int(step)),
        "config": json.dumps(config),
        "tokenizer": json.dumps(tok),
        "rng": json.dumps([None if (isinstance(x, float) and math.isnan(x)) else x for x in rng]),
        "loader": json.dumps(loader),
        "optimizer": json.dumps(optimizer),
        "extra": json.dumps(extra or {}),
        "checksum": tensors_checksum(tensors),
    }
    save_safetensors(path, tensors, meta)
