"""PRISM's participant survey: the questions, the form that asks a campaign's choice of them,
and how an answer is read back (for quotas, eligibility and the demographic views).

Answers are stored in Profile.answers under PRISM's own names and shapes, which is what
exports/formats/prism.py reads: `age`, `gender`, `religion: {self_described, categorised,
simplified}`, `location: {birth_country, reside_country, ...}`, `lm_usecases: {use: 0|1, ...}`,
`stated_prefs: {attribute: 0-100, ...}`, ... "Prefer not to say" is always a valid answer: a
choice of its own on every closed question, a blank on every open one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop
from django_countries import countries

# The answers are stored as these English texts (PRISM's); gettext_noop marks them for translation
# where the form shows them.
PREFER_NOT = gettext_noop("Prefer not to say")


def _choices(*values: str) -> tuple[str, ...]:
    return (*values, PREFER_NOT)


AGE = _choices(
    gettext_noop("18-24 years old"),
    gettext_noop("25-34 years old"),
    gettext_noop("35-44 years old"),
    gettext_noop("45-54 years old"),
    gettext_noop("55-64 years old"),
    gettext_noop("65+ years old"),
)
GENDER = _choices(
    gettext_noop("Male"), gettext_noop("Female"), gettext_noop("Non-binary / third gender")
)
EDUCATION = _choices(
    gettext_noop("Some Secondary"),
    gettext_noop("Completed Secondary School"),
    gettext_noop("Vocational"),
    gettext_noop("Some University but no degree"),
    gettext_noop("University Bachelors Degree"),
    gettext_noop("Graduate / Professional degree"),
)
EMPLOYMENT = _choices(
    gettext_noop("Working full-time"),
    gettext_noop("Working part-time"),
    gettext_noop("Student"),
    gettext_noop("Retired"),
    gettext_noop("Homemaker / Full-time parent"),
    gettext_noop("Unemployed, seeking work"),
    gettext_noop("Unemployed, not seeking work"),
)
MARITAL = _choices(
    gettext_noop("Never been married"),
    gettext_noop("Married"),
    gettext_noop("Divorced / Separated"),
    gettext_noop("Widowed"),
)
RELIGION = _choices(
    gettext_noop("No Affiliation"),
    gettext_noop("Christian"),
    gettext_noop("Muslim"),
    gettext_noop("Jewish"),
    gettext_noop("Hindu"),
    gettext_noop("Buddhist"),
    gettext_noop("Sikh"),
    gettext_noop("Other"),
)
ETHNICITY = _choices(
    gettext_noop("White"),
    gettext_noop("Black"),
    gettext_noop("Asian"),
    gettext_noop("Hispanic"),
    gettext_noop("Mixed"),
    gettext_noop("Middle Eastern"),
    gettext_noop("Other"),
)
ENGLISH = _choices(
    gettext_noop("Native speaker"),
    gettext_noop("Fluent"),
    gettext_noop("Advanced"),
    gettext_noop("Intermediate"),
    gettext_noop("Basic"),
)
FAMILIARITY = _choices(
    gettext_noop("Very familiar"),
    gettext_noop("Somewhat familiar"),
    gettext_noop("Not familiar at all"),
)
FREQUENCY = _choices(
    gettext_noop("Every day"),
    gettext_noop("Every week"),
    gettext_noop("Every month"),
    gettext_noop("Less than once a month"),
    gettext_noop("Never"),
)
USECASES = (
    "homework_assistance",
    "research",
    "professional_work",
    "creative_writing",
    "casual_conversation",
    "personal_recommendations",
    "technical_or_programming_help",
    "well-being_guidance",
    "medical_guidance",
    "financial_guidance",
    "language_learning",
    "other",
)
# How the form names the use cases and the stated preferences (stored under the keys above).
USECASE_LABELS = {
    "homework_assistance": gettext_noop("Homework assistance"),
    "research": gettext_noop("Research"),
    "professional_work": gettext_noop("Professional work"),
    "creative_writing": gettext_noop("Creative writing"),
    "casual_conversation": gettext_noop("Casual conversation"),
    "personal_recommendations": gettext_noop("Personal recommendations"),
    "technical_or_programming_help": gettext_noop("Technical or programming help"),
    "well-being_guidance": gettext_noop("Well-being guidance"),
    "medical_guidance": gettext_noop("Medical guidance"),
    "financial_guidance": gettext_noop("Financial guidance"),
    "language_learning": gettext_noop("Language learning"),
    "other": gettext_noop("Other"),
}
STATED_PREFS = (
    "values",
    "creativity",
    "fluency",
    "factuality",
    "diversity",
    "safety",
    "personalisation",
    "helpfulness",
)


PREF_LABELS = {
    "values": gettext_noop("Values"),
    "creativity": gettext_noop("Creativity"),
    "fluency": gettext_noop("Fluency"),
    "factuality": gettext_noop("Factuality"),
    "diversity": gettext_noop("Diversity"),
    "safety": gettext_noop("Safety"),
    "personalisation": gettext_noop("Personalisation"),
    "helpfulness": gettext_noop("Helpfulness"),
}


@dataclass(frozen=True)
class Question:
    name: str  # the survey's key, as a campaign lists it
    label: Any
    kind: str  # choice | country | text | usecases | prefs | languages
    choices: tuple[str, ...] = ()
    # Where the answer lives in Profile.answers (a dotted path); default: `name`.
    path: str = ""

    @property
    def where(self) -> str:
        return self.path or self.name

    @property
    def groups(self) -> bool:
        """Whether its answers fall into a few groups (for quotas and the demographic views)."""
        return self.kind in ("choice", "country")


QUESTIONS: dict[str, Question] = {
    q.name: q
    for q in [
        Question("age", _("How old are you?"), "choice", AGE),
        Question("gender", _("What is your gender?"), "choice", GENDER),
        Question("education", _("What is your highest level of education?"), "choice", EDUCATION),
        Question("employment_status", _("What is your employment status?"), "choice", EMPLOYMENT),
        Question("marital_status", _("What is your marital status?"), "choice", MARITAL),
        Question(
            "religion", _("What is your religion?"), "choice", RELIGION, "religion.categorised"
        ),
        Question(
            "ethnicity", _("What is your ethnicity?"), "choice", ETHNICITY, "ethnicity.categorised"
        ),
        Question("english_proficiency", _("How well do you speak English?"), "choice", ENGLISH),
        Question(
            "birth_country", _("In which country were you born?"), "country",
            path="location.birth_country",
        ),
        Question(
            "reside_country", _("In which country do you live?"), "country",
            path="location.reside_country",
        ),
        Question("languages", _("Which languages do you speak fluently?"), "languages"),
        Question(
            "lm_familiarity", _("How familiar are you with AI language models?"), "choice",
            FAMILIARITY,
        ),
        Question(
            "lm_frequency_use", _("How often do you use AI language models?"), "choice", FREQUENCY
        ),
        Question("lm_usecases", _("What do you use AI language models for?"), "usecases"),
        Question(
            "stated_prefs",
            _("How much does each of these matter to you in an AI's answers? (0 = not at all, "
              "100 = very much)"),
            "prefs",
        ),
        Question("self_description", _("Describe yourself in a few sentences."), "text"),
        Question(
            "system_string",
            _("If you could tell an AI model how to behave with you, what would you say?"),
            "text",
        ),
    ]
}  # fmt: skip


def questions_clean(names: Iterable[Any]) -> list[str]:
    """A campaign's choice of questions, in the catalogue's order; unknown names refused."""
    names = list(names)
    unknown = [n for n in names if n not in QUESTIONS]
    if unknown:
        raise ValueError(f"Unknown survey questions: {', '.join(map(str, unknown))}.")
    return [n for n in QUESTIONS if n in names]


def answer_of(answers: dict[str, Any], name: str) -> str | None:
    """The grouping answer to one question (quotas, eligibility, demographics): None when not
    answered at all."""
    value: Any = answers
    for part in QUESTIONS[name].where.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value if isinstance(value, str) and value else None


def _country_choices() -> list[tuple[str, str]]:
    return [("", "—"), *[(name, name) for _, name in countries], (PREFER_NOT, _(PREFER_NOT))]


class SurveyForm(forms.Form):
    """The questions a campaign asks, prefilled from the participant's latest answers."""

    def __init__(self, *args: Any, questions: list[str], initial_answers: dict[str, Any], **kw):
        super().__init__(*args, **kw)
        self.questions = [QUESTIONS[n] for n in questions]
        for q in self.questions:
            self._add(q, initial_answers)

    def _add(self, q: Question, answers: dict[str, Any]) -> None:
        name = q.name
        if q.kind == "choice":
            self.fields[name] = forms.ChoiceField(
                label=q.label, choices=[("", "—"), *[(c, _(c)) for c in q.choices]]
            )
            self.initial[name] = answer_of(answers, name)
        elif q.kind == "country":
            self.fields[name] = forms.ChoiceField(label=q.label, choices=_country_choices())
            self.initial[name] = answer_of(answers, name)
        elif q.kind == "text":
            self.fields[name] = forms.CharField(
                label=q.label,
                required=False,
                max_length=2000,
                widget=forms.Textarea(attrs={"rows": 3}),
                help_text=_("Leave it empty if you prefer not to say."),
            )
            self.initial[name] = answers.get(name) or ""
        elif q.kind == "languages":
            self.fields[name] = forms.CharField(
                label=q.label,
                required=False,
                max_length=300,
                help_text=_("Separate them with commas; leave it empty if you prefer not to say."),
            )
            self.initial[name] = ", ".join(answers.get(name) or [])
        elif q.kind == "usecases":
            self.fields[name] = forms.MultipleChoiceField(
                label=q.label,
                required=False,
                widget=forms.CheckboxSelectMultiple,
                choices=[(u, _(USECASE_LABELS[u])) for u in USECASES],
                help_text=_("Tick none if you prefer not to say."),
            )
            used = answers.get(name) or {}
            self.initial[name] = [u for u in USECASES if used.get(u) == 1]
        elif q.kind == "prefs":
            prefs = answers.get(name) or {}
            for attribute in STATED_PREFS:
                self.fields[f"{name}__{attribute}"] = forms.IntegerField(
                    label=_(PREF_LABELS[attribute]),
                    required=False,
                    min_value=0,
                    max_value=100,
                    help_text=_("0 to 100 each; leave one empty if you prefer not to say."),
                )
                self.initial[f"{name}__{attribute}"] = prefs.get(attribute)

    def groups(self) -> list[tuple[Question, list[forms.BoundField]]]:
        """Each question with its fields (the attribute sliders share one question)."""
        return [
            (q, [self[n] for n in self.fields if n == q.name or n.startswith(q.name + "__")])
            for q in self.questions
        ]

    def answers(self, previous: dict[str, Any]) -> dict[str, Any]:
        """The new answers in PRISM's shapes, over the previous ones (questions the campaign
        does not ask keep their earlier answers)."""
        data = self.cleaned_data
        out = dict(previous)
        location = dict(out.get("location") or {})
        for q in self.questions:
            name = q.name
            if q.kind == "choice" and q.path:
                key = q.path.split(".")[0]
                value = data[name]
                out[key] = {"self_described": value, "categorised": value, "simplified": value}
            elif q.kind == "choice":
                out[name] = data[name]
            elif q.kind == "country":
                location[q.path.split(".")[1]] = data[name]
            elif q.kind == "text":
                out[name] = data[name].strip() or PREFER_NOT
            elif q.kind == "languages":
                out[name] = [x.strip() for x in data[name].split(",") if x.strip()]
            elif q.kind == "usecases":
                out[name] = {u: int(u in data[name]) for u in USECASES}
            elif q.kind == "prefs":
                out[name] = {a: data[f"{name}__{a}"] for a in STATED_PREFS}
        if location:
            iso = {name: code for code, name in countries}
            for where in ("birth", "reside"):
                country = location.get(f"{where}_country")
                location[f"{where}_countryISO"] = iso.get(country) if country else None
            birth, reside = location.get("birth_country"), location.get("reside_country")
            if birth and reside and PREFER_NOT not in (birth, reside):
                location["same_birth_reside_country"] = "Yes" if birth == reside else "No"
            out["location"] = location
        return out
