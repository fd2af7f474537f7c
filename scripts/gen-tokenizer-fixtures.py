#!/usr/bin/env python3
"""Write the byte-level BPE fixtures that crates/webmoe/src/tokenizer/tests/pre_tokenizers.rs checks webmoe's
pre-tokenizers against, with the token ids llama.cpp itself gives.

Into tests/fixtures/tokenizer/pre/ this writes:

    vocab.gguf        a vocabulary-only GGUF: 256 byte tokens, merges learned from the corpus below with no
                      pre-tokenization (so merges cross letter, digit, space and script boundaries and every
                      difference in word splitting shows in the ids), a few whole-word tokens no merge reaches
                      (only `ignore_merges` vocabularies produce them), and control tokens
    llama_cpp.json    the corpus, and for every `tokenizer.ggml.pre` name llama.cpp accepts, the ids llama.cpp
                      gives each string (names that give identical ids share one entry), whether it adds BOS,
                      and the names llama.cpp refuses or loads with this vocabulary

The ids come from llama.cpp b11739 through the PyPI package llama-cpp-py-sync 0.11739 (its CPU wheel is built
for glibc 2.38; on an older glibc its libraries need their symbol versions patched before they load). The GGUF
the test reads differs from the ones llama.cpp read only in `tokenizer.ggml.pre`, which the test sets per name.

Usage:  pip install llama-cpp-py-sync==0.11739 gguf==0.19.0 && python3 scripts/gen-tokenizer-fixtures.py
"""

import collections
import json
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

PINNED = {"llama-cpp-py-sync": "0.11739", "gguf": "0.19.0"}

try:
    import gguf
    from llama_cpp_py_sync._cffi_bindings import get_ffi, get_lib
except ImportError as missing:
    sys.exit(f"{missing}: run `pip install llama-cpp-py-sync==0.11739 gguf==0.19.0` and try again")

for package, version in PINNED.items():
    if (installed := metadata.version(package)) != version:
        sys.exit(f"the fixtures are pinned to {package}=={version}, found {installed}")

OUT_DIR = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "tokenizer" / "pre"

# The names llama.cpp b11739 maps in llama_vocab::impl::load for a "gpt2" vocabulary: those of its source,
# and glm5, mmbert and k2-horizon, which only its library holds (found by loading every name-like string of
# libllama.so as a pre-tokenizer name).
LLAMA_CPP_NAMES = [
    "default", "minicpm5", "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0",
    "lfm2", "jina-v5-nano", "deepseek-llm", "deepseek-coder", "deepseek-v3", "spark2_5", "youtu", "falcon",
    "mpt", "starcoder", "gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de",
    "a.x-4.0", "mellum", "modern-bert", "jais-2", "gemma4", "granite-embed-multi-311m", "sarvam-moe",
    "jina-v1-en", "jina-v2-code", "roberta-bpe", "whitespace", "refact", "command-r", "qwen2",
    "deepseek-r1-qwen", "kormo", "f2llmv2", "qwen35", "stablelm2", "olmo", "dbrx", "smaug-bpe", "poro-chat",
    "glm4", "chatglm-bpe", "viking", "jais", "tekken", "smollm", "codeshell", "bloom", "gpt3-finnish", "exaone",
    "exaone4", "exaone-moe", "chameleon", "minerva-7b", "megrez", "gpt-4o", "llama4", "kanana2", "talkie",
    "granite-embed-multi-97m", "tiny_aya", "cohere2moe", "superbpe", "trillion", "granite-docling",
    "bailingmoe", "bailingmoe2", "llada-moe", "seed-coder", "hunyuan", "hunyuan-dense", "hy_v4", "joyai-llm",
    "kimi-k2", "ufakzeka", "grok-2", "afmoe", "laguna", "minimax-m2", "solar-open", "mellum2", "glm5", "mmbert", "k2-horizon",
]
# A name llama.cpp does not know, to show that loading checks the name at all.
UNKNOWN_NAME = "no-such-pre-tokenizer"

NFD_ACCENTS = "cafe\u0301 nai\u0308ve re\u0301sume\u0301 A\u030angstro\u0308m Zoe\u0308"

