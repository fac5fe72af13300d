"""The task page of every judgment kind, through Django's test client: each kind's controls,
field names and shortcuts are on the page, its form becomes the right stored payload, and a
refused form comes back (422) with what the annotator entered."""

import json
import re
from html.parser import HTMLParser

import pytest

from annotation.kinds import kind_for
from annotation.models import Judgment, Message
from annotation.services import prompts_import
from tests.annotation.test_pages import HTMX, form_assignment_id, open_task, submit_url, task_url

MODELS = ("model-x", "model-y", "model-z")


def jsonl(*rows: dict) -> str:
    return "\n".join(json.dumps(r) for r in rows)


def responses_lines(n: int, *, k: int = 3, texts=None) -> str:
    """n prompts with k responses each; no response text names its model."""
    return jsonl(
        *(
            {
                "id": f"p{i}",
                "prompt": f"Question {i}: how do plants make food?",
                "responses": [
                    {
                        "text": (texts or {}).get(j, f"Answer {i}.{j} about photosynthesis."),
                        "model": m,
                    }
                    for j, m in enumerate(MODELS[:k])
                ],
            }
            for i in range(n)
        )
    )


@pytest.fixture
def kind_campaign(make_campaign, alice):
    """A campaign of `task_kind` with `settings`, alice its annotator, and `content` imported."""

    def make(task_kind: str, *, settings=None, content=None, k: int = 3):
        c = make_campaign(members=[alice], overlap=1, task_kind=task_kind, settings=settings)
        report = prompts_import(campaign=c, content=content or responses_lines(2, k=k))
        assert report.ok, report.lines
        c.refresh_from_db()  # settings as stored (JSON), as the pages read them
        return c

    return make


def page(client, campaign) -> str:
    response = client.get(task_url(campaign))
    assert response.status_code == 200
    return response.content.decode()


def submit(client, assignment, **fields):
    form = {"idempotency_key": f"key-{assignment.id}", "seconds_spent": "3", **fields}
    return client.post(submit_url(assignment), form, **HTMX)


def draft(html: str) -> dict:
    """What a refused form gave back for agora.js to put into per-candidate fields."""
    match = re.search(r'<script id="judge-draft" type="application/json">(.*?)</script>', html)
    assert match, "no draft on the page"
    return json.loads(match.group(1))


class _Controls(HTMLParser):
    """Every form control of a page and whether a <label> names it."""

    def __init__(self):
        super().__init__()
        self.open_labels = 0
        self.label_for: set[str] = set()
        self.controls: list[tuple[str, dict, bool]] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "label":
            self.open_labels += 1
            if a.get("for"):
                self.label_for.add(a["for"])
        elif tag in ("input", "textarea", "select") and a.get("type") != "hidden":
            self.controls.append((tag, a, self.open_labels > 0))

    def handle_endtag(self, tag):
        if tag == "label":
            self.open_labels -= 1

    def unlabelled(self) -> list[str]:
        return [
            a.get("name", tag)
            for tag, a, inside in self.controls
            if not inside and a.get("id") not in self.label_for
        ]


def assert_every_control_is_labelled(html: str) -> None:
    # The span row's <template> holds controls too; they are labelled the same way.
    parser = _Controls()
    parser.feed(html)
    assert parser.controls
    assert parser.unlabelled() == []


def assert_shortcuts_shown(html: str, campaign) -> None:
    kind = kind_for(campaign.task_kind)
    assert "Keyboard shortcuts" in html
    for key, what in kind.shortcuts(kind.settings(campaign.settings)):
        assert f"<kbd>{key}</kbd></td><td>{what}</td>" in html, key


def assert_blind(html: str) -> None:
    for model in MODELS:
        assert model not in html


# --- every kind -----------------------------------------------------------------------------

EVERY_KIND = [
    ("pairwise", None, 2),
    ("ranking", None, 3),
    ("rating", {"attributes": [{"name": "helpfulness"}]}, 3),
    ("binary", None, 1),
    ("label", None, 1),
    ("critique", None, 1),
    ("rewrite", None, 1),
    ("reply", None, 0),
]


