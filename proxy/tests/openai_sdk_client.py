"""Drives the proxy with the official OpenAI Python SDK, the way an application would.

Usage: python3 openai_sdk_client.py BASE_URL API_KEY
Prints one JSON object with what the SDK returned for each call.
"""
import json
import sys

from openai import OpenAI

base_url, api_key = sys.argv[1], sys.argv[2]
client = OpenAI(base_url=base_url, api_key=api_key, max_retries=0)
result = {}

chat = client.chat.completions.create(
    model="gpt-4o-mini", messages=[{"role": "user", "content": "Say hi in Portuguese"}]
)
result["chat_text"] = chat.choices[0].message.content
result["chat_total_tokens"] = chat.usage.total_tokens

stream = client.chat.completions.create(
    model="gpt-4o", messages=[{"role": "user", "content": "Count to three"}], stream=True
)
pieces, chunks_with_usage = [], 0
for chunk in stream:
    if chunk.usage is not None:
        chunks_with_usage += 1
    for choice in chunk.choices:
        if choice.delta.content:
            pieces.append(choice.delta.content)
result["stream_text"] = "".join(pieces)
result["stream_chunks_with_usage"] = chunks_with_usage

tools = [{"type": "function", "function": {"name": "weather", "description": "Get weather information for a location",
          "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}}]
stream = client.chat.completions.create(
    model="gpt-4o-mini",
    messages=[{"role": "user", "content": "What's the weather in Florence, Italy?"}],
    tools=tools,
    stream=True,
    stream_options={"include_usage": True},
)
arguments, name, usage_total = "", None, None
for chunk in stream:
    if chunk.usage is not None:
        usage_total = chunk.usage.total_tokens
    for choice in chunk.choices:
        for call in choice.delta.tool_calls or []:
            name = name or call.function.name
            arguments += call.function.arguments or ""
result["tool_name"] = name
result["tool_arguments"] = json.loads(arguments)
result["tool_stream_total_tokens"] = usage_total

completion = client.completions.create(model="gpt-4o-mini", prompt="Say hello")
result["completion_text"] = completion.choices[0].text

embedding = client.embeddings.create(model="text-embedding-3-small", input="hello")
result["embedding_length"] = len(embedding.data[0].embedding)

result["model_ids"] = [m.id for m in client.models.list()]

print(json.dumps(result))
