-- Up Migration

-- The audit trail of each enrollment becomes a hash chain (issue 12): every line carries its place in the trail
-- (`position`, 1, 2, 3, … per workflow id), the hash of the line before it and its own hash over both and its content.
-- An edit or a deletion anywhere in a trail breaks the chain from that line on, which the proof (GET …/proof,
-- `npm run cli -- verify`) detects by computing every hash again; the append-only triggers still refuse both.
--
-- The trigger chains each line under a per-enrollment lock held to the end of the transaction, so writers of one trail
-- (the member workflow's recorder, the review desk, late news for a closed enrollment) take turns and the chain's order
-- is the order of commits. `position` is what orders a trail; `id` stays as it was.
--
-- What is hashed (src/db/audit-chain.ts computes the same in TypeScript, and a test holds the two together): the
-- lines of audit_chain_text joined with a newline, as UTF-8, SHA-256, hex.
ALTER TABLE audit_events ADD COLUMN position integer, ADD COLUMN prev_hash text, ADD COLUMN hash text;

CREATE FUNCTION audit_chain_text(
  prev_hash text, workflow_id text, pos integer, event_key text, type text, source text,
  occurred_at timestamptz, payload jsonb
) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT concat_ws(E'\n', prev_hash, workflow_id, pos::text, event_key, type, source,
                   to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), payload::text)
$$;

CREATE FUNCTION audit_chain_hash(body text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT encode(sha256(convert_to(body, 'UTF8')), 'hex')
$$;

-- The hash a trail starts from.
CREATE FUNCTION audit_chain_genesis() RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT repeat('0', 64)
$$;

-- Chain the existing trails in the order they were written.
ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update;
DO $$
DECLARE
  r record;
  prev text;
  last_workflow text := NULL;
  pos integer := 0;
BEGIN
  FOR r IN SELECT id, workflow_id, event_key, type, source, occurred_at, payload FROM audit_events
           ORDER BY workflow_id, id LOOP
    IF last_workflow IS DISTINCT FROM r.workflow_id THEN
      last_workflow := r.workflow_id;
      prev := audit_chain_genesis();
      pos := 0;
    END IF;
    pos := pos + 1;
    UPDATE audit_events SET position = pos, prev_hash = prev,
      hash = audit_chain_hash(audit_chain_text(prev, r.workflow_id, pos, r.event_key, r.type, r.source,
                                               r.occurred_at, r.payload))
    WHERE id = r.id RETURNING hash INTO prev;
  END LOOP;
END
$$;
ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update;

ALTER TABLE audit_events ALTER COLUMN position SET NOT NULL, ALTER COLUMN prev_hash SET NOT NULL,
  ALTER COLUMN hash SET NOT NULL;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_position_key UNIQUE (workflow_id, position);

CREATE FUNCTION audit_events_chain() RETURNS trigger LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  last record;
BEGIN
  -- One writer per trail at a time, to the end of its transaction (taken again for each row: it is re-entrant).
  PERFORM pg_advisory_xact_lock(hashtextextended('audit:' || NEW.workflow_id, 0));
  -- (A line the trail already has gets the next place too, and is then not written: ON CONFLICT DO NOTHING.)
  SELECT position, hash INTO last FROM audit_events WHERE workflow_id = NEW.workflow_id
    ORDER BY position DESC LIMIT 1;
  NEW.position := coalesce(last.position, 0) + 1;
  NEW.prev_hash := coalesce(last.hash, audit_chain_genesis());
  NEW.hash := audit_chain_hash(audit_chain_text(NEW.prev_hash, NEW.workflow_id, NEW.position, NEW.event_key,
                                                NEW.type, NEW.source, NEW.occurred_at, NEW.payload));
  RETURN NEW;
END;
$$;
CREATE TRIGGER audit_events_chain BEFORE INSERT ON audit_events
  FOR EACH ROW EXECUTE FUNCTION audit_events_chain();

-- Down Migration
DROP TRIGGER audit_events_chain ON audit_events;
DROP FUNCTION audit_events_chain();
ALTER TABLE audit_events DROP CONSTRAINT audit_events_position_key;
ALTER TABLE audit_events DROP COLUMN position, DROP COLUMN prev_hash, DROP COLUMN hash;
DROP FUNCTION audit_chain_genesis();
DROP FUNCTION audit_chain_hash(text);
DROP FUNCTION audit_chain_text(text, text, integer, text, text, text, timestamptz, jsonb);