@pytest.mark.parametrize(("task_kind", "kind_settings", "k"), EVERY_KIND)
def test_every_kind_has_a_page_with_its_shortcuts_labels_and_no_model_names(
    client, alice, kind_campaign, task_kind, kind_settings, k
):
    c = kind_campaign(task_kind, settings=kind_settings, k=k)
    assignment = open_task(client, alice, c)

    html = page(client, c)

    assert f'data-kind="{task_kind}"' in html
    assert form_assignment_id(html) == assignment.id
    assert "Question 0: how do plants make food?" in html or "Question 1" in html
    assert_shortcuts_shown(html, c)
    assert_every_control_is_labelled(html)
    assert_blind(html)
    assert 'name="idempotency_key"' in html
    assert "Skip <kbd>S</kbd>" in html


@pytest.mark.parametrize(("task_kind", "kind_settings", "k"), EVERY_KIND)
def test_every_kind_escapes_a_script_in_a_response(
    client, alice, kind_campaign, task_kind, kind_settings, k
):
    evil = "Hi </script><script>alert(1)</script> <img src=x onerror=alert(2)>"
    content = jsonl(
        {
            "id": "xss",
            "prompt": "Say <b>hi</b>",
            "responses": [{"text": evil, "model": m} for m in MODELS[:k]],
        }
    )
    c = kind_campaign(task_kind, settings=kind_settings, content=content)
    client.force_login(alice)

    html = page(client, c)

    assert "<script>alert(1)" not in html
    assert "<img" not in html
    assert "<b>hi</b>" not in html


def test_the_shortcuts_table_is_the_kinds_own(client, alice, kind_campaign):
    c = kind_campaign("ranking")
    client.force_login(alice)

    html = page(client, c)

    assert "<kbd>1 – 9</kbd></td><td>Place the focused response</td>" in html
    assert "A or ←" not in html  # pairwise's keys are not offered on a ranking page


# --- pairwise: the campaign's question, one choice per attribute ----------------------------

PER_ATTRIBUTE = {
    "question": "Which response is safer?",
    "strength_levels": 2,
    "attributes": [
        {"name": "helpfulness"},
        {"name": "harmlessness", "description": "Nothing that could hurt someone"},
    ],
}


def test_pairwise_asks_the_campaigns_question(client, alice, kind_campaign):
    c = kind_campaign("pairwise", settings={"question": "Which is more hallucinated?"}, k=2)
    client.force_login(alice)

    html = page(client, c)

    assert "<legend>Which is more hallucinated?</legend>" in html
    assert "Which response is better?" not in html


def test_pairwise_offers_one_choice_and_strength_per_attribute(client, alice, kind_campaign):
    c = kind_campaign("pairwise", settings=PER_ATTRIBUTE, k=2)
    assignment = open_task(client, alice, c)

    html = page(client, c)

    assert "Which response is safer?" in html
    assert "Nothing that could hurt someone" in html
    for i in (0, 1):
        values = re.findall(rf'name="choice-{i}" value="([^"]+)"', html)
        assert values == [str(m) for m in assignment.display_order] + ["tie", "both_bad"]
        assert re.findall(rf'name="strength-{i}" value="(\d)"', html) == ["1", "2"]
    assert 'name="choice"' not in html
    assert html.count("data-key-scope") == 2
    assert "<kbd>Tab</kbd></td><td>Next attribute</td>" in html


def test_pairwise_per_attribute_choices_are_stored_by_attribute(client, alice, kind_campaign):
    c = kind_campaign("pairwise", settings=PER_ATTRIBUTE, k=2)
    assignment = open_task(client, alice, c)
    a, b = assignment.display_order

    response = submit(
        client, assignment, **{"choice-0": str(b), "strength-0": "2", "choice-1": "tie"}
    )

    assert response.status_code == 200
    assert "Saved." in response.content.decode()
    assert Judgment.objects.get().payload == {
        "attributes": {
            "helpfulness": {"outcome": "preferred", "preferred": b, "rejected": a, "strength": 2},
            "harmlessness": {"outcome": "tie"},
        }
    }


