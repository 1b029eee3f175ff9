-- Up Migration

-- One row per settlement file. `batch_pk` is internal: the public `batch_id` (Idempotency-Key or SHA-256 of the
-- body) is only known once the whole body has been read, so lines are staged against the surrogate key and the
-- batch id is set last, in the same transaction; a second upload of the same batch rolls back entirely.
CREATE TABLE settlement_batches (
  batch_pk     bigserial PRIMARY KEY,
  batch_id     text NOT NULL UNIQUE,
  state        text NOT NULL CHECK (state IN ('RECEIVING', 'RUNNING', 'COMPLETED', 'FAILED')),
  records      integer NOT NULL DEFAULT 0,
  sha256       text,
  submitted_by text,
  started_at   timestamptz NOT NULL DEFAULT now(),
  completed_at timestamptz,
  failure      text
);

-- Every data line of every file, valid or not. `outcome` is written once, when the batch workflow has applied
-- the line (or at staging, for rejected lines): the checkpoint a restarted batch resumes from.
CREATE TABLE settlement_records (
  batch_pk   bigint NOT NULL REFERENCES settlement_batches (batch_pk),
  line       integer NOT NULL,
  member_id  text,
  record     jsonb,
  outcome    text CHECK (outcome IN ('APPLIED', 'DUPLICATE', 'NO_ENROLLMENT', 'LATE', 'REJECTED')),
  returned   boolean NOT NULL DEFAULT false,
  reason     text,
  applied_at timestamptz,
  PRIMARY KEY (batch_pk, line)
);
-- The batch workflow takes the next lines still to apply, in line order.
CREATE INDEX settlement_records_todo_idx ON settlement_records (batch_pk, line) WHERE outcome IS NULL;

-- Manual review items: late news that would have changed a verdict, and rewards that could not be issued.
-- `id` is derived from the enrollment and the audit line that caused it, so recording it twice opens one item.
CREATE TABLE reviews (
  id          text PRIMARY KEY,
  workflow_id text NOT NULL,
  campaign_id text NOT NULL,
  member_id   text NOT NULL,
  kind        text NOT NULL,
  reason      text NOT NULL,
  details     jsonb NOT NULL DEFAULT '{}',
  state       text NOT NULL CHECK (state IN ('OPEN', 'RESOLVED')),
  resolution  jsonb,
  created_at  timestamptz NOT NULL DEFAULT now(),
  resolved_at timestamptz
);
CREATE INDEX reviews_state_idx ON reviews (state, created_at);
CREATE INDEX reviews_member_idx ON reviews (campaign_id, member_id);

-- The campaign report counts members with late settlements.
CREATE INDEX audit_events_late_idx ON audit_events (campaign_id, member_id) WHERE type = 'LATE_EVENT';

-- Down Migration
DROP INDEX audit_events_late_idx;
DROP TABLE reviews;
DROP TABLE settlement_records;
DROP TABLE settlement_batches;
