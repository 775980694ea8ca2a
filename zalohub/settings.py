"""Django settings for zalohub, read from environment variables.

The defaults give the embedded shape (SQLite in ./var, sandbox Zalo on loopback);
production sets DATABASE_URL, ZALOHUB_SECRET_KEY, ZALOHUB_ENCRYPTION_KEYS,
ZALOHUB_PUBLIC_URL and ZALO_MODE=live. See README.md.
"""

import contextlib
import ipaddress
import os
import secrets
from collections.abc import Callable
from pathlib import Path

import dj_database_url
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from zalohub.env import envbool, envchoice, envfloat, envint, envlist, envstr

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(envstr("ZALOHUB_DATA_DIR", str(BASE_DIR / "var"))).resolve()


def _owner_only_dir(path: Path) -> None:
    """Create a directory readable by the owner only (0700): it holds the database and
    generated keys. An existing directory keeps the mode its owner gave it."""
    if not path.exists():
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.chmod(0o700)  # mkdir's mode is masked by the umask


def _owner_only_file(path: Path) -> None:
    """Create an empty file readable by the owner only (0600) unless it exists. SQLite
    then opens it as a new database, and gives its -wal and -shm files the same mode."""
    _owner_only_dir(path.parent)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _local_secret(filename: str, make: Callable[[], str]) -> str:
    """Read a generated secret kept in DATA_DIR, creating it on first use (embedded shape)."""
    path = DATA_DIR / filename
    if path.exists():
        return path.read_text().strip()
    value = make()
    _owner_only_file(path)  # 0600 before the secret is in it, not after
    path.write_text(value + "\n")
    return value