def test_pairwise_without_a_choice_for_an_attribute_is_refused_and_keeps_the_others(
    client, alice, kind_campaign
):
    c = kind_campaign("pairwise", settings=PER_ATTRIBUTE, k=2)
    assignment = open_task(client, alice, c)
    a = assignment.display_order[0]

    response = submit(client, assignment, **{"choice-0": str(a), "reason": "A is kinder"})

    html = response.content.decode()
    assert response.status_code == 422
    assert "Pick the better response for harmlessness" in html
    assert ">A is kinder</textarea>" in html
    assert draft(html)["choice-0"] == [str(a)]
    assert form_assignment_id(html) == assignment.id
    assert not Judgment.objects.exists()


# --- ranking --------------------------------------------------------------------------------


def test_ranking_shows_every_response_with_a_place_and_a_drag_handle(client, alice, kind_campaign):
    c = kind_campaign("ranking")
    assignment = open_task(client, alice, c)

    html = page(client, c)

    for letter in "ABC":
        assert f"Response {letter}</h2>" in html
    names = re.findall(
        r'<input type="number" class="place-input" id="[^"]+" name="(rank-\d+)"', html
    )
    assert names == [f"rank-{m}" for m in assignment.display_order]
    assert html.count('draggable="true" data-grip') == 3
    assert html.count("data-rank-item") == 3
    assert 'data-allow-ties="false"' in html
    assert "no two may share a place" in html
    assert "<kbd>↑ / ↓</kbd>" in html


def test_ranking_is_stored_best_first_by_message_id_whatever_the_screen_order(
    client, alice, kind_campaign
):
    c = kind_campaign("ranking")
    assignment = open_task(client, alice, c)
    first, second, third = assignment.display_order  # as shown: A, B, C

    # C best, then A, then B.
    response = submit(
        client,
        assignment,
        **{f"rank-{first}": "2", f"rank-{second}": "3", f"rank-{third}": "1", "reason": "C cites"},
    )

    assert response.status_code == 200
    assert Judgment.objects.get().payload == {
        "ranking": [[third], [first], [second]],
        "reason": "C cites",
    }


def test_ranking_with_ties_allowed_stores_tied_responses_together(client, alice, kind_campaign):
    c = kind_campaign("ranking", settings={"allow_ties": True})
    assignment = open_task(client, alice, c)
    first, second, third = assignment.display_order
    assert 'data-allow-ties="true"' in page(client, c)

    response = submit(
        client, assignment, **{f"rank-{first}": "2", f"rank-{second}": "1", f"rank-{third}": "1"}
    )

    assert response.status_code == 200
    assert Judgment.objects.get().payload == {"ranking": [[second, third], [first]]}


def test_ranking_refuses_a_tie_where_the_campaign_allows_none_and_keeps_the_places(
    client, alice, kind_campaign
):
    c = kind_campaign("ranking")
    assignment = open_task(client, alice, c)
    first, second, third = assignment.display_order
    places = {f"rank-{first}": "1", f"rank-{second}": "1", f"rank-{third}": "2"}

    response = submit(client, assignment, **places)

    html = response.content.decode()
    assert response.status_code == 422
    assert "This campaign does not allow ties in a ranking." in html
    assert {k: v for k, v in draft(html).items() if k.startswith("rank-")} == {
        k: [v] for k, v in places.items()
    }
    assert not Judgment.objects.exists()


def test_ranking_refuses_a_response_without_a_place(client, alice, kind_campaign):
    c = kind_campaign("ranking")
    assignment = open_task(client, alice, c)
    first, second, _ = assignment.display_order

    response = submit(client, assignment, **{f"rank-{first}": "1", f"rank-{second}": "2"})

    assert response.status_code == 422
    assert "Give every response a place (1 = best)." in response.content.decode()
    assert not Judgment.objects.exists()


# --- rating ---------------------------------------------------------------------------------

HELPSTEER = {
    "attributes": [
        {
            "name": "helpfulness",
            "description": "How useful the answer is",
            "scale": {"points": ["0", "1", "2", "3", "4"], "min": 0},
        },
        {
            "name": "correctness",
            "scale": {"points": ["Wrong", "Partly right", "Right"]},
            "rationale": "optional",
        },
    ]
}
PRISM = {
    "question": "How good is each response?",
    "attributes": [{"name": "score", "scale": {"type": "slider", "min": 1, "max": 100}}],
    "followup": {
        "attributes": [{"name": "fluency", "scale": {"points": ["Poor", "Fine", "Great"]}}],
        "feedback": "optional",
    },
}


