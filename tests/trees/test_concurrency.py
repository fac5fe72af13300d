"""Trees grown by annotators working at once on PostgreSQL (one connection per thread): the
exclusion of one's own messages is in the lease query, so it holds under the race too."""

import threading
import time

import pytest
from django.db import connection

from annotation.models import Conversation, Message, Task, User
from annotation.services import judgment_submit, task_lease_next
from tests.annotation.test_concurrency import _run_threads

from .conftest import good_payload

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgresql_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("concurrency tests need PostgreSQL; set DATABASE_URL=postgres://...")


def test_racing_annotators_grow_trees_and_never_judge_their_own(make_campaign):
    people = [User.objects.create_user(username=f"grower{i}", password="pw") for i in range(6)]
    campaign = make_campaign(
        members=people,
        task_kind="reply",
        overlap=1,
        tree={"max_depth": 2, "max_children": 2, "review_votes": 2, "prompt_tasks": 3},
    )
    lock = threading.Lock()
    served: list[tuple[int, str, list[int]]] = []
    failures: list[str] = []

    def work(person: User) -> None:
        try:
            idle = 0
            for _ in range(80):
                a = task_lease_next(annotator=person, campaign=campaign)
                if a is None:
                    # Only tasks others hold right now, or only one's own to review: a real
                    # client asks again in a moment.
                    idle += 1
                    if idle > 20:
                        return
                    time.sleep(0.05)
                    continue
                idle = 0
                with lock:
                    served.append((person.id, a.task.kind, list(a.display_order)))
                judgment_submit(
                    assignment=a,
                    annotator=person,
                    payload=good_payload(a),
                    idempotency_key=f"k{a.id}",
                )
        except Exception as e:  # reported to the main thread, which fails the test
            failures.append(repr(e))
        finally:
            connection.close()

    _run_threads([lambda p=p: work(p) for p in people])
    assert failures == []

    judged = [(who, ids) for who, kind, ids in served if kind != "reply"]
    assert len(judged) > 50
    authors = dict(Message.objects.filter(author__isnull=False).values_list("id", "author_id"))
    own = [(who, ids) for who, ids in judged if any(authors.get(i) == who for i in ids)]
    assert own == []
    ready = Conversation.objects.filter(tree_state=Conversation.TreeState.READY)
    assert ready.count() >= 3
    # Reviews that finished at once under one parent still led to its comparison.
    for parent in Message.objects.filter(conversation__in=ready, children__isnull=False).distinct():
        accepted = parent.children.filter(review_state=Message.Review.ACCEPTED).count()
        compared = Task.objects.filter(parent=parent, kind__in=["pairwise", "ranking"]).exists()
        assert compared == (accepted >= 2), (parent.id, accepted)
