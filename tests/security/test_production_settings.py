"""Production settings (docker/.env.example as an operator fills it in): `check --deploy`
clean, cookies secure and out of scripts' reach, the CSP sent, logins limited, and the
secret key from the environment only."""

import json
import secrets

from tests.production.helpers import env_example, run_agora, run_django


def _production(tmp_path) -> dict[str, str]:
    env = env_example()
    env.update(SECRET_KEY=secrets.token_urlsafe(50), AGORA_VAR_DIR=str(tmp_path),
               AGORA_EXPORTS_DIR=str(tmp_path / "exports"))  # fmt: skip
    return env


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    result = run_agora(["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                       var_dir=tmp_path, env=_production(tmp_path))  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_cookies_csp_and_login_limit(tmp_path):
    code = """
import json
from django.conf import settings as s
print(json.dumps({
    "session_secure": s.SESSION_COOKIE_SECURE, "csrf_secure": s.CSRF_COOKIE_SECURE,
    "session_httponly": s.SESSION_COOKIE_HTTPONLY, "csrf_httponly": s.CSRF_COOKIE_HTTPONLY,
    "csp": s.CONTENT_SECURITY_POLICY, "hsts": s.SECURE_HSTS_SECONDS,
    "ssl_redirect": s.SECURE_SSL_REDIRECT, "axes": "axes" in s.INSTALLED_APPS,
    "backend": s.AUTHENTICATION_BACKENDS[0], "debug": s.DEBUG, "key": s.SECRET_KEY,
}))
"""
    env = _production(tmp_path)
    result = run_django(code, var_dir=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    got = json.loads(result.stdout.strip().splitlines()[-1])
    assert got["session_secure"] and got["csrf_secure"]
    assert got["session_httponly"] and got["csrf_httponly"]
    assert (
        "script-src 'self'" in got["csp"]
        and "unsafe-inline" not in got["csp"].split("script-src")[1].split(";")[0]
    )
    assert got["hsts"] > 0 and got["ssl_redirect"] and not got["debug"]
    assert got["axes"] and got["backend"] == "axes.backends.AxesStandaloneBackend"
    assert got["key"] == env["SECRET_KEY"]  # from the environment, as given
    assert not (tmp_path / "secret_key").exists()  # nothing generated beside it


def test_no_secret_is_written_in_the_code():
    """Settings read every secret from the environment: none of the variables that hold one
    has a literal default."""
    from pathlib import Path

    text = Path("webapp/settings.py").read_text()
    for name in ("SECRET_KEY", "DATABASE_URL"):
        assert f'env.str("{name}", default=""' in text or f'env.str("{name}")' in text, name
