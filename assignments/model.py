"""Part 7: the whole Transformer - embeddings, encoder, decoder and generator.

The encoder reads the source once and turns it into a memory, one vector per source token.
The decoder produces the target one token at a time: its masked self-attention sees only
earlier target tokens, its cross-attention reads the memory, and a final linear layer (the
generator) gives a score for every vocabulary entry. Token embeddings are scaled by
``sqrt(d_model)`` so that they are not drowned by the position encodings added to them.

Shapes: ``src`` ``(B, S)`` and ``tgt`` ``(B, T)`` token ids; ``memory`` ``(B, S, d_model)``;
logits ``(B, T, tgt_vocab_size)``. Masks are boolean, True = may attend. ``decode`` returns
logits too (not decoder states), so part 8's decoders need only ``encode`` and ``decode``.

Not allowed here: ``torch.nn.Transformer``, ``torch.nn.TransformerEncoder``,
``torch.nn.TransformerDecoder``, ``torch.nn.TransformerEncoderLayer``,
``torch.nn.TransformerDecoderLayer``.
"""

import math
from dataclasses import dataclass

import torch
from torch import nn

from ._validate import check_tensor
from .layers import DecoderLayer, EncoderLayer, LayerNorm
from .masks import padding_mask, target_mask
from .positional import LearnedPositionalEmbedding, PositionalEncoding

POSITIONAL_KINDS = ("sinusoidal", "learned")


