"""The page forms: a study participant's (sign-up, consent, survey, qualification) and the
admin's study settings."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib.auth.forms import UserCreationForm
from django.utils.translation import gettext_lazy as _
from django_countries import countries

from annotation.models import Study, User
from annotation.selectors.accounts import username_look_alike
from annotation.selectors.studies import EXISTING_CONSENT, EXISTING_KEEP
from annotation.selectors.studies import GUIDANCE_DEFAULT as DEFAULT_GUIDANCE
from annotation.survey import (
    PREF_LABELS,
    PREFER_NOT,
    QUESTIONS,
    STATED_PREFS_ASKED,
    USECASE_LABELS,
    USECASES_ASKED,
    Question,
    answer_of,
)
from webapp.untrusted import Untrusted, json_parse


class SignupForm(UserCreationForm):
    class Meta:
        model = User
        fields = ("username",)

    def clean_username(self) -> str:
        """Django's check (NFKC, not taken in any case), and no name that only looks new: one
        that reads as a taken one ("\u0430lice" in Cyrillic beside "alice") would let its
        holder pass for the other in every list of names."""
        username = str(super().clean_username())
        if not self.has_error("username") and username_look_alike(username=username):
            raise forms.ValidationError(
                _("This username looks too much like one that is taken; choose another."),
                code="look_alike",
            )
        return username


class ConsentForm(forms.Form):
    agree = forms.BooleanField(
        label=_("I have read the text above and agree to take part."),
        error_messages={"required": _("Tick the box to agree, or leave the study.")},
    )
    version = forms.IntegerField(widget=forms.HiddenInput)


class QualificationForm(forms.Form):
    item = forms.IntegerField(widget=forms.HiddenInput, min_value=0)
    choice = forms.TypedChoiceField(
        label=_("Your answer"),
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose one of the answers.")},
    )

    def __init__(self, *args: Any, options: list[str], **kw: Any):
        super().__init__(*args, **kw)
        field = self.fields["choice"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = [(str(k), o) for k, o in enumerate(options)]


class JSONText(forms.CharField):
    """A JSON value typed in a textarea; empty = the field's empty value."""

    def __init__(self, *, empty: Any, **kw: Any):
        self.empty = empty
        kw.setdefault("required", False)
        kw.setdefault("widget", forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}))
        super().__init__(**kw)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, dict | list):
            return json.dumps(value, indent=2, ensure_ascii=False) if value else ""
        return value

    def to_python(self, value: Any) -> Any:
        text = super().to_python(value) or ""
        if not text.strip():
            return self.empty
        try:
            parsed = json_parse(text)
        except Untrusted as e:
            raise forms.ValidationError(e.message) from None
        if not isinstance(parsed, type(self.empty)):
            raise forms.ValidationError(f"Expected a JSON {type(self.empty).__name__}.")
        return parsed


class StudySettingsForm(forms.ModelForm):
    """Everything a study sets, for the dashboard; the campaign's survey questions, quotas and
    consent text come with it (they are kept by the services that version or check them)."""

    consent = forms.CharField(
        label="Consent text (Markdown)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="A changed text is a new version: participants agree to it again.",
    )
    completion_url = forms.URLField(
        label="Completion URL",
        required=False,
        assume_scheme="https",
        help_text="Where a finished participant is sent (e.g. Prolific's completion link).",
    )
    questions = forms.MultipleChoiceField(
        label="Survey questions to ask",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        choices=[(q.name, q.name.replace("_", " ")) for q in QUESTIONS.values()],
    )
    quotas = JSONText(empty={}, label="Quotas (JSON)", help_text="See docs/studies.md.")
    eligibility = JSONText(
        empty={},
        label="Eligibility (JSON)",
        help_text='Allowed answers per question, e.g. {"reside_country": ["United Kingdom"]}.',
    )
    qualification = JSONText(
        empty={},
        label="Qualification (JSON)",
        help_text="Instructions, pass mark and training items; see docs/studies.md.",
    )
    # Asked only where a save would send people already working back to consent (the view
    # shows it then, and requires it): services.studies.study_configure's `existing`.
    existing = forms.ChoiceField(
        label="The people already working on this campaign",
        required=False,
        widget=forms.RadioSelect,
        choices=[
            (EXISTING_KEEP, "Keep working as they are: no consent page, no survey"),
            (EXISTING_CONSENT, "Go through consent (and the survey) before their next task"),
        ],
    )
    guidance = JSONText(
        empty={},
        label="Conversation guidance (JSON)",
        help_text="Text per conversation type, replacing the defaults: "
        + ", ".join(DEFAULT_GUIDANCE),
    )

    class Meta:
        model = Study
        fields = Study.SETTINGS

    # Eligibility, qualification and guidance are checked by the service the API and specs
    # use too (services.studies.setup.study_settings_clean); the page shows its errors.


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
                choices=[(u, _(USECASE_LABELS[u])) for u in USECASES_ASKED],
                help_text=_("Tick none if you prefer not to say."),
            )
            used = answers.get(name) or {}
            self.initial[name] = [u for u in USECASES_ASKED if used.get(u) == 1]
        elif q.kind == "prefs":
            prefs = answers.get(name) or {}
            for attribute in STATED_PREFS_ASKED:
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
                out[name] = {u: int(u in data[name]) for u in USECASES_ASKED}
            elif q.kind == "prefs":
                out[name] = {a: data[f"{name}__{a}"] for a in STATED_PREFS_ASKED}
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
