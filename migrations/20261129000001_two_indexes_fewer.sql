-- Two secondary indexes fewer for the log writer to keep up: each costs every logged row an insert
-- into a B-tree of its own (BENCHMARKS.md, "What each optimisation bought").
--
-- `requests_started_at` (started_at, and the primary key InnoDB appends) ordered the request list
-- (`ORDER BY started_at DESC, id DESC`); `requests_cost` began with started_at too. The cost index
-- now names the id second, which InnoDB stores in it anyway, so it orders the list the same way and
-- still covers what pricing reads; the narrow index goes.
ALTER TABLE requests
    DROP INDEX requests_started_at,
    DROP INDEX requests_cost,
    ADD KEY requests_cost (started_at, id, usage_source, upstream_model, client_model, prompt_tokens,
                           completion_tokens, cached_tokens, cache_write_tokens, conversation_id);

-- No query looks a node up by its parent: the admin API walks a conversation from its last node
-- towards the root, by id.
ALTER TABLE message_nodes DROP INDEX message_nodes_parent;
