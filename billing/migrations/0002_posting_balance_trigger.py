"""Every posting's lines sum to zero in one currency, and lines are never rewritten.

A deferred constraint trigger checks the balance at commit (a posting's lines are
inserted one by one); a row trigger refuses changes to a line's amount, account,
posting or currency, and any delete: corrections are new postings.
"""

from django.db import migrations

FORWARD = r"""
CREATE FUNCTION billing_posting_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    total numeric;
    mismatched integer;
BEGIN
    SELECT coalesce(sum(e.amount), 0), count(*) FILTER (WHERE e.currency <> p.currency)
      INTO total, mismatched
      FROM billing_ledgerentry e JOIN billing_posting p ON p.id = e.posting_id
     WHERE e.posting_id = NEW.posting_id;
    IF total <> 0 THEN
        RAISE EXCEPTION 'billing: posting % does not balance (sum of lines %)', NEW.posting_id, total
            USING ERRCODE = 'check_violation';
    END IF;
    IF mismatched > 0 THEN
        RAISE EXCEPTION 'billing: posting % mixes currencies', NEW.posting_id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER billing_ledgerentry_balanced
    AFTER INSERT ON billing_ledgerentry
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION billing_posting_balanced();

CREATE FUNCTION billing_ledgerentry_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'billing: ledger lines are never deleted' USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.amount <> OLD.amount OR NEW.account_id <> OLD.account_id
       OR NEW.posting_id <> OLD.posting_id OR NEW.currency <> OLD.currency THEN
        RAISE EXCEPTION 'billing: ledger line % is immutable (post a correction)', OLD.id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER billing_ledgerentry_immutable
    BEFORE UPDATE OR DELETE ON billing_ledgerentry
    FOR EACH ROW EXECUTE FUNCTION billing_ledgerentry_immutable();
"""

BACKWARD = r"""
DROP TRIGGER IF EXISTS billing_ledgerentry_immutable ON billing_ledgerentry;
DROP FUNCTION IF EXISTS billing_ledgerentry_immutable();
DROP TRIGGER IF EXISTS billing_ledgerentry_balanced ON billing_ledgerentry;
DROP FUNCTION IF EXISTS billing_posting_balanced();
"""


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_ledger")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
