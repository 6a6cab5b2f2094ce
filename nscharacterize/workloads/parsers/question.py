"""Transformer question parser (question tokens -> program tokens) with random weights.

``backend="opennmt"`` (default when ``import onmt`` works) assembles OpenNMT-py's own modules:
``onmt.modules.Embeddings`` (sinusoidal positions), ``onmt.encoders.TransformerEncoder`` and
``onmt.decoders.TransformerDecoder`` in the Transformer-base configuration (6+6 layers, d_model
512, 8 heads, feed-forward 2048; docs/research/workload-architectures.md section 6), plus a Linear
generator, and decodes greedily the way ``onmt.translate.Translator`` does: one decoder step per
token with OpenNMT's key/value cache, ``log_softmax`` over the generator output, argmax.

``backend="torch"`` is the same-sized ``torch.nn.Transformer`` (post-norm, as in the paper) with
token embeddings, sinusoidal positions and a Linear generator. ``nn.TransformerDecoder`` has no
incremental cache, so greedy decoding does not call it: :meth:`_TorchSeq2Seq.decode_step` runs the
decoder layers' own weights on the newest token only, with a key/value cache as OpenNMT's
Translator keeps one: per layer and step, three projections of the new token (query, key,
value; keys and values appended to the cache), the self-attention output projection, a query
projection and output projection for the encoder attention (the encoder output's keys and values
are projected once, at step 0), and the two feed-forward layers. Attention is computed as
OpenNMT computes it: explicit scores, softmax and weighted sum on the CPU,
``scaled_dot_product_attention`` on a GPU. Both backends therefore run the same number of decoder
steps with the same matrix products, softmaxes and layer norms per step (tests/workloads/test_parsers.py).
Re-running the decoder over the whole prefix at every step (what stock ``nn.Transformer`` greedy
decoding does) would cost 5-12x the decoder work for 10-25-token programs.

A trained parser stops at the end-of-sequence token; with random weights it would not, so decoding
runs for exactly ``target_length`` steps: the sample's program length.
"""
from __future__ import annotations

import math
import warnings
from typing import Sequence

import torch
from torch import nn

from ..base import WorkloadError

BACKENDS = ("opennmt", "torch")
PAD, BOS, EOS = 0, 1, 2


def onmt_available() -> bool:
    try:
        with warnings.catch_warnings():   # OpenNMT-py 3.5 warns about torch.cuda.amp at import
            warnings.simplefilter("ignore", FutureWarning)
            import onmt  # noqa: F401
            import onmt.decoders.transformer  # noqa: F401
            import onmt.encoders.transformer  # noqa: F401
    except Exception:
        return False
    return True


def default_backend() -> str:
    return "opennmt" if onmt_available() else "torch"


def _sinusoid(max_len: int, dim: int) -> torch.Tensor:
    pos = torch.arange(max_len, dtype=torch.float32)[:, None]
    div = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * -(math.log(10000.0) / dim))
    pe = torch.zeros(max_len, dim)
    pe[:, 0::2] = torch.sin(pos * div)
    pe[:, 1::2] = torch.cos(pos * div)
    return pe


