"""Production settings from the environment: `check --deploy`, exports storage, task events."""

from __future__ import annotations

import json
import secrets

from django.conf import settings
from django.core.files.storage import FileSystemStorage, storages

from tests.production.helpers import env_example, run_agora, run_django
from webapp.celery import app as celery_app

CHECK_DEPLOY = ["manage.py", "check", "--deploy", "--fail-level", "WARNING"]


def _production_env(tmp_path) -> dict[str, str]:
    """docker/.env.example as an operator fills it in: a real key, local paths."""
    env = env_example()
    env.update(
        SECRET_KEY=secrets.token_urlsafe(50),
        AGORA_VAR_DIR=str(tmp_path),
        AGORA_EXPORTS_DIR=str(tmp_path / "exports"),
    )
    return env


def test_production_settings_pass_check_deploy(tmp_path):
    result = run_agora(CHECK_DEPLOY, var_dir=tmp_path, env=_production_env(tmp_path))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_names_what_a_bare_production_setup_lacks(tmp_path):
    # DEBUG off and a real key, nothing else: the SECURE_* variables are what is missing.
    env = {"DEBUG": "0", "SECRET_KEY": secrets.token_urlsafe(50)}

    result = run_agora(CHECK_DEPLOY, var_dir=tmp_path, env=env)

    assert result.returncode != 0
    for check in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert check in result.stderr, check


def test_it_refuses_the_example_secret_key_with_debug_off(tmp_path):
    env = _production_env(tmp_path) | {"SECRET_KEY": env_example()["SECRET_KEY"]}

    result = run_agora(["manage.py", "check"], var_dir=tmp_path, env=env)

    assert result.returncode != 0
    assert "SECRET_KEY is still the example's placeholder" in result.stderr


def test_it_refuses_an_unknown_log_format(tmp_path):
    result = run_agora(["manage.py", "check"], var_dir=tmp_path, env={"LOG_FORMAT": "xml"})

    assert result.returncode != 0
    assert "LOG_FORMAT must be plain or json" in result.stderr


def test_exports_go_to_a_local_folder_by_default():
    storage = storages["exports"]

    assert isinstance(storage, FileSystemStorage)
    assert storage.location == str(settings.EXPORTS_DIR)


def test_exports_folder_follows_agora_exports_dir(tmp_path):
    code = """
from django.core.files.base import ContentFile
from django.core.files.storage import storages
print(storages["exports"].save("campaign-1/preference.jsonl", ContentFile(b'{"a": 1}\\n')))
"""
    result = run_django(code, var_dir=tmp_path, env={"AGORA_EXPORTS_DIR": str(tmp_path / "out")})

    assert result.returncode == 0, result.stderr
    name = result.stdout.strip()
    assert (tmp_path / "out" / name).read_bytes() == b'{"a": 1}\n'


def test_exports_go_to_an_s3_bucket_when_one_is_named(tmp_path):
    # Building the storage and signing a download link happen locally: nothing is sent.
    code = """
import json
from django.core.files.storage import storages
s = storages["exports"]
print(json.dumps({"class": f"{type(s).__module__}.{type(s).__name__}",
                  "bucket": s.bucket_name, "endpoint": s.endpoint_url, "prefix": s.location,
                  "url": s.url("campaign-1/preference.jsonl")}))
"""
    env = {
        "AGORA_EXPORTS_S3_BUCKET": "agora-exports",
        "AGORA_EXPORTS_S3_ENDPOINT_URL": "http://127.0.0.1:9000",
        "AGORA_EXPORTS_S3_REGION": "us-east-1",
        "AGORA_EXPORTS_S3_ACCESS_KEY_ID": "test-access-key",
        "AGORA_EXPORTS_S3_SECRET_ACCESS_KEY": "test-secret-key",
        "AGORA_EXPORTS_S3_PREFIX": "agora/exports",
    }

    result = run_django(code, var_dir=tmp_path, env=env)

    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["class"] == "storages.backends.s3.S3Storage"
    assert (answer["bucket"], answer["endpoint"], answer["prefix"]) == (
        "agora-exports",
        "http://127.0.0.1:9000",
        "agora/exports",
    )
    # A private bucket: downloads are signed, short-lived links.
    assert answer["url"].startswith(
        "http://127.0.0.1:9000/agora-exports/agora/exports/campaign-1/preference.jsonl?"
    )
    assert "X-Amz-Signature=" in answer["url"] and "X-Amz-Expires=3600" in answer["url"]


def test_task_events_are_off_by_default_and_follow_the_environment(tmp_path):
    assert celery_app.conf.worker_send_task_events is False
    assert celery_app.conf.task_send_sent_event is False

    code = """
from webapp.celery import app
print(app.conf.worker_send_task_events, app.conf.task_send_sent_event)
"""
    env = {"CELERY_WORKER_SEND_TASK_EVENTS": "1", "CELERY_TASK_SEND_SENT_EVENT": "1"}
    result = run_django(code, var_dir=tmp_path, env=env)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True"]
