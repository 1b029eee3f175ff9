-- Up Migration

-- Issue 13: a campaign may keep a holdout group. Its share is part of the campaign's immutable terms; each
-- enrollment's group is assigned once, at enrollment, by a hash of campaign and member id (src/domain/holdout.ts).
ALTER TABLE campaigns
  ADD COLUMN holdout_percent integer NOT NULL DEFAULT 0 CHECK (holdout_percent BETWEEN 0 AND 50);

ALTER TABLE enrollments
  ADD COLUMN experiment_group text NOT NULL DEFAULT 'TREATMENT' CHECK (experiment_group IN ('TREATMENT', 'HOLDOUT'));
-- The report's lift: decided enrollments per group.
CREATE INDEX enrollments_campaign_group_state_idx ON enrollments (campaign_id, experiment_group, state);

-- A holdout member is never rewarded, whatever code asks: the database refuses the reward row (a worker still on
-- code that knows no holdout, during a rolling deploy, fails its reward attempt instead of crediting points).
CREATE FUNCTION rewards_never_for_holdout() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM enrollments WHERE workflow_id = NEW.workflow_id AND experiment_group = 'HOLDOUT') THEN
    RAISE EXCEPTION 'enrollment % is in the holdout group: never rewarded', NEW.workflow_id
      USING ERRCODE = 'check_violation', CONSTRAINT = 'rewards_never_for_holdout';
  END IF;
  RETURN NEW;
END;
$$;
CREATE TRIGGER rewards_never_for_holdout BEFORE INSERT ON rewards
  FOR EACH ROW EXECUTE FUNCTION rewards_never_for_holdout();

-- Nor told of the campaign: a notification for a holdout member is not recorded (so never pushed).
CREATE FUNCTION notifications_never_for_holdout() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM enrollments WHERE workflow_id = NEW.workflow_id AND experiment_group = 'HOLDOUT') THEN
    RETURN NULL;
  END IF;
  RETURN NEW;
END;
$$;
CREATE TRIGGER notifications_never_for_holdout BEFORE INSERT ON notifications
  FOR EACH ROW EXECUTE FUNCTION notifications_never_for_holdout();

-- Down Migration
DROP TRIGGER notifications_never_for_holdout ON notifications;
DROP FUNCTION notifications_never_for_holdout();
DROP TRIGGER rewards_never_for_holdout ON rewards;
DROP FUNCTION rewards_never_for_holdout();
DROP INDEX enrollments_campaign_group_state_idx;
ALTER TABLE enrollments DROP COLUMN experiment_group;
ALTER TABLE campaigns DROP COLUMN holdout_percent;
