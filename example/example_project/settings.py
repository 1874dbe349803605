"""Settings of the example project: a chat and a kanban board served live over GraphQL.

Defaults suit local development (SQLite, in-memory channel layer, GraphiQL); the
environment can point it at PostgreSQL with ``DATABASE_URL`` and harden it with
``DJANGO_DEBUG=0``, ``DJANGO_SECRET_KEY`` and ``DJANGO_ALLOWED_HOSTS``.
"""

import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

BASE_DIR = Path(__file__).resolve().parent.parent


def _env_flag(name: str, default: bool) -> bool:
    """Read a boolean from the environment ("1", "true", "yes", "on" are true)."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def postgres_database(url: str) -> dict[str, Any]:
    """Django's DATABASES entry for a ``postgres://user:password@host:port/name`` URL."""
    parts = urlparse(url)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
        "NAME": unquote(parts.path.lstrip("/")),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
    }


def _database_from_env() -> dict[str, Any]:
    """PostgreSQL or another SQLite file when ``DATABASE_URL`` names one, SQLite next to manage.py otherwise.

    ``sqlite:////abs/path.sqlite3`` (the end-to-end tests use a fresh file per run).
    """
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        return postgres_database(url)
    if url.startswith("sqlite:///"):
        return sqlite_database(unquote(url.removeprefix("sqlite:///")))
    return sqlite_database(BASE_DIR / "db.sqlite3")


def sqlite_database(name: str | Path) -> dict[str, Any]:
    """SQLite set up for concurrent writers (HTTP, websocket actions, the admin, management commands).

    WAL lets readers go on while one connection writes; ``BEGIN IMMEDIATE`` takes the write lock when a
    transaction starts, so a writer waits for it (up to the busy timeout) instead of failing with
    "database is locked" when a read transaction later tries to write.
    """
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": name,
        "OPTIONS": {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,  # seconds a connection waits for the write lock
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    }


DEBUG = _env_flag("DJANGO_DEBUG", True)
SECRET_KEY = os.environ.get(
    "DJANGO_SECRET_KEY", "django-insecure-rxgraphql-example-only-for-local-development"
)
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"] + [
    host.strip() for host in os.environ.get("DJANGO_ALLOWED_HOSTS", "").split(",") if host.strip()
]

INSTALLED_APPS = [
    "rxgraphql",  # before daphne: its runserver adds --makefrontend to daphne's ASGI runserver
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "strawberry_django",
    "chat",
    "board",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "example_project.urls"
ASGI_APPLICATION = "example_project.asgi.application"

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
            ],
        },
    },
]

DATABASES = {"default": _database_from_env()}

CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
}

# The browser app and GraphiQL built by `npm run build` in frontend/ (scripts/example does it first):
# dist/index.html is served at / (and the app's paths), dist/assets/ at /assets/.
FRONTEND_DIST = Path(os.environ.get("EXAMPLE_FRONTEND_DIST", str(BASE_DIR / "frontend" / "dist")))
_LOCAL_GRAPHIQL = FRONTEND_DIST / "graphiql.html"

RXGRAPHQL = {
    "QUERY": "example_project.schema.Query",
    "MUTATION": "example_project.schema.Mutation",
    # strawberry-django's optimizer: the `cards` list joins and prefetches what a query selects.
    "EXTENSIONS": ["strawberry_django.optimizer.DjangoOptimizerExtension"],
    # The demo keeps GraphiQL and introspection on even with DEBUG off; both follow DEBUG when unset.
    "GRAPHIQL": True,
    "INTROSPECTION": True,
    # `npm run dev` (Vite on :5173) proxies /graphql with its own origin; allowed in development only.
    "ALLOWED_ORIGINS": ["http://localhost:5173", "http://127.0.0.1:5173"] if DEBUG else None,
    # GraphiQL bundled from npm (no CDN) once the frontend is built; strawberry's CDN page otherwise.
    "GRAPHIQL_HTML": str(_LOCAL_GRAPHIQL) if _LOCAL_GRAPHIQL.exists() else None,
    "FRONTEND_DIR": os.environ.get(
        "RXGRAPHQL_FRONTEND_DIR", str(BASE_DIR / "frontend" / "src" / "generated")
    ),
    # The shared backends (several processes), e.g. from scripts/example-cluster; embedded when unset.
    "REDIS_URL": os.environ.get("RXGRAPHQL_REDIS_URL") or None,
    "MONGO_URL": os.environ.get("RXGRAPHQL_MONGO_URL") or None,
}

# strawberry-django's pagination: 20 cards a page unless asked, never more than 100.
STRAWBERRY_DJANGO = {"PAGINATION_DEFAULT_LIMIT": 20, "PAGINATION_MAX_LIMIT": 100}

AUTH_PASSWORD_VALIDATORS: list[dict[str, str]] = []

LOGIN_URL = "/admin/login/"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
