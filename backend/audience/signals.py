"""What the audience app announces to apps above it (which it must not import)."""

from django.dispatch import Signal

# Sent inside the withdrawing transaction with ``fan_id``: apps that keep anything on the
# fan's consent (the fans app's kept phone number) let go of it in the same transaction.
consent_withdrawn = Signal()