def test_rating_offers_a_labelled_likert_scale_per_response_and_attribute(
    client, alice, kind_campaign
):
    c = kind_campaign("rating", settings=HELPSTEER)
    assignment = open_task(client, alice, c)

    html = page(client, c)

    for m in assignment.display_order:
        assert re.findall(rf'name="rate-{m}-0" value="(\d)"', html) == ["0", "1", "2", "3", "4"]
        assert re.findall(rf'name="rate-{m}-1" value="(\d)"', html) == ["1", "2", "3"]
        assert f'name="why-{m}-1"' in html
        assert f'name="why-{m}-0"' not in html  # helpfulness asks no rationale
    assert '<span class="point-label">Partly right</span>' in html
    assert "How useful the answer is" in html
    assert "Why this correctness score? (optional)" in html
    assert 'type="range"' not in html
    assert 'name="chosen"' not in html
    assert "<kbd>1 – 9</kbd></td><td>Pick a point on the focused scale</td>" in html


def test_rating_stores_scores_and_rationales_per_message_id(client, alice, kind_campaign):
    c = kind_campaign("rating", settings=HELPSTEER)
    assignment = open_task(client, alice, c)
    a, b, cc = assignment.display_order
    form = {f"rate-{m}-0": str(i) for i, m in enumerate((a, b, cc))}
    form |= {f"rate-{m}-1": "3" for m in (a, b, cc)}
    form[f"why-{b}-1"] = "Gets the chemistry right"

    response = submit(client, assignment, **form)

    assert response.status_code == 200
    assert Judgment.objects.get().payload == {
        "ratings": {
            str(a): {"helpfulness": 0, "correctness": 3},
            str(b): {"helpfulness": 1, "correctness": 3},
            str(cc): {"helpfulness": 2, "correctness": 3},
        },
        "rationales": {str(b): {"correctness": "Gets the chemistry right"}},
    }


def test_rating_without_every_score_is_refused_and_keeps_the_rationale(
    client, alice, kind_campaign
):
    c = kind_campaign("rating", settings=HELPSTEER)
    assignment = open_task(client, alice, c)
    a, b, _ = assignment.display_order
    form = {f"rate-{a}-0": "4", f"rate-{a}-1": "2", f"why-{a}-1": "Half of it <is> wrong"}

    response = submit(client, assignment, **form)

    html = response.content.decode()
    assert response.status_code == 422
    assert f"Please rate response {b}." in html
    kept = draft(html)
    assert kept[f"rate-{a}-0"] == ["4"]
    assert kept[f"why-{a}-1"] == ["Half of it <is> wrong"]
    assert "<is>" not in html  # the draft is JSON with <, > escaped
    assert not Judgment.objects.exists()


def test_rating_with_a_slider_and_a_followup_shows_them(client, alice, kind_campaign):
    c = kind_campaign("rating", settings=PRISM)
    assignment = open_task(client, alice, c)

    html = page(client, c)

    assert "How good is each response?" in html
    for m in assignment.display_order:
        assert (
            f'<input type="range" id="rate-{m}-0" name="rate-{m}-0" min="1" max="100" step="1"'
            in html
        )
        assert f'<input type="radio" name="chosen" value="{m}"' in html
    assert html.count("<output") == 3
    assert re.findall(r'name="followup-0" value="(\d)"', html) == ["1", "2", "3"]
    assert 'name="feedback"' in html
    assert "One you gave the highest score." in html


def test_rating_stores_slider_scores_and_the_followup_on_the_chosen_response(
    client, alice, kind_campaign
):
    c = kind_campaign("rating", settings=PRISM)
    assignment = open_task(client, alice, c)
    a, b, cc = assignment.display_order

    response = submit(
        client,
        assignment,
        **{
            f"rate-{a}-0": "35",
            f"rate-{b}-0": "90",
            f"rate-{cc}-0": "62",
            "chosen": str(b),
            "followup-0": "3",
            "feedback": "Warm and clear",
        },
    )

    assert response.status_code == 200
    assert Judgment.objects.get().payload == {
        "ratings": {str(a): {"score": 35}, str(b): {"score": 90}, str(cc): {"score": 62}},
        "followup": {"chosen": b, "scores": {"fluency": 3}, "feedback": "Warm and clear"},
    }