class _TorchSeq2Seq(nn.Module):
    def __init__(self, src_vocab: int, tgt_vocab: int, d_model: int, heads: int, layers: int, ff: int,
                 dropout: float, max_len: int = 512):
        super().__init__()
        self.d_model = d_model
        self.src_embed = nn.Embedding(src_vocab, d_model, padding_idx=PAD)
        self.tgt_embed = nn.Embedding(tgt_vocab, d_model, padding_idx=PAD)
        self.register_buffer("pe", _sinusoid(max_len, d_model), persistent=False)
        self.transformer = nn.Transformer(d_model=d_model, nhead=heads, num_encoder_layers=layers,
                                          num_decoder_layers=layers, dim_feedforward=ff, dropout=dropout,
                                          batch_first=True)
        self.generator = nn.Linear(d_model, tgt_vocab)

    def embed(self, table: nn.Embedding, ids: torch.Tensor) -> torch.Tensor:
        return table(ids) * math.sqrt(self.d_model) + self.pe[: ids.shape[1]]

    def greedy(self, src: torch.Tensor, steps: int) -> torch.Tensor:
        memory = self.transformer.encoder(self.embed(self.src_embed, src))
        cache: dict = {}
        pred = torch.full((src.shape[0], 1), BOS, dtype=torch.long, device=src.device)
        tokens = []
        for step in range(steps):
            dec = self.decode_step(pred, memory, step, cache)
            log_probs = torch.log_softmax(self.generator(dec[:, -1]), dim=-1)
            pred = log_probs.argmax(-1, keepdim=True)
            tokens.append(pred[:, 0])
        return torch.stack(tokens, dim=1)

    def decode_step(self, token: torch.Tensor, memory: torch.Tensor, step: int, cache: dict) -> torch.Tensor:
        """The decoder output [batch, 1, d_model] for the token at position ``step``, given the
        keys and values of the earlier positions in ``cache`` (filled in place)."""
        decoder = self.transformer.decoder
        x = self.tgt_embed(token) * math.sqrt(self.d_model) + self.pe[step:step + 1]
        for i, layer in enumerate(decoder.layers):
            sa, ca = layer.self_attn, layer.multihead_attn
            q = _head_split(_project(x, sa, 0), sa.num_heads)
            k = _head_split(_project(x, sa, 1), sa.num_heads)
            v = _head_split(_project(x, sa, 2), sa.num_heads)
            if step > 0:
                k = torch.cat([cache[("self_k", i)], k], dim=2)
                v = torch.cat([cache[("self_v", i)], v], dim=2)
            cache[("self_k", i)], cache[("self_v", i)] = k, v
            x = layer.norm1(x + sa.out_proj(_head_merge(_attention(q, k, v))))
            if ("memory_k", i) not in cache:        # encoder keys/values: projected once per question
                cache[("memory_k", i)] = _head_split(_project(memory, ca, 1), ca.num_heads)
                cache[("memory_v", i)] = _head_split(_project(memory, ca, 2), ca.num_heads)
            q = _head_split(_project(x, ca, 0), ca.num_heads)
            a = _attention(q, cache[("memory_k", i)], cache[("memory_v", i)])
            x = layer.norm2(x + ca.out_proj(_head_merge(a)))
            x = layer.norm3(x + layer.linear2(layer.activation(layer.linear1(x))))
        return decoder.norm(x) if decoder.norm is not None else x


def _project(x: torch.Tensor, attn: nn.MultiheadAttention, which: int) -> torch.Tensor:
    """Query (0), key (1) or value (2) projection of ``x`` with ``attn``'s packed weights."""
    d = attn.embed_dim
    bias = attn.in_proj_bias[which * d:(which + 1) * d] if attn.in_proj_bias is not None else None
    return nn.functional.linear(x, attn.in_proj_weight[which * d:(which + 1) * d], bias)


