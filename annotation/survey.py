"""PRISM's participant survey, its vocabulary in one place: the questions and their answers,
PRISM's keys, and how an answer is read back (for quotas, eligibility, the demographic views
and the `prism` export). The form that asks a campaign's choice of them is forms.SurveyForm.

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

from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

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
# PRISM's published keys of `lm_usecases` and `stated_prefs` (the `prism` export's fields);
# the survey asks those it has a label for, in this order.
USECASES = (
    "homework_assistance",
    "research",
    "source_suggestions",
    "professional_work",
    "creative_writing",
    "casual_conversation",
    "personal_recommendations",
    "daily_productivity",
    "technical_or_programming_help",
    "travel_guidance",
    "lifestyle_and_hobbies",
    "well-being_guidance",
    "medical_guidance",
    "financial_guidance",
    "games",
    "historical_or_news_insight",
    "relationship_advice",
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
    "other",
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


USECASES_ASKED = tuple(u for u in USECASES if u in USECASE_LABELS)
STATED_PREFS_ASKED = tuple(a for a in STATED_PREFS if a in PREF_LABELS)