CORPUS = [
    "Hello world! It's a test: we'll see, they're sure, I've got it, you'd think, I'm here, we'd've gone.",
    "IT'S LOUD, WE'LL GO, THEY'RE HERE, I'VE SEEN, YOU'D KNOW, I'M OFF, HE'D GO; It'S mixed, we'Ll see.",
    "'s 'tis rock'n'roll ''quoted'' don't can't won't O'Neil's McDonald's ' alone ''",
    "they'rex we'llbe it'sok I'MOK you'Dd 's's 12's x'",
    "0 1 12 123 1234 12345 123456 1234567 12345678 123456789 1234567890 12345678901234567890",
    "3.14159 -42 +7 1e10 0x1F 1,000,000 2024-01-15T10:30:00Z v1.2.3 50% $1,234.56 #1 №5",
    "abc123def4567ghi 12ab ab12 1234é 12345日本 x² ½ Ⅻ ①②③ ١٢٣٤ १२३४",
    "我们今天去北京天安门广场参观。你好，世界！中文里的数字123和English混合。",
    "日本語のテキストです。カタカナとひらがな、漢字が混ざっています。ｶﾀｶﾅ半角、全角ＡＢＣ１２３！？",
    "안녕하세요, 세계! 한국어 문장입니다. ㄱㄴㄷ 한글123",
    "مرحبا بالعالم! هذه جملة عربية مع أرقام ١٢٣ و 456، وعلامات؟",
    "नमस्ते दुनिया! यह हिंदी का वाक्य है। क्षत्रिय",
    "می\u200cخواهم क्\u200dष a\u200cb \u200c\u200d",
    "Привет, мир! ПРИВЕТ МИР приветМир Ёлка ёжик — «кавычки» и „ещё“",
    "Γειά σου κόσμε! สวัสดีครับ ğüşıöç İstanbul Ærøskøbing straße STRASSE",
    "😀 👍🏽 👨\u200d👩\u200d👧\u200d👦 🏳\ufe0f\u200d🌈 ❤\ufe0f ✨🎉 🇫🇷🇯🇵 a😀b",
    "café naïve résumé Ångström Zoë",
    NFD_ACCENTS,
    "\u0301leading mark, a\u0301\u0302 double, e\u0300\u0300 grave grave",
    "a  b   c    d\t\te \t f\n\ng\r\nh\r\n\r\n  i   \n  j \n\n\n   ",
    "   leading spaces and trailing spaces   ",
    "\t\ttabs\tinside\t",
    "line one\nline two\r\nline three\rline four\n",
    "fn main() {\n    let x: Vec<u8> = vec![1, 2, 3];\n    println!(\"{x:?}\");\n}\n",
    "def f(a, b=2):\n\treturn a**b  # power\n\nif __name__ == '__main__':\n    print(f(3))\n",
    "<div class=\"x\">&amp; &lt;tag&gt;</div> /* c */ // c++ x->y a::b i++ a!=b a<=b",
    "<|start|>user<|message|>Hi there<|end|><|start|>assistant",
    "<s>[INST] hi [/INST]</s> <|im_start|>system\nBe brief.<|im_end|> <think>hm</think>",
    "<sentinel:12> IMGIMGABZ IMGIMGABCDEZ <sentinel:x>",
    "~tilde~ a~b x^2 a|b <=> `code` @user #tag & * ¬ ± § ° © ® ™ € £ ¥ ₹ … “smart” ‘quotes’",
    "~ ~~ ~! ~é 1~2 ~\n$5 +x <y> ^z `w` |v",
    "camelCaseWord XMLHttpRequest HTTPServer getHTTPResponseCode iPhone ABCdef abcDEF",
    "a\u00a0b\u3000c\u2009d\u200be\u2028f\u0085g \u00a0 h",
    "bell\u0007 unit\u001f sep\u001c end\u00ad soft \ufeffbom \ue000private",
    "Zyzzyva quixotic Zyzzyva, quixotic!",
    "",
    " ",
    "\n",
    "  ",
    "x",
]

# Strings that are also tokenized with special-token parsing on (control tokens become their ids).
PARSE_SPECIAL = [
    "<|im_start|>user\nHello, 123 times!<|im_end|>\n<|im_start|>assistant\n",
    "<|endoftext|>Text after<|endoftext|> and a <|im_end|>",
]

# Whole words given tokens of their own that no merge builds: only vocabularies with `ignore_merges`
# (Llama 3, Tekken, ...) produce them, from a word that is exactly one of them.
WHOLE_WORDS = ["ĠZyzzyva", "Ġquixotic", "Zyzzyva", "quixotic"]
CONTROL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
MERGES = 800
MAX_TOKEN_BYTES = 6


