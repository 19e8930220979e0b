"""scripts/pos, the command-line till, against a live server."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from tests.conftest import ROOT
from tests.factories import pos_setup


def pos(live_server, setup, *args: str) -> tuple[int, dict]:
    command = [sys.executable, str(ROOT / "scripts" / "pos"), "--url", live_server.url]
    command += ["--terminal", setup.terminal.uid, "--secret", setup.secret, *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)  # noqa: S603
    return done.returncode, json.loads(done.stdout)


def test_check_redeem_void_from_the_command_line(live_server, transactional_db):
    setup = pos_setup()
    code = setup.coupons[0].code
    rc, answer = pos(live_server, setup, "check", code, "--amount", "3000", "--currency", "CNY")
    assert rc == 0 and answer["data"]["checkCoupon"]["check"]["discountAmount"] == 500
    rc, answer = pos(live_server, setup, "redeem", code, "--amount", "3000", "--idempotency-key", "cli-1")
    receipt = answer["data"]["redeemCoupon"]["redemption"]
    assert rc == 0 and receipt["status"] == "VERIFIED" and receipt["payAmount"] == 2500
    time.sleep(1.1)  # the same body signed in the same second would be refused as a replay
    rc, again = pos(live_server, setup, "redeem", code, "--amount", "3000", "--idempotency-key", "cli-1")
    assert rc == 0 and again == answer
    rc, answer = pos(live_server, setup, "redeem", code, "--amount", "3000")
    assert rc == 1 and answer["data"]["redeemCoupon"]["redemption"]["reasonCode"] == "ALREADY_REDEEMED"
    rc, answer = pos(live_server, setup, "void", receipt["id"], "--reason", "test")
    assert rc == 0 and answer["data"]["voidRedemption"]["redemption"]["status"] == "VOIDED"
    setup.secret = "ts_wrong"
    rc, answer = pos(live_server, setup, "check", code, "--amount", "3000")
    assert rc == 1 and answer["errors"][0]["extensions"]["code"] == "BAD_SIGNATURE"
