"""Settings for the CRM: one file, every value from the environment with a safe dev default.

Each environment variable is read through one of the ``env_*`` helpers below, which stop
start-up with ``ImproperlyConfigured`` naming the variable when its value is malformed.
"""

from __future__ import annotations

import os
import re
import secrets
from datetime import timedelta
from pathlib import Path
from zoneinfo import available_timezones

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("CRM_VAR_DIR", BASE_DIR / "var"))

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be one of 1/0, true/false, yes/no, on/off; got {raw!r}")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number; got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}; got {value}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_choice(name: str, default: str, choices: set[str] | frozenset[str]) -> str:
    value = os.environ.get(name, default)
    if value not in choices:
        raise ImproperlyConfigured(f"{name} has an unknown value {value!r}")
    return value


def env_database(name: str, default: str) -> dict:
    raw = os.environ.get(name, default)
    # 0 (a connection per request) by default: runserver (``make run``) serves each request on a
    # new thread, and a thread's persistent connection is never closed, so any other value
    # leaks connections until PostgreSQL refuses clients. Production sets it under gunicorn
    # (README "Configuration").
    try:
        config = dj_database_url.parse(
            raw, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0, minimum=0), conn_health_checks=True
        )
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} is not a valid database URL: {exc}") from None
    if config.get("ENGINE") != "django.db.backends.postgresql":
        raise ImproperlyConfigured(f"{name} must be a postgres:// URL; this CRM runs on PostgreSQL only")
    return config


def _dev_secret_key() -> str:
    """A per-checkout development key, generated once into an ignored file."""
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


# --- Core ---------------------------------------------------------------------------------

DEBUG = env_bool("DEBUG", True)
SECRET_KEY = env_str("SECRET_KEY")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
if not DEBUG:
    if not SECRET_KEY:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is off")
if not SECRET_KEY:
    SECRET_KEY = _dev_secret_key()
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django.contrib.humanize",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_htmx",
    "template_partials",
    "simple_history",
    "django_countries",
    "csp",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "crm",
    "contacts",
    "deals",
    "activities",
    "service",
    "campaigns",
    "reports",
    # REST API and API tokens (README, "API and integrations"); last: it may import every app.
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "integrations",
    # The benchmark's dataset generator (manage.py generate_dataset) lives with the benchmark;
    # no product app imports it.
    "bench",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "crm.middleware.PermissionsPolicyMiddleware",
    "crm.middleware.TextHeadersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # The signed-in user's language and time zone (crm.User.language / time_zone) over the browser's.
    "crm.middleware.UserLocaleMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    # Signs out a session idle for SESSION_IDLE_MINUTES; keeps an enforced user on enrolment.
    "crm.middleware.SessionIdleTimeoutMiddleware",
    "crm.middleware.TwoFactorMiddleware",
    # Last, as django-axes asks: turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
    # After everything else: runs list and report views against the read replica when one is
    # configured (crm/replica.py); does nothing otherwise.
    "crm.replica.ReplicaReadsMiddleware",
]

if not DEBUG:
    # Serves collected static files when DEBUG is off (runserver serves them in development).
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")
if env_bool("CRM_BENCH_HEADERS", False):
    MIDDLEWARE.insert(0, "bench.middleware.TimingMiddleware")

ROOT_URLCONF = "crm.urls"
WSGI_APPLICATION = "crm.wsgi.application"
AUTH_USER_MODEL = "crm.User"
# AxesBackend first (django-axes refuses a locked-out sign-in before the password is checked),
# then the ModelBackend that loads the user with their access ids and unread count in one query.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "crm.backends.RequestUserBackend"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "crm.context_processors.shell",
            ],
        },
    },
    # The rows of the lists, timelines and My day (a page's hottest markup) are Jinja2
    # templates in <app>/jinja2/, rendered whole by the apps' template tags: the same markup
    # through the Django language cost most of a list page's time. No context
    # processors (a row gets what its tag passes).
    {
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "environment": "crm.jinja2.environment",  # autoescaped
            "trim_blocks": True,
            "lstrip_blocks": True,
        },
    },
]

