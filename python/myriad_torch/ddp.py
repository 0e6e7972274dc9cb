"""One DDP worker of `python3 -m myriad_torch.train`: loads the Myriad checkpoint, continues training
on its rank's share of each step's batches, and (rank 0) writes a Myriad checkpoint back."""
from __future__ import annotations

import json
import math
import os
import time
from typing import Optional

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

from .checkpoint import load_myriad_checkpoint, save_myriad_checkpoint
from .data import BatchLoader, read_corpus, train_validation_split
from .optim import MyriadAdamW, clip_grad_norm
from .routing import MoE


class _LossModule(nn.Module):
    """Wraps the LM so DDP's forward returns (loss with aux, cross-entropy)."""

    def __init__(self, lm: nn.Module):
        super().__init__()
        self.lm = lm

    def forward(self, ids, targets):
        return self.lm.loss(ids, targets)


@torch.no_grad()
def evaluate(model, tokens, context_length: int, batch_size: int, batches: int, device) -> float:
    """Mean validation cross-entropy over the first `batches` in-order windows (Myriad's evaluate)."""
    loader = BatchLoader(tokens, context_length, batch_size, shuffle=False)
    was = model.training
    model.eval()
    total = 0.0
    for _ in range(batches):
        x, y = loader.next()
        total += float(model.loss(x.to(device), y.to(device), aux=False)[1])
    model.train(was)
    return total / batches


def worker(rank: int, args: dict) -> None:
    """Entry point of each spawned process (args: the parsed CLI options plus the rendezvous port)."""
    world = args["nproc"]
    backend = args["backend"]
    torch.set_num_threads(args["threads"])
    dist.init_process_group(backend, init_method=f"tcp://127.0.0.1:{args['port']}", rank=rank, world_size=world)
    try:
        _train(rank, world, args)
    finally:
        dist.destroy_process_group()


def _log(rank: int, msg: str) -> None:
    if rank == 0:
        print(msg, flush=True)


def _train(rank: int, world: int, args: dict) -> None:
    device = torch.device(f"cuda:{rank}") if args["backend"] == "nccl" else torch.device("cpu")
    model, tok, ck = load_myriad_checkpoint(args["checkpoint"], sparse=args["sparse"])
    if tok is None:
        raise ValueError(f"{args['checkpoint']} holds no tokenizer; the corpus cannot be encoded as Myriad did")
    model.to(device).train()
    cfg = ck.config if isinstance(ck.config, dict) else {}
    # Without --corpus: the corpus train-lm recorded in the checkpoint's plan (config.train.corpus), else Moby-Dick.
    plan = cfg.get("train") if isinstance(cfg.get("train"), dict) else {}
    text = read_corpus(args["corpus"] if args["corpus"] is not None else plan.get("corpus"))
    tokens = tok.encode(text)
    train_tokens, val_tokens = train_validation_split(tokens, 0.1)
    if ck.loader is not None:
        L = ck.loader
        loader = BatchLoader(train_tokens, L["contextLength"], L["batchSize"], seed=L["seed"], shuffle=L["shuffle"])
        loader.load_state(L)
    else:
        loader = BatchLoader(train_tokens, cfg["contextLength"], args["batch"], seed=cfg.get("seed", 0))
    opt = MyriadAdamW(model)
    if ck.optimizer is not None:
        opt.load_myriad_state(ck.optimizer, ck.optim_tensors)
    if args["lr"] is not None:
        opt.set_lr(args["lr"])
    lr = opt.hyper[0]["lr"]
    ctx, bs = loader.context_length, loader.batch_size
    start_val = evaluate(model, val_tokens, ctx, bs, args["eval_batches"], device) if rank == 0 else None
    _log(rank, f"myriad_torch.train: {args['checkpoint']} at step {ck.step}, {world} process(es), backend {args['backend']}, "
         f"sparse expert gradients {'on' if args['sparse'] else 'off'}, lr {lr:.3g}; validation loss before: {start_val if start_val is None else round(start_val, 4)}")
    has_moe = any(isinstance(m, MoE) for m in model.modules())
    ddp = DDP(_LossModule(model), find_unused_parameters=has_moe)
    params = [p for _, p in opt.params()]
    losses = []
    t0 = time.time()
    for s in range(args["steps"]):
        batches = [loader.next() for _ in range(world)]  # every rank advances the loader alike; rank r trains on batch r
        x, y = batches[rank]
        opt.zero_grad()
        total, ce = ddp(x.to(device), y.to(device))
        total.backward()
        norm = clip_grad_norm(params, 1.0)
        opt.step()
        l = torch.tensor([float(total), float(ce)], dtype=torch.float64)
        dist.all_reduce(l)
        l /= world
        losses.append(float(l[0]))
        _log(rank, f"step {ck.step + s + 1}: loss {l[0]:.4f} (cross-entropy {l[1]:.4f}) grad norm {norm:.3f}")
    seconds = time.time() - t0
    # BatchNorm buffers moved with each rank's own batch in the last forward; DDP broadcasts rank 0's
    # before every forward, so do the same once more: the replicas then hold rank 0's statistics.
    for b in model.buffers():
        dist.broadcast(b, 0)
    # Replicas must agree: compare a sum over every parameter and buffer across ranks.
    fp = torch.tensor([float(sum(t.double().sum() for t in model.state_dict().values()))], dtype=torch.float64)
    fps = [torch.zeros(1, dtype=torch.float64) for _ in range(world)]
    dist.all_gather(fps, fp)
    same = all(float(f) == float(fps[0]) for f in fps)
    if not same:
        raise RuntimeError(f"myriad_torch.train: replicas diverged (parameter sums {[float(f) for f in fps]})")
    if rank == 0:
        end_val = evaluate(model, val_tokens, ctx, bs, args["eval_batches"], device)
        meta, tensors = opt.myriad_state()
        extra = dict(ck.extra or {})
        extra["torch"] = {"from": os.path.basename(args["checkpoint"]), "fromStep": ck.step, "steps": args["steps"], "nproc": world,
                          "backend": args["backend"], "losses": losses, "valLossBefore": start_val, "valLossAfter": end_val}
        model.cpu()
        save_myriad_checkpoint(model, args["out"], step=ck.step + args["steps"], config=ck.config, tokenizer=tok,
                               optimizer=meta, optim_tensors=tensors, loader=loader.state(), rng=ck.rng, extra=extra)
        summary = {"checkpoint": args["out"], "step": ck.step + args["steps"], "nproc": world, "valLossBefore": start_val,
                   "valLossAfter": end_val, "losses": losses, "replicasIdentical": same, "seconds": round(seconds, 2),
                   "tokensPerSecond": round(args["steps"] * world * bs * ctx / max(seconds, 1e-9))}
        print(f"validation loss after: {end_val:.4f}; wrote {args['out']} (step {ck.step + args['steps']})", flush=True)
        print("summary " + json.dumps(summary), flush=True)
