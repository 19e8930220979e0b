"""Outbox topics attribution emits (other apps react to them; they import only this module)."""

# A verified write-off's attribution record was created (payload {"redemption_id": int}); the
# record is committed when the event is. Billing charges from it.
ATTRIBUTION_RECORDED = "attribution.recorded"