# Form widgets are rendered with Django's own Jinja2 widget templates (crm/renderers.py): the
# same markup as the template-language ones in a fraction of the time. Pages, crispy layouts
# and the admin's own widgets stay in the Django template language.
FORM_RENDERER = "crm.renderers.WidgetRenderer"

# --- Data stores --------------------------------------------------------------------------

DATABASES = {"default": env_database("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/crm")}
# Choice fields iterate querysets with .iterator(): a server-side cursor costs an extra round
# trip per field and breaks behind pgbouncer in transaction mode.
DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
if os.environ.get("DATABASE_REPLICA_URL"):
    DATABASES["replica"] = env_database("DATABASE_REPLICA_URL", "")
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
    DATABASES["replica"]["DISABLE_SERVER_SIDE_CURSORS"] = True
    DATABASES["replica"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 2)
DATABASE_ROUTERS = ["crm.routers.PrimaryReplicaRouter"]
# The SQL compiled once per process runs as server-side prepared statements on connections that
# outlive a request (crm/prepared.py): PostgreSQL then stops planning it. 0 behind PgBouncer in
# transaction mode with DATABASE_CONN_MAX_AGE > 0 (docs/scaling.md).
DATABASE_PREPARED_STATEMENTS = env_bool("DATABASE_PREPARED_STATEMENTS", True)
# Read replica (crm/replica.py, docs/scaling.md): the GET pages that may read it — lists and
# reports, never a page that edits. Everything else, and every Celery task, reads the primary.
REPLICA_VIEWS = frozenset(
    {
        "contacts:company-list",
        "contacts:contact-list",
        "deals:list",
        "activities:list",
        "reports:index",
        "reports:funnel",
        "reports:funnel-csv",
        "reports:forecast",
        "reports:forecast-csv",
        "reports:accuracy",
        "reports:accuracy-csv",
        "reports:winloss",
        "reports:winloss-csv",
        "reports:velocity",
        "reports:velocity-csv",
        "reports:activity",
        "reports:activity-csv",
        "reports:customer-value",
        "reports:customer-value-csv",
        "reports:top-customers",
        "reports:top-customers-csv",
        "reports:cohorts",
        "reports:cohorts-csv",
        "reports:dormant",
        "reports:dormant-csv",
        "reports:cross-sell",
        "reports:cross-sell-csv",
    }
)
REPLICA_STATUS_SECONDS = env_int("REPLICA_STATUS_SECONDS", 2, minimum=0)
REPLICA_RETRY_SECONDS = env_int("REPLICA_RETRY_SECONDS", 30, minimum=0)
REPLICA_LAG_WARNING_SECONDS = env_int("REPLICA_LAG_WARNING_SECONDS", 30, minimum=0)
REPLICA_READ_YOUR_WRITES_SECONDS = env_int("REPLICA_READ_YOUR_WRITES_SECONDS", 600, minimum=1)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
CACHE_URL = env_str("CACHE_URL", "redis://127.0.0.1:6379/1")
CACHES = {
    "default": {
        # Django's Redis cache that treats an unreachable Redis as a miss (crm/cache.py).
        "BACKEND": "crm.cache.RedisCache",
        "LOCATION": CACHE_URL,
        # pytest-xdist's workers share one Redis but not one database: each keeps its own keys
        # (throttle counts, cached pages), or ids that repeat across their databases collide.
        "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "crm") + os.environ.get("PYTEST_XDIST_WORKER", ""),
        "TIMEOUT": 300,
        # A Redis that hangs must not hang the page: give up and carry on without the cache.
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2},
    }
}
# Sessions live in PostgreSQL; Redis keeps a copy for a minute to save the query (crm/sessions.py).
SESSION_ENGINE = "crm.sessions"
SESSION_CACHE_SECONDS = env_int("SESSION_CACHE_SECONDS", 60, minimum=0)

# --- Celery -------------------------------------------------------------------------------

