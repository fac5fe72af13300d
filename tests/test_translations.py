"""The Spanish catalogue: complete, compiled, and what the pages really show.

No gettext tool is needed: the .po is read by a small parser here, the committed .mo through the
standard library's gettext, and the strings marked in the code through Python's ast and Django's
own template lexer (templatize), so CI without xgettext runs all of it.
"""

import ast
import gettext
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils.translation.template import templatize

from annotation.models import Campaign, Study
from annotation.services import prompts_import
from tests.conftest import pairwise_lines
from tests.generation.live_helpers import live_campaign, smol_models
from tests.studies.conftest import link, study_setup

ROOT = Path(settings.BASE_DIR)
MESSAGES = ROOT / "locale" / "es" / "LC_MESSAGES"
PO = MESSAGES / "django.po"
MO = MESSAGES / "django.mo"


# --- the .po, read simply ----------------------------------------------------------------------


@dataclass
class Entry:
    msgid: str = ""
    msgid_plural: str | None = None
    msgctxt: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    obsolete: bool = False
    line: int = 0


_KEYWORD = re.compile(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(".*")\s*$')


def _unquote(text: str) -> str:
    # A PO string is a C string literal; ast reads the same escapes (\n, \t, \", \\).
    value = ast.literal_eval(text)
    assert isinstance(value, str)
    return value


def po_entries(path: Path = PO) -> list[Entry]:
    entries: list[Entry] = []
    entry = Entry()
    last: tuple[str, int] | None = None

    def close() -> None:
        nonlocal entry, last
        if last is not None:
            entries.append(entry)
        entry, last = Entry(), None

    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line:
            close()
            continue
        if line.startswith("#~"):
            entry.obsolete = True
            line = line[2:].strip()
            if not line or line.startswith("|"):
                continue
        elif line.startswith("#,"):
            entry.flags |= {f.strip() for f in line[2:].split(",") if f.strip()}
            continue
        elif line.startswith("#"):
            continue
        if line.startswith('"'):
            assert last is not None, f"{path.name}:{number}: a continuation with no keyword"
            keyword, index = last
            if keyword == "msgstr":
                entry.msgstr[index] += _unquote(line)
            else:
                setattr(entry, keyword, getattr(entry, keyword) + _unquote(line))
            continue
        match = _KEYWORD.match(line)
        assert match, f"{path.name}:{number}: cannot read {raw!r}"
        keyword, index, text = match.group(1), match.group(2), _unquote(match.group(3))
        if keyword == "msgctxt" and last is not None:
            close()  # an entry begins (no blank line before it)
        if keyword == "msgid" and last is not None and last[0] != "msgctxt":
            close()
        entry.line = entry.line or number
        if keyword.startswith("msgstr"):
            i = int(index) if index is not None else 0
            entry.msgstr[i] = text
            last = ("msgstr", i)
        else:
            setattr(entry, keyword, text)
            last = (keyword, 0)
    close()
    return entries


def messages() -> list[Entry]:
    """The catalogue's messages: not the header, not obsolete ones."""
    return [e for e in po_entries() if e.msgid and not e.obsolete]


def where(e: Entry) -> str:
    return f"django.po:{e.line} {e.msgid!r}"


# --- (a) every message translated --------------------------------------------------------------


def test_the_parser_reads_the_whole_catalogue():
    entries = messages()
    assert len(entries) > 250
    assert sum(1 for e in entries if e.msgid_plural) >= 3
    header = po_entries()[0]
    assert header.msgid == "" and "nplurals=2" in header.msgstr[0]


def test_every_message_has_a_spanish_translation_and_none_is_fuzzy():
    problems = []
    for e in messages():
        forms = 2 if e.msgid_plural is not None else 1
        if sorted(e.msgstr) != list(range(forms)):
            problems.append(f"{where(e)}: forms {sorted(e.msgstr)}, expected {forms}")
        if any(not s.strip() for s in e.msgstr.values()):
            problems.append(f"{where(e)}: untranslated")
        if "fuzzy" in e.flags:
            problems.append(f"{where(e)}: fuzzy")
    assert not problems, "\n".join(problems)


def test_the_catalogue_keeps_no_obsolete_entries():
    stale = [where(e) for e in po_entries() if e.obsolete]
    assert not stale, "\n".join(stale)


_PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sdif]|%[sdif]|\{[a-z_]*\}")
_TAG = re.compile(r"</?[a-z]+\b[^>]*>")


