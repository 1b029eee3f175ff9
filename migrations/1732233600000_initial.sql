-- Up Migration

-- Campaign terms. Immutable once created: every enrollment keeps the terms it started with.
CREATE TABLE campaigns (
  campaign_id   text PRIMARY KEY CHECK (campaign_id ~ '^[a-z0-9-]{1,40}$'),
  target_cents  bigint NOT NULL CHECK (target_cents > 0),
  reward_points integer NOT NULL CHECK (reward_points > 0),
  "window"      text NOT NULL,
  grace         text NOT NULL,
  currency      text NOT NULL DEFAULT 'AUD' CHECK (currency = 'AUD'),
  created_at    timestamptz NOT NULL DEFAULT now()
);

-- The read model: one row per enrollment, the member's balance view. Written by the API at enrollment
-- and then only by the member workflow's recorder, guarded by `version` so an older snapshot never wins.
CREATE TABLE enrollments (
  campaign_id     text NOT NULL REFERENCES campaigns (campaign_id),
  member_id       text NOT NULL CHECK (member_id ~ '^[A-Za-z0-9_-]{1,64}$'),
  workflow_id     text NOT NULL UNIQUE,
  state           text NOT NULL,
  enrolled_at     timestamptz NOT NULL,
  window_ends_at  timestamptz NOT NULL,
  evaluates_at    timestamptz NOT NULL,
  target_cents    bigint NOT NULL,
  reward_points   integer NOT NULL,
  counted_cents   bigint NOT NULL DEFAULT 0,
  instant_cents   bigint NOT NULL DEFAULT 0,
  settled_cents   bigint NOT NULL DEFAULT 0,
  pending_cents   bigint NOT NULL DEFAULT 0,
  disqualified_by jsonb,
  reward          jsonb,
  verdict         jsonb,
  version         bigint NOT NULL DEFAULT 0,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (campaign_id, member_id)
);
-- The transactions API looks up every enrollment of a member.
CREATE INDEX enrollments_member_idx ON enrollments (member_id);
-- Campaign counts per state.
CREATE INDEX enrollments_campaign_state_idx ON enrollments (campaign_id, state);

-- The ledger behind each view: one row per transaction per enrollment, as the workflow last saw it.
CREATE TABLE ledger_entries (
  workflow_id    text NOT NULL REFERENCES enrollments (workflow_id),
  transaction_id text NOT NULL,
  entry          jsonb NOT NULL,
  updated_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workflow_id, transaction_id)
);

-- The append-only audit trail: every accepted event, transition, verdict, reward attempt and
-- notification. `event_key` is unique per enrollment so a retried write changes nothing.
CREATE TABLE audit_events (
  id          bigserial PRIMARY KEY,
  workflow_id text NOT NULL,
  campaign_id text NOT NULL,
  member_id   text NOT NULL,
  event_key   text NOT NULL,
  type        text NOT NULL,
  source      text NOT NULL,
  payload     jsonb NOT NULL,
  occurred_at timestamptz NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (workflow_id, event_key)
);
CREATE INDEX audit_events_member_idx ON audit_events (campaign_id, member_id, id);

CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_events is append-only: % is not allowed', TG_OP;
END;
$$;
CREATE TRIGGER audit_events_no_update BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

-- The second layer of reward idempotency: at most one reward row per enrollment, ever.
CREATE TABLE rewards (
  workflow_id     text PRIMARY KEY,
  campaign_id     text NOT NULL,
  member_id       text NOT NULL,
  points          integer NOT NULL CHECK (points > 0),
  idempotency_key text NOT NULL UNIQUE,
  status          text NOT NULL CHECK (status IN ('PENDING', 'ISSUED', 'FAILED')),
  credit_id       text,
  attempts        integer NOT NULL DEFAULT 0,
  last_error      text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  issued_at       timestamptz
);

-- Push notifications: recorded once by id (the receiver dedupes on it), then delivered best-effort.
CREATE TABLE notifications (
  id           text PRIMARY KEY,
  workflow_id  text NOT NULL,
  campaign_id  text NOT NULL,
  member_id    text NOT NULL,
  type         text NOT NULL,
  data         jsonb NOT NULL,
  occurred_at  timestamptz NOT NULL,
  status       text NOT NULL CHECK (status IN ('RECORDED', 'DELIVERED', 'FAILED')),
  attempts     integer NOT NULL DEFAULT 0,
  last_error   text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  delivered_at timestamptz
);
CREATE INDEX notifications_member_idx ON notifications (campaign_id, member_id);

-- Down Migration
DROP TABLE notifications;
DROP TABLE rewards;
DROP TRIGGER audit_events_no_truncate ON audit_events;
DROP TRIGGER audit_events_no_update ON audit_events;
DROP TABLE audit_events;
DROP FUNCTION audit_events_append_only();
DROP TABLE ledger_entries;
DROP TABLE enrollments;
DROP TABLE campaigns;