CELERY_BROKER_URL = REDIS_URL
# kombu's Redis transport with the fixes that keep a worker alive across a Redis restart
# during a task (crm/broker.py says what breaks in celery/kombu 5.7.0 and why).
CELERY_BROKER_TRANSPORT = "crm.broker:Transport"
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 15 * 60, minimum=1)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 14 * 60, minimum=1)
# Longer than any task can run, so a message whose worker died is redelivered only after
# the task would certainly have finished. Business events never use eta/countdown.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 2 * 60 * 60}
# Several stacks may share one Redis database (the browser tests run one per test process):
# each then sends to and consumes from its own queue.
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "celery")
# A queue per kind of work, so a 100k-row import or a full rollup rebuild never delays a
# reminder: the default queue keeps what a person waits for (reminders, notifications,
# sweeps, the outbox, password resets); the others take the bulk work. `make run` starts
# a worker for the default queue, one for imports + rollups and one for integrations
# (Procfile; docs/scaling.md). A worker started without -Q consumes every queue.
CELERY_QUEUE_NAMES = {
    kind: f"{CELERY_TASK_DEFAULT_QUEUE}.{kind}" if kind else CELERY_TASK_DEFAULT_QUEUE
    for kind in ("", "imports", "rollups", "integrations")
}
CELERY_TASK_QUEUES = [Queue(name, routing_key=name) for name in CELERY_QUEUE_NAMES.values()]
CELERY_TASK_DEFAULT_ROUTING_KEY = CELERY_TASK_DEFAULT_QUEUE
CELERY_TASK_ROUTES = {
    "contacts.tasks.import_analyse": {"queue": CELERY_QUEUE_NAMES["imports"]},
    "contacts.tasks.import_run": {"queue": CELERY_QUEUE_NAMES["imports"]},
    "contacts.tasks.refresh_duplicates": {"queue": CELERY_QUEUE_NAMES["imports"]},
    "campaigns.tasks.create_call_tasks": {"queue": CELERY_QUEUE_NAMES["imports"]},
    "reports.tasks.*": {"queue": CELERY_QUEUE_NAMES["rollups"]},
    "integrations.*": {"queue": CELERY_QUEUE_NAMES["integrations"]},
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
# How often beat runs the sweeps that find due reminders and imports whose worker died.
BEAT_SWEEP_SECONDS = env_int("BEAT_SWEEP_SECONDS", 60, minimum=1)
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    "crm-heartbeat": {"task": "crm.tasks.heartbeat", "schedule": 60.0},
    # The transactional outbox: follow-up work whose immediate send failed (broker down) goes out here.
    "crm-outbox-relay": {"task": "crm.tasks.outbox_relay", "schedule": 10.0},
    # Reminder due times live in the database; this sweep finds and delivers them.
    "activities-reminder-sweep": {"task": "activities.tasks.reminder_sweep", "schedule": float(BEAT_SWEEP_SECONDS)},
    # SLA warnings and escalations: due times live in the database, claimed like reminders.
    "service-sla-sweep": {"task": "service.tasks.sla_sweep", "schedule": float(BEAT_SWEEP_SECONDS)},
    # Quote emails whose send failed (SMTP refused): tried again when due.
    "deals-quote-email-sweep": {"task": "deals.tasks.quote_email_sweep", "schedule": float(BEAT_SWEEP_SECONDS)},
    "activities-daily-digest": {"task": "activities.tasks.daily_digest", "schedule": crontab(hour=7, minute=0)},
    "reports-nightly-rebuild": {"task": "reports.tasks.rebuild_rollups", "schedule": crontab(hour=2, minute=15)},
    # The open pipeline as the month begins: what forecast accuracy is measured against.
    "reports-forecast-snapshot": {
        "task": "reports.tasks.take_forecast_snapshot",
        "schedule": crontab(day_of_month=1, hour=0, minute=30),
    },
    # Daily, but each subscription gets one email per ISO week; a failed send retries next day.
    "reports-weekly-email": {"task": "reports.tasks.send_weekly_reports", "schedule": crontab(hour=7, minute=0)},
    # Saved builder reports people subscribed to: the same once-per-ISO-week rule.
    "reports-saved-report-email": {
        "task": "reports.tasks.send_saved_report_emails",
        "schedule": crontab(hour=7, minute=5),
    },
    # After the nightly rollup rebuild, whose per-deal amounts in base currency it sums.
    "reports-customer-value": {
        "task": "reports.tasks.recompute_customer_value",
        "schedule": crontab(hour=3, minute=30),
    },
    "reports-dormancy-follow-ups": {
        "task": "reports.tasks.follow_up_dormant_customers",
        "schedule": crontab(hour=4, minute=30),
    },
    # Duplicate candidates recomputed from scratch; merges past the undo window finalised.
    "contacts-refresh-duplicates": {
        "task": "contacts.tasks.refresh_duplicates",
        "schedule": crontab(hour=1, minute=30),
    },
    "contacts-finalise-merges": {"task": "contacts.tasks.finalise_merges", "schedule": crontab(hour=1, minute=10)},
    # The only path that deletes security-log rows: those older than SECURITY_LOG_RETENTION_DAYS.
    "crm-purge-security-events": {"task": "crm.tasks.purge_security_events", "schedule": crontab(hour=0, minute=50)},
    # Imports whose worker died (lease run out): sent again, or failed with the reason.
    "contacts-import-sweep": {"task": "contacts.tasks.import_sweep", "schedule": float(BEAT_SWEEP_SECONDS)},
    # Outbound webhook deliveries due now (first attempts the immediate relay missed, retries).
    "integrations-webhook-sweep": {
        "task": "integrations.tasks.webhook_sweep",
        "schedule": float(env_int("WEBHOOK_SWEEP_SECONDS", 30, minimum=1)),
    },
}
# Sent outbox rows are kept this many days (to trace what was sent), then purged by the sweep.
OUTBOX_KEEP_DAYS = env_int("OUTBOX_KEEP_DAYS", 7, minimum=1)
# Long jobs (imports): a running worker renews the job's lease every JOB_HEARTBEAT_SECONDS;
# once JOB_LEASE_SECONDS pass without renewal the sweep sends the job again, and fails it
# after JOB_MAX_ATTEMPTS starts of the same step.
JOB_LEASE_SECONDS = env_int("JOB_LEASE_SECONDS", 60, minimum=2)
JOB_HEARTBEAT_SECONDS = env_int("JOB_HEARTBEAT_SECONDS", 2, minimum=1)
JOB_MAX_ATTEMPTS = env_int("JOB_MAX_ATTEMPTS", 3, minimum=1)
if JOB_HEARTBEAT_SECONDS * 2 > JOB_LEASE_SECONDS:
    raise ImproperlyConfigured("JOB_HEARTBEAT_SECONDS must be at most half of JOB_LEASE_SECONDS")