def test_rating_refuses_a_followup_on_a_response_not_scored_highest(client, alice, kind_campaign):
    c = kind_campaign("rating", settings=PRISM)
    assignment = open_task(client, alice, c)
    a, b, cc = assignment.display_order

    response = submit(
        client,
        assignment,
        **{
            f"rate-{a}-0": "35",
            f"rate-{b}-0": "90",
            f"rate-{cc}-0": "62",
            "chosen": str(a),
            "followup-0": "2",
            "feedback": "Too short",
        },
    )

    html = response.content.decode()
    assert response.status_code == 422
    assert "The chosen response must have the highest score." in html
    assert ">Too short</textarea>" in html
    assert f'name="chosen" value="{a}" checked' in html
    assert draft(html)[f"rate-{b}-0"] == ["90"]


# --- binary ---------------------------------------------------------------------------------


def test_binary_offers_thumbs_up_and_down_for_one_response(client, alice, kind_campaign):
    c = kind_campaign("binary", settings={"question": "Would you send this to a customer?"})
    client.force_login(alice)

    html = page(client, c)

    assert "<legend>Would you send this to a customer?</legend>" in html
    assert re.findall(r'name="label" value="(\w+)"', html) == ["up", "down"]
    assert "<kbd>U</kbd>" in html
    assert "<kbd>D</kbd>" in html
    assert html.count('class="candidate single"') == 1


def test_binary_stores_a_thumbs_down_with_its_reason(client, alice, kind_campaign):
    c = kind_campaign("binary")
    assignment = open_task(client, alice, c)

    response = submit(client, assignment, label="down", reason="Made up a citation")

    assert response.status_code == 200
    assert Judgment.objects.get().payload == {"label": False, "reason": "Made up a citation"}


def test_a_negative_only_binary_campaign_offers_no_thumbs_up(client, alice, kind_campaign):
    c = kind_campaign("binary", settings={"allow_positive": False, "reason": "off"})
    assignment = open_task(client, alice, c)

    html = page(client, c)

    assert re.findall(r'name="label" value="(\w+)"', html) == ["down"]
    assert "<kbd>U</kbd>" not in html
    assert 'name="reason"' not in html
    assert "if this one is fine, skip it" in html
    assert submit(client, assignment, label="down").status_code == 200
    assert Judgment.objects.get().payload == {"label": False}


def test_binary_without_a_verdict_is_refused_and_keeps_the_reason(client, alice, kind_campaign):
    c = kind_campaign("binary")
    assignment = open_task(client, alice, c)

    response = submit(client, assignment, reason="Not sure yet")

    html = response.content.decode()
    assert response.status_code == 422
    assert "Choose thumbs up or thumbs down." in html
    assert ">Not sure yet</textarea>" in html
    assert not Judgment.objects.exists()


# --- label ----------------------------------------------------------------------------------


def test_label_offers_flags_as_checkboxes_and_likert_labels_as_scales(client, alice, kind_campaign):
    c = kind_campaign("label")  # the OpenAssistant labels
    client.force_login(alice)

    html = page(client, c)

    assert '<input type="checkbox" name="label-0" value="on">' in html  # spam
    assert "<strong>spam</strong>" in html
    assert "Spam or not a real attempt" in html
    assert '<input type="checkbox" name="label-4" value="on">' in html  # sexual_content
    assert re.findall(r'name="label-5" value="(\d*)"', html) == ["", "1", "2", "3", "4", "5"]
    assert "Low quality ... high quality" in html
    assert "<kbd>Space</kbd></td><td>Toggle a flag</td>" in html


def test_label_stores_the_flags_ticked_and_the_scales_answered(client, alice, kind_campaign):
    c = kind_campaign("label")
    assignment = open_task(client, alice, c)

    # spam and pii ticked, quality 4, humor left at "no answer".
    response = submit(
        client, assignment, **{"label-0": "on", "label-2": "on", "label-5": "4", "label-7": ""}
    )

    assert response.status_code == 200
    labels = Judgment.objects.get().payload["labels"]
    assert labels["spam"] is True
    assert labels["pii"] is True
    assert labels["hate_speech"] is False
    assert labels["quality"] == 4
    assert "humor" not in labels


