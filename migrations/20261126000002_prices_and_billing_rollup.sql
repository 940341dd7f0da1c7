-- Costs: list prices per model with the day they took effect, the token counts and client key
-- pricing needs on each request, and a per-hour rollup by everything cost reports group by.
-- Costs themselves are never stored: every figure is tokens × the price stored for its day,
-- computed when it is read, so a corrected price corrects every figure that depends on it.

-- Prices in millionths of a US dollar per million tokens (= picodollars per token): integers, so
-- cost sums are exact. Owned by the admin API (GraphQL mutations, JSON import/export).
CREATE TABLE model_prices (
    -- The model name as the upstream is asked for it (requests.upstream_model). A snapshot name
    -- such as claude-sonnet-4-5-20250929 without entries of its own is priced as claude-sonnet-4-5.
    model                        VARCHAR(255) NOT NULL,
    -- UTC day from which this price applies, until the model's next entry.
    effective_from               DATE         NOT NULL,
    input_per_mtok_micros        BIGINT       NOT NULL,
    output_per_mtok_micros       BIGINT       NOT NULL,
    -- Cached input read and prompt-cache writes; NULL where the vendor has no such price (billed as input).
    cache_read_per_mtok_micros   BIGINT       NULL,
    cache_write_per_mtok_micros  BIGINT       NULL,
    updated_at                   DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (model, effective_from)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- prompt_tokens includes cached_tokens and cache_write_tokens (OpenAI's sense; Anthropic-style
-- counts are converted by the proxy). client_key is the label of the client key used when client
-- authentication is on (`key-` + 8 hex digits of its SHA-256), never the key.
ALTER TABLE requests
    ADD COLUMN cache_write_tokens INT NULL,
    ADD COLUMN client_key VARCHAR(64) NULL;

-- Per-hour token sums by every dimension a cost report groups by. Written by the proxy's writer in
-- the transaction of the rows it counts, like usage_hourly. Empty strings stand for missing values.
CREATE TABLE billing_hourly (
    hour               DATETIME      NOT NULL,
    client_model       VARCHAR(255)  NOT NULL,
    upstream_model     VARCHAR(255)  NOT NULL,
    -- ASCII columns keep the primary key under InnoDB's 3072 bytes (a request path is ASCII).
    -- upstream | estimated | none: measured and estimated costs are never added together.
    usage_source       VARCHAR(16)   CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    endpoint           VARCHAR(255)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    client_key         VARCHAR(64)   CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    requests           BIGINT        NOT NULL,
    prompt_tokens      BIGINT        NOT NULL,
    completion_tokens  BIGINT        NOT NULL,
    cached_tokens      BIGINT        NOT NULL,
    cache_write_tokens BIGINT        NOT NULL,
    PRIMARY KEY (hour, client_model, upstream_model, usage_source, endpoint, client_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The rows recorded before this migration (start the new proxy after the old one has stopped).
INSERT INTO billing_hourly (hour, client_model, upstream_model, usage_source, endpoint, client_key, requests,
                            prompt_tokens, completion_tokens, cached_tokens, cache_write_tokens)
SELECT CAST(DATE_FORMAT(started_at, '%Y-%m-%d %H:00:00') AS DATETIME), COALESCE(client_model, ''),
       COALESCE(upstream_model, ''), usage_source, endpoint, '', COUNT(*), COALESCE(SUM(prompt_tokens), 0),
       COALESCE(SUM(completion_tokens), 0), COALESCE(SUM(cached_tokens), 0), 0
FROM requests
GROUP BY 1, 2, 3, 4, 5;

-- List prices in USD per 1M tokens (× 10^6) as Anthropic and OpenAI published them in 2025. Check them
-- against the vendors' pages; correct or add prices with the setPrice mutation or a JSON import.
-- Anthropic: cache write = 5-minute cache write (1.25× input), cache read = 0.1× input.
-- OpenAI: cached input where the model has it; no cache-write price. Embeddings have no output.
-- Entries start on 2024-01-01 (or the model's release) unless the price changed since.
INSERT INTO model_prices (model, effective_from, input_per_mtok_micros, output_per_mtok_micros,
                          cache_read_per_mtok_micros, cache_write_per_mtok_micros) VALUES
    ('claude-opus-4-5',           '2025-11-24',  5000000, 25000000,  500000,  6250000),
    ('claude-opus-4-1',           '2025-08-05', 15000000, 75000000, 1500000, 18750000),
    ('claude-opus-4',             '2025-05-22', 15000000, 75000000, 1500000, 18750000),
    ('claude-opus-4-0',           '2025-05-22', 15000000, 75000000, 1500000, 18750000),
    ('claude-sonnet-4-5',         '2025-09-29',  3000000, 15000000,  300000,  3750000),
    ('claude-sonnet-4',           '2025-05-22',  3000000, 15000000,  300000,  3750000),
    ('claude-sonnet-4-0',         '2025-05-22',  3000000, 15000000,  300000,  3750000),
    ('claude-3-7-sonnet',         '2025-02-24',  3000000, 15000000,  300000,  3750000),
    ('claude-3-5-sonnet',         '2024-01-01',  3000000, 15000000,  300000,  3750000),
    ('claude-haiku-4-5',          '2025-10-15',  1000000,  5000000,  100000,  1250000),
    ('claude-3-5-haiku',          '2024-10-22',   800000,  4000000,   80000,  1000000),
    ('claude-3-haiku',            '2024-01-01',   250000,  1250000,   30000,   300000),
    ('claude-3-opus',             '2024-01-01', 15000000, 75000000, 1500000, 18750000),
    ('gpt-5',                     '2025-08-07',  1250000, 10000000,  125000,     NULL),
    ('gpt-5-mini',                '2025-08-07',   250000,  2000000,   25000,     NULL),
    ('gpt-5-nano',                '2025-08-07',    50000,   400000,    5000,     NULL),
    ('gpt-4.1',                   '2025-04-14',  2000000,  8000000,  500000,     NULL),
    ('gpt-4.1-mini',              '2025-04-14',   400000,  1600000,  100000,     NULL),
    ('gpt-4.1-nano',              '2025-04-14',   100000,   400000,   25000,     NULL),
    ('gpt-4o',                    '2024-01-01',  2500000, 10000000, 1250000,     NULL),
    ('gpt-4o-2024-05-13',         '2024-01-01',  5000000, 15000000,    NULL,     NULL),
    ('gpt-4o-mini',               '2024-07-18',   150000,   600000,   75000,     NULL),
    ('gpt-4-turbo',               '2024-01-01', 10000000, 30000000,    NULL,     NULL),
    ('gpt-4',                     '2024-01-01', 30000000, 60000000,    NULL,     NULL),
    ('gpt-3.5-turbo',             '2024-01-01',   500000,  1500000,    NULL,     NULL),
    ('o1',                        '2024-12-17', 15000000, 60000000, 7500000,     NULL),
    ('o1-mini',                   '2024-09-12',  1100000,  4400000,  550000,     NULL),
    -- o3 launched at $10/$40 and was cut to $2/$8 on 2025-06-10.
    ('o3',                        '2025-04-16', 10000000, 40000000, 2500000,     NULL),
    ('o3',                        '2025-06-10',  2000000,  8000000,  500000,     NULL),
    ('o3-mini',                   '2025-01-31',  1100000,  4400000,  550000,     NULL),
    ('o4-mini',                   '2025-04-16',  1100000,  4400000,  275000,     NULL),
    ('text-embedding-3-small',    '2024-01-01',    20000,        0,    NULL,     NULL),
    ('text-embedding-3-large',    '2024-01-01',   130000,        0,    NULL,     NULL),
    ('text-embedding-ada-002',    '2024-01-01',   100000,        0,    NULL,     NULL);
