"""`python3 -m myriad_torch.train --checkpoint FILE --nproc 2`: continue a Myriad run with PyTorch DDP
(gloo on CPU, nccl where CUDA has a GPU per process) on the same corpus and tokenizer, with sparse
expert gradients, and write a Myriad checkpoint that train-lm's --resume accepts."""
from __future__ import annotations

import argparse
import os
import socket
import sys

import torch
import torch.multiprocessing as mp

from .ddp import worker


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse(argv):
    """The CLI options as a dict (see --help)."""
    p = argparse.ArgumentParser(prog="python3 -m myriad_torch.train", description=__doc__)
    p.add_argument("--checkpoint", required=True, help="Myriad checkpoint to continue (train-lm's checkpoint.safetensors)")
    p.add_argument("--nproc", type=int, default=2, help="DDP processes (default 2)")
    p.add_argument("--steps", type=int, default=20, help="optimizer steps to take (default 20)")
    p.add_argument("--corpus", default=None, help="the run's corpus, file or directory (default: the one train-lm recorded in the checkpoint, else bundled Moby-Dick)")
    p.add_argument("--out", default=None, help="where to write the Myriad checkpoint (default: FILE with .torch.safetensors)")
    p.add_argument("--lr", type=float, default=None, help="learning rate (default: the checkpoint's last, held constant)")
    p.add_argument("--eval-batches", type=int, default=4, help="validation batches before and after (default 4, as train-lm)")
    p.add_argument("--batch", type=int, default=16, help="sequences per process per step when the checkpoint holds no loader position")
    p.add_argument("--backend", choices=["auto", "gloo", "nccl"], default="auto", help="auto: nccl with enough GPUs, else gloo")
    p.add_argument("--sparse", choices=["auto", "on", "off"], default="auto", help="row-sparse expert-table gradients (auto: on for gloo; NCCL cannot all-reduce sparse tensors)")
    p.add_argument("--threads", type=int, default=None, help="torch threads per process (default: cores / nproc)")
    a = p.parse_args(argv)
    if a.nproc < 1 or a.steps < 0:
        p.error("--nproc must be >= 1 and --steps >= 0")
    if not os.path.isfile(a.checkpoint):
        p.error(f"--checkpoint: no such file: {a.checkpoint}")
    backend = a.backend
    if backend == "auto":
        backend = "nccl" if torch.cuda.is_available() and torch.cuda.device_count() >= a.nproc else "gloo"
    if backend == "nccl" and torch.cuda.device_count() < a.nproc:
        p.error(f"--backend nccl needs one GPU per process: {torch.cuda.device_count()} visible, --nproc {a.nproc}")
    sparse = a.sparse == "on" or (a.sparse == "auto" and backend == "gloo")
    out = a.out or (a.checkpoint[: -len(".safetensors")] if a.checkpoint.endswith(".safetensors") else a.checkpoint) + ".torch.safetensors"
    return {"checkpoint": a.checkpoint, "nproc": a.nproc, "steps": a.steps, "corpus": a.corpus, "out": out, "lr": a.lr,
            "eval_batches": a.eval_batches, "batch": a.batch, "backend": backend, "sparse": sparse,
            "threads": a.threads or max(1, (os.cpu_count() or 1) // a.nproc), "port": _free_port()}


def main(argv=None) -> int:
    """Spawns the DDP workers; returns 0 when every one finished."""
    args = parse(sys.argv[1:] if argv is None else argv)
    mp.spawn(worker, args=(args,), nprocs=args["nproc"], join=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
