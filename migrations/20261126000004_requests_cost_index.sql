-- Everything pricing needs of a request, in one narrow index ordered by time, so that ranking the
-- costliest requests and conversations of a range reads the index, not the wide rows
-- (30 days of a million requests: 3.4 s → see BENCHMARKS.md).
ALTER TABLE requests
    ADD KEY requests_cost (started_at, usage_source, upstream_model, client_model, prompt_tokens,
                           completion_tokens, cached_tokens, cache_write_tokens, conversation_id);