@dataclass
class TransformerConfig:
    """Sizes of a Transformer; invalid combinations raise ``ValueError`` naming the fields."""

    src_vocab_size: int
    tgt_vocab_size: int
    d_model: int = 64
    num_heads: int = 4
    num_encoder_layers: int = 2
    num_decoder_layers: int = 2
    d_ff: int = 128
    dropout: float = 0.1
    max_len: int = 512
    pad_id: int = 0
    positional: str = "sinusoidal"
    activation: str = "gelu"
    layer_norm_eps: float = 1e-5

    def __post_init__(self) -> None:
        for name in ("src_vocab_size", "tgt_vocab_size", "d_model", "num_heads", "d_ff", "max_len"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name in ("num_encoder_layers", "num_decoder_layers"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        if self.d_model % self.num_heads:
            raise ValueError(
                f"d_model={self.d_model} must be divisible by num_heads={self.num_heads}"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")
        if not 0 <= self.pad_id < min(self.src_vocab_size, self.tgt_vocab_size):
            raise ValueError(
                f"pad_id={self.pad_id} must be an id of both vocabularies (src_vocab_size="
                f"{self.src_vocab_size}, tgt_vocab_size={self.tgt_vocab_size})"
            )
        if self.positional not in POSITIONAL_KINDS:
            raise ValueError(
                f"positional must be one of {POSITIONAL_KINDS}, got {self.positional!r}"
            )
        if self.activation not in ("gelu", "relu"):
            raise ValueError(f"activation must be 'gelu' or 'relu', got {self.activation!r}")
        if not self.layer_norm_eps > 0:
            raise ValueError(f"layer_norm_eps must be positive, got {self.layer_norm_eps!r}")


class Embeddings(nn.Module):
    """Token embedding times ``sqrt(d_model)``, plus positions (sinusoidal or learned).

    Members: ``token`` (``nn.Embedding(vocab_size, d_model)``) and ``position``
    (:class:`PositionalEncoding` or :class:`LearnedPositionalEmbedding`, which applies the
    dropout).

    Shapes: ``(B, T)`` token ids -> ``(B, T, d_model)``.
    """

    def __init__(self, vocab_size: int, config: TransformerConfig) -> None:
        super().__init__()
        self.d_model = config.d_model
        # HINT: part 5's position modules add to their input and apply the dropout themselves.
        # YOUR CODE HERE
        raise NotImplementedError("Embeddings.__init__ is not implemented yet")

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        check_tensor("tokens", tokens, min_dim=2, max_dim=2)
        # YOUR CODE HERE
        raise NotImplementedError("Embeddings.forward is not implemented yet")


class Encoder(nn.Module):
    """Embeddings, ``num_encoder_layers`` encoder layers, a final LayerNorm.

    Members: ``embeddings``, ``layers`` (``nn.ModuleList``), ``norm``.

    Shapes: ``src`` ``(B, S)``, ``src_mask`` broadcastable to ``(B, h, S, S)`` ->
    ``(B, S, d_model)``.
    """

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        # HINT: part 6's EncoderLayer takes (d_model, num_heads, d_ff, dropout, activation, eps).
        # YOUR CODE HERE
        raise NotImplementedError("Encoder.__init__ is not implemented yet")

    def forward(self, src: torch.Tensor, src_mask: torch.Tensor | None = None) -> torch.Tensor:
        # YOUR CODE HERE
        raise NotImplementedError("Encoder.forward is not implemented yet")


class Decoder(nn.Module):
    """Embeddings, ``num_decoder_layers`` decoder layers, a final LayerNorm.

    Members: ``embeddings``, ``layers`` (``nn.ModuleList``), ``norm``.

    Shapes: ``tgt`` ``(B, T)``, ``memory`` ``(B, S, d_model)`` -> ``(B, T, d_model)``.
    """

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        # HINT: part 6's DecoderLayer takes (d_model, num_heads, d_ff, dropout, activation, eps).
        # YOUR CODE HERE
        raise NotImplementedError("Decoder.__init__ is not implemented yet")

    def forward(
        self,
        tgt: torch.Tensor,
        memory: torch.Tensor,
        src_mask: torch.Tensor | None = None,
        tgt_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        # YOUR CODE HERE
        raise NotImplementedError("Decoder.forward is not implemented yet")


class Transformer(nn.Module):
    """Encoder-decoder Transformer with a linear generator to the target vocabulary.

    Members: ``config``, ``encoder``, ``decoder``, ``generator``
    (``nn.Linear(d_model, tgt_vocab_size)``). Returns logits: the loss applies the
    log-softmax (``nn.CrossEntropyLoss`` does).
    """

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.config = config
        # YOUR CODE HERE
        raise NotImplementedError("Transformer.__init__ is not implemented yet")
        for parameter in self.parameters():
            if parameter.dim() > 1:
                nn.init.xavier_uniform_(parameter)

    def encode(self, src: torch.Tensor, src_mask: torch.Tensor | None = None) -> torch.Tensor:
        """The memory ``(B, S, d_model)``; ``src_mask`` defaults to the padding mask of ``src``."""
        check_tensor("src", src, min_dim=2, max_dim=2)
        # YOUR CODE HERE
        raise NotImplementedError("Transformer.encode is not implemented yet")

    def decode(
        self,
        tgt: torch.Tensor,
        memory: torch.Tensor,
        src_mask: torch.Tensor | None = None,
        tgt_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Logits ``(B, T, tgt_vocab_size)`` for the target prefix ``tgt`` ``(B, T)``.

        ``tgt_mask`` defaults to the target mask of ``tgt`` (no padding, no future);
        ``src_mask`` (the source padding mask) defaults to no mask: pass it when the source
        has padding.
        """
        check_tensor("tgt", tgt, min_dim=2, max_dim=2)
        # HINT: part 4's target_mask hides both padding and the future.
        # YOUR CODE HERE
        raise NotImplementedError("Transformer.decode is not implemented yet")

    def forward(
        self,
        src: torch.Tensor,
        tgt: torch.Tensor,
        src_mask: torch.Tensor | None = None,
        tgt_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Logits ``(B, T, tgt_vocab_size)``; masks default to those built from ``pad_id``."""
        check_tensor("src", src, min_dim=2, max_dim=2)
        check_tensor("tgt", tgt, min_dim=2, max_dim=2)
        if src.shape[0] != tgt.shape[0]:
            raise ValueError(
                f"src {tuple(src.shape)} and tgt {tuple(tgt.shape)} must have the same batch size"
            )
        # HINT: build the source mask once: the encoder and the cross-attention both need it.
        # YOUR CODE HERE
        raise NotImplementedError("Transformer.forward is not implemented yet")
