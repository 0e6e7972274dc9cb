"""myriad_torch: carry a Myriad model (weights, tokenizer, optimizer state, data position) to PyTorch
and back. Modules mirror @myriad/nn's layers with the same parameter names and layouts."""
from .checkpoint import MyriadCheckpoint, load_myriad_checkpoint, read_myriad_checkpoint, save_myriad_checkpoint, tensors_checksum
from .data import BatchLoader, ByteTokenizer, CharTokenizer, Rng, read_corpus, tokenizer_from_json, train_validation_split
from .layers import BatchNorm1d, CausalSelfAttention, Embedding, FeedForward, LayerNorm, Linear, RMSNorm
from .optim import MyriadAdamW, SparseAdamW, clip_grad_norm
from .routing import MoE, PEER, PKM, product_key_topk
from .safetensors import load_safetensors, save_safetensors
from .transformer import TransformerBlock, TransformerLM, build_train_lm_model, myriad_named_parameters

__all__ = [
    "BatchLoader", "BatchNorm1d", "ByteTokenizer", "CausalSelfAttention", "CharTokenizer", "Embedding", "FeedForward",
    "LayerNorm", "Linear", "MoE", "MyriadAdamW", "MyriadCheckpoint", "PEER", "PKM", "RMSNorm", "Rng", "SparseAdamW",
    "TransformerBlock", "TransformerLM", "build_train_lm_model", "clip_grad_norm", "load_myriad_checkpoint",
    "load_safetensors", "myriad_named_parameters", "product_key_topk", "read_corpus", "read_myriad_checkpoint",
    "save_myriad_checkpoint", "save_safetensors", "tensors_checksum", "tokenizer_from_json", "train_validation_split",
]
