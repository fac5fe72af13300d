from celery import shared_task

from generation import services
from generation.backends import BackendError

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


@shared_task(name="generation.tasks.generation_buffers_task", ignore_result=True)
def generation_buffers_task() -> int:
    """Top up every open campaign's buffer of generated tasks (run by beat)."""
    return services.generation_buffers_top_up()


@shared_task(name="generation.tasks.generation_requests_resend_task", ignore_result=True)
def generation_requests_resend_task() -> int:
    """Send again what could not be sent while the broker was down (run by beat)."""
    return services.generation_requests_resend()