DEBUG = envbool("ZALOHUB_DEBUG", False)
ALLOWED_HOSTS = envlist("ZALOHUB_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = envlist("ZALOHUB_CSRF_TRUSTED_ORIGINS", [])

# Public base URL of this hub, used to build the OAuth callback and webhook URLs that
# an admin pastes into Zalo's developer console.
PUBLIC_URL = envstr("ZALOHUB_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")

# --- HTTPS ------------------------------------------------------------------------------
# On by default when the public URL is https. Behind a proxy that ends TLS, name the
# header it sets ("X-Forwarded-Proto=https"): without it every request looks like plain
# HTTP to Django and the SSL redirect would loop.
_https = PUBLIC_URL.lower().startswith("https://")
_proxy_ssl_header = envstr("ZALOHUB_SECURE_PROXY_SSL_HEADER").strip()
if _proxy_ssl_header:
    _header, _sep, _value = _proxy_ssl_header.partition("=")
    if not _sep or not _header.strip() or not _value.strip():
        raise ImproperlyConfigured(
            f"ZALOHUB_SECURE_PROXY_SSL_HEADER={_proxy_ssl_header!r} must be "
            "Header-Name=value, e.g. X-Forwarded-Proto=https"
        )
    SECURE_PROXY_SSL_HEADER = (
        "HTTP_" + _header.strip().upper().replace("-", "_"),
        _value.strip(),
    )
SECURE_SSL_REDIRECT = envbool("ZALOHUB_SECURE_SSL_REDIRECT", _https)
# Load balancers probe and Prometheus scrapes the process itself, over plain HTTP: a
# redirect to HTTPS would read as "down" (and the token goes out before any redirect).
SECURE_REDIRECT_EXEMPT = [r"^(healthz|readyz|metrics)$"]
SECURE_HSTS_SECONDS = envint(
    "ZALOHUB_SECURE_HSTS_SECONDS", 365 * 24 * 3600 if _https else 0, minimum=0
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("ZALOHUB_SECURE_HSTS_INCLUDE_SUBDOMAINS", _https)
SECURE_HSTS_PRELOAD = envbool("ZALOHUB_SECURE_HSTS_PRELOAD", _https)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = envbool("ZALOHUB_SECURE_COOKIES", _https)

# --- Deployment shape -------------------------------------------------------------------
_database_url = envstr("DATABASE_URL")
_database = dj_database_url.parse(_database_url) if _database_url else None
_sqlite = _database is None or _database["ENGINE"] == "django.db.backends.sqlite3"
# The embedded shape (one process, SQLite, as `zalohub demo` runs it with DEBUG on) may
# generate its keys. Anything else may be one of several hosts, each of which would
# generate a key of its own and be unable to read what the others encrypted.
EMBEDDED = _sqlite and DEBUG
# Processes serving the web (uvicorn and gunicorn take --workers from WEB_CONCURRENCY
# too); `zalohub check --deploy` warns when several run without Redis.
WEB_PROCESSES = envint("ZALOHUB_WEB_PROCESSES", envint("WEB_CONCURRENCY", 1, minimum=1), minimum=1)

# Secrets at rest: a comma-separated list of Fernet keys, newest first. The first key
# encrypts; every key decrypts (MultiFernet), so a key is rotated by putting a new one
# in front and running `zalohub rotate_keys`.
_encryption_keys = envlist("ZALOHUB_ENCRYPTION_KEYS")
ENCRYPTION_KEYS_GENERATED = not _encryption_keys
if ENCRYPTION_KEYS_GENERATED:
    if not EMBEDDED:
        raise ImproperlyConfigured(
            "ZALOHUB_ENCRYPTION_KEYS is not set. Outside the embedded shape (SQLite with "
            "ZALOHUB_DEBUG=1) the hub does not generate a key of its own: every host must "
            "use the same keys. Set it to one or more Fernet keys, newest first "
            '(python -c "from cryptography.fernet import Fernet; '
            'print(Fernet.generate_key().decode())").'
        )
    _encryption_keys = [_local_secret("encryption.key", lambda: Fernet.generate_key().decode())]
for _key in _encryption_keys:
    try:
        Fernet(_key)
    except (ValueError, TypeError):
        raise ImproperlyConfigured(
            "ZALOHUB_ENCRYPTION_KEYS holds a key that is not a valid Fernet key "
            "(32 url-safe base64-encoded bytes). Fix the key; stored tokens stay encrypted."
        ) from None
ENCRYPTION_KEYS = _encryption_keys
# Django's own secret (sessions, CSRF); generated like the keys when not given.
SECRET_KEY = envstr("ZALOHUB_SECRET_KEY") or _local_secret(
    "django-secret.key", lambda: secrets.token_urlsafe(50)
)
SECRET_KEY_GENERATED = not envstr("ZALOHUB_SECRET_KEY")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "zalohub.core.tasks_app.TasksDbConfig",
    "zalohub.core",
    "zalohub.accounts",
    "zalohub.apilog",
    "zalohub.partners",
    "zalohub.events",
    "zalohub.zbs",
    "zalohub.inbox",
    "zalohub.privacy",
    "zalohub.diagnostics",
    "zalohub.webhooks",
    "zalohub.api",
    # django-ninja's own static files (Swagger UI) for /api/v1/docs: served here, no CDN.
    "ninja",
    "zalohub.sandbox",
]

MIDDLEWARE = [
    # Outermost: the request id (X-Request-ID) and the request's log line.
    "zalohub.core.requestid.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "zalohub.urls"
WSGI_APPLICATION = "zalohub.wsgi.application"
ASGI_APPLICATION = "zalohub.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "zalohub" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "zalohub.diagnostics.context.alerts",
                "zalohub.webhooks.context.disabled_subscriptions",
            ],
        },
    },
]

_SQLITE_OPTIONS = {
    # IMMEDIATE takes the write lock at BEGIN, so two writers queue on the busy timeout
    # instead of failing with "database is locked" half-way through a transaction.
    "transaction_mode": "IMMEDIATE",
    "timeout": 20,
    "init_command": ("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"),
}

