-- Budgets on cost or tokens per day/week/month (UTC), globally, per model or per client key, and
-- the alerts they fired. `budgets` is configuration, written by the admin API; `budget_alerts` is a
-- record of events, written by the proxies that watch the budgets.

CREATE TABLE budgets (
    id              BIGINT        NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name            VARCHAR(255)  NOT NULL,
    -- cost | tokens
    metric          VARCHAR(16)   NOT NULL,
    -- day | week (Monday to Sunday) | month
    period          VARCHAR(8)    NOT NULL,
    -- NULL: every model; else the upstream or client model name.
    model           VARCHAR(255)  NULL,
    -- NULL: every caller; else a client key label (key-xxxxxxxx).
    client_key      VARCHAR(64)   NULL,
    -- µ$ for cost, tokens (prompt + completion) for tokens.
    amount          BIGINT        NOT NULL,
    -- Percentages that fire an alert once per period, ascending, comma-separated.
    thresholds      VARCHAR(64)   NOT NULL,
    -- Past 100 %, the proxy answers 429 insufficient_quota instead of forwarding.
    hard_limit      BOOLEAN       NOT NULL,
    webhook_url     VARCHAR(1024) NULL,
    -- generic (JSON with a Slack-style `text`) | feishu | dingtalk
    webhook_format  VARCHAR(16)   NOT NULL,
    created_at      DATETIME(6)   NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at      DATETIME(6)   NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE budget_alerts (
    id              BIGINT        NOT NULL AUTO_INCREMENT PRIMARY KEY,
    budget_id       BIGINT        NOT NULL,
    period_start    DATETIME      NOT NULL,
    threshold       INT           NOT NULL,
    fired_at        DATETIME(6)   NOT NULL,
    -- What the budget had used when the threshold was seen crossed, in its own unit.
    used            BIGINT        NOT NULL,
    amount          BIGINT        NOT NULL,
    -- pending | delivered | failed | none (no webhook)
    delivery        VARCHAR(16)   NOT NULL,
    attempts        INT           NOT NULL DEFAULT 0,
    next_attempt_at DATETIME(6)   NOT NULL,
    last_error      VARCHAR(512)  NULL,
    delivered_at    DATETIME(6)   NULL,
    -- Once per budget, period and threshold, whichever proxy sees the crossing first.
    UNIQUE KEY budget_alerts_once (budget_id, period_start, threshold),
    KEY budget_alerts_due (delivery, next_attempt_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
