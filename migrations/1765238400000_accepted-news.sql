-- Up Migration

-- Issue 23: every accepted piece of news is accounted for. The API (POST /v1/transactions) and the settlement batch
-- record each piece of news for each enrollment it is sent to, before they acknowledge or send it: what it was, when
-- it was heard and where it went. Keyed by enrollment and news (source, transaction, what it says): a repeat costs
-- one conflicting insert and changes nothing. Reconciliation (npm run cli -- reconcile) holds it against what each
-- enrollment applied; its runs are kept in `reconciliations` for /metrics and the alert.
CREATE TABLE accepted_news (
  workflow_id    text NOT NULL,
  news_key       text NOT NULL,
  campaign_id    text NOT NULL,
  member_id      text NOT NULL,
  transaction_id text NOT NULL,
  source         text NOT NULL CHECK (source IN ('REALTIME', 'SETTLEMENT')),
  kind           text NOT NULL,
  amount_cents   bigint NOT NULL,
  -- The event as it was sent (a repair sends it again).
  event          jsonb NOT NULL,
  heard_at       timestamptz NOT NULL,
  -- The settlement batch it came in, if it did.
  batch_id       text,
  PRIMARY KEY (workflow_id, news_key)
);
-- A campaign's news in the order reconciliation walks it, a page at a time.
CREATE INDEX accepted_news_campaign_idx ON accepted_news (campaign_id, workflow_id, news_key);

CREATE TABLE reconciliations (
  id          bigserial PRIMARY KEY,
  campaign_id text NOT NULL,
  started_at  timestamptz NOT NULL,
  finished_at timestamptz NOT NULL DEFAULT now(),
  -- Pieces of news checked, missing from their enrollment, and delivered again (with repair).
  checked     bigint NOT NULL,
  missing     bigint NOT NULL,
  repaired    bigint NOT NULL,
  repair      boolean NOT NULL
);
CREATE INDEX reconciliations_campaign_idx ON reconciliations (campaign_id, finished_at DESC);

-- Down Migration
DROP TABLE reconciliations;
DROP TABLE accepted_news;