def test_label_out_of_its_scale_is_refused_and_keeps_the_flags(client, alice, kind_campaign):
    settings = {
        "labels": [
            {"name": "pii", "type": "flag"},
            {"name": "toxicity", "type": "likert", "scale": {"points": ["polite", "rude"]}},
        ]
    }
    c = kind_campaign("label", settings=settings)
    assignment = open_task(client, alice, c)

    response = submit(client, assignment, **{"label-0": "on", "label-1": "7"})

    html = response.content.decode()
    assert response.status_code == 422
    assert "toxicity must be a whole number from 1 to 2." in html
    assert draft(html) == {"label-0": ["on"], "label-1": ["7"]}


# --- critique -------------------------------------------------------------------------------

CRITIQUE_TEXT = "Plants use **sunlight** & water.\r\nThey make 🌱 sugar."


def test_critique_shows_the_response_formatted_and_its_raw_text_for_spans(
    client, alice, kind_campaign
):
    c = kind_campaign("critique", content=responses_lines(1, k=1, texts={0: CRITIQUE_TEXT}))
    client.force_login(alice)

    html = page(client, c)

    assert "<strong>sunlight</strong>" in html
    raw = re.search(r'<script id="critique-raw" type="application/json">(.*?)</script>', html)
    assert raw and json.loads(raw.group(1)) == CRITIQUE_TEXT
    assert '<textarea id="critique-text" name="text"' in html
    for field in ("span_start", "span_end", "span_note"):
        assert f'name="{field}"' in html
    assert "data-mark" in html
    assert "<kbd>M</kbd></td><td>Mark the selected text</td>" in html
    assert "At least 20 characters." in html


def test_critique_without_spans_offers_no_marking(client, alice, kind_campaign):
    c = kind_campaign("critique", settings={"spans": False, "min_chars": 0}, k=1)
    client.force_login(alice)

    html = page(client, c)

    assert "span_start" not in html
    assert "critique-raw" not in html
    assert "<kbd>M</kbd>" not in html
    assert 'name="text"' in html


def test_critique_stores_the_text_and_the_marked_spans(client, alice, kind_campaign):
    c = kind_campaign("critique", content=responses_lines(1, k=1, texts={0: CRITIQUE_TEXT}))
    assignment = open_task(client, alice, c)

    response = client.post(
        submit_url(assignment),
        {
            "idempotency_key": "k1",
            "text": "Mostly right, but plants also need carbon dioxide.",
            "span_start": ["13", "46"],
            "span_end": ["21", "51"],
            "span_note": ["fine", "glucose, to be exact"],
        },
        **HTMX,
    )

    assert response.status_code == 200
    assert Judgment.objects.get().payload == {
        "text": "Mostly right, but plants also need carbon dioxide.",
        "spans": [
            {"start": 13, "end": 21, "note": "fine"},
            {"start": 46, "end": 51, "note": "glucose, to be exact"},
        ],
    }
    assert CRITIQUE_TEXT[13:21] == "sunlight"
    # Offsets count characters as Python does: the \r\n is two, the emoji one.
    assert CRITIQUE_TEXT[46:51] == "sugar"


def test_a_short_critique_is_refused_and_keeps_the_text_and_spans(client, alice, kind_campaign):
    c = kind_campaign("critique", k=1)
    assignment = open_task(client, alice, c)

    response = client.post(
        submit_url(assignment),
        {
            "idempotency_key": "k1",
            "text": "Too <vague>",
            "span_start": "0",
            "span_end": "6",
            "span_note": "why",
        },
        **HTMX,
    )

    html = response.content.decode()
    assert response.status_code == 422
    assert "Please write at least 20 characters." in html
    assert ">Too &lt;vague&gt;</textarea>" in html
    kept = draft(html)
    assert (kept["span_start"], kept["span_end"], kept["span_note"]) == (["0"], ["6"], ["why"])


# --- rewrite --------------------------------------------------------------------------------

ORIGINAL = "Use `a < b` & **bold** words.\nSecond line."


