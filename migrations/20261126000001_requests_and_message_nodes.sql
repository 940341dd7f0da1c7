-- Every call the proxy served or refused, and the conversations they carried.
-- Runs on MySQL 8.0+ and MariaDB 10.6+: no JSON column type (MariaDB's differs), no RETURNING.

-- One message in the context of everything before it. A node's id is
-- SHA-256(parent id || the message's raw JSON), so a conversation's history is stored once:
-- each new turn of a coding assistant adds only the nodes for its new messages, and a request
-- points at its last node.
CREATE TABLE message_nodes (
    -- Insertion order. The content-addressed id is random, so as the clustered key it would send
    -- every insert to a random page; this way rows append and only the narrow unique index is random.
    seq           BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    id            BINARY(32)   NOT NULL,
    parent_id     BINARY(32)   NULL,
    -- The node of the first user message at or before this one (NULL before it): with `position`,
    -- it finds the requests that carry this node without walking the tree (see requests.conversation_id).
    conversation_id BINARY(32) NULL,
    position      INT          NOT NULL,
    role          VARCHAR(32)  NOT NULL,
    name          VARCHAR(255) NULL,
    -- Plain text of the message: the string content, or the text parts of a multimodal one joined.
    content_text  LONGTEXT     NULL,
    -- The content array (text, image, audio parts) as JSON, when content was not a plain string.
    content_parts LONGTEXT     NULL,
    tool_calls    LONGTEXT     NULL,
    tool_call_id  VARCHAR(255) NULL,
    -- The message exactly as the client sent it.
    raw_json      LONGBLOB     NOT NULL,
    UNIQUE KEY message_nodes_id (id),
    KEY message_nodes_parent (parent_id),
    KEY message_nodes_conversation (conversation_id, position),
    FULLTEXT KEY message_nodes_text (content_text)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE requests (
    -- UUIDv7 made by the proxy: time-ordered, so inserts append to the clustered index.
    id                 BINARY(16)    NOT NULL PRIMARY KEY,
    started_at         DATETIME(6)   NOT NULL,
    finished_at        DATETIME(6)   NOT NULL,
    method             VARCHAR(16)   NOT NULL,
    endpoint           VARCHAR(255)  NOT NULL,
    client_model       VARCHAR(255)  NULL,
    upstream_model     VARCHAR(255)  NULL,
    is_stream          BOOLEAN       NOT NULL,
    http_status        SMALLINT      NOT NULL,
    -- ok | error | cancelled
    outcome            VARCHAR(16)   NOT NULL,
    error_type         VARCHAR(128)  NULL,
    error_message      TEXT          NULL,
    latency_us         BIGINT        NOT NULL,
    ttfb_us            BIGINT        NULL,
    prompt_tokens      INT           NULL,
    completion_tokens  INT           NULL,
    total_tokens       INT           NULL,
    cached_tokens      INT           NULL,
    -- upstream | estimated | none: where the token counts came from, never mixed within a row.
    usage_source       VARCHAR(16)   NOT NULL,
    client_ip          VARCHAR(64)   NULL,
    user_agent         VARCHAR(512)  NULL,
    -- SHA-256 of the body as forwarded upstream.
    body_sha256        BINARY(32)    NULL,
    -- The node of the conversation's first user message (system prompt and first question): requests
    -- of one chat share it. NULL when the body had no messages.
    conversation_id    BINARY(32)    NULL,
    -- The node of the last message; the conversation is this node and its ancestors.
    last_message_id    BINARY(32)    NULL,
    message_count      INT           NOT NULL DEFAULT 0,
    last_user_message_preview VARCHAR(255) NULL,
    reply_text         LONGTEXT      NULL,
    reply_tool_calls   LONGTEXT      NULL,
    finish_reason      VARCHAR(64)   NULL,
    -- The client's body with its `messages` array cut out at byte `messages_offset`; the raw
    -- request is this with `[` + the nodes' raw_json joined by `,` + `]` put back at that offset.
    request_envelope   LONGBLOB      NOT NULL,
    messages_offset    INT           NULL,
    -- The upstream's body; for streams, the object assembled from the deltas.
    response_json      LONGBLOB      NULL,
    KEY requests_started_at (started_at),
    KEY requests_client_model (client_model, started_at),
    KEY requests_upstream_model (upstream_model, started_at),
    KEY requests_outcome (outcome, started_at),
    -- started_at rides along so a text search can order its hits without reading the rows.
    KEY requests_conversation (conversation_id, message_count, started_at),
    KEY requests_last_message (last_message_id),
    FULLTEXT KEY requests_reply_text (reply_text)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Per-hour aggregates, kept current by the proxy's writer in the same transaction as the rows they
-- count, so that overviews and charts over millions of requests read a few thousand rows.
-- `hour` is the UTC start of the hour of `started_at`; empty strings stand for a missing model.
CREATE TABLE usage_hourly (
    hour               DATETIME      NOT NULL,
    client_model       VARCHAR(255)  NOT NULL,
    upstream_model     VARCHAR(255)  NOT NULL,
    outcome            VARCHAR(16)   NOT NULL,
    is_stream          BOOLEAN       NOT NULL,
    requests           BIGINT        NOT NULL,
    messages           BIGINT        NOT NULL,
    prompt_tokens      BIGINT        NOT NULL,
    completion_tokens  BIGINT        NOT NULL,
    total_tokens       BIGINT        NOT NULL,
    cached_tokens      BIGINT        NOT NULL,
    latency_us_sum     BIGINT        NOT NULL,
    PRIMARY KEY (hour, client_model, upstream_model, outcome, is_stream)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Per-hour latency histogram for percentiles: bucket = FLOOR(8 * LOG2(GREATEST(latency_us, 1))),
-- eight buckets per doubling, so a percentile read from it is at most 9 % above the exact value.
CREATE TABLE latency_hourly (
    hour      DATETIME  NOT NULL,
    bucket    SMALLINT  NOT NULL,
    requests  BIGINT    NOT NULL,
    PRIMARY KEY (hour, bucket)
) ENGINE=InnoDB;
