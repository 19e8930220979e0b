"""Settings, read from the environment in one place (django-environ).

Required: DATABASE_URL, REDIS_URL. Everything else has a safe default: DEBUG is off
unless set, and SECRET_KEY must be set when DEBUG is off.
"""

from pathlib import Path
from urllib.parse import unquote

import environ
from celery.schedules import crontab

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="dev-insecure-key-change-me" if DEBUG else environ.Env.NOTSET)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "graphene_django",
    "djstripe",
    "backend.gateway",  # /graphql/: its GraphiQL page and vendored static files
    "backend.merchants",
    "backend.audience",
    "backend.campaigns",
    "backend.coupons",
    "backend.redemptions",
    "backend.outbox",
    "backend.audit",
    "backend.team",
    "backend.till",
    "backend.webhooks",
    "backend.notifications",
    "backend.fans",
    "attribution",
    "billing",
    "disputes",
    "backend.demo",  # above every app: seeds the demo network (manage.py seed_demo)
    # The merchant console (docs/console.md): pages over the public API. After the domain apps,
    # so its catalogue never changes their translations (Django merges catalogues, earlier
    # apps win); before allauth, so its templates (allauth's layouts) take precedence.
    "backend.console",
    "allauth",
    "allauth.account",
    "allauth.mfa",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",  # vendored, hashed static files; no CDN
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",  # the fan pages: Accept-Language or the switch
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "backend.console.middleware.ConsoleMiddleware",  # the console's CSP and its API-error pages
]

ROOT_URLCONF = "backend.config.urls"
WSGI_APPLICATION = "backend.config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "backend.console.context.console",
            ],
        },
    },
]

DATABASES = {"default": env.db_url("DATABASE_URL")}
# A unix-socket directory may arrive percent-encoded in the URL's host part.
DATABASES["default"]["HOST"] = unquote(DATABASES["default"].get("HOST", ""))
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"].setdefault("TEST", {})
if env.str("DATABASE_NAME", default=""):  # a worker started by the tests uses the test database
    DATABASES["default"]["NAME"] = env.str("DATABASE_NAME")
if env.str("TEST_DATABASE_NAME", default=""):
    DATABASES["default"]["TEST"]["NAME"] = env.str("TEST_DATABASE_NAME")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL")

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="cn"),
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# whitenoise serves the apps' static folders as they are (WHITENOISE_USE_FINDERS), so a fresh
# clone, the tests and the image need no `collectstatic`; vendored files carry their version in
# their names. To serve collected, hashed and compressed files instead: set STATIC_ROOT, run
# `manage.py collectstatic`, and STATICFILES_STORAGE=whitenoise.storage.CompressedManifestStaticFilesStorage.
STATIC_ROOT = env.str("STATIC_ROOT", default="") or None
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": env.str(
            "STATICFILES_STORAGE", default="django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = env.bool("WHITENOISE_USE_FINDERS", default=True)
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / ".local" / "media")))

SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Sessions and CSRF: cookies only over HTTPS unless DEBUG (SESSION_COOKIE_SECURE to override).
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=60 * 60 * 12)  # a working day

# --- People: accounts (django-allauth) and the console -------------------------
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",  # /admin/ by username
    "allauth.account.auth_backends.AuthenticationBackend",  # the console by email
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "console:home"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_CONFIRM_EMAIL_ON_GET = False  # a mail scanner following the link must not confirm it
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_SESSION_REMEMBER = None  # the "remember me" box decides
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "http" if DEBUG else "https"
ACCOUNT_ADAPTER = "backend.console.accounts.ConsoleAccountAdapter"
ACCOUNT_SIGNUP_FORM_CLASS = "backend.console.accounts.SignupForm"  # + the business's name
ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,5/5m/key"}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = env.str("MFA_TOTP_ISSUER", default="Coupon Network")
# Mail (verification, password reset, invitations): the console backend prints them unless set.
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Coupon Network <no-reply@localhost>")
# Self-serve sign-up creates a merchant and its first admin; with approval required, the
# merchant waits until an operator approves it in /admin/ (merchants.Merchant.approved_at).
CONSOLE_SIGNUP_OPEN = env.bool("CONSOLE_SIGNUP_OPEN", default=True)
CONSOLE_SIGNUP_REQUIRES_APPROVAL = env.bool("CONSOLE_SIGNUP_REQUIRES_APPROVAL", default=False)
# Roles whose members must set up TOTP before any console page (issue 13: admin and finance).
CONSOLE_MFA_REQUIRED_ROLES = env.list("CONSOLE_MFA_REQUIRED_ROLES", default=["admin", "finance"])

