from celery import shared_task

from annotation import services


@shared_task(name="annotation.tasks.leases_expire_task", ignore_result=True)
def leases_expire_task() -> int:
    """Hand expired leases back (leasing also does this lazily; this keeps counts honest)."""
    return services.leases_expire()


@shared_task(name="annotation.tasks.task_priorities_refresh_task", ignore_result=True)
def task_priorities_refresh_task() -> int:
    """Re-plan active routing (which comparisons to serve next) for the campaigns using it."""
    return services.campaigns_priorities_refresh()


@shared_task(name="annotation.tasks.quality_refresh_task", ignore_result=True)
def quality_refresh_task() -> int:
    """Recompute annotator quality for the campaigns whose judgments changed (the page shows
    the last result and its age)."""
    return services.quality_refresh_due()
