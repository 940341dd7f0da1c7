-- A reply's tool calls were stored twice, like its text before `20261129000004`: as
-- `reply_tool_calls` (compact JSON, for display) and inside `response_json`. The writer now cuts
-- them out of `response_json` too when it finds them there byte for byte — after the text, so the
-- offset is into the JSON without the text — and the admin API puts both back (crate
-- `stored-conversation`, `reply.rs`). NULL: the tool calls are in `response_json` (rows written
-- before this, short or no tool calls, or an upstream that writes them with other spacing or key
-- order). Added last, so that MariaDB adds it without rebuilding the table.
ALTER TABLE requests ADD COLUMN response_tool_calls_offset INT UNSIGNED NULL;