# An import works at most this share of its time and pauses for the rest, between steps of a
# few thousand rows (as PostgreSQL's vacuum_cost_delay paces vacuum): most of its work is done
# by PostgreSQL, which serves the pages too, so a big import on a small host no longer makes
# every page wait. 100 = no pauses.
IMPORT_BUSY_PERCENT = env_int("IMPORT_BUSY_PERCENT", 50, minimum=1)
if IMPORT_BUSY_PERCENT > 100:
    raise ImproperlyConfigured("IMPORT_BUSY_PERCENT must be between 1 and 100")
# /healthz reports beat down when its every-minute heartbeat is older than this.
BEAT_HEARTBEAT_MAX_AGE = env_int("BEAT_HEARTBEAT_MAX_AGE", 180, minimum=60)
# A reminder claimed by a worker that then died is claimed again after this many seconds.
REMINDER_LEASE_SECONDS = env_int("REMINDER_LEASE_SECONDS", 300, minimum=1)
# An SLA timer claimed by a worker that died is claimed again after this (default: as reminders).
SLA_LEASE_SECONDS = env_int("SLA_LEASE_SECONDS", REMINDER_LEASE_SECONDS, minimum=1)
# How long a satisfaction survey link works (README, "Service cases").
SURVEY_TTL_DAYS = env_int("SURVEY_TTL_DAYS", 14, minimum=1)
# The public case form (/cases/web/<key>/): at most this many submissions an hour per IP address.
WEB_CASE_LIMIT = env_int("WEB_CASE_LIMIT", 10, minimum=1)
# Web-to-lead submissions accepted per client address per hour (campaigns' public forms).
LEAD_FORM_LIMIT = env_int("LEAD_FORM_LIMIT", 10, minimum=1)
# A campaign acquired a customer when one of its contacts was first touched by it and the
# company's first won deal closed between the campaign's start and this many days after its end.
CAMPAIGN_ACQUISITION_DAYS = env_int("CAMPAIGN_ACQUISITION_DAYS", 90, minimum=0)

