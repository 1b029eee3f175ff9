-- Up Migration

-- Issue 13: a campaign may cap the rewards it ever credits (maxRewards, immutable like every term). The database is the
-- one authority on the cap: a reward row of a budgeted campaign holds a slot, the campaign counts the slots held, and a
-- CHECK refuses a count above the cap. Any writer, on any worker, of any version, takes a slot by writing the row (or
-- taking one back for a row that gave its slot up), atomically, under the campaign row's lock; one that finds no slot
-- left fails its statement and writes nothing. A slot is given back only when a person dismisses the review of a reward
-- that was never issued (src/db/reviews.ts).
ALTER TABLE campaigns
  ADD COLUMN max_rewards integer CHECK (max_rewards > 0),
  ADD COLUMN rewards_reserved integer NOT NULL DEFAULT 0 CHECK (rewards_reserved >= 0),
  ADD CONSTRAINT campaigns_rewards_within_budget CHECK (max_rewards IS NULL OR rewards_reserved <= max_rewards);

ALTER TABLE rewards ADD COLUMN holds_slot boolean NOT NULL DEFAULT false;
CREATE INDEX rewards_campaign_slot_idx ON rewards (campaign_id) WHERE holds_slot;

-- A budgeted campaign's reward row holds a slot from the moment it is written, whatever code writes it (a worker on
-- code that knows no budget, during a rolling deploy, takes a slot too, or fails when none is left).
CREATE FUNCTION rewards_take_slot() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM campaigns WHERE campaign_id = NEW.campaign_id AND max_rewards IS NOT NULL) THEN
    NEW.holds_slot := true;
  END IF;
  RETURN NEW;
END;
$$;
CREATE TRIGGER rewards_take_slot BEFORE INSERT ON rewards
  FOR EACH ROW EXECUTE FUNCTION rewards_take_slot();

-- An issued reward keeps its slot for ever.
CREATE FUNCTION rewards_issued_keeps_slot() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.holds_slot AND NOT NEW.holds_slot AND (OLD.status = 'ISSUED' OR NEW.status = 'ISSUED') THEN
    RAISE EXCEPTION 'reward % was issued: its slot is never given back', OLD.workflow_id
      USING ERRCODE = 'check_violation', CONSTRAINT = 'rewards_issued_keeps_slot';
  END IF;
  RETURN NEW;
END;
$$;
CREATE TRIGGER rewards_issued_keeps_slot BEFORE UPDATE OF holds_slot ON rewards
  FOR EACH ROW EXECUTE FUNCTION rewards_issued_keeps_slot();

-- The campaign counts the slots its reward rows hold (rows written, only: an INSERT … ON CONFLICT DO NOTHING that
-- found the row adds nothing). The UPDATE takes the campaign row's lock, so writers of one campaign's slots take turns,
-- and campaigns_rewards_within_budget refuses the slot past the cap.
CREATE FUNCTION rewards_count_slots() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  delta integer := 0;
BEGIN
  IF TG_OP <> 'DELETE' AND NEW.holds_slot THEN delta := delta + 1; END IF;
  IF TG_OP <> 'INSERT' AND OLD.holds_slot THEN delta := delta - 1; END IF;
  IF delta <> 0 THEN
    UPDATE campaigns SET rewards_reserved = rewards_reserved + delta
    WHERE campaign_id = CASE WHEN TG_OP = 'DELETE' THEN OLD.campaign_id ELSE NEW.campaign_id END;
  END IF;
  RETURN NULL;
END;
$$;
CREATE TRIGGER rewards_count_slots AFTER INSERT OR UPDATE OF holds_slot OR DELETE ON rewards
  FOR EACH ROW EXECUTE FUNCTION rewards_count_slots();

-- Down Migration
DROP TRIGGER rewards_count_slots ON rewards;
DROP FUNCTION rewards_count_slots();
DROP TRIGGER rewards_issued_keeps_slot ON rewards;
DROP FUNCTION rewards_issued_keeps_slot();
DROP TRIGGER rewards_take_slot ON rewards;
DROP FUNCTION rewards_take_slot();
DROP INDEX rewards_campaign_slot_idx;
ALTER TABLE rewards DROP COLUMN holds_slot;
ALTER TABLE campaigns DROP CONSTRAINT campaigns_rewards_within_budget, DROP COLUMN rewards_reserved,
  DROP COLUMN max_rewards;