def test_translations_keep_the_placeholders_and_html_tags():
    problems = []
    for e in messages():
        sources = [e.msgid] if e.msgid_plural is None else [e.msgid_plural]
        for i, translated in e.msgstr.items():
            source = sources[0]
            for name, pattern in (("placeholders", _PLACEHOLDER), ("tags", _TAG)):
                want, got = sorted(pattern.findall(source)), sorted(pattern.findall(translated))
                if want != got:
                    problems.append(f"{where(e)} msgstr[{i}]: {name} {got} != {want}")
    assert not problems, "\n".join(problems)


# --- (b) the committed .mo is the .po compiled ------------------------------------------------


def test_the_compiled_catalogue_matches_the_po():
    with MO.open("rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    order = "<" if magic == 0x950412DE else ">"
    count = struct.unpack(order + "I", data[8:12])[0]
    entries = messages()
    # Every message, plus the header; no leftover of a message since removed.
    assert count == len(entries) + 1, "django.mo is stale: run msgfmt (see the .po's header)"

    with MO.open("rb") as f:
        mo = gettext.GNUTranslations(f)
    stale = []
    for e in entries:
        if e.msgid_plural is not None:
            got = {i: mo.ngettext(e.msgid, e.msgid_plural, n) for i, n in ((0, 1), (1, 2))}
        elif e.msgctxt is not None:
            got = {0: mo.pgettext(e.msgctxt, e.msgid)}
        else:
            got = {0: mo.gettext(e.msgid)}
        if got != e.msgstr:
            stale.append(f"{where(e)}: .mo has {got}, .po has {e.msgstr}")
    assert not stale, "django.mo is stale: run msgfmt\n" + "\n".join(stale)


# --- every string marked in the code is in the catalogue -------------------------------------

# What `makemessages -l es --ignore ".venv/*" --ignore "var/*" --ignore "tests/*"
# --ignore "docs/*"` reads: the project's .py files and templates, less those paths.
_SKIP = {".venv", "var", "tests", "docs", "node_modules", "static", "locale"}
_SINGULAR = {"_", "gettext", "gettext_lazy", "gettext_noop", "ngettext", "ngettext_lazy"}
_CONTEXT = {"pgettext", "pgettext_lazy", "npgettext", "npgettext_lazy"}


def _project_files(suffix: str) -> list[Path]:
    return [
        p
        for p in ROOT.rglob(f"*{suffix}")
        if not any(part in _SKIP or part.startswith(".") for part in p.relative_to(ROOT).parts)
    ]


def _marked_in_python(source: str) -> set[tuple[str | None, str]]:
    found: set[tuple[str | None, str]] = set()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        strings = [a.value if isinstance(a, ast.Constant) else None for a in node.args]
        if name in _SINGULAR and isinstance(strings[0], str):
            found.add((None, strings[0]))
        elif name in _CONTEXT and len(strings) > 1 and isinstance(strings[1], str):
            found.add((strings[0], strings[1]))
    return found


def _marked_in_template(text: str, origin: str) -> set[tuple[str | None, str]]:
    # templatize turns {% translate %} and {% blocktranslate %} into gettext() calls among
    # filler; each call is read with ast from its name to the first ")" that closes it.
    out = templatize(text, origin=origin)
    found: set[tuple[str | None, str]] = set()
    for match in re.finditer(r"\b(n?p?gettext)\(", out):
        start = match.start()
        for end in (i + 1 for i, c in enumerate(out[match.end() :], match.end()) if c == ")"):
            try:
                found |= _marked_in_python(out[start:end])
                break
            except SyntaxError:
                continue
        else:
            raise AssertionError(f"{origin}: cannot read {out[start : start + 80]!r}")
    return found


def test_every_string_marked_for_translation_is_in_the_catalogue():
    """What `makemessages -l es` would add (read without xgettext): nothing."""
    marked: set[tuple[str | None, str]] = set()
    for path in _project_files(".py"):
        marked |= _marked_in_python(path.read_text(encoding="utf-8"))
    for suffix in (".html", ".txt"):
        for path in _project_files(suffix):
            marked |= _marked_in_template(path.read_text(encoding="utf-8"), str(path))
    assert len(marked) > 250  # the reading works
    known = {(e.msgctxt, e.msgid) for e in messages()}
    missing = sorted(marked - known - {(None, "")}, key=lambda m: m[1])
    assert not missing, (
        "marked for translation but not in locale/es/LC_MESSAGES/django.po (run makemessages "
        "-l es, translate, compile):\n" + "\n".join(repr(m[1]) for m in missing)
    )


# --- (c) the pages, in Spanish --------------------------------------------------------------

ES = {"HTTP_ACCEPT_LANGUAGE": "es"}


@pytest.fixture
def study_campaign(make_campaign) -> Campaign:
    """A study as tests/studies sets one up (consent, survey, qualification); sign-up closed,
    crowd links taken."""
    campaign = make_campaign(overlap=2)
    assert prompts_import(campaign=campaign, content=pairwise_lines(2)).ok
    study_setup(campaign, crowd_links_open=True)
    return campaign


def test_the_study_consent_page_is_in_spanish(client, study_campaign):
    slug = study_campaign.slug
    arrived = client.get(link(study_campaign, "PID-ES"), **ES)
    assert arrived.url == reverse("study_consent", args=[slug])

    page = client.get(arrived.url, **ES)
    html = page.content.decode()
    assert page.status_code == 200
    assert '<html lang="es"' in html
    assert "Consentimiento para participar" in html
    assert "He leído el texto anterior y acepto participar." in html
    assert "Si no estás de acuerdo, cierra esta página: no se registrará nada." in html
    assert "Consent to take part" not in html

    # The form's error message is a lazy string: it too follows the request's language.
    version = Study.objects.get(campaign=study_campaign).consent_version
    refused = client.post(arrived.url, {"version": version}, **ES)
    assert refused.status_code == 422
    assert "Marca la casilla para aceptar o abandona el estudio." in refused.content.decode()


def test_an_invitation_only_study_says_so_in_spanish(client, study_campaign):
    refused = client.get(reverse("study_signup", args=[study_campaign.slug]), **ES)
    html = refused.content.decode()
    assert refused.status_code == 403
    assert "El registro está cerrado" in html
    assert "Este estudio solo admite participantes por invitación." in html
    english = client.get(reverse("study_signup", args=[study_campaign.slug]))
    assert "This study takes participants by invitation only." in english.content.decode()


def test_the_live_chat_page_is_in_spanish_with_its_plural(client, make_campaign, alice):
    campaign: Campaign = live_campaign(make_campaign, [alice], smol_models(1), live_first_replies=1)
    client.force_login(alice)
    html = client.get(reverse("live_chats", args=[campaign.id]), **ES).content.decode()
    assert "Chat en vivo" in html
    assert "Iniciar una conversación" in html
    assert "Escribe un mensaje; 1 modelo lo responde." in html
    assert "Valoras cada respuesta de 1 a 100" in html

    Campaign.objects.filter(id=campaign.id).update(live_first_replies=3)
    html = client.get(reverse("live_chats", args=[campaign.id]), **ES).content.decode()
    assert "Escribe un mensaje; 3 modelos lo responden." in html


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_language_of_a_page_follows_accept_language(client, study_campaign, language):
    html = client.get(
        reverse("study_signup", args=[study_campaign.slug]), HTTP_ACCEPT_LANGUAGE=language
    ).content.decode()
    assert ("El registro está cerrado" in html) == (language == "es")
    assert ("Sign-up is closed" in html) == (language == "en")
