import os

from celery import Celery

from webapp.logging import celery_signals_connect

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")

app = Celery("agora")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# One log line per task, request ids handed from web requests to their tasks, JSON logs in
# workers when LOG_FORMAT=json.
celery_signals_connect()
