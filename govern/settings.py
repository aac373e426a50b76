"""govern settings: one module, configured entirely by environment variables.

With nothing configured, govern runs on an embedded default: a SQLite file and a
local-file Celery broker under ``var/``. Production sets ``DATABASE_URL`` (PostgreSQL)
and ``REDIS_URL``. With ``DEBUG`` off, insecure defaults refuse to start.
Every variable read here is documented in README.md ("Configuration").
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("GOVERN_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _local_secret(filename: str, generate) -> str:
    """Read (or create once) a development-only secret under var/."""
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    path = VAR_DIR / filename
    if not path.exists():
        path.write_text(generate())
        path.chmod(0o600)
    return path.read_text().strip()


DEBUG = env_bool("DEBUG", False)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set SECRET_KEY to a long random value "
            "(python -c 'import secrets; print(secrets.token_urlsafe(50))'), "
            "or set DEBUG=true for a local development instance."
        )
    SECRET_KEY = _local_secret("secret_key", lambda: secrets.token_urlsafe(50))
elif not DEBUG and (len(SECRET_KEY) < 50 or SECRET_KEY.startswith("django-insecure")):
    raise ImproperlyConfigured("SECRET_KEY is too short or insecure for DEBUG=false (50+ chars).")

# Fernet key that encrypts source secrets (API tokens, client secrets, private keys) at rest.
GOVERN_SECRETS_KEY = os.environ.get("GOVERN_SECRETS_KEY", "")
if not GOVERN_SECRETS_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "GOVERN_SECRETS_KEY is not set. Generate one with python -c "
            "'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'."
        )
    from cryptography.fernet import Fernet

    GOVERN_SECRETS_KEY = _local_secret("secrets_key", lambda: Fernet.generate_key().decode())

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must list the host names govern is served on.")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "django_filters",
    "template_partials",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "govern",
    "sessions_app",
    "alerts_app",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "govern.middleware.ViewerTimezoneMiddleware",
]

ROOT_URLCONF = "govern.urls"
WSGI_APPLICATION = "govern.wsgi.application"

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
                "govern.context_processors.navigation",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "govern.sqlite3",
            "OPTIONS": {
                # WAL lets the web server, worker and beat share the file.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Broker, cache ----------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SOFT_TIME_LIMIT = 300
CELERY_TASK_TIME_LIMIT = 360
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    # Picks the enabled pulled sources whose next poll is due; one task per source.
    "poll-due-sources": {"task": "sessions_app.poll_due_sources", "schedule": 15.0},
    # Time-based detection (session lifetime and idle) for sessions that went quiet.
    "sweep-sessions": {"task": "alerts_app.sweep_sessions", "schedule": 300.0},
    "enforce-retention": {"task": "sessions_app.enforce_retention", "schedule": 86400.0},
    # Pushed batches still waiting after GOVERN_PENDING_REQUEUE_SECONDS go to the queue again.
    "requeue-pending": {"task": "sessions_app.requeue_pending", "schedule": 60.0},
    # Session-lifetime policies: violations become alerts; enforce mode requests revocation.
    "evaluate-session-policies": {
        "task": "sessions_app.evaluate_session_policies",
        "schedule": 300.0,
    },
    # Verified containment: decide revocations whose verification window has passed.
    "containment-sweep": {"task": "alerts_app.containment_sweep", "schedule": 300.0},
    # Triage: flag SLA breaches, re-open expired risk acceptances, end expired suppressions.
    "triage-sweep": {"task": "alerts_app.triage_sweep", "schedule": 60.0},
    # Notifications held for digest mode or folded from a burst: one message per person.
    "notification-digests": {"task": "alerts_app.send_notification_digests", "schedule": 900.0},
    # Weekly compliance digest (PDF attached) to managers: Mondays 07:00 UTC.
    "compliance-digest": {
        "task": "govern.send_compliance_digest",
        "schedule": crontab(minute=0, hour=7, day_of_week="mon"),
    },
}
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    # Redelivers unacknowledged (acks_late) tasks of a dead worker after this many seconds.
    _visibility = int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "600"))
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": _visibility,
        # The lock guarding redelivery of a dead worker's unacknowledged tasks: a worker
        # killed while holding it would otherwise block redelivery for kombu's default 300 s.
        "unacked_mutex_expire": min(300, _visibility),
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "govern",
        }
    }
else:
    _queue_dir = VAR_DIR / "celery" / "queue"
    _queue_dir.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://localhost//"  # the host only names it; no network
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "control_folder": str(VAR_DIR / "celery" / "control"),
        "store_processed": False,
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# --- Auth -------------------------------------------------------------------------------
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
SESSION_COOKIE_AGE = int(os.environ.get("GOVERN_UI_SESSION_SECONDS", str(8 * 3600)))

# --- Internationalisation: store UTC, show the viewer's zone ---------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files ------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "staticfiles"))
if DEBUG:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise serves from finders in DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- Mail --------------------------------------------------------------------------------
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "587"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "govern@localhost")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
else:
    # No SMTP server configured: mail is written to files under var/mail so nothing is lost.
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(VAR_DIR / "mail")

# --- Security (production) -------------------------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

# --- govern -----------------------------------------------------------------------------
# Optional MaxMind-format (GeoLite2/GeoIP2 .mmdb) files for IP enrichment; never an online service.
GOVERN_GEOIP_CITY_DB = os.environ.get("GOVERN_GEOIP_CITY_DB", "")
GOVERN_GEOIP_ASN_DB = os.environ.get("GOVERN_GEOIP_ASN_DB", "")
# Telemetry retention: whole monthly partitions older than this are dropped (0 keeps all).
GOVERN_EVENT_RETENTION_DAYS = int(os.environ.get("GOVERN_EVENT_RETENTION_DAYS", "0"))
# Pushed batches waiting for a worker (PendingBatch) are queued again after this many seconds
# without being ingested: a message the broker lost is then only late. Longer than the
# visibility timeout, so a batch a worker still holds is rarely queued twice (twice is harmless).
GOVERN_PENDING_REQUEUE_SECONDS = int(
    os.environ.get(
        "GOVERN_PENDING_REQUEUE_SECONDS",
        str(int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "600")) + 300),
    )
)
# Largest file an admin may upload for import (bigger files: manage.py import_events).
GOVERN_IMPORT_MAX_BYTES = int(os.environ.get("GOVERN_IMPORT_MAX_BYTES", str(100 * 1024 * 1024)))
# Revocations that would end more sessions than this need a second person's approval.
GOVERN_BULK_REVOCATION_APPROVAL_OVER = int(
    os.environ.get("GOVERN_BULK_REVOCATION_APPROVAL_OVER", "10")
)
# How long revoked sessions must stay unused (after the provider's grace) to count as contained.
GOVERN_CONTAINMENT_VERIFY_HOURS = float(os.environ.get("GOVERN_CONTAINMENT_VERIFY_HOURS", "24"))
# Policy backtests on PostgreSQL split the sessions into this many shards, each sorted on
# its own database connection (and so its own PostgreSQL process and core).
GOVERN_BACKTEST_PARALLEL = int(
    os.environ.get("GOVERN_BACKTEST_PARALLEL", str(min(4, os.cpu_count() or 1)))
)
# Base URL used in links sent by email/webhook ("was this you?").
GOVERN_BASE_URL = os.environ.get("GOVERN_BASE_URL", "http://127.0.0.1:8000")

# --- REST API (govern/api) --------------------------------------------------------------
# Token-authenticated JSON under /api/v1/, rate-limited per token through the cache above.
GOVERN_API_RATE = os.environ.get("GOVERN_API_RATE", "600/min")
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.TokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_THROTTLE_CLASSES": ["govern.api.throttling.TokenRateThrottle"],
    "DEFAULT_SCHEMA_CLASS": "govern.api.schema.ApiAutoSchema",
    "DEFAULT_PAGINATION_CLASS": "govern.api.pagination.ApiPagination",
    "EXCEPTION_HANDLER": "govern.api.exceptions.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "govern API",
    "DESCRIPTION": "Triage alerts and request and approve session revocations. "
    "Authenticate with `Authorization: Token <key>`.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {"StageEnum": "alerts_app.models.alerts.Stage"},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
