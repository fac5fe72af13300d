"""Every way out of Agora for data: rows of a format, written to a container, directly or as an
export job on a worker. The API, the CLI, the Python helper and the tests call these."""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from django.core.files import File
from django.core.files.storage import FileSystemStorage, storages
from django.db import transaction
from django.http import FileResponse, HttpResponseBase, HttpResponseRedirect
from django.utils import timezone

from annotation.errors import Conflict, Gone, NotFound, RuleError
from annotation.models import Campaign, User
from webapp.queueing import claim_fields, claim_q, heartbeat, mark_enqueued, rows_resend, task_send

from .card import ConfigInfo, RowFacts, card_render
from .formats import FORMATS, Format, kinds_check
from .formats.context import ExportContext, prompts_have_images
from .formats.spec import either, plain
from .models import ExportJob
from .options import COMMON, ExportOptions, container_check, options_parse
from .writers import features_yaml, jsonl_lines, write_jsonl, write_parquet, write_parquet_shards

logger = logging.getLogger(__name__)

EXTENSIONS = {"jsonl": ".jsonl", "parquet": ".parquet", "hf": ""}


@dataclass(frozen=True)
class ExportPlan:
    """A checked request: the format, the tables to write and the options."""

    format: Format
    container: str
    tables: tuple[str, ...]
    options: ExportOptions


def export_plan(
    *,
    campaign: Campaign,
    fmt: str,
    container: str = "jsonl",
    options: ExportOptions | Mapping[str, Any] | None = None,
    all_tables: bool = False,
) -> ExportPlan:
    """Check a request before any row is written, so that a stream never breaks off with an
    error halfway: the format, the container, the options and the table."""
    try:
        format_ = FORMATS[fmt]
    except KeyError:
        raise RuleError(
            f"Unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}.", field="format"
        ) from None
    container = container_check(container)
    opts = options if isinstance(options, ExportOptions) else options_parse(options)
    for name in opts.as_dict():
        if name not in COMMON and name not in format_.options:
            raise RuleError(f"The option {name} does not apply to the {fmt} format.", field=name)
    if opts.table is not None and opts.table not in format_.tables:
        raise RuleError(
            f"The {fmt} format has the tables {', '.join(format_.tables)}.", field="table"
        )
    opts = export_options_for(campaign=campaign, format_=format_, options=opts)
    typed = tuple(name for name, t in format_.tables.items() if t.schema is not None)
    default = format_.table_for(container, None)
    if opts.table is not None:
        tables: tuple[str, ...] = (opts.table,)
    elif container == "hf":
        tables = typed
    elif default is not None:
        tables = (default,)
    elif all_tables:
        tables = tuple(format_.tables) if container == "jsonl" else typed
    else:
        raise RuleError(
            f"The {fmt} format has several tables; choose one with table="
            f"{'|'.join(format_.tables)} (or export it as a dataset folder).",
            field="table",
        )
    for table in tables:
        if container != "jsonl" and format_.tables[table].schema is None:
            raise RuleError(
                f"The {fmt} table {table} nests without a fixed depth and is written as JSON "
                f"Lines only; for {container}, choose table={'|'.join(typed)}.",
                field="table",
            )
    ctx = ExportContext(campaign, opts)
    kinds_check(ctx, format_, tables)
    if format_.check is not None:
        format_.check(ctx)
    return ExportPlan(format_, container, tables, opts)


def export_options_for(
    *, campaign: Campaign, format_: Format, options: ExportOptions
) -> ExportOptions:
    """The options as the campaign settles them: `images` left unsaid is true for a format
    that has the column when the campaign's prompts carry images (TRL's vision layout), and
    stays unsaid (no column) when they never do, so a text campaign's files keep their
    layout."""
    if (
        "images" in format_.options
        and options.images is None
        and prompts_have_images(campaign=campaign)
    ):
        return dataclasses.replace(options, images=True)
    return options


def export_rows(
    *,
    campaign: Campaign,
    fmt: str,
    table: str | None = None,
    progress: Callable[[int], None] | None = None,
    **options: Any,
) -> Iterator[dict[str, Any]]:
    """The rows of one table of a format (checked now, read as they are consumed)."""
    if table is not None:
        options["table"] = table
    plan = export_plan(campaign=campaign, fmt=fmt, options=options)
    return plain(_rows(campaign=campaign, plan=plan, progress=progress))


