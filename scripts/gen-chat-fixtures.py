#!/usr/bin/env python3
"""Write the rendered prompts that crates/webmoe/src/tokenizer/tests/chat_templates.rs checks webmoe's chat
templates against.

For every template in tests/fixtures/tokenizer/chat/ this renders a few conversations the way Hugging Face's
`apply_chat_template` does (Jinja2's sandboxed environment with `trim_blocks`, `lstrip_blocks` and loop
controls, `raise_exception`, `strftime_now` and `tojson` as transformers defines them), with the clock fixed
at DATE, and writes the prompts to tests/fixtures/tokenizer/chat/rendered.json.

Usage:  pip install jinja2==3.1.6 && python3 scripts/gen-chat-fixtures.py
"""

import json
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

JINJA2_VERSION = "3.1.6"

try:
    from jinja2.exceptions import TemplateError
    from jinja2.ext import loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment
except ImportError as missing:
    sys.exit(f"{missing}: run `pip install jinja2=={JINJA2_VERSION}` and try again")

if (installed := metadata.version("jinja2")) != JINJA2_VERSION:
    sys.exit(f"the fixtures are pinned to jinja2=={JINJA2_VERSION}, found {installed}")

CHAT_DIR = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "tokenizer" / "chat"

# 2025-08-05 12:34:56 UTC, a Tuesday.
DATE = 1754397296

# The BOS and EOS texts each model's vocabulary gives the template.
TEMPLATES = {
    "openai-gpt-oss-120b.jinja": ("<|startoftext|>", "<|return|>"),
    "Qwen-Qwen3-0.6B.jinja": ("", "<|im_end|>"),
    "Qwen-Qwen2.5-7B-Instruct.jinja": ("", "<|im_end|>"),
    "ibm-granite-granite-3.3-2B-Instruct.jinja": ("<|end_of_text|>", "<|end_of_text|>"),
    "mistralai-Mistral-Nemo-Instruct-2407.jinja": ("<s>", "</s>"),
}

CONVERSATIONS = [
    [
        {"role": "system", "content": "You are a terse assistant. Answer in one sentence."},
        {"role": "user", "content": "What is a mixture of experts?"},
        {"role": "assistant", "content": "A model that routes each token to a few expert networks."},
        {"role": "user", "content": "How many experts does gpt-oss-20b use per token? Ünïcödé & <tags>."},
    ],
    [{"role": "user", "content": "Hello!\nSecond line, trailing space "}],
]


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def raise_exception(message):
    raise TemplateError(message)


def strftime_now(format):
    return datetime.fromtimestamp(DATE, timezone.utc).strftime(format)


def environment():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def main():
    env = environment()
    cases = []
    for name, (bos, eos) in TEMPLATES.items():
        template = env.from_string((CHAT_DIR / name).read_text(encoding="utf-8"))
        for messages in CONVERSATIONS:
            for add_generation_prompt in [True, False]:
                prompt = template.render(
                    messages=messages, add_generation_prompt=add_generation_prompt, bos_token=bos, eos_token=eos
                )
                cases.append({
                    "template": name,
                    "bos_token": bos,
                    "eos_token": eos,
                    "add_generation_prompt": add_generation_prompt,
                    "messages": messages,
                    "prompt": prompt,
                })
    fixture = {"renderer": f"jinja2 {JINJA2_VERSION}, as transformers' apply_chat_template", "date": DATE,
               "cases": cases}
    text = json.dumps(fixture, ensure_ascii=False, indent=1) + "\n"
    (CHAT_DIR / "rendered.json").write_text(text, encoding="utf-8")
    print(f"{len(cases)} prompts from {len(TEMPLATES)} templates")


if __name__ == "__main__":
    main()