if _database_url:
    # Seconds a connection is reused across requests (0: one per request).
    _conn_max_age = envint("ZALOHUB_DB_CONN_MAX_AGE", 60, minimum=0)
    DATABASES = {"default": dj_database_url.parse(_database_url, conn_max_age=_conn_max_age)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        DATABASES["default"]["OPTIONS"] = dict(_SQLITE_OPTIONS)
    elif envbool("ZALOHUB_DB_POOL", True):
        # A pool per process (psycopg_pool): threads and async requests share a few warm
        # connections instead of opening one each (persistent connections cannot be
        # shared by ASGI requests, which each run in their own thread).
        DATABASES["default"]["CONN_MAX_AGE"] = 0
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": 1,
            "max_size": envint("ZALOHUB_DB_POOL_MAX", 20, minimum=2),
            "timeout": envfloat("ZALOHUB_DB_POOL_TIMEOUT_SECONDS", 10.0, minimum=0.5),
        }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(DATA_DIR / "zalohub.sqlite3"),
            "OPTIONS": dict(_SQLITE_OPTIONS),
        }
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    if str(DATABASES["default"]["NAME"]) not in ("", ":memory:"):
        _owner_only_file(Path(DATABASES["default"]["NAME"]))
    # Tests use a file, not memory: WAL, locking and several threads behave as in the demo.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test-zalohub.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default", "zalo"],
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("vi", _("Vietnamese"))]
# The second holds Vietnamese for Django's own admin strings its catalogue lacks.
LOCALE_PATHS = [BASE_DIR / "zalohub" / "locale", BASE_DIR / "zalohub" / "locale_django"]
TIME_ZONE = "Asia/Ho_Chi_Minh"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = envstr("ZALOHUB_STATIC_ROOT") or None  # set it to run collectstatic
# Serve static files straight from the apps (no collectstatic step for the demo).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

LOGIN_URL = "admin:login"

# --- Zalo -----------------------------------------------------------------------------
# "sandbox" talks to the local stand-in for Zalo (the demo and the tests); "live" talks
# to Zalo itself. Each base URL can still be overridden on its own.
ZALO_MODE = envchoice("ZALO_MODE", "sandbox", {"sandbox", "live"})
SANDBOX_URL = envstr("ZALOHUB_SANDBOX_URL", "http://127.0.0.1:8010").rstrip("/")
_LIVE_BASES = {
    "oauth": "https://oauth.zaloapp.com",
    "openapi": "https://openapi.zalo.me",
    "business": "https://business.openapi.zalo.me",
}
_SANDBOX_BASES = {name: f"{SANDBOX_URL}/{name}" for name in _LIVE_BASES}
_bases = _LIVE_BASES if ZALO_MODE == "live" else _SANDBOX_BASES
ZALO_OAUTH_BASE_URL = envstr("ZALO_OAUTH_BASE_URL", _bases["oauth"]).rstrip("/")
ZALO_OPENAPI_BASE_URL = envstr("ZALO_OPENAPI_BASE_URL", _bases["openapi"]).rstrip("/")
ZALO_BUSINESS_BASE_URL = envstr("ZALO_BUSINESS_BASE_URL", _bases["business"]).rstrip("/")
ZALO_TIMEOUT_SECONDS = envfloat("ZALO_TIMEOUT_SECONDS", 10.0, minimum=0.1)
ZALO_CONNECT_TIMEOUT_SECONDS = envfloat("ZALO_CONNECT_TIMEOUT_SECONDS", 5.0, minimum=0.1)

# Token custody: refresh this long before the access token expires.
ZALO_REFRESH_AHEAD_SECONDS = envint("ZALO_REFRESH_AHEAD_SECONDS", 2 * 3600, minimum=60)
# Zalo's OA refresh tokens live three months; tracked so expiry can be foreseen.
ZALO_REFRESH_TOKEN_LIFETIME_DAYS = envint("ZALO_REFRESH_TOKEN_LIFETIME_DAYS", 90, minimum=1)
# How long one refresher holds its claim before another may take over.
ZALO_REFRESH_LEASE_SECONDS = envint("ZALO_REFRESH_LEASE_SECONDS", 60, minimum=5)
# An OAuth authorization attempt (state + PKCE verifier) is valid this long.
ZALO_OAUTH_SESSION_SECONDS = envint("ZALO_OAUTH_SESSION_SECONDS", 600, minimum=60)

# --- API logs ---------------------------------------------------------------------------
APILOG_RETENTION_DAYS = envint("ZALOHUB_APILOG_RETENTION_DAYS", 30, minimum=1)
APILOG_MAX_BODY_CHARS = envint("ZALOHUB_APILOG_MAX_BODY_CHARS", 20_000, minimum=1000)

# --- Worker -----------------------------------------------------------------------------
WORKER_THREADS = envint("ZALOHUB_WORKER_THREADS", 2, minimum=1)
WORKER_POLL_SECONDS = envfloat("ZALOHUB_WORKER_POLL_SECONDS", 0.5, minimum=0.01)
# Threads per worker process running each app loop (the events dispatcher).
WORKER_LOOP_THREADS = envint("ZALOHUB_WORKER_LOOP_THREADS", 1, minimum=1)

