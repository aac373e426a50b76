"""Production settings refuse insecure defaults; `check --deploy` is clean when configured."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROD_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "k" * 30 + "-production-secret-value-0123456789",
    "GOVERN_SECRETS_KEY": "wJ1JmYk3dY7qQ3u0ZlXq0wT3h6Z2mH3yq4oFv2X1b5c=",
    "ALLOWED_HOSTS": "govern.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://govern.example.com",
}


def run_manage(*args: str, env: dict) -> subprocess.CompletedProcess:
    # DJANGO_ALLOW_ASYNC_UNSAFE: set by the browser tests in this process; a deployment must
    # not have it (check --deploy says so), and it is not part of what is checked here.
    unset = {"DEBUG", "SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    base = {k: v for k, v in os.environ.items() if k not in unset}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_missing_secret_key_is_a_clear_startup_error():
    env = {**PROD_ENV, "SECRET_KEY": ""}
    result = run_manage("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_missing_secrets_key_is_a_clear_startup_error():
    result = run_manage("check", env={**PROD_ENV, "GOVERN_SECRETS_KEY": ""})
    assert result.returncode != 0
    assert "GOVERN_SECRETS_KEY is not set" in result.stderr


def test_check_deploy_reports_nothing_with_production_settings():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=PROD_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