def _rows(
    *, campaign: Campaign, plan: ExportPlan, progress: Callable[[int], None] | None = None
) -> Iterator[Any]:
    ctx = ExportContext(campaign, plan.options, progress=progress)
    return plan.format.tables[plan.tables[0]].rows(ctx)


def export_jsonl_stream(*, campaign: Campaign, fmt: str, **options: Any) -> Iterator[bytes]:
    """JSON Lines of one table, a line at a time: checked now, and its first row made now, so
    that an export with no rows, or one whose first row cannot be made, is refused before the
    first byte; the rest are read as they are consumed."""
    plan = export_plan(campaign=campaign, fmt=fmt, options=options)
    ctx = ExportContext(campaign, plan.options)
    return jsonl_lines(_rows_or_refuse(ctx, plan, plan.tables[0]))


_NONE: Any = object()


def _rows_first(rows: Iterable[Any]) -> Iterator[Any] | None:
    """The rows, their first already read; None when there are none."""
    it = iter(rows)
    first = next(it, _NONE)
    if first is _NONE:
        return None

    def again() -> Iterator[Any]:
        yield first
        yield from it  # closing this closes the format's generator too

    return again()


def _rows_or_refuse(ctx: ExportContext, plan: ExportPlan, table: str) -> Iterator[Any]:
    rows = _rows_first(plan.format.tables[table].rows_for(ctx, plan.container))
    if rows is None:
        raise _nothing(ctx, plan, table)
    return rows


def _nothing(ctx: ExportContext, plan: ExportPlan, table: str) -> Conflict:
    """Why an export has no rows. No file is written for it: `datasets` loads no split
    without rows, from JSON Lines or Parquet alike."""
    fmt = plan.format
    spec = fmt.tables[table]
    what = f"{fmt.name} format" if len(fmt.tables) == 1 else f"{fmt.name} {table} table"
    why = ""
    if spec.needs:
        n = ctx.judgments_count(spec.needs)
        why = f" ({n} of its {either(spec.needs)} judgments pass the filters)"
    return Conflict(
        f"Nothing to export: the {what} has no rows for this campaign{why}. No file is "
        "written, as `datasets` cannot load one without rows.",
        code="empty",
    )


def export_to_file(*, campaign: Campaign, fmt: str, path: Path, **options: Any) -> int:
    """Write one table as JSON Lines; returns the number of rows."""
    result = export_write(
        campaign=campaign, fmt=fmt, container="jsonl", path=Path(path), options=options
    )
    return result.rows


@dataclass
class ExportResult:
    path: Path  # the file, or the dataset folder
    rows: int  # rows of every table written
    tables: dict[str, int] = field(default_factory=dict)  # rows per table


def export_size(*, campaign: Campaign, plan: ExportPlan) -> int:
    """How many units (judgments, conversations, people) the export reads, for progress."""
    ctx = ExportContext(campaign, plan.options)
    return sum(plan.format.tables[t].size(ctx) for t in plan.tables)


def export_write(
    *,
    campaign: Campaign,
    fmt: str,
    container: str,
    path: Path,
    options: ExportOptions | Mapping[str, Any] | None = None,
    progress: Callable[[int], None] | None = None,
) -> ExportResult:
    """Write an export: a JSON Lines or Parquet file at path, or a dataset folder at path.

    A file is written under a temporary name and renamed when complete, so a reader never
    sees half an export; an export that fails leaves nothing behind.
    """
    plan = export_plan(campaign=campaign, fmt=fmt, container=container, options=options)
    ctx = ExportContext(campaign, plan.options, progress=progress)
    if plan.container == "hf":
        return _write_folder(ctx, plan, Path(path))
    table = plan.format.tables[plan.tables[0]]
    rows_in = _rows_or_refuse(ctx, plan, plan.tables[0])
    part = path.with_name(path.name + ".part")
    try:
        if plan.container == "jsonl":
            with part.open("wb") as f:
                rows = write_jsonl(rows_in, f)
        else:
            assert table.schema is not None
            rows = write_parquet(rows_in, part, table.schema(plan.options)).rows
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, path)
    return ExportResult(path=path, rows=rows, tables={plan.tables[0]: rows})