# --- Outbound webhooks (integrations; README, "Outbound webhooks") ----------------------------
# Private, loopback and link-local addresses are refused in production (SSRF); development and
# tests send to receivers on 127.0.0.1.
WEBHOOKS_ALLOW_PRIVATE = env_bool("WEBHOOKS_ALLOW_PRIVATE", DEBUG)
WEBHOOK_TIMEOUT_SECONDS = env_int("WEBHOOK_TIMEOUT_SECONDS", 10, minimum=1)
# A failed attempt is retried after 1, 2, 4 … minutes (at most WEBHOOK_MAX_BACKOFF_SECONDS
# apart) until WEBHOOK_RETRY_HOURS after the event; then the delivery is abandoned.
WEBHOOK_MAX_BACKOFF_SECONDS = env_int("WEBHOOK_MAX_BACKOFF_SECONDS", 3600, minimum=60)
WEBHOOK_RETRY_HOURS = env_int("WEBHOOK_RETRY_HOURS", 24, minimum=1)
# An endpoint is turned off after this many failed attempts in a row, once it has been failing
# for at least WEBHOOK_DISABLE_AFTER_MINUTES (a short outage during a deploy does not count).
WEBHOOK_DISABLE_AFTER_FAILURES = env_int("WEBHOOK_DISABLE_AFTER_FAILURES", 20, minimum=1)
WEBHOOK_DISABLE_AFTER_MINUTES = env_int("WEBHOOK_DISABLE_AFTER_MINUTES", 60, minimum=0)
# A claimed delivery whose worker died is claimed again after this many seconds.
WEBHOOK_LEASE_SECONDS = env_int("WEBHOOK_LEASE_SECONDS", 300, minimum=5)
WEBHOOK_KEEP_DAYS = env_int("WEBHOOK_KEEP_DAYS", 30, minimum=1)
if WEBHOOK_TIMEOUT_SECONDS * 5 > WEBHOOK_LEASE_SECONDS:
    raise ImproperlyConfigured("WEBHOOK_LEASE_SECONDS must be at least five times WEBHOOK_TIMEOUT_SECONDS")

# --- Auth, i18n, static -------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = env_str("LANGUAGE_CODE", "en")
LANGUAGES = [("en", _("English")), ("ru", _("Russian")), ("zh-hans", _("Simplified Chinese"))]
# Date and number formats per language (crm/formats/<lang>/formats.py) over Django's own.
FORMAT_MODULE_PATH = ["crm.formats"]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_choice("TIME_ZONE", "UTC", available_timezones())
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "media/"
# Attachments live outside MEDIA_ROOT and static: nothing serves this folder; every file goes
# out through contacts.attachment_views, which checks access like the record it belongs to.
ATTACHMENT_ROOT = Path(os.environ.get("ATTACHMENT_ROOT", VAR_DIR / "attachments"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "attachments": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": ATTACHMENT_ROOT, "base_url": None},
    },
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# --- Sign-in hardening (README, "Security") ----------------------------------------------

# django-axes: after LOGIN_FAILURE_LIMIT failed sign-ins for one username, or from one IP
# address, within LOGIN_COOLOFF_MINUTES, further attempts are refused until that many
# minutes pass. The database handler: lockouts survive a Redis flush, agree across web
# hosts, and admins see and clear them in Admin › Axes (or `manage.py axes_reset`).
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 10, minimum=1)
LOGIN_COOLOFF_MINUTES = env_int("LOGIN_COOLOFF_MINUTES", 15, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_COOLOFF_MINUTES)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "crm.auth_views.lockout_response"
AXES_CLIENT_IP_CALLABLE = "crm.security.client_ip"
# Sign-ins are written to the security log (crm.SecurityEvent); axes keeps only the counters.
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False
# Behind N reverse proxies that append to X-Forwarded-For, the client is the Nth address from
# the right; 0 (the default) trusts REMOTE_ADDR alone, which a client cannot forge.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0)
# Password reset requests: at most this many per hour per IP address, and per email address.
PASSWORD_RESET_LIMIT = env_int("PASSWORD_RESET_LIMIT", 5, minimum=1)

