"""A partial index of a terminal's rejections for the abuse limit's guess count.

``redemption_write_off`` and ``services.check_abuse_limits`` count a terminal's guesses
(rejected as UNKNOWN_CODE or MISTYPED_CODE) in the last POS_REJECTION_WINDOW_SECONDS. On the
(terminal, created_at) index that count read every write-off of the window, verified ones
too: 3,000 rows for a till at 10 a second. This index holds only rejections. Built
CONCURRENTLY: every write-off inserts into this table.
"""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("redemptions", "0006_write_off_in_sql")]

    operations = [
        AddIndexConcurrently(
            model_name="redemption",
            index=models.Index(
                condition=models.Q(status="rejected"),
                fields=["terminal", "created_at"],
                name="redemption_term_rejected_idx",
            ),
        ),
    ]