def test_rewrite_prefills_the_editor_with_the_raw_response(client, alice, kind_campaign):
    c = kind_campaign("rewrite", content=responses_lines(1, k=1, texts={0: ORIGINAL}))
    client.force_login(alice)

    html = page(client, c)

    assert (
        '<textarea id="rewrite-text" name="text" rows="16" maxlength="20000" data-focus-key="e"'
        " required>\nUse `a &lt; b` &amp; **bold** words.\nSecond line.</textarea>"
    ) in html
    assert "<strong>bold</strong>" in html  # the original, formatted, beside the editor
    assert "<kbd>E</kbd>" in html


def test_rewrite_stores_a_sibling_message_by_the_annotator_with_diff_and_distance(
    client, alice, kind_campaign
):
    c = kind_campaign("rewrite", content=responses_lines(1, k=1, texts={0: ORIGINAL}))
    assignment = open_task(client, alice, c)
    original = Message.objects.get(id=assignment.display_order[0])
    better = ORIGINAL.replace("Second line.", "A clearer second line.")

    response = submit(client, assignment, text=better, reason="clearer")

    assert response.status_code == 200
    payload = Judgment.objects.get().payload
    written = Message.objects.get(id=payload["message_id"])
    assert written.text == better
    assert written.author == alice
    assert written.model_id is None
    assert written.parent_id == original.parent_id
    assert written.role == original.role
    assert payload["rewrite_of"] == original.id
    assert payload["edit_distance"] == len("A clearer ") + 1  # inserted, and S became s
    assert "-Second line." in payload["diff"]
    assert "+A clearer second line." in payload["diff"]
    assert payload["reason"] == "clearer"


def test_an_empty_rewrite_is_refused_and_keeps_the_reason(client, alice, kind_campaign):
    c = kind_campaign("rewrite", k=1)
    assignment = open_task(client, alice, c)

    response = submit(client, assignment, text="   ", reason="started over")

    html = response.content.decode()
    assert response.status_code == 422
    assert "Please write the text." in html
    assert ">started over</textarea>" in html
    assert re.search(r'name="text"[^>]*>\n   </textarea>', html)  # not the original again
    assert Message.objects.filter(author=alice).count() == 0


# --- reply ----------------------------------------------------------------------------------

PROMPTS_ONLY = jsonl(
    {"id": "r1", "prompt": "Question 0: tell me a joke about plants."},
    {"id": "r2", "prompt": "Question 1: and one about trees?"},
)


def test_reply_shows_the_conversation_and_a_box_to_write_as_the_assistant(
    client, alice, kind_campaign
):
    c = kind_campaign("reply", content=PROMPTS_ONLY)
    client.force_login(alice)

    html = page(client, c)

    assert "tell me a joke about plants" in html or "and one about trees" in html
    assert "Your reply, written as the assistant" in html
    assert '<textarea id="reply-text" name="text"' in html
    assert "<kbd>W</kbd>" in html


def test_reply_says_when_the_annotator_writes_as_the_user(client, alice, kind_campaign):
    # A prompter's reply answers the assistant: the imported conversation ends with its turn.
    chat = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]
    c = kind_campaign("reply", settings={"role": "user"}, content=json.dumps({"prompt": chat}))
    client.force_login(alice)

    assert "Your reply, written as the user" in page(client, c)


def test_reply_stores_a_child_message_by_the_annotator(client, alice, kind_campaign):
    c = kind_campaign("reply", content=PROMPTS_ONLY)
    assignment = open_task(client, alice, c)

    response = submit(client, assignment, text="Why did the plant blush? It saw the salad.")

    assert response.status_code == 200
    payload = Judgment.objects.get().payload
    written = Message.objects.get(id=payload["message_id"])
    assert written.parent_id == assignment.task.parent_id
    assert written.author == alice
    assert written.role == "assistant"
    assert payload == {
        "text": "Why did the plant blush? It saw the salad.",
        "role": "assistant",
        "message_id": written.id,
    }


def test_a_too_short_reply_is_refused_and_keeps_the_text(client, alice, kind_campaign):
    c = kind_campaign("reply", settings={"min_chars": 10}, content=PROMPTS_ONLY)
    assignment = open_task(client, alice, c)

    response = submit(client, assignment, text="Ha & ha")

    html = response.content.decode()
    assert response.status_code == 422
    assert "Please write at least 10 characters." in html
    assert ">Ha &amp; ha</textarea>" in html
    assert not Message.objects.filter(author=alice).exists()