# A session unused for SESSION_IDLE_MINUTES ends: crm.middleware.SessionIdleTimeoutMiddleware
# checks the last request's time on every request (and writes it at most once a minute, so
# pages do not save the session each time). The stored session and its cookie last a day
# longer, so the middleware still finds the stale session and can say why it ended.
SESSION_IDLE_MINUTES = env_int("SESSION_IDLE_MINUTES", 8 * 60, minimum=1)
SESSION_COOKIE_AGE = SESSION_IDLE_MINUTES * 60 + 24 * 60 * 60
# "Remember me" on the sign-in page: the session outlives the browser and may sit idle this
# many days (instead of SESSION_IDLE_MINUTES); without it the cookie ends with the browser.
REMEMBER_ME_DAYS = env_int("REMEMBER_ME_DAYS", 14, minimum=1)
# The product's name on the sign-in page and in the page titles.
PRODUCT_NAME = env_str("PRODUCT_NAME", "Relay CRM")

# Two-factor sign-in (django-otp): roles that must use it (comma-separated: admin, manager,
# rep); users can also be required one by one in Admin › Users.
REQUIRE_2FA_FOR = env_list("REQUIRE_2FA_FOR", [])
if unknown_roles := set(REQUIRE_2FA_FOR) - {"admin", "manager", "rep"}:
    raise ImproperlyConfigured(f"REQUIRE_2FA_FOR has unknown roles: {', '.join(sorted(unknown_roles))}")
OTP_TOTP_ISSUER = env_str("OTP_TOTP_ISSUER", "CRM")
# The security log (Admin › Security events) keeps this many days; a nightly task deletes older rows.
SECURITY_LOG_RETENTION_DAYS = env_int("SECURITY_LOG_RETENTION_DAYS", 365, minimum=1)

# --- Email --------------------------------------------------------------------------------

EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.filebased.EmailBackend" if DEBUG else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_FILE_PATH = VAR_DIR / "mail"
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "crm@localhost")

# --- Security when served for real --------------------------------------------------------

SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# HTTPS: a production deployment behind TLS sets these (README, "Headers and production settings").
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
# The load balancer's health probe speaks plain HTTP to the app.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
# The header a TLS-terminating proxy sets to "https" (X-Forwarded-Proto); only set it when the
# proxy overwrites that header on every request, or a client could claim HTTPS itself.
_proxy_ssl_header = env_str("SECURE_PROXY_SSL_HEADER").strip()
if _proxy_ssl_header:
    if not _proxy_ssl_header.replace("-", "").isalnum() or not _proxy_ssl_header.isascii():
        raise ImproperlyConfigured(f"SECURE_PROXY_SSL_HEADER must be a header name; got {_proxy_ssl_header!r}")
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + _proxy_ssl_header.upper().replace("-", "_"), "https")

# Content-Security-Policy (django-csp): scripts and style sheets only from this site, no inline
# script, no eval (htmx runs with allowEval off, see base.html). Inline style *attributes* stay
# allowed (style-src-attr): templates set computed widths and colours (progress bars, calendar
# and activity-type colours, the cohort heat map); an attribute cannot run script, and
# <style> elements and foreign style sheets are still refused.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "style-src-attr": ["'unsafe-inline'"],
        # Bootstrap draws checkboxes, select arrows and the menu icon as data: SVG images.
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
# Browser features no page of the CRM uses, switched off for every page (crm.middleware).
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), display-capture=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), midi=(), payment=(), publickey-credentials-get=(), usb=(), xr-spatial-tracking=()"
)
# --- REST API (integrations) ---------------------------------------------------------------