# --- Webhooks and the event pipeline ---------------------------------------------------
WEBHOOK_MAX_BODY_BYTES = envint("ZALOHUB_WEBHOOK_MAX_BODY_BYTES", 256 * 1024, minimum=1024)
# Refuse events older than this (seconds); 0 = off. Zalo retries for over an hour and
# the dedupe key already makes a replay harmless, so it is off by default.
WEBHOOK_MAX_AGE_SECONDS = envint("ZALOHUB_WEBHOOK_MAX_AGE_SECONDS", 0, minimum=0)
WEBHOOK_REJECTED_BODY_BYTES = envint("ZALOHUB_WEBHOOK_REJECTED_BODY_BYTES", 16 * 1024, minimum=256)
WEBHOOK_REJECTED_RETENTION_DAYS = envint("ZALOHUB_WEBHOOK_REJECTED_RETENTION_DAYS", 7, minimum=1)
WEBHOOK_REJECTED_MAX_ROWS = envint("ZALOHUB_WEBHOOK_REJECTED_MAX_ROWS", 10_000, minimum=100)
# Refused requests kept at most, checked as each one is stored (beyond: counted, not kept):
# in all, and per app (every app id this hub does not know shares one allowance).
WEBHOOK_REJECTED_MAX_BYTES = envint(
    "ZALOHUB_WEBHOOK_REJECTED_MAX_BYTES", 64 * 1024 * 1024, minimum=64 * 1024
)
WEBHOOK_REJECTED_MAX_ROWS_PER_APP = envint(
    "ZALOHUB_WEBHOOK_REJECTED_MAX_ROWS_PER_APP", 2_000, minimum=10
)
WEBHOOK_REJECTED_MAX_BYTES_PER_APP = envint(
    "ZALOHUB_WEBHOOK_REJECTED_MAX_BYTES_PER_APP", 16 * 1024 * 1024, minimum=64 * 1024
)
# With ZALOHUB_REDIS_URL, a change to an app or OA is announced on this channel: every
# web process forgets its webhook lookups at once (zalohub.events.ingestion.lookups).
WEBHOOK_LOOKUPS_REDIS_CHANNEL = envstr(
    "ZALOHUB_WEBHOOK_LOOKUPS_REDIS_CHANNEL", "zalohub:webhook-lookups"
)
# Webhook ingestion caches app and OA lookups per process this long (0: no cache).
WEBHOOK_LOOKUP_CACHE_SECONDS = envfloat("ZALOHUB_WEBHOOK_LOOKUP_CACHE_SECONDS", 30.0, minimum=0.0)
# ... and remembers at most this many apps, OAs and unknown app ids each (oldest out first).
WEBHOOK_LOOKUP_CACHE_MAX_ENTRIES = envint(
    "ZALOHUB_WEBHOOK_LOOKUP_CACHE_MAX_ENTRIES", 1_000, minimum=1
)
# A signature that does not match a cached app's key reads the app again (another
# process may have saved a new key; without Redis this one would not know), unless the
# app was read less than this long ago: forged requests cost a query this often at most.
WEBHOOK_SIGNATURE_RECHECK_SECONDS = envfloat(
    "ZALOHUB_WEBHOOK_SIGNATURE_RECHECK_SECONDS", 5.0, minimum=0.0
)
# On PostgreSQL, webhook rows are written with a server-side prepared statement; turn it
# off behind a connection pooler in transaction mode that cannot keep prepared statements.
WEBHOOK_PREPARED_INSERT = envbool("ZALOHUB_WEBHOOK_PREPARED_INSERT", True)
# A request that finds nobody writing webhook rows waits this long (seconds) before it
# writes, so that the requests right behind it share its commit; 0 = at once. Every
# lone webhook waits it too: at most 50 ms, well inside Zalo's 2 s.
WEBHOOK_BATCH_LINGER_SECONDS = envfloat(
    "ZALOHUB_WEBHOOK_BATCH_LINGER_SECONDS", 0.0003, minimum=0.0, maximum=0.05
)
# Processed events are kept this many days (zalohub.events.retention), at least 7: the
# Diagnostics' webhook baseline and trend read a week of events.
EVENT_RETENTION_DAYS = envint("ZALOHUB_EVENT_RETENTION_DAYS", 90, minimum=7)
# ... deleted this many per transaction, for at most this long per run (every 5 minutes).
EVENT_RETENTION_BATCH = envint("ZALOHUB_EVENT_RETENTION_BATCH", 1000, minimum=1)
EVENT_RETENTION_MAX_SECONDS = envfloat("ZALOHUB_EVENT_RETENTION_MAX_SECONDS", 60.0, minimum=0.0)
EVENTS_BATCH_SIZE = envint("ZALOHUB_EVENTS_BATCH_SIZE", 200, minimum=1)
# A claimed event not finished within its lease goes back to the queue.
EVENTS_LEASE_SECONDS = envint("ZALOHUB_EVENTS_LEASE_SECONDS", 30, minimum=5)
EVENTS_MAX_ATTEMPTS = envint("ZALOHUB_EVENTS_MAX_ATTEMPTS", 8, minimum=1)
EVENTS_RETRY_BASE_SECONDS = envfloat("ZALOHUB_EVENTS_RETRY_BASE_SECONDS", 5.0, minimum=0.0)
EVENTS_RETRY_CAP_SECONDS = envfloat("ZALOHUB_EVENTS_RETRY_CAP_SECONDS", 900.0, minimum=0.0)
# Zalo answered a code about the OA itself (-227): the OA's sends wait this long, then
# the next one tries again (zalohub.accounts.holds).
OA_SEND_HOLD_SECONDS = envint("ZALOHUB_OA_SEND_HOLD_SECONDS", 900, minimum=1)
# Calls per app per minute, shared by all workers (Zalo allows about 4,000).
ZALO_RATE_LIMIT_PER_MINUTE = envint("ZALO_RATE_LIMIT_PER_MINUTE", 3600, minimum=1)
# Sends per OA per minute (the zalo lane's own rate per target), so that one OA's burst
# leaves the rest of its app's budget to the app's other OAs.
ZALO_SENDS_PER_OA_PER_MINUTE = envint("ZALOHUB_ZALO_SENDS_PER_OA_PER_MINUTE", 1200, minimum=1)
# Redis for shared rate limits (and live inbox updates) in production; optional.
REDIS_URL = envstr("ZALOHUB_REDIS_URL")

