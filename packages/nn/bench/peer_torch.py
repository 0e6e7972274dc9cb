"""PyTorch column of peer-kernel.bench.ts: PEER written from the paper (python/myriad_torch/routing.py, sparse
embeddings), loss sum(y * x), forward + backward, then forward + backward + SparseAdam (tables) and Adam (the
rest). Prints one JSON line: medians in ms and peak RSS in GiB. Run by the bench with /usr/bin/python3 (Debian's
python3-torch), OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE removed from the environment.

    python3 peer_torch.py NUM_KEYS TOKENS STEPS THREADS
"""
import json
import os
import resource
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "python"))

import torch  # noqa: E402
from myriad_torch.routing import PEER  # noqa: E402

num_keys, tokens, steps, threads = (int(a) for a in sys.argv[1:5])
torch.set_num_threads(threads)
torch.manual_seed(0)
dim, heads, top_k, dim_key = 256, 8, 16, 128
t0 = time.perf_counter()
peer = PEER(dim, num_keys * num_keys, heads=heads, top_k=top_k, dim_key=dim_key, query_norm="batch", sparse=True)
init_s = time.perf_counter() - t0
x = torch.randn(tokens, dim)
tables = [peer.down.weight, peer.up.weight]
dense = [p for p in peer.parameters() if all(p is not t for t in tables)]
sparse_opt = torch.optim.SparseAdam(tables, lr=1e-3)
dense_opt = torch.optim.Adam(dense, lr=1e-3)


def fwd_bwd():
    sparse_opt.zero_grad(set_to_none=True)
    dense_opt.zero_grad(set_to_none=True)
    (peer(x) * x).sum().backward()


def timed(fn, n):
    fn()  # warm-up
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return statistics.median(out)


def with_step():
    fwd_bwd()
    sparse_opt.step()
    dense_opt.step()


fb = timed(fwd_bwd, steps)
fbs = timed(with_step, steps)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 2**30
print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "fwd_bwd_ms": fb, "step_ms": fbs, "peak_rss_gib": peak, "init_s": init_s}))
