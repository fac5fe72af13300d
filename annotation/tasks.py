from celery import shared_task

from . import services


@shared_task(name="annotation.tasks.leases_expire_task", ignore_result=True)
def leases_expire_task() -> int:
    """Hand expired leases back (leasing also does this lazily; this keeps counts honest)."""
    return services.leases_expire()