# --- Probes and metrics -------------------------------------------------------------------
# /metrics answers a request carrying "Authorization: Bearer <this token>", or one from an
# address of the allow-list that came through no proxy (a proxy on the same machine makes
# every visitor look like 127.0.0.1: a forwarded request needs the token).
METRICS_TOKEN = envstr("ZALOHUB_METRICS_TOKEN")
METRICS_ALLOW = envlist("ZALOHUB_METRICS_ALLOW", ["127.0.0.1/32", "::1/128"])
for _network in METRICS_ALLOW:  # a typo must stop the start, not open or close /metrics
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError as _error:
        raise ImproperlyConfigured(f"ZALOHUB_METRICS_ALLOW: {_error}") from None

# --- Inbox ------------------------------------------------------------------------------
# Zalo's reply windows (API.md §2.4): a consultation reply is free within this many hours
# of the customer's last interaction, billed after, and refused after this many days.
INBOX_FREE_WINDOW_HOURS = envint("ZALOHUB_INBOX_FREE_WINDOW_HOURS", 48, minimum=1)
INBOX_REPLY_WINDOW_DAYS = envint("ZALOHUB_INBOX_REPLY_WINDOW_DAYS", 7, minimum=1)
# Load an OA's recent conversations from Zalo when it is (re)authorized (events.history).
HISTORY_ON_CONNECT = envbool("ZALOHUB_HISTORY_ON_CONNECT", True)
# Live updates: a stream checks for changes at least this often, and ends after this
# long so that the browser reconnects (and proxies never see an endless request).
INBOX_STREAM_TICK_SECONDS = envfloat("ZALOHUB_INBOX_STREAM_TICK_SECONDS", 1.0, minimum=0.05)
INBOX_STREAM_SECONDS = envfloat("ZALOHUB_INBOX_STREAM_SECONDS", 25.0, minimum=1.0)
# Two rounds of a web process's live reads are at least this far apart (``zalohub serve``):
# a round tells every page whose part changed to fetch it, so this bounds how often a page
# fetches under a flood of messages; a change after a quiet spell is read at once.
INBOX_STREAM_GAP_SECONDS = envfloat("ZALOHUB_INBOX_STREAM_GAP_SECONDS", 0.25, minimum=0.0)
# A page whose stream pushes it new rows and messages (inbox.push) fetches the rest of
# its changes (counts, receipts, notes, its own sends) at most this often.
INBOX_LIVE_FETCH_SECONDS = envfloat("ZALOHUB_INBOX_LIVE_FETCH_SECONDS", 2.0, minimum=0.0)
# The Redis pub/sub channel live updates travel on when ZALOHUB_REDIS_URL is set.
INBOX_REDIS_CHANNEL = envstr("ZALOHUB_INBOX_REDIS_CHANNEL", "zalohub:inbox")
# ... and the one that wakes the workers when new events are committed (events.wake).
EVENTS_REDIS_CHANNEL = envstr("ZALOHUB_EVENTS_REDIS_CHANNEL", "zalohub:events")

