"""Terminal.secret_version: raised by the database whenever the encrypted secret changes
(a rotation, a pairing, a re-encryption, any writer), so the per-process cache of decrypted
secrets (backend.gateway.authentication) can never serve a replaced secret."""

from django.db import migrations, models

TRIGGER = """
CREATE OR REPLACE FUNCTION merchants_terminal_secret_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.secret_encrypted IS DISTINCT FROM OLD.secret_encrypted THEN
    NEW.secret_version := OLD.secret_version + 1;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER terminal_secret_version BEFORE UPDATE OF secret_encrypted ON merchants_terminal
  FOR EACH ROW EXECUTE FUNCTION merchants_terminal_secret_version();
"""

DROP = """
DROP TRIGGER IF EXISTS terminal_secret_version ON merchants_terminal;
DROP FUNCTION IF EXISTS merchants_terminal_secret_version();
"""


class Migration(migrations.Migration):
    dependencies = [("merchants", "0005_merchant_is_network_operator")]

    operations = [
        migrations.AddField(
            model_name="terminal",
            name="secret_version",
            field=models.PositiveIntegerField(
                default=1,
                help_text="Raised by a trigger whenever secret_encrypted changes (migration 0003): "
                "processes cache the decrypted secret by (terminal, version).",
            ),
        ),
        migrations.RunSQL(TRIGGER, DROP),
    ]
