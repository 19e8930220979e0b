"""`manage.py seed_demo` leaves a claim link for the demo placement, printed with the credentials."""

import pytest
from django.core.management import call_command

from backend.fans.models import ClaimLink

pytestmark = pytest.mark.django_db


def test_seed_demo_prints_a_working_claim_link(tmp_path, client):
    out = tmp_path / "creds.txt"
    call_command("seed_demo", out=str(out))
    call_command("seed_demo", out=str(out))  # idempotent

    link = ClaimLink.objects.get()
    text = out.read_text()
    assert f"/c/{link.token}/" in text and "/dev/inbox/" in text
    page = client.get(f"/c/{link.token}/")
    assert page.status_code == 200 and "5 off any dessert" in page.content.decode()
