"""The forms of the study pages: a participant's (sign-up, consent, qualification) and the
admin's study settings."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib.auth.forms import UserCreationForm
from django.utils.translation import gettext_lazy as _

from annotation.models import Study, User
from annotation.selectors.studies import GUIDANCE_DEFAULT as DEFAULT_GUIDANCE
from annotation.survey import QUESTIONS


class SignupForm(UserCreationForm):
    class Meta:
        model = User
        fields = ("username",)


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
            parsed = json.loads(text)
        except json.JSONDecodeError as e:
            raise forms.ValidationError(
                f"Not valid JSON: {e.msg} (line {e.lineno}, column {e.colno})."
            ) from None
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
    guidance = JSONText(
        empty={},
        label="Conversation guidance (JSON)",
        help_text="Text per conversation type, replacing the defaults: "
        + ", ".join(DEFAULT_GUIDANCE),
    )

    class Meta:
        model = Study
        fields = Study.SETTINGS

    def clean_eligibility(self) -> dict[str, Any]:
        value: dict[str, Any] = self.cleaned_data["eligibility"]
        for name, allowed in value.items():
            if name not in QUESTIONS or not QUESTIONS[name].groups:
                raise forms.ValidationError(f"{name!r} is not a question with fixed answers.")
            if not isinstance(allowed, list) or not all(isinstance(a, str) for a in allowed):
                raise forms.ValidationError(f"{name}: give a list of allowed answers.")
        return value

    def clean_qualification(self) -> dict[str, Any]:
        value: dict[str, Any] = self.cleaned_data["qualification"]
        items = value.get("items", [])
        if not isinstance(items, list):
            raise forms.ValidationError('"items" must be a list.')
        for n, item in enumerate(items, start=1):
            options = item.get("options") if isinstance(item, dict) else None
            if not isinstance(options, list) or len(options) < 2 or not item.get("question"):
                raise forms.ValidationError(f"Item {n} needs a question and two options or more.")
            answer = item.get("answer")
            if not isinstance(answer, int) or not 0 <= answer < len(options):
                raise forms.ValidationError(f"Item {n}: answer is the index of the right option.")
        mark = value.get("pass_mark", 0.8)
        if not isinstance(mark, int | float) or not 0 <= mark <= 1:
            raise forms.ValidationError("pass_mark is a share between 0 and 1.")
        return value

    def clean_guidance(self) -> dict[str, Any]:
        value: dict[str, Any] = self.cleaned_data["guidance"]
        unknown = [k for k in value if k not in DEFAULT_GUIDANCE]
        if unknown or not all(isinstance(v, str) for v in value.values()):
            raise forms.ValidationError(
                "Give a text per conversation type: " + ", ".join(DEFAULT_GUIDANCE)
            )
        return value
