#!/usr/bin/env python3
"""Writes a random-weight `llama`-architecture GGUF (F32) with the real Llama-2 SPM tokenizer.

No trained model can be obtained from a package registry, so tests get real llama.cpp inference (real
tokenizer, chat template, sampling, HTTP server) on weights drawn from N(0, 0.02). Output is gibberish but
deterministic at temperature 0.

    PYTHONPATH=<llama.cpp>/gguf-py python3 make_tiny_gguf.py <llama.cpp>/models/ggml-vocab-llama-spm.gguf out.gguf

Defaults give 4,202,816 parameters (embd 64, 2 layers, 4 heads, ff 192, ctx 2048).
"""
import argparse
import sys
import types

import numpy as np

try:
    import yaml  # noqa: F401  (gguf.metadata imports it at module level; this script never uses it)
except ImportError:
    sys.modules["yaml"] = types.ModuleType("yaml")

import gguf

# Zephyr-style: <|role|>\n content </s>\n ... <|assistant|>\n
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>\\n' + message['content'] + eos_token + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}"
)


def field_value(reader: gguf.GGUFReader, key: str):
    field = reader.get_field(key)
    if field is None:
        raise SystemExit(f"vocab file lacks {key}")
    return field.contents()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("vocab", help="vocab-only GGUF, e.g. models/ggml-vocab-llama-spm.gguf")
    parser.add_argument("out", help="output GGUF path")
    parser.add_argument("--embd", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--ff", type=int, default=192)
    parser.add_argument("--ctx", type=int, default=2048)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--name", default="tiny-random-llama")
    args = parser.parse_args()

    vocab = gguf.GGUFReader(args.vocab)
    tokens = field_value(vocab, "tokenizer.ggml.tokens")
    scores = field_value(vocab, "tokenizer.ggml.scores")
    token_types = field_value(vocab, "tokenizer.ggml.token_type")
    n_vocab = len(tokens)
    head_dim = args.embd // args.heads

    writer = gguf.GGUFWriter(args.out, "llama")
    writer.add_name(args.name)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_vocab_size(n_vocab)
    writer.add_context_length(args.ctx)
    writer.add_embedding_length(args.embd)
    writer.add_block_count(args.layers)
    writer.add_feed_forward_length(args.ff)
    writer.add_head_count(args.heads)
    writer.add_head_count_kv(args.heads)
    writer.add_rope_dimension_count(head_dim)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-5)

    writer.add_tokenizer_model(field_value(vocab, "tokenizer.ggml.model"))
    writer.add_tokenizer_pre(field_value(vocab, "tokenizer.ggml.pre"))
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(token_types)
    writer.add_bos_token_id(int(field_value(vocab, "tokenizer.ggml.bos_token_id")))
    writer.add_eos_token_id(int(field_value(vocab, "tokenizer.ggml.eos_token_id")))
    writer.add_unk_token_id(int(field_value(vocab, "tokenizer.ggml.unknown_token_id")))
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    writer.add_chat_template(CHAT_TEMPLATE)

    rng = np.random.default_rng(args.seed)

    def normal(*shape: int) -> np.ndarray:
        return rng.normal(0.0, 0.02, size=shape).astype(np.float32)

    def ones(n: int) -> np.ndarray:
        return np.ones(n, dtype=np.float32)

    n_params = 0

    def add(name: str, tensor: np.ndarray) -> None:
        nonlocal n_params
        n_params += tensor.size
        writer.add_tensor(name, tensor)

    # numpy shapes are (rows = outputs, cols = inputs); GGUF stores the dimensions reversed.
    add("token_embd.weight", normal(n_vocab, args.embd))
    for i in range(args.layers):
        add(f"blk.{i}.attn_norm.weight", ones(args.embd))
        add(f"blk.{i}.attn_q.weight", normal(args.embd, args.embd))
        add(f"blk.{i}.attn_k.weight", normal(args.heads * head_dim, args.embd))
        add(f"blk.{i}.attn_v.weight", normal(args.heads * head_dim, args.embd))
        add(f"blk.{i}.attn_output.weight", normal(args.embd, args.embd))
        add(f"blk.{i}.ffn_norm.weight", ones(args.embd))
        add(f"blk.{i}.ffn_gate.weight", normal(args.ff, args.embd))
        add(f"blk.{i}.ffn_up.weight", normal(args.ff, args.embd))
        add(f"blk.{i}.ffn_down.weight", normal(args.embd, args.ff))
    add("output_norm.weight", ones(args.embd))

    output = normal(n_vocab, args.embd)
    # A random model happily samples lone <0xNN> byte tokens, which decode to invalid UTF-8; llama-server then
    # answers HTTP 500 (or aborts a stream). Zero logits for those tokens keep greedy decoding off them.
    byte_ids = [i for i, t in enumerate(token_types) if int(t) == gguf.TokenType.BYTE]
    output[byte_ids, :] = 0.0
    add("output.weight", output)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    print(f"wrote {args.out}: {n_params} parameters, {len(byte_ids)} byte tokens zeroed in output.weight")


if __name__ == "__main__":
    main()