REST_FRAMEWORK = {
    # Data endpoints take only personal API tokens (``Authorization: Bearer …``); the schema
    # view also takes the signed-in session so the docs page can read it.
    "DEFAULT_AUTHENTICATION_CLASSES": ["integrations.authentication.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["integrations.permissions.TokenScope"],
    "DEFAULT_THROTTLE_CLASSES": ["integrations.throttling.TokenRateThrottle"],
    "DEFAULT_PARSER_CLASSES": ["integrations.parsers.LimitedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "integrations.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "CRM API",
    "DESCRIPTION": "Companies, contacts, deals, activities and notes. Authenticate with a personal API token.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI from drf-spectacular-sidecar's installed static files: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # The schema: for a token or the signed-in session (the docs page reads it with the session).
    "SERVE_AUTHENTICATION": [
        "integrations.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
}
# Requests per token ("N/second|minute|hour|day"), counted in the shared cache (Redis).
API_THROTTLE_RATE = env_str("API_THROTTLE_RATE", "600/minute")
# Failed token authentications per client IP and minute before further attempts get 429.
API_AUTH_FAILURES_PER_MINUTE = env_int("API_AUTH_FAILURES_PER_MINUTE", 30, minimum=1)
# Largest JSON body the API reads; a bigger one is answered 413 without being read.
API_MAX_BODY_BYTES = env_int("API_MAX_BODY_BYTES", 2 * 1024 * 1024, minimum=1024)

# Email capture: every user's personal address is <token>@EMAIL_CAPTURE_DOMAIN (the MTA pipes
# that domain into ``manage.py ingest_email``); messages bigger than EMAIL_CAPTURE_MAX_BYTES
# are refused (413 / exit 65) before they are parsed.
EMAIL_CAPTURE_DOMAIN = env_str("EMAIL_CAPTURE_DOMAIN", "capture.localhost").strip().lower()
if not re.fullmatch(r"[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?", EMAIL_CAPTURE_DOMAIN, re.ASCII):
    raise ImproperlyConfigured(f"EMAIL_CAPTURE_DOMAIN must be a domain name; got {EMAIL_CAPTURE_DOMAIN!r}")
EMAIL_CAPTURE_MAX_BYTES = env_int("EMAIL_CAPTURE_MAX_BYTES", 10 * 1024 * 1024, minimum=1024)

DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 5 * 1024 * 1024, minimum=1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = DATA_UPLOAD_MAX_MEMORY_SIZE
# Attachments (README, "Attachments and quotes"): the largest file accepted, and the file
# extensions accepted (each checked against the file's first bytes: contacts/attachments.py).
ATTACHMENT_MAX_BYTES = env_int("ATTACHMENT_MAX_BYTES", 20 * 1024 * 1024, minimum=1024)
ATTACHMENT_EXTENSIONS = env_list(
    "ATTACHMENT_EXTENSIONS",
    ["pdf", "png", "jpg", "jpeg", "gif", "webp", "txt", "csv", "docx", "xlsx", "pptx", "odt", "ods"],
)
# Quotes (deals.quotes): the TrueType font the PDF is drawn in (DejaVu covers Latin and
# Cyrillic; point it at a CJK font such as Noto Sans CJK for Chinese quotes).
QUOTE_PDF_FONT = env_str("QUOTE_PDF_FONT", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
QUOTE_PDF_FONT_BOLD = env_str("QUOTE_PDF_FONT_BOLD", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
# Drawn where the main font has no glyph (Chinese): Debian's fonts-droid-fallback.
QUOTE_PDF_FONT_CJK = env_str("QUOTE_PDF_FONT_CJK", "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf")
QUOTE_VALID_DAYS = env_int("QUOTE_VALID_DAYS", 30, minimum=1)
# The seller's name printed at the top of every quote.
QUOTE_SELLER_NAME = env_str("QUOTE_SELLER_NAME", "")

# --- Domain settings ----------------------------------------------------------------------

BASE_CURRENCY = env_str("BASE_CURRENCY", "USD").upper()
if len(BASE_CURRENCY) != 3 or not BASE_CURRENCY.isalpha():
    raise ImproperlyConfigured(f"BASE_CURRENCY must be a three-letter ISO 4217 code; got {BASE_CURRENCY!r}")
DEFAULT_PHONE_REGION = env_str("DEFAULT_PHONE_REGION", "US").upper()
if len(DEFAULT_PHONE_REGION) != 2 or not DEFAULT_PHONE_REGION.isalpha():
    raise ImproperlyConfigured(f"DEFAULT_PHONE_REGION must be a two-letter region code; got {DEFAULT_PHONE_REGION!r}")
DEMO_PASSWORD = env_str("DEMO_PASSWORD", "demo-pass-2026")
DEAL_STALE_DAYS = env_int("DEAL_STALE_DAYS", 14, minimum=1)
# Customer value (docs/customer-value.md): RFM scores customers who bought in this many months.
RFM_WINDOW_MONTHS = env_int("RFM_WINDOW_MONTHS", 24, minimum=1)
# RFM monetary from "revenue" (won amounts) or "margin" (gross margin: revenue − cost of sales).
RFM_MONETARY = env_choice("RFM_MONETARY", "revenue", {"revenue", "margin"})
# A customer with no done activity and no purchase for this many days, and no open deal, is dormant.
DORMANT_DAYS = env_int("DORMANT_DAYS", 90, minimum=1)
# Report builder guard rails: a query longer than this is cancelled (SET LOCAL
# statement_timeout) and the page asks to narrow the report; so is one with more groups.
REPORT_BUILDER_TIMEOUT_MS = env_int("REPORT_BUILDER_TIMEOUT_MS", 5000, minimum=100)
REPORT_BUILDER_MAX_GROUPS = env_int("REPORT_BUILDER_MAX_GROUPS", 1000, minimum=10)
# Expected customer lifespan in lifetime value, used while too few customers exist to measure churn.
CUSTOMER_LIFESPAN_YEARS = env_int("CUSTOMER_LIFESPAN_YEARS", 3, minimum=1)
CUSTOMER_LIFESPAN_MAX_YEARS = env_int("CUSTOMER_LIFESPAN_MAX_YEARS", 10, minimum=1)
# Churn is measured only once this many customers bought in the year before the last one.
CHURN_MIN_CUSTOMERS = env_int("CHURN_MIN_CUSTOMERS", 20, minimum=1)
# Service trouble in customer value: an average satisfaction score at or below this (1–5),
# over the scores given in the last SERVICE_CSAT_DAYS days, is low.
SERVICE_LOW_CSAT = env_int("SERVICE_LOW_CSAT", 2, minimum=1)
SERVICE_CSAT_DAYS = env_int("SERVICE_CSAT_DAYS", 180, minimum=1)
# The largest file and the most rows one import accepts (the file is kept in the database).
IMPORT_MAX_BYTES = env_int("IMPORT_MAX_BYTES", 30 * 1024 * 1024, minimum=1024)
IMPORT_MAX_ROWS = env_int("IMPORT_MAX_ROWS", 200_000, minimum=1)
# What one import file may hold: columns, characters in one cell, and for an XLSX workbook
# (a zip archive) the unpacked size of its members and how tightly one may be packed.
IMPORT_MAX_COLUMNS = env_int("IMPORT_MAX_COLUMNS", 200, minimum=10)
IMPORT_MAX_CELL_CHARS = env_int("IMPORT_MAX_CELL_CHARS", 10_000, minimum=100)
IMPORT_MAX_UNPACKED_BYTES = env_int("IMPORT_MAX_UNPACKED_BYTES", 100 * 1000 * 1000, minimum=1024 * 1024)
IMPORT_MAX_COMPRESSION_RATIO = env_int("IMPORT_MAX_COMPRESSION_RATIO", 100, minimum=10)
# A merge can be undone for this many days; the nightly finaliser then removes the undo.
MERGE_UNDO_DAYS = env_int("MERGE_UNDO_DAYS", 30, minimum=1)
# Bulk actions on lists (crm.bulk_actions): up to this many records change in the request;
# more run as a Celery job with progress. The last one can be undone for this long.
BULK_SYNC_MAX = env_int("BULK_SYNC_MAX", 500, minimum=1)
BULK_UNDO_WINDOW = timedelta(minutes=env_int("BULK_UNDO_MINUTES", 60, minimum=1))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # django-axes logs every sign-in at INFO; its warnings (failures, lockouts) are what matter.
    "loggers": {"django.db.backends": {"level": "INFO"}, "axes": {"level": "WARNING"}},
}
