"""Messages kept by the keeping backend (development, tests, and as a record of what was sent)."""

from django.db import models


class KeptMessage(models.Model):
    """One text message as the keeping backend received it.

    The recipient is kept as a keyed hash (to find a person's messages) and a masked hint
    (to show in the dev inbox), never as a raw phone number.
    """

    recipient_key = models.CharField(max_length=64, db_index=True)
    recipient_hint = models.CharField(max_length=32)
    kind = models.CharField(max_length=40)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
