"""
Renders conversations with a Hugging Face chat template the way the two sides of training see them,
to check that what toolloop writes for verl is what vLLM shows the served model.

Jinja is set up as transformers' apply_chat_template sets it up (sandboxed, trim_blocks and
lstrip_blocks, the loopcontrols extension, `tojson` as json.dumps with ensure_ascii=False and no
key sorting, `raise_exception`), and the request is normalised as vLLM's chat endpoint hands it to
the template: each tool as ChatCompletionToolsParam(...).model_dump() (type, then function with
name, description and parameters, None where absent), an assistant call's `arguments` JSON string
parsed into an object.

Usage: python render_chat_template.py TEMPLATE PARQUET [SFT_PARQUET] < conversations.json
where conversations.json maps each sample id to {"messages": [...OpenAI chat messages, label turn
last...], "tools": [...OpenAI function tools...]}. Prints a JSON object keyed by sample id:
  served:      the prompt vLLM renders for messages[:-1] with tools= (generation prompt added)
  trained:     the parquet row's `prompt` rendered as verl's agent loop does (no tools, generation prompt added)
  served_sft / trained_sft (with SFT_PARQUET): the whole conversation with tools=, and the SFT row's
               `messages` without tools, both without a generation prompt (verl's MultiTurnSFTDataset)
"""

import json
import sys

import jinja2.ext
import pyarrow.parquet as pq
from jinja2.sandbox import ImmutableSandboxedEnvironment


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def compile_template(text):
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    return env.from_string(text)


def served_tools(tools):
    out = []
    for t in tools:
        f = t["function"]
        out.append(
            {
                "type": t.get("type", "function"),
                "function": {"name": f["name"], "description": f.get("description"), "parameters": f.get("parameters")},
            }
        )
    return out


def served_messages(messages):
    out = []
    for m in messages:
        m = dict(m)
        if m.get("role") == "assistant":
            if m.get("content") is None:
                m["content"] = ""
            if m.get("tool_calls"):
                calls = []
                for c in m["tool_calls"]:
                    c = json.loads(json.dumps(c))
                    args = c["function"].get("arguments")
                    if isinstance(args, str):
                        c["function"]["arguments"] = json.loads(args) if args.strip() else {}
                    calls.append(c)
                m["tool_calls"] = calls
        out.append(m)
    return out


def main():
    template = compile_template(open(sys.argv[1], encoding="utf-8").read())
    conversations = json.load(sys.stdin)
    out = {}
    for row in pq.read_table(sys.argv[2]).to_pylist():
        sid = row["extra_info"]["sample_id"]
        conv = conversations[sid]
        tools = served_tools(conv["tools"]) or None
        out[sid] = {
            "served": template.render(messages=served_messages(conv["messages"][:-1]), tools=tools, add_generation_prompt=True),
            "trained": template.render(messages=row["prompt"], add_generation_prompt=True),
        }
    if len(sys.argv) > 3:
        for row in pq.read_table(sys.argv[3]).to_pylist():
            sid = row["sample_id"]
            conv = conversations[sid]
            tools = served_tools(conv["tools"]) or None
            out.setdefault(sid, {})
            out[sid]["served_sft"] = template.render(messages=served_messages(conv["messages"]), tools=tools, add_generation_prompt=False)
            out[sid]["trained_sft"] = template.render(messages=row["messages"], add_generation_prompt=False)
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