# --- Fans and notifications -------------------------------------------------
# The backend that sends text messages (one-time codes, reminders): see backend.notifications.
NOTIFICATIONS_BACKEND = env.str(
    "NOTIFICATIONS_BACKEND", default="backend.notifications.backends.KeepingBackend"
)
# Twilio's Messages API, for NOTIFICATIONS_BACKEND=backend.notifications.twilio.TwilioBackend.
TWILIO = {
    "ACCOUNT_SID": env.str("TWILIO_ACCOUNT_SID", default=""),
    "AUTH_TOKEN": env.str("TWILIO_AUTH_TOKEN", default=""),
    "MESSAGING_SERVICE_SID": env.str("TWILIO_MESSAGING_SERVICE_SID", default=""),
    "FROM": env.str("TWILIO_FROM", default=""),
    "API_BASE": env.str("TWILIO_API_BASE", default="https://api.twilio.com"),
    "CONNECT_TIMEOUT_SECONDS": env.float("TWILIO_CONNECT_TIMEOUT_SECONDS", default=3.0),
    "TIMEOUT_SECONDS": env.float("TWILIO_TIMEOUT_SECONDS", default=10.0),
}
# Fernet keys for the phone numbers kept for reminders: the first encrypts, all decrypt
# (rotation: put a new key first, run `manage.py rotate_phone_keys`, drop the old one).
# Without the variable, one key is derived from SECRET_KEY.
FANS_PHONE_KEYS = env.list("FANS_PHONE_KEYS", default=[])
if not FANS_PHONE_KEYS:
    import base64
    import hashlib

    FANS_PHONE_KEYS = [
        base64.urlsafe_b64encode(hashlib.sha256(f"fans-phone:{SECRET_KEY}".encode()).digest()).decode()
    ]
# Abuse limits of the fan pages, per hour.
FANS_LIMITS = {
    "sends_per_phone_per_hour": env.int("FANS_SENDS_PER_PHONE_PER_HOUR", default=5),
    "sends_per_ip_per_hour": env.int("FANS_SENDS_PER_IP_PER_HOUR", default=30),
    "checks_per_ip_per_hour": env.int("FANS_CHECKS_PER_IP_PER_HOUR", default=60),
    "claims_per_ip_per_hour": env.int("FANS_CLAIMS_PER_IP_PER_HOUR", default=30),
}
# Expiry reminders go out this many days before a coupon ends (beat task, once per coupon).
FANS_REMINDER_DAYS = env.int("FANS_REMINDER_DAYS", default=3)
# Where fans reach the pages (links in text messages and in the codes export).
FANS_PUBLIC_URL = env.str("FANS_PUBLIC_URL", default="http://127.0.0.1:8000")

