"""A NOTIFY when events are inserted: it wakes the dispatcher when the transaction commits.

A statement trigger, so a transaction inserting many events sends one notification (and
PostgreSQL folds identical notifications of one transaction into one)."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION outbox_notify_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('outbox_event', '');
  RETURN NULL;
END $$;
CREATE TRIGGER outbox_event_inserted AFTER INSERT ON outbox_outboxevent
  FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify_inserted();
"""

DROP = """
DROP TRIGGER IF EXISTS outbox_event_inserted ON outbox_outboxevent;
DROP FUNCTION IF EXISTS outbox_notify_inserted();
"""


class Migration(migrations.Migration):
    dependencies = [("outbox", "0003_event_dead_letter")]

    operations = [migrations.RunSQL(CREATE, DROP)]
