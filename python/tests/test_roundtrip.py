"""Myriad → PyTorch DDP (2 processes) → Myriad: train-lm trains a few steps, myriad_torch.train
continues them on two gloo processes, train-lm resumes from the result and generates text. The
PyTorch side starts at Myriad's validation loss (same weights, same windows) and its training loss
continues Myriad's curve instead of restarting near log(vocab)."""
import json
import math
import os
import subprocess
import sys

import pytest
import torch

import myriad_torch as mt
from conftest import ROOT, run_node

MODEL = ["--dim", "32", "--heads", "2", "--depth", "3", "--context", "32", "--batch", "8", "--eval-batches", "4", "--quiet"]


def train_lm(*args):
    cmd = ["node", "--conditions=source", "--import", "tsx", "examples/train-lm/src/main.ts", *MODEL, *args]
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, f"{' '.join(cmd)} exited {p.returncode}:\n{p.stdout}\n{p.stderr}"
    return p.stdout


def log_records(path):
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def torch_train(ckpt, out, steps=5):
    env = {**os.environ, "PYTHONPATH": os.path.join(ROOT, "python"), "PYTHONDONTWRITEBYTECODE": "1"}
    cmd = [sys.executable, "-m", "myriad_torch.train", "--checkpoint", ckpt, "--nproc", "2", "--steps", str(steps), "--out", out, "--threads", "1"]
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert p.returncode == 0, f"{' '.join(cmd)} exited {p.returncode}:\n{p.stdout}\n{p.stderr}"
    line = [l for l in p.stdout.splitlines() if l.startswith("summary ")]
    assert line, p.stdout
    return json.loads(line[-1][len("summary "):])


@pytest.mark.parametrize("ffw", ["peer", "moe", "pkm"])
def test_myriad_torch_myriad(tmp_path, ffw):
    first = tmp_path / "myriad"
    train_lm("--ffw", ffw, "--steps", "30", "--eval-every", "30", "--sample", "0", "--out", str(first))
    recs = log_records(first / "log.jsonl")
    myriad_train = [r["loss"] for r in recs if r["kind"] == "train"]
    myriad_val = [r["valLoss"] for r in recs if r["kind"] == "eval"][-1]
    vocab = mt.read_myriad_checkpoint(str(first / "checkpoint.safetensors")).config["vocabSize"]
    chance = math.log(vocab)
    assert myriad_val < chance - 0.8, f"the Myriad run did not learn ({myriad_val} vs log(V) {chance})"

    ported = str(tmp_path / "torch.safetensors")
    s = torch_train(str(first / "checkpoint.safetensors"), ported)
    assert s["replicasIdentical"]
    # Same weights and validation windows: the PyTorch evaluation reproduces Myriad's last one.
    assert abs(s["valLossBefore"] - myriad_val) < 1e-4, (s["valLossBefore"], myriad_val)
    # The curve continues: the first PyTorch step is near Myriad's last steps, far below chance.
    recent = sum(myriad_train[-5:]) / 5
    assert abs(s["losses"][0] - recent) < 0.25, (s["losses"][0], recent)
    assert max(s["losses"]) < chance - 0.6
    ck = mt.read_myriad_checkpoint(ported)
    assert ck.step == 35 and ck.optimizer["type"] == "AdamW" and ck.extra["torch"]["nproc"] == 2

    # Myriad takes it back: train-lm resumes (weights, AdamW moments, loader position) and samples.
    second = tmp_path / "resumed"
    # The plan recorded 30 steps; going on to 40 is an explicit choice. keep-schedule holds the final lr,
    # the one PyTorch trained with (the checkpoint's last, held constant).
    out = train_lm("--ffw", ffw, "--steps", "40", "--extend", "keep-schedule", "--eval-every", "40", "--sample", "40", "--resume", ported, "--out", str(second))
    recs2 = log_records(second / "log.jsonl")
    resumed = [r for r in recs2 if r["kind"] == "train"]
    assert resumed[0]["step"] == 36
    assert resumed[0]["loss"] < chance - 0.6 and abs(resumed[0]["loss"] - recent) < 0.35
    assert [r["valLoss"] for r in recs2 if r["kind"] == "eval"][-1] < chance - 0.8
    assert all(abs(r["lr"] - 3e-4) < 1e-12 for r in resumed), [r["lr"] for r in resumed]
    sample = out.split("sample:", 1)[1].strip()
    assert len(sample) >= 40, out


def test_sized_train_lm_checkpoint_rebuilds_in_pytorch(tmp_path):
    """A checkpoint of a middle layer sized from the CLI rebuilds from its own config: same shapes, and
    PyTorch's validation loss equals Myriad's last evaluation."""
    run = tmp_path / "sized"
    train_lm("--ffw", "pkm", "--experts", "256", "--expert-top-k", "4", "--expert-heads", "2", "--key-dim", "8", "--query-norm", "layer",
             "--steps", "2", "--eval-every", "2", "--sample", "0", "--out", str(run))
    ck_path = str(run / "checkpoint.safetensors")
    model, tok, ck = mt.load_myriad_checkpoint(ck_path)
    assert ck.config["pkm"] == {"numExperts": 256, "heads": 2, "topK": 4, "dimKey": 8, "queryNorm": "layer"}
    assert ck.config["train"]["steps"] == 2
    layer = model.blocks[1].ffw
    assert (layer.num_experts, layer.heads, layer.top_k, layer.dim_key) == (256, 2, 4, 8)
    s = torch_train(ck_path, str(tmp_path / "torch.safetensors"), steps=1)
    myriad_val = [r["valLoss"] for r in log_records(run / "log.jsonl") if r["kind"] == "eval"][-1]
    assert abs(s["valLossBefore"] - myriad_val) < 1e-4, (s["valLossBefore"], myriad_val)


def test_python_saved_checkpoint_loads_in_myriad(tmp_path):
    """save_myriad_checkpoint without optimizer state: Myriad's loadCheckpoint({ model }) takes it, and the logits match."""
    config = {"ffw": "peer", "vocabSize": 30, "dim": 16, "depth": 3, "heads": 2, "contextLength": 12, "seed": 5}
    torch.manual_seed(0)
    model = mt.build_train_lm_model(config)
    text = "call me ishmael. some years ago, never mind how long"
    tok = mt.CharTokenizer.from_text(text + "".join(chr(c) for c in range(ord("A"), ord("A") + 30 - len(set(text)))))
    assert tok.vocab_size == 30
    path = str(tmp_path / "fresh.safetensors")
    mt.save_myriad_checkpoint(model, path, step=0, config=config, tokenizer=tok)
    prompt = "some years ag"[:12]
    res = json.loads(run_node("load_generate.ts", path, prompt))
    model.eval()
    with torch.no_grad():
        want = model(tok.encode(prompt).long().unsqueeze(0))[0, -1]
    diff = (torch.tensor(res["last"]) - want).abs().max().item()
    assert diff < 1e-4, diff
    assert res["sample"].startswith(prompt) and len(res["sample"]) == len(prompt) + 40