# --- GraphQL ---------------------------------------------------------------
GRAPHENE = {
    "SCHEMA": "backend.config.schema.schema",
    "RELAY_CONNECTION_MAX_LIMIT": 500,
}
# Limits on a document, checked on its syntax tree before validation (backend/api/cost.py);
# anchors: GraphQL Armor's defaults, GitHub's and Shopify's computed costs. README, "The API".
GRAPHQL_MAX_BYTES = env.int("GRAPHQL_MAX_BYTES", default=50_000)  # of the query text
GRAPHQL_MAX_TOKENS = env.int("GRAPHQL_MAX_TOKENS", default=1_000)
GRAPHQL_MAX_OPERATIONS = env.int("GRAPHQL_MAX_OPERATIONS", default=20)
GRAPHQL_MAX_ALIASES = env.int("GRAPHQL_MAX_ALIASES", default=30)
GRAPHQL_MAX_FRAGMENT_SPREADS = env.int("GRAPHQL_MAX_FRAGMENT_SPREADS", default=100)
GRAPHQL_MAX_DIRECTIVES = env.int("GRAPHQL_MAX_DIRECTIVES", default=50)
GRAPHQL_MAX_FIELDS = env.int("GRAPHQL_MAX_FIELDS", default=1_000)  # after fragments are expanded
GRAPHQL_MAX_DEPTH = env.int("GRAPHQL_MAX_DEPTH", default=10)
GRAPHQL_MAX_COST = env.int("GRAPHQL_MAX_COST", default=50_000)  # fields x rows (first/last)
GRAPHQL_MAX_LIST_ITEMS = env.int("GRAPHQL_MAX_LIST_ITEMS", default=5_000)  # any list argument
# Root fields whose one call scans or starts much more than a row: their cost, instead of 1.
GRAPHQL_FIELD_COSTS = {
    "Query.attributionReport": 5_000,
    "Query.attributionReconcile": 5_000,
    "Query.publisherStatement": 1_000,
    "Mutation.reportExportCreate": 5_000,
    "Mutation.issuanceStart": 5_000,
    "Mutation.fanImportCreate": 5_000,
}

# --- Celery ----------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="celery")
# Bulk issuance runs on a queue (and worker) of its own: see backend/config/celery_routes.py.
# Empty: the default queue's name + "-issuance" ("celery-issuance").
COUPON_ISSUANCE_QUEUE = env.str("COUPON_ISSUANCE_QUEUE", default="")
# Bulk issuance yields to the tills (coupons.issuance.yield_to_tills): when write-offs ran at
# COUPON_ISSUANCE_YIELD_AT per second or more during a chunk, the chunk waits
# COUPON_ISSUANCE_YIELD_FACTOR times its own time (at most ..._YIELD_MAX_SECONDS) before it
# commits, holding the placement's lock, so the next chunk waits too. 0 never yields.
COUPON_ISSUANCE_YIELD_AT = env.int("COUPON_ISSUANCE_YIELD_AT", default=20)
COUPON_ISSUANCE_YIELD_FACTOR = env.float("COUPON_ISSUANCE_YIELD_FACTOR", default=2.0)
COUPON_ISSUANCE_YIELD_MAX_SECONDS = env.float("COUPON_ISSUANCE_YIELD_MAX_SECONDS", default=5.0)
CELERY_TASK_ROUTES = ("backend.config.celery_routes.route_task",)
# Publishing must never hang a request: the outbox sweeper re-drives anything lost.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY = False
CELERY_WORKER_HIJACK_ROOT_LOGGER = False  # workers log JSON lines through LOGGING too
# Periodic work. Each entry names a task its app implements (thin, idempotent).
CELERY_BEAT_SCHEDULE: dict = {
    "fans-expiry-reminders": {"task": "backend.fans.tasks.send_expiry_reminders", "schedule": 3600.0},
    "outbox-sweep": {"task": "backend.outbox.tasks.sweep_outbox", "schedule": 5.0},
    "webhook-retries": {"task": "backend.webhooks.tasks.sweep_webhook_deliveries", "schedule": 10.0},
    "coupon-expiry": {"task": "backend.coupons.tasks.expire_coupons", "schedule": 300.0},
    "issuance-sweep": {"task": "backend.coupons.tasks.sweep_issuance_jobs", "schedule": 60.0},
    "terminal-nonce-purge": {"task": "backend.merchants.tasks.purge_terminal_nonces", "schedule": 300.0},
    "fan-import-requeue": {"task": "backend.audience.tasks.requeue_stalled_fan_imports", "schedule": 120.0},
    "ledger-lock": {"task": "billing.tasks.lock_ledger_entries", "schedule": 60.0},
    "billing-dunning": {"task": "billing.tasks.run_dunning", "schedule": crontab(minute="20")},
    "report-export-requeue": {"task": "attribution.tasks.requeue_stalled_exports", "schedule": 120.0},
    "payouts": {
        "task": "billing.tasks.run_scheduled_payouts",
        # Hourly: resumes a crashed run; plans the day's run once on a payout day.
        "schedule": crontab(minute="35"),
    },
    "period-close": {
        "task": "billing.tasks.close_previous_periods",
        # Hourly: each issuer's month ends at its own midnight (billing/closing.py).
        "schedule": crontab(minute="5"),
    },
}

