"""Same weights → same outputs in Myriad and PyTorch (within 1e-4), for every layer and for
train-lm's TransformerLM with each middle layer (default sizes, and sized from a checkpoint config); also Myriad's parameter order and the buffers
(BatchNorm running statistics, MoE balancing bias) after a training-mode forward."""
import json
import os

import pytest
import torch

import myriad_torch as mt
from conftest import run_node

TOL = 1e-4


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("parity") / "parity.safetensors")
    run_node("parity.ts", path)
    tensors, meta = mt.load_safetensors(path)
    return tensors, json.loads(meta["cases"])


def _part(tensors, case, part):
    pre = f"{case}.{part}."
    return {k[len(pre):]: v for k, v in tensors.items() if k.startswith(pre)}


def _snake(opts, rename):
    return {rename.get(k, k): v for k, v in opts.items()}


def build(spec):
    kind, o = spec["kind"], spec.get("opts", {})
    if kind == "Linear":
        return mt.Linear(o["in"], o["out"], bias=o.get("bias", True))
    if kind == "Embedding":
        return mt.Embedding(o["n"], o["dim"])
    if kind == "LayerNorm":
        return mt.LayerNorm(o["dim"])
    if kind == "RMSNorm":
        return mt.RMSNorm(o["dim"])
    if kind == "BatchNorm1d":
        return mt.BatchNorm1d(o["dim"])
    if kind == "CausalSelfAttention":
        return mt.CausalSelfAttention(o["dim"], o["heads"])
    if kind == "FeedForward":
        return mt.FeedForward(o["dim"], o["hidden"], activation=o["activation"])
    names = {"numExperts": "num_experts", "topK": "top_k", "numShared": "num_shared", "capacityFactor": "capacity_factor",
             "normalizeTopK": "normalize_top_k", "hashSeed": "hash_seed", "dimOut": "dim_out", "numKeys": "num_keys",
             "dimKey": "dim_key", "queryNorm": "query_norm", "scoreFn": "score_fn"}
    if kind == "MoE":
        return mt.MoE(**_snake(o, names))
    if kind == "PKM":
        return mt.PKM(**_snake(o, names))
    if kind == "PEER":
        return mt.PEER(**_snake(o, names))
    if kind == "TransformerLM":
        return mt.build_train_lm_model(spec["config"])
    raise AssertionError(f"unknown kind {kind}")


CASES = [
    "linear", "linear_nobias", "embedding", "layernorm", "rmsnorm", "batchnorm_train", "batchnorm_eval", "attention",
    "ffw_gelu", "ffw_relu", "ffw_silu", "ffw_tanh", "moe_topk", "moe_switch", "moe_shared_bias", "moe_expert_choice",
    "moe_hash", "pkm_batch", "pkm_layer", "peer_softmax", "peer_sigmoid", "lm_dense", "lm_moe", "lm_pkm", "lm_peer",
    "lm_moe_sized", "lm_pkm_sized", "lm_peer_sized", "lm_moe_hash",
]


def test_every_case_is_covered(reference):
    assert sorted(reference[1]) == sorted(CASES)


@pytest.mark.parametrize("case", CASES)
def test_same_outputs(reference, case):
    tensors, specs = reference
    spec = specs[case]
    m = build(spec)
    m.load_state_dict(_part(tensors, case, "param"), strict=True)
    if spec.get("eval"):
        m.eval()
    inp = _part(tensors, case, "input")
    want = _part(tensors, case, "output")
    got = {}
    with torch.no_grad():
        if spec["kind"] == "Embedding":
            got["y"] = m(inp["ids"].long())
        elif spec["kind"] == "MoE":
            got["y"] = m(inp["x"], {"token_ids": inp["tokenIds"].long()})
            if m.aux_loss() is not None:
                got["aux"] = m.aux_loss()
        elif spec["kind"] == "TransformerLM":
            ids, targets = inp["ids"].long(), inp["targets"].long()
            got["logits"] = m(ids)
            got["loss"] = m.loss(ids, targets)[0]
        else:
            got["y"] = m(inp["x"])
    assert sorted(got) == sorted(want), f"{case}: outputs {sorted(got)} vs Myriad's {sorted(want)}"
    for k in want:
        diff = (got[k].reshape(want[k].shape).double() - want[k].double()).abs().max().item()
        assert diff <= TOL, f"{case}.{k}: max |torch − myriad| = {diff:.3g} > {TOL}"
    after = _part(tensors, case, "after")
    state = m.state_dict()
    for k, v in after.items():
        diff = (state[k].double() - v.double()).abs().max().item()
        assert diff <= TOL, f"{case}: state {k} after the forward differs by {diff:.3g}"
    assert [n for n, _ in mt.myriad_named_parameters(m)] == spec["order"], f"{case}: parameter order differs from Myriad's namedParameters()"


def test_train_lm_config_defaults_and_errors():
    """A config without a layer block gets train-lm's default sizes; unknown settings and non-square expert counts are refused."""
    base = {"ffw": "peer", "vocabSize": 20, "dim": 16, "depth": 1, "heads": 2, "contextLength": 8, "seed": 0}
    peer = mt.build_train_lm_model(base).blocks[0].ffw
    assert (peer.num_experts, peer.heads, peer.top_k, peer.dim_key) == (4096, 8, 8, 32)
    moe = mt.build_train_lm_model({**base, "ffw": "moe"}).blocks[0].ffw
    assert (moe.num_experts, moe.top_k, moe.balance, moe.capacity_factor, len(moe.shared)) == (8, 2, "loss", float("inf"), 0)
    with pytest.raises(ValueError, match="config.peer.experts is not a setting of the peer layer"):
        mt.build_train_lm_model({**base, "peer": {"experts": 4}})
    with pytest.raises(ValueError, match="config.pkm.numExperts must be a perfect square"):
        mt.build_train_lm_model({**base, "ffw": "pkm", "pkm": {"numExperts": 50}})


def test_batch_loader_windows_match_myriad(reference):
    loader = mt.BatchLoader(torch.arange(1000, dtype=torch.int32), 16, 4, seed=3)
    got = torch.cat([loader.next()[0] for _ in range(20)], 0)
    assert torch.equal(got.to(torch.int32), reference[0]["loader.windows"])
