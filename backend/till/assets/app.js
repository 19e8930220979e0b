/* The web till: pairs once, then signs every GraphQL request in the browser (scheme v2).
 *
 * Credentials live in IndexedDB. Nothing that moves money is queued offline: a write-off is
 * only retried while the cashier waits on its screen, with the same idempotency key, until
 * the server answers. The page holds no rule; it shows what the API answers.
 */
(() => {
  "use strict";

  const S = JSON.parse(document.getElementById("till-strings").textContent);
  const C = JSON.parse(document.getElementById("till-config").textContent);
  const $ = (id) => document.getElementById(id);
  const encoder = new TextEncoder();

  // ---- storage: IndexedDB, one record "terminal" ---------------------------------------
  const DB_NAME = "till";
  const STORE = "credentials";

  function openDb() {
    return new Promise((resolve, reject) => {
      const request = indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = () => request.result.createObjectStore(STORE);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }

  async function storeOp(mode, op) {
    const db = await openDb();
    return new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const request = op(tx.objectStore(STORE));
      tx.oncomplete = () => { db.close(); resolve(request.result); };
      tx.onerror = () => { db.close(); reject(tx.error); };
    });
  }

  const loadTerminal = () => storeOp("readonly", (s) => s.get("terminal"));
  const saveTerminal = (value) => storeOp("readwrite", (s) => s.put(value, "terminal"));
  const forgetTerminal = () => storeOp("readwrite", (s) => s.delete("terminal"));

  // ---- signing: scheme v2, WebCrypto HMAC-SHA256 -----------------------------------------
  function hex(buffer) {
    return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function newNonce() {
    const bytes = crypto.getRandomValues(new Uint8Array(18));
    return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  /** "v2=" + hex HMAC-SHA256 of "v2\nMETHOD\nPATH\nQUERY\nTIMESTAMP\nNONCE\n" + body bytes. */
  async function signRequest(secret, { method, path, query, timestamp, nonce, body }) {
    const head = encoder.encode(["v2", method.toUpperCase(), path, query, timestamp, nonce, ""].join("\n"));
    const bodyBytes = typeof body === "string" ? encoder.encode(body) : new Uint8Array(body);
    const message = new Uint8Array(head.length + bodyBytes.length);
    message.set(head, 0);
    message.set(bodyBytes, head.length);
    const key = await crypto.subtle.importKey(
      "raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]
    );
    return "v2=" + hex(await crypto.subtle.sign("HMAC", key, message));
  }
  // For the test that pins the browser's signature to the server's.
  window.tillSignRequest = signRequest;

  // ---- the clock: measured against the server, corrected, shown when near the window -----
  let clockOffsetMs = 0;

  async function measureClock() {
    try {
      const before = Date.now();
      const response = await fetch(C.clockUrl, { cache: "no-store" });
      const after = Date.now();
      const { now } = await response.json();
      clockOffsetMs = now - (before + after) / 2;
    } catch (error) {
      return; // no network: keep the last measurement
    }
    const seconds = Math.round(Math.abs(clockOffsetMs) / 1000);
    const banner = $("skew");
    banner.dataset.skewSeconds = String(seconds);
    if (seconds >= C.skewWarningSeconds) {
      banner.textContent = S.clockSkew.replace("{seconds}", seconds).replace("{limit}", C.skewLimitSeconds);
      banner.hidden = false;
    } else {
      banner.hidden = true;
    }
  }

  const serverNow = () => Math.round(Date.now() + clockOffsetMs);

  // ---- the API ----------------------------------------------------------------------------
  class NoAnswer extends Error {}
  class Refused extends Error {
    constructor(code, message) { super(message); this.code = code; }
  }

  let terminal = null; // {terminalId, secret, terminalName, storeName, merchantName, currency}

  async function signedPost(body) {
    const url = new URL(C.graphqlUrl, location.href);
    const timestamp = String(serverNow());
    const nonce = newNonce();
    const signature = await signRequest(terminal.secret, {
      method: "POST", path: url.pathname, query: url.search.replace(/^\?/, ""), timestamp, nonce, body,
    });
    return fetch(url, {
      method: "POST",
      cache: "no-store",
      headers: {
        "Content-Type": "application/json",
        "Accept-Language": C.language,
        "X-Terminal-Id": terminal.terminalId,
        "X-Timestamp": timestamp,
        "X-Nonce": nonce,
        "X-Signature": signature,
      },
      body: encoder.encode(body),
    });
  }

  /** One answer to a GraphQL operation. An answer is a parsed JSON body below HTTP 500;
   * anything else is "no answer". With `untilAnswered` the same body (same idempotency key)
   * is re-signed and sent again until there is one. */
  async function graphql(query, variables, { untilAnswered = false, onWaiting = () => {} } = {}) {
    const body = JSON.stringify({ query, variables });
    for (let attempt = 0; ; attempt += 1) {
      let answer = null;
      try {
        const response = await signedPost(body);
        if (response.status < 500) answer = { status: response.status, json: await response.json() };
      } catch (error) {
        answer = null; // dropped, refused or cut short: the server may or may not have acted
      }
      if (answer !== null) {
        onWaiting(false);
        const top = (answer.json.errors || [])[0];
        const code = top && top.extensions && top.extensions.code;
        if (code === "TERMINAL_REVOKED") {
          showRevoked();
          throw new Refused(code, top.message);
        }
        if (top) throw new Refused(code || "ERROR", top.message);
        return answer.json.data;
      }
      if (!untilAnswered) throw new NoAnswer();
      onWaiting(true);
      await new Promise((resolve) => setTimeout(resolve, Math.min(500 * 2 ** attempt, 5000)));
    }
  }

  const CHECK = `query TillCheck($code: String!, $orderAmount: Money!, $currency: String!) {
  checkCoupon(code: $code, orderAmount: $orderAmount, currency: $currency) {
    check { ok reasonCode message code orderAmount discountAmount payAmount currency campaignName }
    errors { field code message }
  }
}`;
  const REDEEM = `mutation TillRedeem($code: String!, $orderAmount: Money!, $currency: String!, $idempotencyKey: String!) {
  redeemCoupon(code: $code, orderAmount: $orderAmount, currency: $currency, idempotencyKey: $idempotencyKey) {
    redemption { id status reasonCode message code orderAmount discountAmount payAmount currency campaignName createdAt }
    errors { field code message }
  }
}`;
  const VOIDABLE = `query TillVoidable {
  voidableRedemptions(first: 20) { id code orderAmount discountAmount payAmount currency createdAt voidableUntil }
}`;
  const VOID = `mutation TillVoid($redemptionId: ID!, $reason: String) {
  voidRedemption(redemptionId: $redemptionId, reason: $reason) {
    redemption { id status voidedAt }
    errors { field code message }
  }
}`;

  // ---- money: integer minor units in, text out; never floats ------------------------------
  function fractionDigits(currency) {
    try {
      return new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits;
    } catch (error) {
      return 2;
    }
  }

  function formatMoney(minor, currency) {
    const digits = fractionDigits(currency);
    const negative = minor < 0;
    const text = String(Math.abs(minor)).padStart(digits + 1, "0");
    const decimal = digits ? `${text.slice(0, -digits)}.${text.slice(-digits)}` : text;
    return new Intl.NumberFormat(C.language, { style: "currency", currency, minimumFractionDigits: digits })
      .format((negative ? "-" : "") + decimal);
  }

  /** "30", "30.5", "30,50" -> minor units (3050), or null. */
  function parseAmount(text, currency) {
    const digits = fractionDigits(currency);
    const match = /^\s*(\d{1,10})(?:[.,](\d*))?\s*$/.exec(text || "");
    if (!match || (match[2] || "").length > digits) return null;
    const minor = Number(match[1] + (match[2] || "").padEnd(digits, "0"));
    return minor > 0 ? minor : null;
  }

  // ---- screens ----------------------------------------------------------------------------
  function show(screen) {
    for (const id of ["screen-pair", "screen-till", "screen-revoked"]) $(id).hidden = id !== screen;
  }

  function showError(element, code, fallback) {
    element.textContent = S[code] || fallback || S.networkError;
    element.dataset.code = code || "";
    element.hidden = false;
  }

  function clearError(element) {
    element.hidden = true;
    element.textContent = "";
    delete element.dataset.code;
  }

  function showRevoked() {
    show("screen-revoked");
    $("who").textContent = "";
  }

  async function showTill() {
    $("who").textContent = `${terminal.merchantName} · ${terminal.storeName} · ${terminal.terminalName}`;
    $("currency").textContent = `(${terminal.currency})`;
    show("screen-till");
    resetSale();
    await refreshRecent();
  }

  // ---- pairing ----------------------------------------------------------------------------
  async function pair(code) {
    const error = $("pair-error");
    clearError(error);
    const button = $("pair-form").querySelector("button[type=submit]");
    button.disabled = true;
    button.textContent = S.pairing;
    try {
      const response = await fetch(C.pairUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json", "Accept-Language": C.language },
        body: JSON.stringify({ code }),
      });
      const json = await response.json();
      if (!response.ok) {
        showError(error, json.error && json.error.code, json.error && json.error.message);
        return;
      }
      terminal = json;
      await saveTerminal(json);
      $("pair-code").value = "";
      await showTill();
    } catch (failure) {
      showError(error, "NETWORK", S.networkError);
    } finally {
      button.disabled = false;
      button.textContent = S.pair;
    }
  }

  $("pair-form").addEventListener("submit", (event) => {
    event.preventDefault();
    pair($("pair-code").value);
  });

  async function unpair() {
    await forgetTerminal();
    terminal = null;
    $("who").textContent = "";
    show("screen-pair");
  }
  $("pair-again").addEventListener("click", unpair);
  $("unpair").addEventListener("click", unpair);

  // ---- the sale: check, confirm, receipt ----------------------------------------------------
  let pending = null; // {code, orderAmount, currency} of the checked sale

  function resetSale() {
    pending = null;
    $("check-form").hidden = false;
    $("check-result").hidden = true;
    $("receipt").hidden = true;
    $("waiting").hidden = true;
    clearError($("check-error"));
    $("coupon-code").value = "";
    $("order-amount").value = "";
  }

  $("check-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = $("check-error");
    clearError(error);
    const code = $("coupon-code").value.trim();
    if (!code) return showError(error, "REQUIRED", S.requiredCode);
    const orderAmount = parseAmount($("order-amount").value, terminal.currency);
    if (orderAmount === null) return showError(error, "INVALID_AMOUNT", S.invalidAmount);
    const button = event.target.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const data = await graphql(CHECK, { code, orderAmount, currency: terminal.currency });
      const payload = data.checkCoupon;
      if (payload.errors.length) return showError(error, payload.errors[0].code, payload.errors[0].message);
      showCheck(payload.check);
    } catch (failure) {
      if (!(failure instanceof Refused && failure.code === "TERMINAL_REVOKED")) {
        showError(error, failure.code || "NETWORK", failure.message);
      }
    } finally {
      button.disabled = false;
    }
  });

  function showCheck(check) {
    const panel = $("check-result");
    panel.dataset.ok = String(check.ok);
    panel.dataset.reasonCode = check.reasonCode || "";
    $("check-status").hidden = check.ok;
    $("check-campaign").textContent = check.campaignName || "";
    $("check-order").textContent = formatMoney(check.orderAmount, check.currency);
    $("check-discount").textContent = formatMoney(check.discountAmount, check.currency);
    $("check-pay").textContent = formatMoney(check.payAmount, check.currency);
    $("check-message").textContent = check.message;
    $("confirm").hidden = !check.ok;
    pending = check.ok ? { code: check.code, orderAmount: check.orderAmount, currency: check.currency } : null;
    $("check-form").hidden = true;
    panel.hidden = false;
  }

  $("cancel").addEventListener("click", resetSale);
  $("next").addEventListener("click", resetSale);

  $("confirm").addEventListener("click", async () => {
    if (!pending) return;
    const sale = { ...pending, idempotencyKey: crypto.randomUUID() };
    pending = null;
    $("check-result").hidden = true;
    try {
      const data = await graphql(REDEEM, sale, {
        untilAnswered: true,
        onWaiting: (waiting) => { $("waiting").hidden = !waiting; },
      });
      const payload = data.redeemCoupon;
      if (payload.redemption) {
        showReceipt(payload.redemption);
      } else {
        showRefusal(sale, payload.errors[0]);
      }
      refreshRecent();
    } catch (failure) {
      if (!(failure instanceof Refused && failure.code === "TERMINAL_REVOKED")) {
        showRefusal(sale, { code: failure.code, message: failure.message });
      }
    }
  });

  function showReceipt(r) {
    const panel = $("receipt");
    panel.dataset.status = r.status;
    panel.dataset.reasonCode = r.reasonCode || "";
    panel.dataset.redemptionId = r.id;
    $("receipt-status").textContent = r.status === "VERIFIED" ? S.accepted : S.refused;
    $("receipt-message").textContent = r.message;
    $("receipt-code").textContent = r.code;
    $("receipt-order").textContent = formatMoney(r.orderAmount, r.currency);
    $("receipt-discount").textContent = formatMoney(r.discountAmount, r.currency);
    $("receipt-pay").textContent = formatMoney(r.payAmount, r.currency);
    $("waiting").hidden = true;
    panel.hidden = false;
  }

  function showRefusal(sale, error) {
    showReceipt({
      id: "", status: "REJECTED", reasonCode: error.code, message: S[error.code] || error.message,
      code: sale.code, orderAmount: sale.orderAmount, discountAmount: 0, payAmount: sale.orderAmount,
      currency: sale.currency,
    });
  }

  // ---- recent write-offs, each voidable with a reason ------------------------------------
  function timeText(iso) {
    return new Intl.DateTimeFormat(C.language, { hour: "2-digit", minute: "2-digit" }).format(new Date(iso));
  }

  async function refreshRecent() {
    const status = $("recent-status");
    let rows;
    try {
      rows = (await graphql(VOIDABLE, {})).voidableRedemptions;
    } catch (failure) {
      if (!(failure instanceof Refused && failure.code === "TERMINAL_REVOKED")) {
        status.textContent = S[failure.code] || S.networkError;
      }
      return;
    }
    const list = $("recent-list");
    list.replaceChildren(...rows.map(recentItem));
    if (!status.dataset.keep) status.textContent = rows.length ? "" : S.noRecent;
    delete status.dataset.keep;
  }

  function recentItem(row) {
    const item = document.createElement("li");
    item.dataset.redemptionId = row.id;
    const label = `${row.code} · ${formatMoney(row.payAmount, row.currency)}`;
    item.setAttribute("aria-label", label);
    item.innerHTML = `
      <div class="line"><span class="code"></span><span class="pay"></span></div>
      <div class="meta"></div>
      <button type="button" class="secondary void-open"></button>
      <form class="void-form" hidden novalidate>
        <label></label><input name="reason" maxlength="200">
        <p class="error" role="alert" hidden></p>
        <button type="submit" class="primary"></button>
      </form>`;
    item.querySelector(".code").textContent = row.code;
    item.querySelector(".pay").textContent = formatMoney(row.payAmount, row.currency);
    item.querySelector(".meta").textContent =
      `${timeText(row.createdAt)} · ${S.voidableUntil.replace("{time}", timeText(row.voidableUntil))}`;
    const open = item.querySelector(".void-open");
    open.textContent = S.void;
    open.setAttribute("aria-label", `${S.void} ${row.code}`);
    const form = item.querySelector(".void-form");
    const input = form.querySelector("input");
    input.id = `void-reason-${row.id}`;
    form.querySelector("label").textContent = S.voidReason;
    form.querySelector("label").htmlFor = input.id;
    form.querySelector("button").textContent = S.confirmVoid;
    open.addEventListener("click", () => { form.hidden = false; open.hidden = true; input.focus(); });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const error = form.querySelector(".error");
      clearError(error);
      try {
        const payload = (await graphql(VOID, { redemptionId: row.id, reason: input.value })).voidRedemption;
        if (payload.errors.length) return showError(error, payload.errors[0].code, payload.errors[0].message);
        const status = $("recent-status");
        status.textContent = S.voided;
        status.dataset.keep = "1";
        await refreshRecent();
      } catch (failure) {
        if (!(failure instanceof Refused && failure.code === "TERMINAL_REVOKED")) {
          showError(error, failure.code || "NETWORK", failure.message);
        }
      }
    });
    return item;
  }

  // ---- scanning: the camera through jsQR (vendored), or typing -----------------------------
  let scanning = null;

  /** The text of a QR code in an ImageData, or null (also used to decode a still image). */
  function decodeQr(imageData) {
    const found = window.jsQR(imageData.data, imageData.width, imageData.height, { inversionAttempts: "attemptBoth" });
    return found ? found.data : null;
  }
  window.tillDecodeQr = decodeQr;

  function scannedValue(text, targetId) {
    const match = /#pair=([A-Za-z0-9-]+)/.exec(text);
    if (targetId === "pair-code" && match) return match[1];
    return text.trim();
  }

  async function startScan(targetId) {
    const target = $(targetId);
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      target.placeholder = S.cameraUnavailable;
      return;
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
    } catch (error) {
      target.placeholder = S.cameraUnavailable;
      return;
    }
    const video = $("scanner-video");
    video.srcObject = stream;
    await video.play();
    $("scanner").hidden = false;
    const canvas = document.createElement("canvas");
    const context = canvas.getContext("2d", { willReadFrequently: true });
    scanning = { stream };
    const tick = () => {
      if (!scanning) return;
      if (video.readyState >= video.HAVE_ENOUGH_DATA) {
        canvas.width = video.videoWidth;
        canvas.height = video.videoHeight;
        context.drawImage(video, 0, 0);
        const text = decodeQr(context.getImageData(0, 0, canvas.width, canvas.height));
        if (text) {
          target.value = scannedValue(text, targetId);
          stopScan();
          if (targetId === "pair-code") pair(target.value);
          else $("order-amount").focus();
          return;
        }
      }
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  }

  function stopScan() {
    if (scanning) scanning.stream.getTracks().forEach((track) => track.stop());
    scanning = null;
    $("scanner").hidden = true;
  }

  document.querySelectorAll("[data-scan-into]").forEach((button) => {
    button.addEventListener("click", () => startScan(button.dataset.scanInto));
  });
  $("scanner-stop").addEventListener("click", stopScan);

  // ---- start ------------------------------------------------------------------------------
  function watchNetwork() {
    const update = () => { $("offline").hidden = navigator.onLine; };
    window.addEventListener("online", () => { update(); measureClock(); });
    window.addEventListener("offline", update);
    update();
  }

  async function start() {
    if (!window.isSecureContext || !crypto.subtle) {
      $("insecure").hidden = false;
      return;
    }
    if ("serviceWorker" in navigator) {
      navigator.serviceWorker.register(C.serviceWorkerUrl, { scope: C.scope }).catch(() => {});
    }
    watchNetwork();
    await measureClock();
    setInterval(measureClock, 5 * 60 * 1000);
    const fromLink = /#pair=([A-Za-z0-9-]+)/.exec(location.hash);
    if (fromLink) history.replaceState(null, "", location.pathname + location.search);
    terminal = await loadTerminal();
    if (terminal && !fromLink) {
      await showTill();
    } else {
      show("screen-pair");
      if (fromLink) {
        $("pair-code").value = fromLink[1];
        await pair(fromLink[1]);
      }
    }
    document.body.dataset.ready = "1";
  }

  start();
})();