# --- Stripe (dj-stripe) ----------------------------------------------------
STRIPE_LIVE_MODE = env.bool("STRIPE_LIVE_MODE", default=False)
STRIPE_TEST_SECRET_KEY = env.str("STRIPE_TEST_SECRET_KEY", default="sk_test_placeholder")
STRIPE_LIVE_SECRET_KEY = env.str("STRIPE_LIVE_SECRET_KEY", default="")
STRIPE_API_VERSION = env.str("STRIPE_API_VERSION", default="2024-06-20")
if env.str("STRIPE_API_HOST", default=""):  # a local Stripe-compatible server (tests)
    STRIPE_API_HOST = env.str("STRIPE_API_HOST")
DJSTRIPE_FOREIGN_KEY_TO_FIELD = "id"
DJSTRIPE_USE_NATIVE_JSONFIELD = True
DJSTRIPE_WEBHOOK_VALIDATION = "verify_signature"
# Outbound webhooks (backend/webhooks): http:// and private, loopback or link-local targets
# only under DEBUG (or when set explicitly, as the tests' local receiver needs).
WEBHOOK_ALLOW_LOCAL_TARGETS = env.bool("WEBHOOK_ALLOW_LOCAL_TARGETS", default=DEBUG)

# Billing's own webhook endpoint for invoice events (/billing/stripe/webhook/, billing/webhooks.py).
BILLING_STRIPE_WEBHOOK_SECRET = env.str("BILLING_STRIPE_WEBHOOK_SECRET", default="")
# Collection (docs/decisions.md): invoices are sent (send_invoice), due this many days later;
# a failed payment is retried after these hours; overdue this many days pauses campaigns.
# Tests only: the localstripe workarounds (billing/stripe_gateway.py), for worker processes too.
BILLING_STRIPE_LOCALSTRIPE_COMPAT = env.bool("BILLING_STRIPE_LOCALSTRIPE_COMPAT", default=False)
BILLING_INVOICE_DAYS_UNTIL_DUE = env.int("BILLING_INVOICE_DAYS_UNTIL_DUE", default=14)
BILLING_DUNNING_RETRY_HOURS = env.list("BILLING_DUNNING_RETRY_HOURS", cast=int, default=[24, 72, 168])
BILLING_OVERDUE_PAUSE_DAYS = env.int("BILLING_OVERDUE_PAUSE_DAYS", default=7)
# Disputes (disputes/): an issuer may dispute a write-off this many days after it; evidence files.
DISPUTES_WINDOW_DAYS = env.int("DISPUTES_WINDOW_DAYS", default=60)
DISPUTES_ATTACHMENT_MAX_BYTES = env.int("DISPUTES_ATTACHMENT_MAX_BYTES", default=5 * 1024 * 1024)
DISPUTES_ATTACHMENTS_PER_DISPUTE = env.int("DISPUTES_ATTACHMENTS_PER_DISPUTE", default=10)
# Payouts (billing/payouts.py): a run on the schedule pays, per merchant and currency, the
# payable lines locked at least NET days before it (and, when required, collected: the
# issuer's invoice paid), if they sum to at least the minimum (minor units, per currency).
PAYOUTS_SCHEDULE = env.str("PAYOUTS_SCHEDULE", default="monthly")  # monthly | weekly | daily
PAYOUTS_DAY_OF_MONTH = env.int("PAYOUTS_DAY_OF_MONTH", default=1)
PAYOUTS_WEEKDAY = env.int("PAYOUTS_WEEKDAY", default=0)  # 0 = Monday
PAYOUTS_NET_DAYS = env.int("PAYOUTS_NET_DAYS", default=15)
PAYOUTS_REQUIRE_COLLECTED = env.bool("PAYOUTS_REQUIRE_COLLECTED", default=True)
PAYOUTS_MINIMUM_AMOUNT = env.int("PAYOUTS_MINIMUM_AMOUNT", default=1000)
PAYOUTS_MINIMUM_AMOUNTS = env.dict("PAYOUTS_MINIMUM_AMOUNTS", cast={"value": int}, default={"JPY": 1000})

