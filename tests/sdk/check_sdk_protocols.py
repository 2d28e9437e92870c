"""Stream from paddock's mock with openai-python's Responses API and Google's google-genai SDK.

Prints what each SDK saw (text, reasoning, usage) as JSON, so the test can hold it against what
paddock reports for the same prompt.

Usage: check_sdk_protocols.py OPENAI_BASE_URL GEMINI_BASE_URL MODEL PROMPT
"""
import json
import sys

import openai
from google import genai
from google.genai import types


def responses(base: str, model: str, prompt: str) -> dict:
    client = openai.OpenAI(base_url=base, api_key="sk-dummy", max_retries=2)
    text, reasoning = "", ""
    with client.responses.stream(
        model=model,
        input=prompt,
        reasoning={"effort": "low", "summary": "auto"},
        store=False,
    ) as stream:
        for event in stream:
            if event.type == "response.output_text.delta":
                text += event.delta
            elif event.type == "response.reasoning_summary_text.delta":
                reasoning += event.delta
        final = stream.get_final_response()
    usage = final.usage
    return {
        "text": text,
        "final_text": final.output_text,
        "reasoning": reasoning,
        "usage": {
            "input": usage.input_tokens,
            "output": usage.output_tokens,
            "reasoning": usage.output_tokens_details.reasoning_tokens,
        },
        "status": final.status,
    }


def gemini(base: str, model: str, prompt: str) -> dict:
    client = genai.Client(api_key="dummy-key", http_options=types.HttpOptions(base_url=base))
    config = types.GenerateContentConfig(
        thinking_config=types.ThinkingConfig(thinking_budget=256, include_thoughts=True),
    )
    text, reasoning, usage, finish = "", "", None, None
    for chunk in client.models.generate_content_stream(model=model, contents=prompt, config=config):
        for candidate in chunk.candidates or []:
            finish = candidate.finish_reason or finish
            for part in (candidate.content.parts if candidate.content else None) or []:
                if part.thought:
                    reasoning += part.text or ""
                else:
                    text += part.text or ""
        if chunk.usage_metadata is not None:
            m = chunk.usage_metadata
            usage = {
                "input": m.prompt_token_count,
                "output": m.candidates_token_count,
                "reasoning": m.thoughts_token_count,
            }
    return {"text": text, "reasoning": reasoning, "usage": usage, "finish": str(finish)}


def main() -> None:
    openai_base, gemini_base, model, prompt = sys.argv[1:5]
    print(json.dumps({
        "responses": responses(openai_base, model, prompt),
        "gemini": gemini(gemini_base, model, prompt),
    }))


if __name__ == "__main__":
    main()
