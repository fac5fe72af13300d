from celery import shared_task

from . import services

# An export of tens of millions of judgments takes minutes; these limits only catch a hang.
EXPORT_SOFT_TIME_LIMIT = 2 * 60 * 60
EXPORT_TIME_LIMIT = EXPORT_SOFT_TIME_LIMIT + 5 * 60


@shared_task(
    name="exports.tasks.export_job_run_task",  # routed to the `exports` queue by its name
    ignore_result=True,
    acks_late=True,
    soft_time_limit=EXPORT_SOFT_TIME_LIMIT,
    time_limit=EXPORT_TIME_LIMIT,
)
def export_job_run_task(job_id: int) -> None:
    """Write an export job's file; a second delivery of the same job does nothing."""
    services.export_job_run(job_id=job_id)


@shared_task(name="exports.tasks.export_jobs_resend_task", ignore_result=True)
def export_jobs_resend_task() -> int:
    """Send again the export jobs that could not be sent while the broker was down (beat).

    It runs on the `exports` queue like every exports task; what it sends goes there too."""
    return services.export_jobs_resend()
