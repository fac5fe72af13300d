"""aggregate=adjudicated: the reviewer's decision where there is one, else the majority;
every aggregated row carries its item's agreement and whether it was adjudicated or marked
ambiguous; the judgments themselves are exported as they were."""

from __future__ import annotations

import pytest

from annotation.models import Message, Task
from annotation.services.adjudication import adjudication_decide, adjudication_next
from exports.services import export_rows
from tests.adjudication.conftest import people

pytestmark = pytest.mark.django_db


@pytest.fixture
def decided(judged_campaign):
    """Two items, each judged 2 to 1 for m1 (a split at 0.75); the first decided for m0, the
    second marked ambiguous."""
    annotators = people("ex", 3)
    (reviewer,) = people("exr", 1)

    def payload_for(i, _task, ids):
        by_model = {Message.objects.get(id=m).model.name: m for m in ids}
        return {"outcome": "preferred", "preferred": by_model["m0" if i == 2 else "m1"]}

    c = judged_campaign(
        kind="pairwise",
        payload_for=payload_for,
        annotators=annotators,
        reviewers=[reviewer],
        prompts=2,
    )
    first, second = Task.objects.filter(campaign=c).order_by("id")
    item = adjudication_next(campaign=c, reviewer=reviewer)
    assert item.adjudication.task_id == first.id
    m0 = first.task_candidates.get(message__model__name="m0").message_id
    adjudication_decide(
        adjudication_id=item.adjudication.id,
        reviewer=reviewer,
        campaign=c,
        payload={"outcome": "preferred", "preferred": m0},
    )
    item = adjudication_next(campaign=c, reviewer=reviewer)
    adjudication_decide(
        adjudication_id=item.adjudication.id, reviewer=reviewer, campaign=c, ambiguous=True
    )
    return c, first, second


def test_adjudicated_rows_follow_the_decision_else_the_majority(decided):
    c, first, second = decided
    rows = {
        r["task_id"]: r for r in export_rows(campaign=c, fmt="preference", aggregate="adjudicated")
    }
    assert set(rows) == {first.id, second.id}
    a, b = rows[first.id], rows[second.id]
    assert a["chosen_model"] == "m0" and a["adjudication"] == "decided"
    assert a["votes"] == 3 and a["agreement"] == pytest.approx(1 / 3)
    assert len(a["judgment_ids"]) == 1  # the one judgment that agreed with the decision
    assert a["item_agreement"] == pytest.approx(0.6667)
    assert b["chosen_model"] == "m1" and b["adjudication"] == "ambiguous"
    assert b["agreement"] == pytest.approx(2 / 3) and len(b["judgment_ids"]) == 2
    assert b["item_agreement"] == pytest.approx(0.6667)
    for r in (a, b):
        assert r["annotator"] is None and r["judgment_id"] is None


def test_majority_rows_carry_the_item_agreement_and_ignore_decisions(decided):
    c, _first, _second = decided
    rows = list(export_rows(campaign=c, fmt="preference", aggregate="majority"))
    assert [r["chosen_model"] for r in rows] == ["m1", "m1"]
    assert all(r["adjudication"] is None for r in rows)
    assert all(r["item_agreement"] == pytest.approx(0.6667) for r in rows)


def test_per_judgment_rows_are_the_judgments_as_they_were(decided):
    c, _first, _second = decided
    rows = list(export_rows(campaign=c, fmt="preference"))
    assert len(rows) == 6
    assert sorted(r["chosen_model"] for r in rows) == ["m0"] * 2 + ["m1"] * 4
    assert all(r["adjudication"] is None and r["item_agreement"] is None for r in rows)