# --- Network rules -----------------------------------------------------------
# Key for hashing fan identifiers (phone numbers, open ids): raw values are never stored.
# A key of its own, required when DEBUG is off: rotating SECRET_KEY must not split every
# fan's identity (scripts keep one per install in .local/fan_id_hash_key).
FAN_ID_HASH_KEY = env.str(
    "FAN_ID_HASH_KEY", default="dev-insecure-fan-id-key" if DEBUG else environ.Env.NOTSET
)
# Fernet keys for terminal secrets, comma separated: the first encrypts, all decrypt, so a
# new key goes first and `manage.py rotate_terminal_secrets` re-encrypts every row with it.
# Required when DEBUG is off (scripts keep one per install in .local/terminal_secret_keys).
TERMINAL_SECRET_KEYS = env.list("TERMINAL_SECRET_KEYS", default=[] if DEBUG else environ.Env.NOTSET)
# Rows written before TERMINAL_SECRET_KEYS existed were encrypted with a key derived from
# SECRET_KEY; it still decrypts (never encrypts) until this is turned off, after a rotation.
TERMINAL_SECRET_LEGACY_DECRYPT = env.bool("TERMINAL_SECRET_LEGACY_DECRYPT", default=True)
TERMINAL_SIGNATURE_MAX_SKEW_SECONDS = 300
POS_MAX_WRITEOFFS_PER_MINUTE = env.int("POS_MAX_WRITEOFFS_PER_MINUTE", default=120)
POS_MAX_REJECTIONS = env.int("POS_MAX_REJECTIONS", default=10)
POS_REJECTION_WINDOW_SECONDS = env.int("POS_REJECTION_WINDOW_SECONDS", default=300)
EXPORT_LINK_TTL_SECONDS = env.int("EXPORT_LINK_TTL_SECONDS", default=3600)
# `manage.py seed_demo` (backend/demo/seeding.py) seeds merchants, audience, campaigns and
# coupons in that order, then runs these functions; each returns lines to add to
# .local/demo-credentials.txt. Apps above the core add theirs here.
DEMO_SEED_HOOKS: list[str] = [
    "backend.fans.demo.seed",  # a claim link for the demo placement
]
# Outbox: events per task and per handler transaction; attempts before an event is
# dead-lettered (an error log, then it waits for the admin's retry action).
OUTBOX_BATCH_SIZE = env.int("OUTBOX_BATCH_SIZE", default=200)
OUTBOX_MAX_ATTEMPTS = env.int("OUTBOX_MAX_ATTEMPTS", default=10)
# The dispatcher thread in each Celery worker (backend.outbox.dispatcher): woken by NOTIFY,
# or after this many seconds at the latest. OUTBOX_DISPATCHER_PAUSED starts it paused.
OUTBOX_DISPATCHER = env.bool("OUTBOX_DISPATCHER", default=True)
OUTBOX_DISPATCHER_PAUSED = env.bool("OUTBOX_DISPATCHER_PAUSED", default=False)
OUTBOX_DISPATCH_POLL_SECONDS = env.float("OUTBOX_DISPATCH_POLL_SECONDS", default=1.0)
# After a NOTIFY, how long it lets more events commit before publishing them as one batch.
OUTBOX_DISPATCH_COALESCE_SECONDS = env.float("OUTBOX_DISPATCH_COALESCE_SECONDS", default=0.25)
# Modules imported by the outbox app at start-up to register extra handlers (tests only).
OUTBOX_EXTRA_HANDLER_MODULES = env.list("OUTBOX_EXTRA_HANDLER_MODULES", default=[])

# --- Logging: structured JSON lines on stdout ---------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "backend.config.logging.json_formatter"},
    },
    "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "json"}},
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
    },
}
