"""The write-off's rules and its happy path as SQL functions: one home for the rules.

- ``redemption_partnership``: the accepted partnership under which a partner's store takes
  a campaign (all its stores, or that store among the chosen), or NULL.
- ``redemption_discount``: the discount in minor units (percent off rounds down, then the
  cap; never above the order).
- ``redemption_reimbursement``: what the issuer reimburses a partner of that discount (the
  discount, capped at the partnership's per-coupon maximum).
- ``redemption_rejection``: the first rule a write-off breaks before any cap is touched
  (WRONG_MERCHANT, the coupon's state, the campaign's state, the store, the currency, the
  validity window, the minimum spend, the accepted stores), or NULL.
- ``redemption_write_off``: a whole write-off in one statement: the idempotency replay, the
  terminal's abuse limits, the rules, and on the happy path the coupon, the fan's usage, a
  campaign slot, the day's usage, the Redemption and its outbox event. A rule's rejection
  is recorded in the same statement. When a cap refuses in the middle (the coupon taken
  meanwhile, the fan's limit, no free slot, a daily cap) it raises SQLSTATE CN409 and the
  statement rolls back whole; the service then takes the general path (row locks, the
  slots' rebalance) which names the reason, with these same functions.

The write-off service and checkCoupon call these functions; the rules exist nowhere else.
"""

from django.db import migrations

