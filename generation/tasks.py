from celery import shared_task

from . import services
from .backends import BackendError

MAX_RETRIES = 3


@shared_task(
    bind=True,
    name="generation.tasks.generate_candidates_task",
    acks_late=True,
    max_retries=MAX_RETRIES,
    ignore_result=True,
)
def generate_candidates_task(self, request_id: int) -> None:
    """Run one generation request; retry with backoff, then mark it failed with the error."""
    try:
        services.generation_run(request_id=request_id)
    except Exception as e:
        permanent = isinstance(e, BackendError) and not e.transient
        if not permanent and self.request.retries < self.max_retries:
            raise self.retry(exc=e, countdown=2 ** (self.request.retries + 1)) from e
        services.generation_fail(request_id=request_id, error=f"{type(e).__name__}: {e}")
