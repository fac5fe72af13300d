"""`make bench-dashboard` (part of `make bench`): the admin's pages at a million judgments.

Sets itself up (a fresh PostgreSQL database of its own, seeded with COPY as `make bench-export`
does): one pairwise campaign over 50 models, 100,000 prompts (each answered by two of the
models: one task), 1,000,000 judgments by 500 annotators (overlap 10), the last tenth of the
tasks still open with active routing, and a study of 5,000 participants who answered a survey
(age, gender, education), the 500 annotators among them and two who withdrew.

Then, each in a fresh process, prints one JSON line per measurement:
- the periodic jobs: the quality snapshot (services.statistics.quality_refresh), the routing
  plan (task_priorities_refresh) and the leaderboard refits (services.statistics.
  leaderboard_refresh: overall with 200 bootstrap draws, and by age): seconds and the
  process's peak RSS growth;
- every dashboard page and JSON endpoint of the campaign, loaded AGORA_BENCH_LOADS times (5)
  through Django's test client in one process (the web process): p50/p95 seconds, response
  bytes, and that process's peak RSS growth since before the first page.

Scale: AGORA_BENCH_SCALE (1.0) multiplies the prompts and judgments (0.05: 5,000 prompts and
50,000 judgments, for development); annotators, participants and models stay as they are.
Database: BENCH_DASHBOARD_DATABASE_URL, or `make bench`'s with `_dashboard`.
Target (issue 24): every page p95 under 1 s, RSS growth under 100 MB across all of them.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

from tests.bench.common import (
    PY,
    ROOT,
    bench_database_url,
    emit,
    env_for,
    manage,
    percentile,
    recreate_database,
    words,
)
from tests.bench.export import Copier, _rss_kb, after_copy

MODELS = 50
ANNOTATORS = 500
PARTICIPANTS = 5000
OVERLAP = 10
SLUG = "dashboard-bench"


def database_url() -> str:
    if url := os.environ.get("BENCH_DASHBOARD_DATABASE_URL"):
        return url
    parts = urlsplit(bench_database_url())
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "_dashboard"))


def scale() -> float:
    return float(os.environ.get("AGORA_BENCH_SCALE", "1.0"))


# --- seeding ----------------------------------------------------------------------------------


def seed(args: argparse.Namespace) -> None:
    import django

    django.setup()
    import psycopg

    from annotation.models import (
        Assignment,
        Conversation,
        Judgment,
        Membership,
        Message,
        Participant,
        Profile,
        Study,
        Task,
        TaskCandidate,
        User,
    )
    from annotation.services import campaign_create, membership_add
    from annotation.survey import AGE, EDUCATION, GENDER
    from generation.models import LanguageModel

    t0 = time.perf_counter()
    rng = random.Random(7)
    prompts = max(100, round(100_000 * scale()))
    admin = User.objects.create_user("bench-admin", is_staff=True)
    campaign = campaign_create(
        name="Dashboard bench",
        slug=SLUG,
        created_by=admin,
        overlap=OVERLAP,
        state="open",
        routing="active",
        survey={"questions": ["age", "gender", "education"]},
    )
    membership_add(campaign=campaign, user=admin, role=Membership.Role.ADMIN)
    Study.objects.get_or_create(campaign=campaign)
    users = User.objects.bulk_create(
        [User(username=f"person{i:04d}", password="!") for i in range(PARTICIPANTS)]
    )
    members = Membership.objects.bulk_create(
        [
            Membership(campaign=campaign, user=u, stage=Membership.Stage.ACTIVE)
            for i, u in enumerate(users)
        ]
    )
    now = datetime.now(UTC).replace(microsecond=0)
    Participant.objects.bulk_create(
        [
            Participant(
                campaign=campaign,
                membership=m,
                consent_version=1,
                consented_at=now - timedelta(days=2),
                screened_at=now - timedelta(days=2),
                # Two people withdrew: gone from every statistic.
                withdrawn_at=now - timedelta(hours=1) if i in (3, 4) else None,
            )
            for i, m in enumerate(members)
        ]
    )
    profiles = Profile.objects.bulk_create(
        [
            Profile(
                user=u,
                campaign=campaign,
                answers={
                    "age": rng.choice(list(AGE)),
                    "gender": rng.choice(list(GENDER)),
                    "education": rng.choice(list(EDUCATION)),
                },
            )
            for u in users
        ]
    )
    models = LanguageModel.objects.bulk_create(
        [LanguageModel(name=f"model-{k:02d}", backend="external") for k in range(MODELS)]
    )
    strength = {m.id: rng.gauss(0, 1) for m in models}
    pairs = list(itertools.combinations([m.id for m in models], 2))
    texts = [words(60, rng) for _ in range(1009)]
    questions = [words(15, rng) for _ in range(997)]
    judgments = prompts * OVERLAP
    start = now - timedelta(hours=36)
    step = timedelta(hours=35) / judgments
    open_from = prompts - prompts // 10  # the last tenth is still open

    dsn = urlunsplit(urlsplit(os.environ["DATABASE_URL"])._replace(scheme="postgresql"))
    pair_of = [pairs[rng.randrange(len(pairs))] for _ in range(prompts)]
    with psycopg.connect(dsn) as conn:
        Copier(conn, Conversation).copy(
            {"id": t + 1, "campaign_id": campaign.id, "external_id": f"p{t}", "created_at": start}
            for t in range(prompts)
        )
        # Messages 3t+1 (the prompt), 3t+2 and 3t+3 (two models' responses).
        Copier(conn, Message).copy(
            row
            for t in range(prompts)
            for row in (
                {"id": 3 * t + 1, "conversation_id": t + 1, "role": "user",
                 "text": questions[t % len(questions)], "created_at": start},
                {"id": 3 * t + 2, "conversation_id": t + 1, "parent_id": 3 * t + 1,
                 "role": "assistant", "text": texts[(2 * t) % len(texts)],
                 "model_id": pair_of[t][0], "backend": "external", "created_at": start},
                {"id": 3 * t + 3, "conversation_id": t + 1, "parent_id": 3 * t + 1,
                 "role": "assistant", "text": texts[(2 * t + 1) % len(texts)][: 200 + t % 300],
                 "model_id": pair_of[t][1], "backend": "external", "created_at": start},
            )
        )  # fmt: skip
        Copier(conn, Task).copy(
            {"id": t + 1, "campaign_id": campaign.id, "conversation_id": t + 1,
             "parent_id": 3 * t + 1, "kind": "pairwise",
             "overlap": OVERLAP + (t >= open_from), "judgments_count": OVERLAP,
             "state": "open" if t >= open_from else "complete",
             "candidate_keys": [[3 * t + 2, f"m{pair_of[t][0]}"], [3 * t + 3, f"m{pair_of[t][1]}"]],
             "created_at": start}
            for t in range(prompts)
        )  # fmt: skip
        Copier(conn, TaskCandidate).copy(
            {"id": 2 * t + k + 1, "task_id": t + 1, "message_id": 3 * t + 2 + k, "position": k}
            for t in range(prompts)
            for k in range(2)
        )
        spread = ANNOTATORS // OVERLAP

        def who(t: int, k: int) -> int:
            return (t * 7 + k * spread) % ANNOTATORS

        Copier(conn, Assignment).copy(
            {"id": t * OVERLAP + k + 1, "task_id": t + 1, "campaign_id": campaign.id,
             "annotator_id": users[who(t, k)].id, "state": "submitted",
             "leased_at": start + step * (t * OVERLAP + k),
             "expires_at": start + step * (t * OVERLAP + k) + timedelta(minutes=15),
             "finished_at": start + step * (t * OVERLAP + k) + timedelta(seconds=20),
             "display_order": [3 * t + 2, 3 * t + 3] if (t + k) % 2 else [3 * t + 3, 3 * t + 2]}
            for t in range(prompts)
            for k in range(OVERLAP)
        )  # fmt: skip

        def judgment_rows() -> object:
            r = random.Random(11)
            for t in range(prompts):
                a, b = 3 * t + 2, 3 * t + 3
                ma, mb = pair_of[t]
                p = 1 / (1 + 2.718281828 ** (strength[mb] - strength[ma]))
                for k in range(OVERLAP):
                    i = t * OVERLAP + k
                    user = who(t, k)
                    x = r.random()
                    if x < 0.9:
                        win, lose = (a, b) if r.random() < p else (b, a)
                        payload: dict[str, object] = {
                            "outcome": "preferred",
                            "preferred": win,
                            "rejected": lose,
                        }
                    else:
                        payload = {"outcome": "tie" if x < 0.95 else "both_bad"}
                    yield {"id": i + 1, "assignment_id": i + 1, "task_id": t + 1,
                           "campaign_id": campaign.id, "annotator_id": users[user].id,
                           "profile_id": profiles[user].id, "kind": "pairwise",
                           "payload": payload, "seconds_spent": round(5 + 20 * r.random(), 3),
                           "idempotency_key": f"j{i}", "instructions_version": 1,
                           "created_at": start + step * i + timedelta(seconds=20)}  # fmt: skip

        n = Copier(conn, Judgment).copy(judgment_rows())
        conn.commit()
    after_copy(analyze="VACUUM ANALYZE")
    emit(
        bench="dashboard_seed",
        campaign=campaign.id,
        prompts=prompts,
        judgments=n,
        annotators=ANNOTATORS,
        participants=PARTICIPANTS,
        models=MODELS,
        scale=scale(),
        seconds=round(time.perf_counter() - t0, 1),
    )


# --- measuring --------------------------------------------------------------------------------


def _peak_reset() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # the peak RSS (VmHWM) back to the current RSS
        return True
    except OSError:
        return False


def job(args: argparse.Namespace) -> None:
    """One periodic job, timed, in a process of its own."""
    import django

    django.setup()
    from annotation.models import Campaign
    from annotation.services import leaderboard_refresh, quality_refresh, task_priorities_refresh

    campaign = Campaign.objects.get(slug=SLUG)
    run = {
        "quality_refresh": lambda: quality_refresh(campaign=campaign),
        "routing_plan": lambda: task_priorities_refresh(campaign=campaign),
        # The fits the leaderboard pages read: overall, and by the answer to "age".
        "leaderboard_refresh": lambda: leaderboard_refresh(
            campaign=campaign, attribute=None, field=None
        ),
        "leaderboard_by_age_refresh": lambda: leaderboard_refresh(
            campaign=campaign, attribute=None, field="age"
        ),
    }[args.job]
    import choix  # noqa: F401  - imports (scipy) are not the job's memory
    import scipy.stats  # noqa: F401

    reset = _peak_reset()
    before = _rss_kb("VmRSS")
    t0 = time.perf_counter()
    result = run()
    seconds = time.perf_counter() - t0
    emit(
        bench="dashboard_job",
        job=args.job,
        seconds=round(seconds, 2),
        rss_before_mb=round(before / 1024, 1),
        rss_growth_mb=round((_rss_kb("VmHWM") - before) / 1024, 1),
        peak_reset=reset,
        result=result if isinstance(result, int) else None,
        scale=scale(),
    )


def pages(args: argparse.Namespace) -> None:
    """Every dashboard page and JSON endpoint of the campaign, in one process."""
    import django

    django.setup()
    from django.test import Client
    from django.urls import reverse

    from annotation.models import Campaign, User

    campaign = Campaign.objects.get(slug=SLUG)
    admin = User.objects.get(username="bench-admin")
    client = Client(HTTP_HOST="localhost")
    client.force_login(admin)
    c = [campaign.id]
    urls = [
        ("campaign_list", reverse("dashboard:campaigns")),
        ("overview", reverse("dashboard:campaign", args=c)),
        ("setup_basics", reverse("dashboard:setup_basics", args=c)),
        ("setup_task", reverse("dashboard:setup_task", args=c)),
        ("setup_prompts", reverse("dashboard:setup_prompts", args=c)),
        ("setup_models", reverse("dashboard:setup_models", args=c)),
        ("people", reverse("dashboard:setup_people", args=c)),
        ("quality", reverse("dashboard:quality", args=c)),
        ("quality_by_gender", reverse("dashboard:quality", args=c) + "?field=gender&page=3"),
        ("quality.json", reverse("dashboard:quality_json", args=c)),
        ("leaderboard", reverse("dashboard:leaderboard", args=c)),
        ("leaderboard_by_age", reverse("dashboard:leaderboard", args=c) + "?field=age"),
        ("leaderboard.json", reverse("dashboard:leaderboard_json", args=c)),
        ("generation", reverse("dashboard:generation", args=c)),
        ("study_settings", reverse("dashboard:study_settings", args=c)),
        ("participants", reverse("dashboard:study_participants", args=c)),
    ]
    judgments = campaign.judgments.count()
    # The process as it is before the first page: Django, the ORM and a session.
    client.get(reverse("dashboard:campaigns"), secure=True)
    reset = _peak_reset()
    before = _rss_kb("VmRSS")
    for name, url in urls:
        times, size, status = [], 0, 0
        for _ in range(args.loads):
            t0 = time.perf_counter()
            response = client.get(url, secure=True)
            times.append(time.perf_counter() - t0)
            size, status = len(response.content), response.status_code
        emit(
            bench="dashboard_page",
            page=name,
            status=status,
            loads=args.loads,
            p50_s=percentile(times, 50),
            p95_s=percentile(times, 95),
            max_s=round(max(times), 3),
            bytes=size,
            rss_growth_mb=round((_rss_kb("VmHWM") - before) / 1024, 1),
            judgments=judgments,
            peak_reset=reset,
        )


def main(args: argparse.Namespace) -> None:
    url = database_url()
    env = env_for(url, DJANGO_SETTINGS_MODULE="webapp.settings")
    env["AGORA_BENCH_SCALE"] = str(scale())

    def step(*more: str) -> None:
        out = subprocess.run(
            [PY, "-m", "tests.bench.dashboard", *more],
            cwd=ROOT, env=env, capture_output=True, text=True,
        )  # fmt: skip
        print(out.stdout, end="", flush=True)
        if out.returncode:
            sys.exit(out.stderr[-3000:])

    if not args.reuse_db:
        recreate_database(url)
        manage(env, "migrate", "--noinput")
        step("seed")
    manage(env, "collectstatic", "--noinput")  # pages are served as production serves them
    for name in args.jobs:
        step("job", "--job", name)
    if not args.no_pages:
        step("pages", "--loads", str(args.loads))


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("step", nargs="?", default="all", choices=["all", "seed", "job", "pages"])
    p.add_argument("--job", default="quality_refresh")
    p.add_argument("--loads", type=int, default=int(os.environ.get("AGORA_BENCH_LOADS", 5)))
    p.add_argument("--reuse-db", action="store_true", help="skip the fresh database and seed")
    p.add_argument("--no-pages", action="store_true", help="seed and run the jobs only")
    p.add_argument(
        "--jobs",
        nargs="*",
        default=[
            "quality_refresh",
            "routing_plan",
            "leaderboard_refresh",
            "leaderboard_by_age_refresh",
        ],
    )
    a = p.parse_args()
    sys.setrecursionlimit(10_000)
    {"all": main, "seed": seed, "job": job, "pages": pages}[a.step](a)