CREATE = r"""
CREATE OR REPLACE FUNCTION redemption_partnership(p_campaign bigint, p_merchant bigint, p_store bigint)
RETURNS campaigns_campaignpartner LANGUAGE sql STABLE AS $$
  SELECT p.* FROM campaigns_campaignpartner p
   WHERE p.campaign_id = p_campaign AND p.partner_id = p_merchant AND p.status = 'accepted'
     AND (p.all_stores OR EXISTS (SELECT 1 FROM campaigns_campaignpartner_stores s
                                   WHERE s.campaignpartner_id = p.id AND s.store_id = p_store))
   ORDER BY p.id LIMIT 1
$$;

CREATE OR REPLACE FUNCTION redemption_discount(k campaigns_campaign, p_order_amount bigint)
RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
  SELECT GREATEST(0, LEAST(p_order_amount, CASE k.benefit_kind
      WHEN 'amount_off' THEN COALESCE(k.amount_off, 0)
      WHEN 'percent_off' THEN LEAST(div(p_order_amount * COALESCE(k.percent_off_bps, 0), 10000)::bigint,
                                    COALESCE(k.percent_cap, 9223372036854775807))
      WHEN 'free_item' THEN COALESCE(k.free_item_value, 0)
      ELSE 0 END))
$$;

CREATE OR REPLACE FUNCTION redemption_reimbursement(p_discount bigint, p_max_reimbursement bigint)
RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
  SELECT GREATEST(0, LEAST(p_discount, p_max_reimbursement))
$$;

CREATE OR REPLACE FUNCTION redemption_rejection(
  c coupons_coupon, k campaigns_campaign, p_merchant bigint, p_store bigint, p_store_active boolean,
  p_partner_accepts boolean, p_order_amount bigint, p_currency text, p_at timestamptz
) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT CASE
    -- another merchant's coupon says nothing more about itself, unless its store is a partner's
    WHEN k.merchant_id <> p_merchant AND NOT p_partner_accepts THEN 'WRONG_MERCHANT'
    WHEN c.status = 'redeemed' THEN 'ALREADY_REDEEMED'
    WHEN c.status = 'revoked' THEN 'COUPON_REVOKED'
    WHEN c.status = 'expired' THEN 'EXPIRED'
    WHEN k.status = 'paused' THEN 'CAMPAIGN_PAUSED'
    WHEN k.status = 'ended' THEN 'CAMPAIGN_ENDED'
    WHEN k.status = 'draft' THEN 'CAMPAIGN_NOT_ACTIVE'
    WHEN NOT p_store_active THEN 'STORE_INACTIVE'
    WHEN p_currency <> k.currency THEN 'CURRENCY_MISMATCH'
    -- the validity window: the campaign's, the coupon's own, and N days (of 24 h) after issue;
    -- GREATEST / LEAST skip NULLs, and a window without bounds compares as NULL (passes)
    WHEN p_at < GREATEST(k.valid_from, c.valid_from) THEN 'NOT_YET_VALID'
    WHEN p_at >= LEAST(k.valid_until, c.valid_until,
                       c.issued_at + k.valid_days_after_issue * interval '24 hours') THEN 'EXPIRED'
    WHEN p_order_amount < k.min_spend THEN 'BELOW_MIN_SPEND'
    -- the issuer's own stores: all, or the accepted ones (a partner's store came with its partnership)
    WHEN k.merchant_id = p_merchant AND NOT k.all_stores
         AND NOT EXISTS (SELECT 1 FROM campaigns_campaign_accepted_stores a
                          WHERE a.campaign_id = k.id AND a.store_id = p_store) THEN 'STORE_NOT_ACCEPTED'
  END
$$;

CREATE OR REPLACE FUNCTION redemption_write_off(
  p_terminal bigint, p_merchant bigint, p_store bigint, p_store_active boolean,
  p_code text, p_well_formed boolean, p_order_amount bigint, p_currency text,
  p_key text, p_fingerprint text, p_at timestamptz,
  p_minute_limit integer, p_guess_limit integer, p_guess_window interval, p_guess_reasons text[]
) RETURNS SETOF redemptions_redemption LANGUAGE plpgsql AS $$
DECLARE
  r redemptions_redemption;
  c coupons_coupon;
  k campaigns_campaign;
  p campaigns_campaignpartner;
  v_reason text;
  v_discount bigint := 0;
  v_fee bigint := 0;
  v_cost bigint;
  v_slot smallint;
  v_tz text;
  v_count bigint;
BEGIN
  -- 1. the same (terminal, key): the first answer, nothing written (the caller compares fingerprints)
  SELECT * INTO r FROM redemptions_redemption WHERE terminal_id = p_terminal AND idempotency_key = p_key;
  IF FOUND THEN
    RETURN NEXT r;
    RETURN;
  END IF;

  -- 2. abuse limits, counted from rows (services.check_abuse_limits is the same count)
  SELECT (SELECT count(*) FROM redemptions_redemption
           WHERE terminal_id = p_terminal AND created_at >= p_at - p_guess_window
             AND status = 'rejected' AND reason_code = ANY(p_guess_reasons))
       + (SELECT count(*) FROM redemptions_couponcheckattempt
           WHERE terminal_id = p_terminal AND created_at >= p_at - p_guess_window
             AND reason_code = ANY(p_guess_reasons))
    INTO v_count;
  IF v_count >= p_guess_limit THEN
    RAISE EXCEPTION 'terminal cooling down' USING ERRCODE = 'CN420';
  END IF;
  SELECT (SELECT count(*) FROM redemptions_redemption
           WHERE terminal_id = p_terminal AND created_at >= p_at - interval '1 minute' AND status <> 'rejected')
       + (SELECT count(*) FROM redemptions_couponcheckattempt
           WHERE terminal_id = p_terminal AND created_at >= p_at - interval '1 minute')
    INTO v_count;
  IF v_count >= p_minute_limit THEN
    RAISE EXCEPTION 'rate limited' USING ERRCODE = 'CN429';
  END IF;

  -- 3. the rules
  IF p_well_formed THEN
    SELECT * INTO c FROM coupons_coupon WHERE code = p_code;
  END IF;
  IF c.id IS NULL THEN
    v_reason := CASE WHEN p_well_formed THEN 'UNKNOWN_CODE' ELSE 'MISTYPED_CODE' END;
  ELSE
    SELECT * INTO k FROM campaigns_campaign WHERE id = c.campaign_id;
    IF k.merchant_id <> p_merchant THEN
      p := redemption_partnership(k.id, p_merchant, p_store);
    END IF;
    v_reason := redemption_rejection(c, k, p_merchant, p_store, p_store_active, p.id IS NOT NULL,
                                     p_order_amount, p_currency, p_at);
  END IF;

  -- 4. the caps, in the general path's order: coupon, fan, slot, day. Any refusal: CN409.
  IF v_reason IS NULL THEN
    v_discount := redemption_discount(k, p_order_amount);
    v_fee := k.fee_per_redemption;
    v_cost := v_discount + v_fee;
    UPDATE coupons_coupon SET status = 'redeemed', redeemed_at = p_at WHERE id = c.id AND status = 'issued';
    IF NOT FOUND THEN
      RAISE EXCEPTION 'coupon taken meanwhile' USING ERRCODE = 'CN409';
    END IF;
    IF k.per_fan_limit < 1 THEN
      RAISE EXCEPTION 'fan limit' USING ERRCODE = 'CN409';
    END IF;
    INSERT INTO campaigns_campaignfanusage AS u (campaign_id, fan_id, used) VALUES (k.id, c.fan_id, 1)
      ON CONFLICT (campaign_id, fan_id) DO UPDATE SET used = u.used + 1 WHERE u.used < k.per_fan_limit;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'fan limit' USING ERRCODE = 'CN409';
    END IF;
    UPDATE campaigns_campaignslot AS s
       SET redeemed_count = s.redeemed_count + 1, spent_amount = s.spent_amount + v_cost
     WHERE s.id = (SELECT f.id FROM campaigns_campaignslot AS f
                    WHERE f.campaign_id = k.id
                      AND (f.redemption_allowance IS NULL OR f.redeemed_count < f.redemption_allowance)
                      AND (f.budget_allowance IS NULL OR f.spent_amount + v_cost <= f.budget_allowance)
                    ORDER BY random() LIMIT 1 FOR UPDATE SKIP LOCKED)
       AND (s.redemption_allowance IS NULL OR s.redeemed_count < s.redemption_allowance)
       AND (s.budget_allowance IS NULL OR s.spent_amount + v_cost <= s.budget_allowance)
    RETURNING s.slot INTO v_slot;
    IF v_slot IS NULL THEN  -- no free slot fits: the general path rebalances or says BUDGET_EXHAUSTED
      RAISE EXCEPTION 'no free slot' USING ERRCODE = 'CN409';
    END IF;
    IF k.daily_redemption_cap IS NOT NULL OR k.daily_spend_cap IS NOT NULL THEN
      -- the campaign's days are its issuer's, also at a partner's till
      SELECT timezone INTO v_tz FROM merchants_merchant WHERE id = k.merchant_id;
      INSERT INTO campaigns_campaigndailyusage AS d (campaign_id, day, redeemed_count, spent_amount)
      SELECT k.id, (p_at AT TIME ZONE v_tz)::date, 1, v_cost
       WHERE (k.daily_redemption_cap IS NULL OR k.daily_redemption_cap >= 1)
         AND (k.daily_spend_cap IS NULL OR v_cost <= k.daily_spend_cap)
      ON CONFLICT (campaign_id, day) DO UPDATE
         SET redeemed_count = d.redeemed_count + 1, spent_amount = d.spent_amount + v_cost
       WHERE (k.daily_redemption_cap IS NULL OR d.redeemed_count < k.daily_redemption_cap)
         AND (k.daily_spend_cap IS NULL OR d.spent_amount + v_cost <= k.daily_spend_cap);
      IF NOT FOUND THEN
        RAISE EXCEPTION 'daily cap' USING ERRCODE = 'CN409';
      END IF;
    END IF;
  END IF;

  -- 5. the row (verified, or rejected by a rule) and, when verified, its outbox event
  IF v_reason = 'WRONG_MERCHANT' THEN
    k := NULL;  -- another merchant's offer: nothing of it on this merchant's row
  END IF;
  INSERT INTO redemptions_redemption (
    merchant_id, store_id, terminal_id, coupon_id, campaign_id, placement_id, code, status, reason_code,
    order_amount, currency, discount_amount, fee_amount, partnership_id, reimbursement_amount,
    handling_fee_amount, slot, idempotency_key, request_fingerprint, response, created_at, void_reason
  ) VALUES (
    p_merchant, p_store, p_terminal, c.id, k.id, CASE WHEN k.id IS NULL THEN NULL ELSE c.placement_id END,
    p_code, CASE WHEN v_reason IS NULL THEN 'verified' ELSE 'rejected' END, COALESCE(v_reason, ''),
    p_order_amount, p_currency,
    CASE WHEN v_reason IS NULL THEN v_discount ELSE 0 END, CASE WHEN v_reason IS NULL THEN v_fee ELSE 0 END,
    CASE WHEN v_reason IS NULL THEN p.id END,
    CASE WHEN v_reason IS NULL AND p.id IS NOT NULL THEN redemption_reimbursement(v_discount, p.max_reimbursement) ELSE 0 END,
    CASE WHEN v_reason IS NULL AND p.id IS NOT NULL THEN GREATEST(0, p.handling_fee) ELSE 0 END,
    v_slot, p_key, p_fingerprint,
    jsonb_build_object('status', CASE WHEN v_reason IS NULL THEN 'verified' ELSE 'rejected' END,
                       'reason_code', v_reason,
                       'discount_amount', CASE WHEN v_reason IS NULL THEN v_discount ELSE 0 END,
                       'campaign_name', k.name),
    p_at, ''
  ) RETURNING * INTO r;
  IF v_reason IS NULL THEN
    INSERT INTO outbox_outboxevent (topic, payload, created_at, attempts, last_error)
    VALUES ('redemption.verified', jsonb_build_object('redemption_id', r.id), now(), 0, '');
  END IF;
  RETURN NEXT r;
END
$$;
"""

DROP = """
DROP FUNCTION IF EXISTS redemption_write_off(bigint, bigint, bigint, boolean, text, boolean, bigint, text,
  text, text, timestamptz, integer, integer, interval, text[]);
DROP FUNCTION IF EXISTS redemption_rejection(coupons_coupon, campaigns_campaign, bigint, bigint, boolean,
  boolean, bigint, text, timestamptz);
DROP FUNCTION IF EXISTS redemption_discount(campaigns_campaign, bigint);
DROP FUNCTION IF EXISTS redemption_reimbursement(bigint, bigint);
DROP FUNCTION IF EXISTS redemption_partnership(bigint, bigint, bigint);
"""


class Migration(migrations.Migration):
    dependencies = [
        ("redemptions", "0005_reimbursement_db_defaults"),
        ("campaigns", "0006_campaign_partner"),
        ("coupons", "0004_coupon_issued_expiry_idx"),
        ("outbox", "0004_outbox_notify_trigger"),
        ("merchants", "0006_terminal_secret_version"),
    ]

    operations = [migrations.RunSQL(CREATE, DROP)]