def _write_folder(ctx: ExportContext, plan: ExportPlan, folder: Path) -> ExportResult:
    """Parquet shards under data/<config>/ and a README.md dataset card."""
    building = folder.with_name(folder.name + ".part")
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    try:
        result = _write_configs(ctx, plan, building, folder)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(building, folder)
    return result


def _write_configs(
    ctx: ExportContext, plan: ExportPlan, building: Path, folder: Path
) -> ExportResult:
    configs = []
    facts = RowFacts()
    empty: list[str] = []
    result = ExportResult(path=folder, rows=0)
    single = len(plan.format.tables) == 1
    for name in plan.tables:
        table = plan.format.tables[name]
        assert table.schema is not None
        schema = table.schema(plan.options)
        config = "default" if single else name
        rows = _rows_first(table.rows_for(ctx, "hf"))
        if rows is None:
            # `datasets` cannot load a config without rows: it is left out, and the card
            # says so.
            empty.append(config)
            continue
        stats = write_parquet_shards(rows, building / "data" / config, schema)
        facts.merge(RowFacts.read(stats.files))
        configs.append(
            ConfigInfo(
                name=config,
                path=f"data/{config}/train-*",
                rows=stats.rows,
                num_bytes=stats.num_bytes,
                download_size=sum(f.stat().st_size for f in stats.files),
                features=features_yaml(schema),
            )
        )
        result.tables[config] = stats.rows
        result.rows += stats.rows
    if not configs:
        if len(plan.tables) == 1:
            raise _nothing(ctx, plan, plan.tables[0])
        raise Conflict(
            f"Nothing to export: the {plan.format.name} tables "
            f"{either(list(plan.tables), 'and')} have no rows for this campaign.",
            code="empty",
        )
    (building / "README.md").write_text(
        card_render(
            ctx=ctx,
            fmt=plan.format,
            configs=configs,
            facts=facts,
            empty=empty,
            exported_at=timezone.now(),
        )
    )
    return result


# --- jobs -------------------------------------------------------------------------------------

PROGRESS_EVERY_S = 1.0


@transaction.atomic
def export_job_start(
    *,
    campaign: Campaign,
    requested_by: User,
    fmt: str,
    container: str = "jsonl",
    options: Mapping[str, Any] | None = None,
) -> ExportJob:
    """Queue an export for a worker; the job is checked now, so a bad request fails here."""
    plan = export_plan(campaign=campaign, fmt=fmt, container=container, options=options)
    job = ExportJob.objects.create(
        campaign=campaign,
        format=plan.format.name,
        container=plan.container,
        options=plan.options.as_dict(),
        schema_version=plan.format.version,
        requested_by=requested_by,
    )
    transaction.on_commit(lambda: _enqueue(job))
    return job


def _enqueue(job: ExportJob) -> bool:
    """Send the job to a worker; a broker that is down leaves it for the sweeper."""
    from .tasks import export_job_run_task  # tasks import this module

    if not task_send(export_job_run_task, args=(job.id,)):
        return False
    mark_enqueued(ExportJob, job.id)
    return True


def export_jobs_resend() -> int:
    """The sweep: a running job whose worker died is queued again (or failed, its attempts
    spent), and every queued job whose message never reached the broker or was lost there is
    sent again; how many were sent."""
    return rows_resend(ExportJob.objects.all(), _enqueue)


def export_job_run(*, job_id: int) -> None:
    """Run a queued job. A second delivery of the same job does nothing: the job is claimed
    with a conditional update, and only a queued job (or a running one whose worker died,
    webapp.queueing.claim_q) is taken."""
    now = timezone.now()
    # A run that starts now reads who withdrew afresh: its file is not superseded (again).
    claimed = ExportJob.objects.filter(claim_q(now), id=job_id).update(
        **claim_fields(now), progress=0.0, error="", superseded_at=None
    )
    if not claimed:
        return
    job = ExportJob.objects.select_related("campaign").get(id=job_id)
    try:
        with heartbeat(ExportJob, job_id):
            name, result, size = _job_write(job)
    except Exception as e:
        logger.exception("export job %s failed", job_id)
        message = e.message if isinstance(e, RuleError) else f"{type(e).__name__}: {e}"
        ExportJob.objects.filter(id=job_id).update(
            state=ExportJob.State.FAILED, error=message[:2000], finished_at=timezone.now()
        )
        return
    ExportJob.objects.filter(id=job_id).update(
        state=ExportJob.State.DONE,
        progress=1.0,
        row_count=result.rows,
        size=size,
        file=name,
        finished_at=timezone.now(),
    )


