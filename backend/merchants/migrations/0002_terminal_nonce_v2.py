"""Signature scheme v2: the replay guard keys on the request's nonce, not its signature.

Rows kept for v1 signatures are useless once v2 is required (they expire in minutes anyway).
"""

from django.db import migrations, models


def forget_v1_signatures(apps, schema_editor):
    apps.get_model("merchants", "TerminalRequestNonce").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("merchants", "0001_initial")]

    operations = [
        migrations.RunPython(forget_v1_signatures, migrations.RunPython.noop),
        migrations.RemoveConstraint(model_name="terminalrequestnonce", name="terminal_nonce_unique"),
        migrations.RenameField(model_name="terminalrequestnonce", old_name="signature", new_name="nonce"),
        migrations.AddConstraint(
            model_name="terminalrequestnonce",
            constraint=models.UniqueConstraint(fields=("terminal", "nonce"), name="terminal_nonce_unique"),
        ),
    ]