def gpt2_byte_chars():
    """GPT-2's printable character for each byte (the table every byte-level BPE vocabulary uses)."""
    printable = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    chars = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in chars:
            chars[b] = chr(256 + extra)
            extra += 1
    return [chars[b] for b in range(256)]


def learn_merges(texts, count, byte_chars):
    """Plain BPE over each text's bytes, no word splitting: the most frequent adjacent pair is merged, ties
    broken by the pair itself so a rerun gives the same merges. Pairs seen once are merged too, so merges
    join letters to digits, marks, spaces and other scripts and every difference in word splitting shows in
    the ids; no merge builds a token of more than MAX_TOKEN_BYTES bytes, which keeps the vocabulary small.
    Control tokens and the whole words are left out of the texts, so no merge builds one of them."""
    for left_out in CONTROL_TOKENS + WHOLE_WORDS:
        texts = [t.replace(left_out.replace("Ġ", " "), " ") for t in texts]
    sequences = [[byte_chars[b] for b in t.encode("utf-8")] for t in texts]
    merges = []
    while len(merges) < count:
        pairs = collections.Counter()
        for seq in sequences:
            # Each character of a byte-level token stands for one byte.
            pairs.update(p for p in zip(seq, seq[1:]) if len(p[0]) + len(p[1]) <= MAX_TOKEN_BYTES)
        if not pairs:
            break
        (left, right), _ = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))
        merges.append((left, right))
        for i, seq in enumerate(sequences):
            out, j = [], 0
            while j < len(seq):
                if j + 1 < len(seq) and seq[j] == left and seq[j + 1] == right:
                    out.append(left + right)
                    j += 2
                else:
                    out.append(seq[j])
                    j += 1
            sequences[i] = out
    return merges


def build_vocab():
    byte_chars = gpt2_byte_chars()
    merges = learn_merges(CORPUS + PARSE_SPECIAL, MERGES, byte_chars)
    tokens = list(byte_chars)
    seen = set(tokens)
    for left, right in merges:
        if left + right not in seen:
            tokens.append(left + right)
            seen.add(left + right)
    types = [gguf.TokenType.NORMAL] * len(tokens)
    for word in WHOLE_WORDS:
        if word not in seen:
            tokens.append(word)
            types.append(gguf.TokenType.NORMAL)
            seen.add(word)
    for control in CONTROL_TOKENS:
        tokens.append(control)
        types.append(gguf.TokenType.CONTROL)
    if len(set(tokens)) != len(tokens):
        sys.exit("the vocabulary holds a token twice")
    return tokens, types, [f"{l} {r}" for l, r in merges]


def write_gguf(path, pre, tokens, types, merges):
    """A vocabulary-only GGUF: llama.cpp loads it with `vocab_only`, given the few hyperparameters its
    loader reads before the vocabulary."""
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_context_length(64)
    w.add_embedding_length(8)
    w.add_block_count(1)
    w.add_feed_forward_length(8)
    w.add_head_count(1)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(pre)
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(tokens.index("<|endoftext|>"))
    w.add_eos_token_id(tokens.index("<|endoftext|>"))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


class LlamaCpp:
    def __init__(self):
        self.lib, self.ffi = get_lib(), get_ffi()
        self.lib.llama_backend_init()

    def load(self, path):
        """The vocabulary of `path`, or None where llama.cpp refuses the file."""
        params = self.lib.llama_model_default_params()
        params.vocab_only = True
        model = self.lib.llama_model_load_from_file(str(path).encode(), params)
        return None if model == self.ffi.NULL else model

    def tokenize(self, model, text, add_special, parse_special):
        vocab = self.lib.llama_model_get_vocab(model)
        data = text.encode("utf-8")
        capacity = len(data) + 8
        buf = self.ffi.new("llama_token[]", capacity)
        n = self.lib.llama_tokenize(vocab, data, len(data), buf, capacity, add_special, parse_special)
        if n < 0:
            raise RuntimeError(f"llama_tokenize needs {-n} slots for {text!r}")
        return list(buf[0:n])

    def free(self, model):
        self.lib.llama_model_free(model)