def _job_write(job: ExportJob) -> tuple[str, ExportResult, int]:
    plan = export_plan(
        campaign=job.campaign, fmt=job.format, container=job.container, options=job.options
    )
    total = max(export_size(campaign=job.campaign, plan=plan), 1)
    done = 0
    last = time.monotonic()

    def progress(n: int) -> None:
        nonlocal done, last
        done += n
        if time.monotonic() - last >= PROGRESS_EVERY_S:
            last = time.monotonic()
            ExportJob.objects.filter(id=job.id).update(progress=min(done / total, 0.99))

    filename = job.filename
    with tempfile.TemporaryDirectory(prefix="agora-export-") as tmp:
        out = Path(tmp) / filename
        if job.container == "hf":
            folder = Path(tmp) / filename.removesuffix(".zip")
            result = export_write(
                campaign=job.campaign, fmt=job.format, container="hf", path=folder,
                options=plan.options, progress=progress,
            )  # fmt: skip
            _zip_folder(folder, out)
        else:
            result = export_write(
                campaign=job.campaign, fmt=job.format, container=job.container, path=out,
                options=plan.options, progress=progress,
            )  # fmt: skip
        size = out.stat().st_size
        with out.open("rb") as f:
            name = storages["exports"].save(f"{job.campaign.slug}/{job.id}/{filename}", File(f))
    return name, result, size


def _zip_folder(folder: Path, out: Path) -> None:
    # Parquet is compressed already: the archive only stores.
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as z:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                z.write(path, Path(folder.name) / path.relative_to(folder))


def export_job_file(*, job: ExportJob) -> str:
    """The stored file of a finished job (its name in the `exports` storage); refused once
    superseded by a withdrawal."""
    if job.superseded_at is not None:
        raise Gone(
            "This file was written before someone withdrew their consent, and may hold their "
            "data, so it is no longer given out; start a new export for a file without them.",
            code="superseded",
        )
    if job.state != ExportJob.State.DONE or not job.file:
        raise Conflict(f"The export is {job.state}, not done.", code="not_done")
    return job.file


def export_job_download(*, job: ExportJob) -> HttpResponseBase:
    """The response that hands out a finished job's file (the API's and the dashboard's):
    the file itself from a local folder, a redirect to a short-lived signed URL from object
    storage. Refused as export_job_file refuses."""
    name = export_job_file(job=job)
    storage = storages["exports"]
    if isinstance(storage, FileSystemStorage):
        return FileResponse(storage.open(name, "rb"), as_attachment=True, filename=job.filename)
    return HttpResponseRedirect(storage.url(name))


def export_jobs_of(*, campaign: Campaign, limit: int = 50) -> list[ExportJob]:
    """A campaign's latest export jobs, newest first (the Export tab's history)."""
    return list(
        ExportJob.objects.filter(campaign=campaign).select_related("campaign", "requested_by")[
            :limit
        ]
    )


def export_job_of(*, campaign: Campaign, job_id: int) -> ExportJob:
    """One of the campaign's export jobs; NotFound for any other id."""
    job = ExportJob.objects.select_related("campaign").filter(campaign=campaign, id=job_id).first()
    if job is None:
        raise NotFound("No such export job in this campaign.")
    return job


def export_choices() -> list[tuple[str, str, tuple[str, ...]]]:
    """Every format as (name, summary, its tables), and the containers, for a form."""
    return [(f.name, f.summary, tuple(f.tables)) for f in FORMATS.values()]


def export_jobs_supersede(*, campaign_id: int, at: datetime, **_signal: Any) -> int:
    """Someone withdrew consent from the campaign at `at`: every file written, or being
    written, may hold their data and is superseded; how many. Runs in the withdrawal's
    transaction (annotation.signals.consent_withdrawn). A running job may have read who had
    withdrawn before this commits, so it counts as written before; a queued one reads it when
    it starts, after, and stays valid."""
    return ExportJob.objects.filter(
        campaign_id=campaign_id,
        state__in=[ExportJob.State.RUNNING, ExportJob.State.DONE],
        superseded_at__isnull=True,
    ).update(superseded_at=at)