# --- ZBS templates ------------------------------------------------------------------------
# How often the worker reads every connected OA's templates and daily quota from Zalo
# (webhooks update them at once; this catches anything a webhook missed).
ZBS_SYNC_SECONDS = envint("ZALOHUB_ZBS_SYNC_SECONDS", 1800, minimum=60)

# --- Partners -----------------------------------------------------------------------------
# Values that identify nobody (shared test phones, staff's own Zalo test accounts): they
# never verify or join a contact. Placeholder numbers are blocked without being listed.
PARTNER_BLOCKED_PHONES = set(envlist("ZALOHUB_PARTNER_BLOCKED_PHONES", []))
PARTNER_BLOCKED_USER_IDS = set(envlist("ZALOHUB_PARTNER_BLOCKED_USER_IDS", []))
# A link's Zalo profile older than this is shown as stale (Sync Profile refreshes it).
# Duplicate detection ignores a value shared by more partners than this (no evidence).
PARTNER_DUPLICATE_MAX_BLOCK = envint("ZALOHUB_PARTNER_DUPLICATE_MAX_BLOCK", 20, minimum=2)
PARTNER_PROFILE_STALE_DAYS = envint("ZALOHUB_PARTNER_PROFILE_STALE_DAYS", 30, minimum=1)

# --- Diagnostics --------------------------------------------------------------------------
# How often the worker recomputes every OA's health (and raises or clears alerts).
DIAGNOSTICS_HEALTH_EVERY_SECONDS = envint("ZALOHUB_DIAGNOSTICS_EVERY_SECONDS", 300, minimum=30)
# Amber this many days before the refresh token runs out (authorize again in time).
DIAGNOSTICS_REFRESH_WARN_DAYS = envint("ZALOHUB_DIAGNOSTICS_REFRESH_WARN_DAYS", 14, minimum=1)
# The webhook is silent when no event came for FACTOR times the OA's usual gap between
# events (from the last 7 days), and never less than MIN_HOURS; too few events, no baseline.
DIAGNOSTICS_WEBHOOK_SILENT_MIN_HOURS = envfloat(
    "ZALOHUB_DIAGNOSTICS_WEBHOOK_SILENT_MIN_HOURS", 6.0, minimum=0.1
)
DIAGNOSTICS_WEBHOOK_SILENT_FACTOR = envfloat(
    "ZALOHUB_DIAGNOSTICS_WEBHOOK_SILENT_FACTOR", 4.0, minimum=1.0
)
DIAGNOSTICS_WEBHOOK_BASELINE_EVENTS = envint(
    "ZALOHUB_DIAGNOSTICS_WEBHOOK_BASELINE_EVENTS", 10, minimum=2
)
# Red when at least MIN outbound messages failed in 24 h and they are RATE of all sent.
DIAGNOSTICS_SEND_FAILURE_MIN = envint("ZALOHUB_DIAGNOSTICS_SEND_FAILURE_MIN", 3, minimum=1)
DIAGNOSTICS_SEND_FAILURE_RATE = envfloat("ZALOHUB_DIAGNOSTICS_SEND_FAILURE_RATE", 0.2, minimum=0)
# A Zalo error storm: at least MIN failed calls (5xx, timeouts, 429) among the OA's recent
# calls, half of them or more, the latest one included.
DIAGNOSTICS_API_ERROR_MIN = envint("ZALOHUB_DIAGNOSTICS_API_ERROR_MIN", 5, minimum=1)
DIAGNOSTICS_PROBE_TIMEOUT_SECONDS = envfloat(
    "ZALOHUB_DIAGNOSTICS_PROBE_TIMEOUT_SECONDS", 5.0, minimum=0.5
)
# The webhook check's window (minutes): refused and genuine deliveries are counted in it,
# a self-test older than it is stale, and the worker asks Zalo for a test delivery when
# nothing genuine arrived in it (where Zalo offers one: the sandbox), so silence is seen.
DIAGNOSTICS_WEBHOOK_WINDOW_MINUTES = envint(
    "ZALOHUB_DIAGNOSTICS_WEBHOOK_WINDOW_MINUTES", 60, minimum=1
)
# Alerts go to active Zalo Admins and superusers with an email, plus these addresses.
DIAGNOSTICS_ALERT_EMAILS = envlist("ZALOHUB_DIAGNOSTICS_ALERT_EMAILS", [])
# A recovery notice stays on the in-app banner this long.
DIAGNOSTICS_RECOVERY_BANNER_HOURS = envint(
    "ZALOHUB_DIAGNOSTICS_RECOVERY_BANNER_HOURS", 12, minimum=1
)
# Django's mail settings (alerts): SMTP once ZALOHUB_EMAIL_HOST is set; without it the
# console in development (DEBUG) and otherwise one log line per message not mailed.
_email_host = envstr("ZALOHUB_EMAIL_HOST")
MAILERS = {
    "default": {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {
            "host": _email_host,
            "port": envint("ZALOHUB_EMAIL_PORT", 25, minimum=1),
            "username": envstr("ZALOHUB_EMAIL_HOST_USER"),
            "password": envstr("ZALOHUB_EMAIL_HOST_PASSWORD"),
            "use_tls": envbool("ZALOHUB_EMAIL_USE_TLS", False),
        },
    }
    if _email_host
    else {"BACKEND": "django.core.mail.backends.console.EmailBackend"}
    if DEBUG
    else {"BACKEND": "zalohub.core.mail.LogOnlyEmailBackend"}
}
DEFAULT_FROM_EMAIL = envstr("ZALOHUB_DEFAULT_FROM_EMAIL", "zalohub@localhost")

