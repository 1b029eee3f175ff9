-- Up Migration

-- Issue 13: the app follows a member live (GET …/members/{m}/events). PostgreSQL says when a member view changed: every
-- write of an enrollment's row notifies channel member_view with 'campaignId memberId version' at its commit (NOTIFY is
-- transactional: a rolled-back write says nothing). The API's one listening connection reads the view again for the
-- members someone follows (src/api/live.ts); the view itself stays where it is, written once.
CREATE FUNCTION enrollments_notify_view() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('member_view', NEW.campaign_id || ' ' || NEW.member_id || ' ' || NEW.version);
  RETURN NULL;
END;
$$;
CREATE TRIGGER enrollments_notify_view AFTER INSERT OR UPDATE ON enrollments
  FOR EACH ROW EXECUTE FUNCTION enrollments_notify_view();

-- Down Migration
DROP TRIGGER enrollments_notify_view ON enrollments;
DROP FUNCTION enrollments_notify_view();