def _head_split(x: torch.Tensor, heads: int) -> torch.Tensor:
    b, t, d = x.shape
    return x.view(b, t, heads, d // heads).transpose(1, 2)


def _head_merge(x: torch.Tensor) -> torch.Tensor:
    b, h, t, dh = x.shape
    return x.transpose(1, 2).reshape(b, t, h * dh)


def _attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Attention as OpenNMT-py 3.5 computes it in decoding: scores, softmax and weighted sum on the
    CPU; ``scaled_dot_product_attention`` elsewhere."""
    if q.device.type == "cpu":
        scores = torch.matmul(q / math.sqrt(q.shape[-1]), k.transpose(2, 3))
        return torch.matmul(torch.softmax(scores.float(), dim=-1).to(q.dtype), v)
    return nn.functional.scaled_dot_product_attention(q, k, v)


class _OnmtSeq2Seq(nn.Module):
    def __init__(self, src_vocab: int, tgt_vocab: int, d_model: int, heads: int, layers: int, ff: int,
                 dropout: float):
        super().__init__()
        from onmt.decoders.transformer import TransformerDecoder
        from onmt.encoders.transformer import TransformerEncoder
        from onmt.modules import Embeddings

        def embeddings(vocab: int) -> Embeddings:
            return Embeddings(word_vec_size=d_model, word_vocab_size=vocab, word_padding_idx=PAD,
                              position_encoding=True, position_encoding_type="SinusoidalInterleaved",
                              dropout=dropout)

        self.encoder = TransformerEncoder(layers, d_model, heads, ff, dropout, dropout, embeddings(src_vocab),
                                          max_relative_positions=0, relative_positions_buckets=0)
        self.decoder = TransformerDecoder(layers, d_model, heads, ff, copy_attn=False,
                                          self_attn_type="scaled-dot-flash", dropout=dropout,
                                          attention_dropout=dropout, embeddings=embeddings(tgt_vocab),
                                          max_relative_positions=0, relative_positions_buckets=0,
                                          aan_useffn=False, full_context_alignment=False, alignment_layer=0,
                                          alignment_heads=0)
        self.generator = nn.Linear(d_model, tgt_vocab)
        # OpenNMT-py 3.x creates its attention/FFN Linears with ``skip_init`` (uninitialised memory)
        # and relies on its model builder to initialise them: Glorot for matrices (the
        # Transformer-base recipe's ``param_init_glorot``); biases start at zero here.
        for module in self.modules():
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
        for param in self.parameters():
            if param.dim() > 1:
                nn.init.xavier_uniform_(param)

    def greedy(self, src: torch.Tensor, steps: int) -> torch.Tensor:
        src = src.unsqueeze(-1)                                     # OpenNMT: [batch, len, feats]
        src_len = torch.full((src.shape[0],), src.shape[1], dtype=torch.long, device=src.device)
        enc_out, enc_final, src_len = self.encoder(src, src_len)
        self.decoder.init_state(src, enc_out, enc_final)
        pred = torch.full((src.shape[0], 1, 1), BOS, dtype=torch.long, device=src.device)
        tokens = []
        for step in range(steps):
            dec_out, _ = self.decoder(pred, enc_out, src_len=src_len, step=step)
            log_probs = torch.log_softmax(self.generator(dec_out.squeeze(1)), dim=-1)
            nxt = log_probs.argmax(-1)
            tokens.append(nxt)
            pred = nxt.view(-1, 1, 1)
        return torch.stack(tokens, dim=1)


class QuestionParser:
    """``parser(token_ids, target_length) -> LongTensor [target_length]`` of program-token ids.

    ``token_ids`` is a sequence of question-token ids (or a 1-d LongTensor); ids 0/1/2 are
    pad/BOS/EOS. Decoding is greedy for exactly ``target_length`` steps.
    """

    def __init__(self, backend: str | None = None, src_vocab: int = 96, tgt_vocab: int = 64,
                 d_model: int = 512, heads: int = 8, layers: int = 6, ff: int = 2048, dropout: float = 0.1,
                 seed: int = 0):
        backend = backend or default_backend()
        if backend not in BACKENDS:
            raise WorkloadError(f"question parser backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        if backend == "opennmt" and not onmt_available():
            raise WorkloadError("question parser backend 'opennmt' needs OpenNMT-py, which cannot be imported "
                                "here; install OpenNMT-py or use backend: torch")
        self.backend = backend
        self.src_vocab, self.tgt_vocab = src_vocab, tgt_vocab
        self.device = "cpu"
        cls = _OnmtSeq2Seq if backend == "opennmt" else _TorchSeq2Seq
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.model = cls(src_vocab, tgt_vocab, d_model, heads, layers, ff, dropout)
        self.model.eval()

    def to(self, device: str) -> "QuestionParser":
        self.device = device
        self.model.to(device)
        return self

    @property
    def modules(self) -> tuple[nn.Module, ...]:
        """The modules greedy decoding calls (encoder, decoder, generator): what compile mode compiles."""
        if self.backend == "opennmt":
            return (self.model.encoder, self.model.decoder, self.model.generator)
        return (self.model.transformer.encoder, self.model.transformer.decoder, self.model.generator)

    @property
    def parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    def __call__(self, token_ids: Sequence[int] | torch.Tensor, target_length: int) -> torch.Tensor:
        src = torch.as_tensor(token_ids, dtype=torch.long)
        if src.dim() != 1 or src.numel() == 0:
            raise WorkloadError(f"question parser expects a non-empty 1-d token sequence, got {tuple(src.shape)}")
        if int(src.max()) >= self.src_vocab or int(src.min()) < 0:
            raise WorkloadError(f"question token ids must lie in [0, {self.src_vocab})")
        with torch.no_grad():
            return self.model.greedy(src[None].to(self.device), int(target_length))[0]


def make_question_parser(backend: str | None = None, src_vocab: int = 96, tgt_vocab: int = 64,
                         seed: int = 0, **sizes) -> QuestionParser:
    """Builds the shared question parser (see :class:`QuestionParser`)."""
    return QuestionParser(backend=backend, src_vocab=src_vocab, tgt_vocab=tgt_vocab, seed=seed, **sizes)
