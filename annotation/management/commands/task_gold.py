from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotation.errors import RuleError
from annotation.management.arguments import campaign_from_arg
from annotation.services.gold import task_gold_set
from webapp.untrusted import form_int, json_parse


class Command(BaseCommand):
    help = (
        "Set or clear one task's gold answer, in its message ids as the kind's payload gives "
        'it: \'{"outcome": "preferred", "preferred": 12}\', \'{"outcome": "tie"}\', '
        "'{\"ranking\": [13, 12]}', '{\"label\": true}'. Gold can also come with the prompts "
        "(a gold field on an import line)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("campaign", help="Campaign id or slug.")
        parser.add_argument("task", help="The task's id.")
        parser.add_argument("gold", nargs="?", default=None, help="The gold answer as JSON.")
        parser.add_argument("--clear", action="store_true", help="Remove the task's gold.")

    def handle(self, *args, **opts) -> None:
        campaign = campaign_from_arg(opts["campaign"])
        task_id = form_int(opts["task"])
        if task_id is None:
            raise CommandError(f"Not a task id: {opts['task']!r}.")
        if opts["clear"] == (opts["gold"] is not None):
            raise CommandError("Give a gold answer as JSON, or --clear.")
        try:
            gold = None if opts["clear"] else json_parse(opts["gold"], field="gold", max_depth=4)
            task = task_gold_set(campaign=campaign, task_id=task_id, gold=gold)
        except RuleError as e:
            where = f"{e.field}: " if e.field and not e.message.startswith(e.field) else ""
            raise CommandError(where + e.message) from None
        self.stdout.write(f"Task {task.id}: gold {'cleared' if task.gold is None else task.gold}.")