# "json": one JSON object per line (zalohub.core.logs.JsonLines), with a line per request
# and per job or event handled (loggers zalohub.request and zalohub.job), each with its
# request id; "text": plain lines, those two loggers at WARNING.
LOG_FORMAT = envchoice("ZALOHUB_LOG_FORMAT", "text", {"text", "json"})
_PER_REQUEST_LEVEL = "INFO" if LOG_FORMAT == "json" else "WARNING"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {"()": "zalohub.core.logs.JsonLines"},
    },
    # A 4xx (a 403, a bad Host header) is one line, without Django's traceback: on the
    # handler for every logger, and on django.request itself so that any handler added
    # there (a test's, a deployment's) sees the same record.
    "filters": {"client_errors": {"()": "zalohub.core.logs.ClientErrorsOnOneLine"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
            "filters": ["client_errors"],
        }
    },
    "root": {"handlers": ["console"], "level": envstr("ZALOHUB_LOG_LEVEL", "INFO")},
    "loggers": {
        # Django's own configuration gives "django" a console handler of its own under
        # DEBUG (the demo): every line would be written twice, once without the filter.
        "django": {"handlers": []},
        "django.server": {"level": "WARNING"},
        "django.request": {"filters": ["client_errors"]},
        "zalohub.request": {"level": _PER_REQUEST_LEVEL},
        "zalohub.job": {"level": _PER_REQUEST_LEVEL},
        # httpx writes a line per request at INFO: one per webhook delivery and per call
        # to Zalo, which the API logs and the delivery log already keep (redacted).
        "httpx": {"level": "WARNING"},
    },
}

# Error reporting (optional: sentry-sdk, the "sentry" extra); every event is redacted.
SENTRY_DSN = envstr("SENTRY_DSN")
if SENTRY_DSN:
    from zalohub.core.errors import init_sentry

    init_sentry(SENTRY_DSN, environment=envstr("SENTRY_ENVIRONMENT"))
