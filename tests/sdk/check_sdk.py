"""Stream from paddock's mock with the official openai and anthropic SDKs; print what they saw as JSON.

Usage: check_sdk.py OPENAI_BASE_URL ANTHROPIC_BASE_URL MODEL PROMPT
"""
import json
import sys

import anthropic
import openai


def main() -> None:
    openai_base, anthropic_base, model, prompt = sys.argv[1:5]
    oa = openai.OpenAI(base_url=openai_base, api_key="sk-dummy", max_retries=2)
    text, usage, finish = "", None, None
    stream = oa.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": prompt}],
        stream=True,
        stream_options={"include_usage": True},
    )
    for chunk in stream:
        if chunk.usage is not None:
            usage = {"input": chunk.usage.prompt_tokens, "output": chunk.usage.completion_tokens}
        for choice in chunk.choices:
            text += choice.delta.content or ""
            finish = choice.finish_reason or finish
    result = {"openai": {"text": text, "usage": usage, "finish": finish}}

    an = anthropic.Anthropic(base_url=anthropic_base, api_key="sk-dummy", max_retries=2)
    with an.messages.stream(model=model, max_tokens=1024, messages=[{"role": "user", "content": prompt}]) as s:
        streamed = "".join(s.text_stream)
        final = s.get_final_message()
    result["anthropic"] = {
        "text": streamed,
        "final_text": "".join(b.text for b in final.content if b.type == "text"),
        "usage": {"input": final.usage.input_tokens, "output": final.usage.output_tokens},
        "finish": final.stop_reason,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
