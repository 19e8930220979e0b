# The coupons table kept three indexes that others already cover; each one is paid by every
# issued coupon (bulk issuance) and every write-off (its status update is not HOT):
# - campaign_id: coupon_campaign_status_idx (campaign_id, status) leads with it;
# - placement_id: coupon_once_per_fan_ordinal (placement_id, fan_id, ordinal) and
#   coupon_placement_id_idx (placement_id, id) lead with it;
# - code varchar_pattern_ops (Django's automatic LIKE index of a unique CharField): codes are
#   only ever looked up whole (code = %s), which the unique index serves.
# Only the indexes are dropped (the state is db_index=False): Django's own AlterField would
# also drop and re-add, so re-validate, both foreign keys over the whole table.

from django.db import migrations, models
import django.db.models.deletion

DROP = """
DROP INDEX IF EXISTS coupons_coupon_campaign_id_5d074e29;
DROP INDEX IF EXISTS coupons_coupon_placement_id_65cde0c6;
DROP INDEX IF EXISTS coupons_coupon_code_40174643_like;
"""
RESTORE = """
CREATE INDEX IF NOT EXISTS coupons_coupon_campaign_id_5d074e29 ON coupons_coupon (campaign_id);
CREATE INDEX IF NOT EXISTS coupons_coupon_placement_id_65cde0c6 ON coupons_coupon (placement_id);
CREATE INDEX IF NOT EXISTS coupons_coupon_code_40174643_like ON coupons_coupon (code varchar_pattern_ops);
"""


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0001_initial"),
        ("coupons", "0004_coupon_issued_expiry_idx"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="coupon",
                    name="campaign",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="coupons",
                        to="campaigns.campaign",
                    ),
                ),
                migrations.AlterField(
                    model_name="coupon",
                    name="placement",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="coupons",
                        to="campaigns.placement",
                    ),
                ),
            ],
            database_operations=[migrations.RunSQL(DROP, reverse_sql=RESTORE)],
        ),
    ]
