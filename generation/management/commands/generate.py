from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from annotation.management.arguments import campaign_from_arg
from generation.backends import BackendError
from generation.models import GenerationRequest, LanguageModel
from generation.services import generation_requests_for_campaign, generation_run


class Command(BaseCommand):
    help = (
        "Generate candidates for every prompt of a campaign still short of them. By default the "
        "requests go to the workers; --here runs them in this process with a progress bar."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--campaign", required=True, help="Campaign id or slug.")
        parser.add_argument("--models", help="Comma-separated model names (default: the "
                            "campaign's enabled models).")  # fmt: skip
        parser.add_argument("--n", type=int, help="Replies per model and prompt.")
        parser.add_argument("--limit", type=int, help="At most this many prompts.")
        parser.add_argument("--here", action="store_true", help="Run here, not on workers.")

    def handle(self, *args, **opts) -> None:
        campaign = campaign_from_arg(opts["campaign"])
        models = None
        if opts["models"]:
            names = [n.strip() for n in opts["models"].split(",") if n.strip()]
            models = list(LanguageModel.objects.filter(name__in=names))
            missing = set(names) - {m.name for m in models}
            if missing:
                raise CommandError(f"No model named {', '.join(sorted(missing))}.")
        try:
            requests = generation_requests_for_campaign(
                campaign=campaign, models=models, n=opts["n"], limit=opts["limit"],
                enqueue=not opts["here"],
            )  # fmt: skip
        except BackendError as e:
            raise CommandError(str(e)) from e
        if not opts["here"]:
            self.stdout.write(f"Queued {len(requests)} generation requests.")
            return
        failed = 0
        for request in tqdm(requests, desc="generating", unit="request"):
            try:
                done = generation_run(request_id=request.id)
            except BackendError as e:
                failed += 1
                GenerationRequest.objects.filter(id=request.id).update(
                    state=GenerationRequest.State.FAILED, error=str(e)
                )
                continue
            if done.state != GenerationRequest.State.DONE:
                failed += 1
        self.stdout.write(f"Generated {len(requests) - failed} requests, {failed} failed.")
