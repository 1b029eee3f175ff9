-- Up Migration

-- Bulk operations (issue 12): one row per operation, one row per member it touched, with the outcome. The member
-- rows are the operation's checkpoint (a member recorded is never sent again) and its counts.
CREATE TABLE operations (
  id            text PRIMARY KEY,
  campaign_id   text NOT NULL REFERENCES campaigns (campaign_id),
  action        text NOT NULL,
  args          jsonb NOT NULL,
  selection     jsonb NOT NULL,
  reason        text NOT NULL,
  requested_by  text,
  state         text NOT NULL DEFAULT 'RUNNING',
  selected      integer NOT NULL,
  failure       text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  finished_at   timestamptz
);

CREATE TABLE operation_members (
  operation_id  text NOT NULL REFERENCES operations (id),
  member_id     text NOT NULL,
  outcome       text NOT NULL,
  detail        text,
  recorded_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (operation_id, member_id)
);

-- Down Migration
DROP TABLE operation_members;
DROP TABLE operations;
