"""Read the mock's reasoning with the official openai and anthropic SDKs; print what they saw as JSON.

openai-python: a Chat Completions stream whose deltas carry `reasoning_content` (an extra field the
SDK keeps on the delta) and whose usage has the reasoning and cached token details. anthropic: a
`messages.stream(...)` with extended thinking, whose final message holds the thinking block with its
signature and the redacted thinking block, and the same request not streamed.

Usage: check_sdk_reasoning.py OPENAI_BASE_URL ANTHROPIC_BASE_URL MODEL PROMPT
"""
import json
import sys

import anthropic
import openai


def extra(obj, name):
    """A field the SDK's types do not declare: an attribute, else from model_extra."""
    value = getattr(obj, name, None)
    if value is None and obj.model_extra:
        value = obj.model_extra.get(name)
    return value


def chat(base: str, model: str, prompt: str) -> dict:
    client = openai.OpenAI(base_url=base, api_key="sk-dummy", max_retries=0)
    text, reasoning, usage, finish, first_answer_at, chunks = "", "", None, None, None, 0
    stream = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": prompt}],
        stream=True,
        stream_options={"include_usage": True},
    )
    for chunk in stream:
        if chunk.usage is not None:
            u = chunk.usage
            usage = {
                "input": u.prompt_tokens,
                "output": u.completion_tokens,
                "reasoning": u.completion_tokens_details.reasoning_tokens,
                "cached": u.prompt_tokens_details.cached_tokens,
            }
        for choice in chunk.choices:
            chunks += 1
            thought = extra(choice.delta, "reasoning_content")
            if thought:
                if first_answer_at is not None:
                    raise SystemExit("reasoning_content after the answer started")
                reasoning += thought
            if choice.delta.content:
                first_answer_at = first_answer_at or chunks
                text += choice.delta.content
            finish = choice.finish_reason or finish
    whole = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": prompt}]
    )
    message = whole.choices[0].message
    return {
        "text": text,
        "reasoning": reasoning,
        "usage": usage,
        "finish": finish,
        "whole_text": message.content,
        "whole_reasoning": extra(message, "reasoning_content"),
        "whole_reasoning_tokens": whole.usage.completion_tokens_details.reasoning_tokens,
    }


def block(b) -> dict:
    if b.type == "thinking":
        return {"type": "thinking", "thinking": b.thinking, "signature": b.signature}
    if b.type == "redacted_thinking":
        return {"type": "redacted_thinking", "data": b.data}
    if b.type == "text":
        return {"type": "text", "text": b.text}
    return {"type": b.type}


def messages(base: str, model: str, prompt: str) -> dict:
    client = anthropic.Anthropic(base_url=base, api_key="sk-dummy", max_retries=0)
    args = dict(
        model=model,
        max_tokens=4096,
        thinking={"type": "enabled", "budget_tokens": 2048},
        messages=[{"role": "user", "content": prompt}],
    )
    thinking, text, signature = "", "", None
    with client.messages.stream(**args) as s:
        for event in s:
            if event.type == "thinking":
                thinking += event.thinking
            elif event.type == "text":
                text += event.text
            elif event.type == "signature":
                signature = event.signature
        final = s.get_final_message()
    whole = client.messages.create(**args)
    usage = final.usage
    return {
        "thinking": thinking,
        "text": text,
        "signature": signature,
        "blocks": [block(b) for b in final.content],
        "whole_blocks": [block(b) for b in whole.content],
        "usage": {
            "input": usage.input_tokens,
            "output": usage.output_tokens,
            "cache_read": usage.cache_read_input_tokens,
            "cache_write": usage.cache_creation_input_tokens,
        },
        "finish": final.stop_reason,
    }


def main() -> None:
    openai_base, anthropic_base, model, prompt = sys.argv[1:5]
    print(json.dumps({
        "chat": chat(openai_base, model, prompt),
        "messages": messages(anthropic_base, model, prompt),
    }))


if __name__ == "__main__":
    main()
