"""Agora settings, read from the environment (12-factor).

Every default serves `make run` on a bare machine: SQLite under var/, a Celery broker that
needs no server, a secret key generated into var/ on first run, plain-text logs, plain HTTP.
Production sets DATABASE_URL, CELERY_BROKER_URL, SECRET_KEY, ALLOWED_HOSTS, the SECURE_*
variables and LOG_FORMAT=json; docker/.env.example lists every variable with one line each.
"""

import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env") if (BASE_DIR / ".env").exists() else None

VAR_DIR = Path(env.str("AGORA_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env.bool("DEBUG", default=False)


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one generated once and kept in var/."""
    if key := env.str("SECRET_KEY", default=""):
        return key
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(50))
    return path.read_text().strip()


SECRET_KEY = _secret_key()
if not DEBUG and SECRET_KEY.startswith("change-me"):
    # The placeholder of docker/.env.example is public: sessions signed with it can be forged.
    raise ImproperlyConfigured("SECRET_KEY is still the example's placeholder; set a random one")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# HTTPS. Off by default so `make run` and the tests speak plain HTTP; production turns each on
# (`manage.py check --deploy` says which are missing). Behind a proxy that terminates TLS,
# TRUST_X_FORWARDED_PROTO=1 lets Django see the original scheme; the proxy must then set
# (never pass through) X-Forwarded-Proto.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
if env.bool("TRUST_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    # Login rate limiting: failed attempts per username and address, in the database.
    "axes",
    "annotation",
    "generation",
    "exports",
]

MIDDLEWARE = [
    # First: the request id and the request's duration cover everything below.
    "webapp.logging.RequestLogMiddleware",
    # Before SecurityMiddleware and CommonMiddleware: probes skip host checks and redirects.
    "webapp.health.HealthCheckMiddleware",
    # NUL bytes refused with 400, a lost database answered with 503 + Retry-After, the CSP.
    "webapp.middleware.RequestGuardMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The page's language from Accept-Language; the annotator's profile may override it below.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "annotation.language.ProfileLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: turns a locked-out login into 429.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "webapp.urls"
WSGI_APPLICATION = "webapp.wsgi.application"
ASGI_APPLICATION = "webapp.asgi.application"

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
            ],
            "builtins": ["annotation.templatetags.agora"],
        },
    }
]

# An empty DATABASE_URL or CELERY_BROKER_URL means the default, as every variable left empty
# in docker/.env.example does.
DATABASES = {
    "default": env.db_url_config(
        env.str("DATABASE_URL", default="") or f"sqlite:///{VAR_DIR / 'agora.sqlite3'}"
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # One writer at a time, taken at BEGIN, so concurrent leases queue instead of failing
    # with "database is locked" halfway through a transaction.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    # Off by default: the check is a `SELECT 1` round trip at the start of every request. A
    # connection the server dropped fails its request once with a 503 and Retry-After
    # (RequestGuardMiddleware) and is closed; the next request opens a fresh one.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("CONN_HEALTH_CHECKS", default=False)
    # An unreachable server fails fast (and /readyz with it) instead of hanging a worker.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=5)
    )
    # The annotation loop's statements (annotation/db.py) are prepared on the server after
    # this many runs on a connection. Empty: never (behind a connection pooler in transaction
    # mode that does not track prepared statements).
    prepare_threshold = env.str("DATABASE_PREPARE_THRESHOLD", default="5")
    DATABASES["default"]["OPTIONS"].setdefault(
        "prepare_threshold", int(prepare_threshold) if prepare_threshold else None
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "annotation.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out username and address before the password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Login rate limit: AXES_FAILURE_LIMIT failures of one username from one address lock that
# pair for AXES_COOLOFF_MINUTES (annotators behind one NAT do not lock each other out).
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "webapp.errors.locked_out"
AXES_USERNAME_CALLABLE = "webapp.errors.axes_username"
AXES_VERBOSE = False
if env.bool("TRUST_X_FORWARDED_PROTO", default=False):
    # Behind the proxy, the client's address is the last one it appended.
    AXES_IPWARE_META_PRECEDENCE_ORDER = ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"]
    AXES_IPWARE_PROXY_COUNT = 1
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
# The annotator's pages are translated (locale/<lang>/LC_MESSAGES, compiled .mo committed).
LANGUAGES = [("en", "English"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
MEDIA_ROOT = VAR_DIR / "media"
EXPORTS_DIR = Path(env.str("AGORA_EXPORTS_DIR", default=str(VAR_DIR / "exports")))


def _exports_storage() -> dict[str, Any]:
    """Where export files go: EXPORTS_DIR, or a bucket when AGORA_EXPORTS_S3_BUCKET is set.

    Any S3-compatible store works (AWS, MinIO, Ceph, R2...) through django-storages. Keys left
    unset fall back to boto3's own chain (AWS_* variables, an instance role).
    """
    bucket = env.str("AGORA_EXPORTS_S3_BUCKET", default="")
    if not bucket:
        return {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": EXPORTS_DIR, "base_url": None},
        }
    options: dict[str, Any] = {
        "bucket_name": bucket,
        "location": env.str("AGORA_EXPORTS_S3_PREFIX", default="exports"),
        "default_acl": None,
        "file_overwrite": False,
        # Downloads go through short-lived signed URLs; the bucket stays private.
        "querystring_auth": True,
        "querystring_expire": env.int("AGORA_EXPORTS_S3_URL_EXPIRE", default=3600),
        # Signature V4: what current AWS regions and S3-compatible stores accept.
        "signature_version": "s3v4",
    }
    for option, variable in (
        ("endpoint_url", "AGORA_EXPORTS_S3_ENDPOINT_URL"),
        ("region_name", "AGORA_EXPORTS_S3_REGION"),
        ("access_key", "AGORA_EXPORTS_S3_ACCESS_KEY_ID"),
        ("secret_key", "AGORA_EXPORTS_S3_SECRET_ACCESS_KEY"),
    ):
        if value := env.str(variable, default=""):
            options[option] = value
    return {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options}


STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
    # Export files: `django.core.files.storage.storages["exports"]`.
    "exports": _exports_storage(),
}
WHITENOISE_USE_FINDERS = DEBUG

DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=5 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = DATA_UPLOAD_MAX_MEMORY_SIZE

if not DEBUG:
    SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=False)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# The pages send the CSRF token from the page (hx-headers, form fields), never from script
# reading the cookie.
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# No inline script anywhere (static files only), so an injected <script> or onerror= cannot
# run even if escaping ever failed. Inline styles stay allowed: the dashboard's bars and
# charts size themselves with style attributes. Sent by webapp.middleware.RequestGuardMiddleware.
_DEFAULT_CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
# Empty (as in docker/.env.example) means Agora's own policy above.
CONTENT_SECURITY_POLICY = env.str("CONTENT_SECURITY_POLICY", default="") or _DEFAULT_CSP

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "annotation.api.authentication.CachedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "webapp.middleware.UntrustedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "annotation.api.errors.exception_handler",
    # The API speaks JSON only: no negotiation to run on every request.
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "webapp.middleware.JsonOnlyNegotiation",
    "UNAUTHENTICATED_USER": None,
    # `?format=` names an export format, not a renderer.
    "URL_FORMAT_OVERRIDE": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Agora API",
    "DESCRIPTION": (
        "Collect human preference judgments and export them as training-ready datasets. "
        "Authenticate with `Authorization: Token <key>`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "webapp.schema.common_errors",
    ],
}

# Celery: a broker that needs no server by default (messages as files under var/), Redis or
# RabbitMQ in production. Pages and the API never need the broker to be up.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or "filesystem://"
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue_dir = VAR_DIR / "celery" / "queue"
    _queue_dir.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(VAR_DIR / "celery" / "processed"),
        "control_folder": str(VAR_DIR / "celery" / "control"),
        "store_processed": False,
    }
# A broker that is down fails a send within about two seconds (webapp/queueing.py keeps the
# work in the database for the sweeper) instead of holding the web request.
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=2.0)
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "socket_connect_timeout": 2,
        # A task taken by a worker that then died without a word (SIGKILL, a lost node) is
        # handed out again after this many seconds. A task still running then gets a second
        # delivery, which does nothing (its job is claimed and beating).
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
        # How often a worker looks for such tasks: every interval x throttle seconds.
        "unacked_restore_interval": env.int("CELERY_UNACKED_RESTORE_INTERVAL", default=10),
        "unacked_restore_throttle": env.int("CELERY_UNACKED_RESTORE_THROTTLE", default=10),
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 60 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 55 * 60
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {"exports.tasks.*": {"queue": "exports"}}
CELERY_BEAT_SCHEDULE = {
    "expire-leases": {"task": "annotation.tasks.leases_expire_task", "schedule": 60.0},
    "top-up-generation-buffers": {
        "task": "generation.tasks.generation_buffers_task",
        "schedule": 30.0,
    },
    # Work whose message never reached the broker, or was lost there, is sent again; work
    # whose worker died is sent again or failed (webapp/queueing.py).
    "resend-generation-requests": {
        "task": "generation.tasks.generation_requests_resend_task",
        "schedule": 60.0,
    },
    "resend-export-jobs": {"task": "exports.tasks.export_jobs_resend_task", "schedule": 60.0},
    # Annotator quality of large campaigns, kept for the quality page (services.statistics).
    "refresh-quality": {
        "task": "annotation.tasks.quality_refresh_task",
        "schedule": env.float("AGORA_QUALITY_REFRESH_SECONDS", default=300.0),
    },
    "refresh-active-routing": {
        "task": "annotation.tasks.task_priorities_refresh_task",
        "schedule": 60.0,
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Task events for `celery -A webapp events` or Flower (which can also switch them on at run
# time); off by default, since every task then sends extra messages.
CELERY_WORKER_SEND_TASK_EVENTS = env.bool("CELERY_WORKER_SEND_TASK_EVENTS", default=False)
CELERY_TASK_SEND_SENT_EVENT = env.bool("CELERY_TASK_SEND_SENT_EVENT", default=False)

# Readiness (/readyz): seconds each check may take.
READYZ_TIMEOUT = env.float("READYZ_TIMEOUT", default=2.0)

# Logs go to stderr: plain text for people (`make run`), or one JSON object a line for a log
# pipeline (LOG_FORMAT=json), with a line per HTTP request and per Celery task (LOG_REQUESTS,
# on by default with JSON). See webapp/logging.py.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, not {LOG_FORMAT!r}")
LOG_REQUESTS = env.bool("LOG_REQUESTS", default=LOG_FORMAT == "json")
_event_level = "INFO" if LOG_REQUESTS else "WARNING"
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "webapp.logging.JsonFormatter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            **({"formatter": "json"} if LOG_FORMAT == "json" else {}),
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "agora.request": {"level": _event_level},
        "agora.task": {"level": _event_level},
    },
}
if LOG_FORMAT == "json":
    LOGGING["loggers"].update(
        {
            # runserver's own access line and Celery's "Task ... succeeded" say what the
            # request and task lines say; their warnings and errors still come through.
            "django.server": {"handlers": ["console"], "level": "WARNING", "propagate": False},
            "celery.app.trace": {"level": "WARNING" if LOG_REQUESTS else "INFO"},
            # A worker gives its task logger a plain handler of its own; send it to the root.
            "celery.task": {"handlers": [], "propagate": True},
        }
    )

# Agora's own knobs.
# OpenAI-compatible endpoints a model may use (exact base URLs, comma separated); any other
# base URL is refused before a request is made. API keys come from the environment only.
AGORA_OPENAI_ALLOWED_BASE_URLS = env.list("AGORA_OPENAI_ALLOWED_BASE_URLS", default=[])
# A campaign with up to this many judgments has its quality page computed as it is served;
# a larger one shows the last result of the periodic quality task (services.statistics).
AGORA_STATISTICS_LIVE_JUDGMENTS = env.int("AGORA_STATISTICS_LIVE_JUDGMENTS", default=20_000)
AGORA_EXPORT_BATCH_SIZE = env.int("AGORA_EXPORT_BATCH_SIZE", default=1000)
AGORA_IMPORT_MAX_LINES = env.int("AGORA_IMPORT_MAX_LINES", default=100_000)
# A prompt file larger than this is refused whole, with a clear error (uploads are read
# into memory to be checked line by line before anything is stored).
AGORA_IMPORT_MAX_BYTES = env.int("AGORA_IMPORT_MAX_BYTES", default=50_000_000)
# The largest file a message may carry (an image, audio or video), in bytes.
AGORA_ATTACHMENT_MAX_BYTES = env.int("AGORA_ATTACHMENT_MAX_BYTES", default=5 * 1024 * 1024)
# What the sweepers (`*_resend_task`, webapp/queueing.py) count as lost, in seconds. A job
# still queued this long after the broker took its message is sent again (Redis restarted
# without persistence loses its messages); keep it above the longest wait in a queue, since
# each resend of work still waiting adds a message (which does nothing when it arrives).
AGORA_QUEUE_RESEND_AFTER = env.float("AGORA_QUEUE_RESEND_AFTER", default=15 * 60)
# A running job writes a heartbeat this often; one silent for AGORA_WORKER_LOST_AFTER lost
# its worker and is sent again, or failed with an error once it has been started
# AGORA_JOB_MAX_ATTEMPTS times.
AGORA_HEARTBEAT_SECONDS = env.float("AGORA_HEARTBEAT_SECONDS", default=30)
AGORA_WORKER_LOST_AFTER = env.float("AGORA_WORKER_LOST_AFTER", default=5 * 60)
AGORA_JOB_MAX_ATTEMPTS = env.int("AGORA_JOB_MAX_ATTEMPTS", default=3)
if not 0 < 2 * AGORA_HEARTBEAT_SECONDS < AGORA_WORKER_LOST_AFTER:
    raise ImproperlyConfigured(
        "AGORA_WORKER_LOST_AFTER must exceed two AGORA_HEARTBEAT_SECONDS, or a live worker's "
        "job would be taken from it"
    )
if AGORA_JOB_MAX_ATTEMPTS < 1 or AGORA_QUEUE_RESEND_AFTER <= 0:
    raise ImproperlyConfigured("AGORA_JOB_MAX_ATTEMPTS and AGORA_QUEUE_RESEND_AFTER must be > 0")
