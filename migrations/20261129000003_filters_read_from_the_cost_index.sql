-- The request list's filters (client model, upstream model, outcome, stream) are read from
-- `requests_cost` instead of an index each: the hourly rollups already say which hours hold a
-- page's matching rows, and the admin API reads only those hours of this index, which begins with
-- (started_at, id). Three secondary indexes fewer for every logged row to be inserted into
-- (BENCHMARKS.md, "What each optimisation bought"); outcome and is_stream join the cost index so
-- that it holds every column a filter names.
ALTER TABLE requests
    DROP INDEX requests_client_model,
    DROP INDEX requests_upstream_model,
    DROP INDEX requests_outcome,
    DROP INDEX requests_cost,
    ADD KEY requests_cost (started_at, id, usage_source, upstream_model, client_model, prompt_tokens,
                           completion_tokens, cached_tokens, cache_write_tokens, conversation_id, outcome, is_stream);