def tokenize_file(path):
    """llama.cpp's ids under the vocabulary `path`, or None where it refuses the file: the corpus as user text
    (no special tokens parsed, none added), the PARSE_SPECIAL strings with special tokens parsed, and "x"
    with special tokens added (BOS, where the name implies it)."""
    llama = LlamaCpp()
    model = llama.load(path)
    if model is None:
        return None
    result = {
        "add_special_x": llama.tokenize(model, "x", True, False),
        "ids": [llama.tokenize(model, t, False, False) for t in CORPUS],
        "parse_special_ids": [llama.tokenize(model, t, False, True) for t in PARSE_SPECIAL],
    }
    llama.free(model)
    return result


def tokenize_in_child(path):
    """`tokenize_file` in a child process: llama.cpp aborts the process on some vocabularies (those it
    does not byte-encode, whose words keep spaces), and an abort is one more way of refusing the name."""
    child = subprocess.run([sys.executable, __file__, "--tokenize", str(path)], capture_output=True, text=True)
    if child.returncode != 0:
        return "aborted"
    result = json.loads(child.stdout)
    return "refused" if result is None else result


def main():
    tokens, types, merges = build_vocab()
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    write_gguf(OUT_DIR / "vocab.gguf", "gpt-2", tokens, types, merges)

    results = {}
    not_loaded = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in LLAMA_CPP_NAMES + [UNKNOWN_NAME]:
            path = Path(tmp) / f"{name}.gguf"
            write_gguf(path, name, tokens, types, merges)
            result = tokenize_in_child(path)
            if isinstance(result, str):
                not_loaded[name] = result
            else:
                results[name] = result

    if UNKNOWN_NAME not in not_loaded:
        sys.exit(f"llama.cpp loaded the made-up name {UNKNOWN_NAME!r}: the fixtures would prove nothing")
    del not_loaded[UNKNOWN_NAME]

    fixture = {
        "llama_cpp": "b11739 (commit 0ce8cd11416c8840498e6701bcbe39ad4b858c2b), llama-cpp-py-sync 0.11739",
        "vocab": "vocab.gguf with tokenizer.ggml.pre set to each name",
        "not_loaded": not_loaded,
        "add_special_x": shared_ids({name: r["add_special_x"] for name, r in results.items()}),
        "cases": [
            {"text": text, "parse_special": False, "ids": shared_ids({n: r["ids"][i] for n, r in results.items()})}
            for i, text in enumerate(CORPUS)
        ] + [
            {"text": text, "parse_special": True,
             "ids": shared_ids({n: r["parse_special_ids"][i] for n, r in results.items()})}
            for i, text in enumerate(PARSE_SPECIAL)
        ],
    }
    write_json(OUT_DIR / "llama_cpp.json", fixture)
    distinct = len({json.dumps(r) for r in results.values()})
    print(f"{len(tokens)} tokens, {len(merges)} merges; {len(results)} names give {distinct} distinct results; "
          f"llama.cpp did not load {not_loaded}")


def shared_ids(ids_by_name):
    """[{names, ids}]: the names that give identical ids share one entry, in the order names first appear."""
    entries = {}
    for name, ids in ids_by_name.items():
        entries.setdefault(json.dumps(ids), []).append(name)
    return [{"names": names, "ids": json.loads(ids)} for ids, names in entries.items()]


def write_json(path, fixture):
    """One line per id list, so a diff shows which string and which names changed."""
    def entries(items, indent):
        pad = " " * indent
        return ",\n".join(
            f'{pad}{{"names": {json.dumps(e["names"])},\n{pad} "ids": {json.dumps(e["ids"], separators=(",", ":"))}}}'
            for e in items
        )

    cases = ",\n".join(
        f'    {{"text": {json.dumps(c["text"], ensure_ascii=False)}, "parse_special": {json.dumps(c["parse_special"])},'
        f'\n     "ids": [\n{entries(c["ids"], 6)}\n     ]}}'
        for c in fixture["cases"]
    )
    text = (
        "{\n"
        f'  "llama_cpp": {json.dumps(fixture["llama_cpp"])},\n'
        f'  "vocab": {json.dumps(fixture["vocab"])},\n'
        f'  "not_loaded": {json.dumps(fixture["not_loaded"])},\n'
        f'  "add_special_x": [\n{entries(fixture["add_special_x"], 4)}\n  ],\n'
        f'  "cases": [\n{cases}\n  ]\n'
        "}\n"
    )
    path.write_text(text, encoding="utf-8")
    if json.loads(path.read_text(encoding="utf-8")) != fixture:
        sys.exit("the hand-laid JSON does not read back as the fixture")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--tokenize"]:
        print(json.dumps(tokenize_file(sys.argv[2])))
    else:
        main()
