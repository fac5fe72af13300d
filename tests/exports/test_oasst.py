"""The oasst format as OpenAssistant's own readers read it."""

from collections import defaultdict

from annotation.models import Message
from annotation.services import studies
from exports.services import export_rows


def _sibling_ranks(messages):
    """Parent -> the ranks of its replies (None for an unranked one)."""
    ranks = defaultdict(list)
    for m in messages:
        if m["parent_id"] is not None:
            ranks[m["parent_id"]].append(m["rank"])
    return ranks


def _nodes(node):
    yield node
    for reply in node.get("replies", []):
        yield from _nodes(reply)


def test_ranks_are_counted_after_a_withdrawal_without_gaps(tree_campaign):
    [tree, *_] = export_rows(campaign=tree_campaign, fmt="oasst")
    best = next(r for r in tree["prompt"]["replies"] if r["rank"] == 0)
    author = Message.objects.get(id=int(best["message_id"])).author
    studies.consent_text_set(campaign=tree_campaign, text="We publish the trees you write.")
    participant = studies.participant_join(campaign=tree_campaign, user=author)
    studies.consent_withdraw(participant=participant)

    messages = list(export_rows(campaign=tree_campaign, fmt="oasst", table="messages"))
    trees = list(export_rows(campaign=tree_campaign, fmt="oasst"))
    nested = [
        {**n, "parent_id": p["message_id"]}
        for t in trees
        for p in _nodes(t["prompt"])
        for n in p.get("replies", [])
    ]
    assert best["message_id"] not in {m["message_id"] for m in messages}
    for table in (messages, nested):
        groups = _sibling_ranks(table)
        assert any(len(r) == 2 for r in groups.values())  # a group the withdrawal shrank
        for parent, ranks in groups.items():
            given = sorted(r for r in ranks if r is not None)
            assert given == list(range(len(given))), (parent, ranks)
