from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "exports"
    verbose_name = "Exports"

    def ready(self) -> None:
        from annotation.signals import consent_withdrawn

        from .services import export_jobs_supersede

        consent_withdrawn.connect(
            export_jobs_supersede, weak=False, dispatch_uid="exports.export_jobs_supersede"
        )
