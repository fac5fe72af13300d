"""The model registry is shared by the campaigns, the names in it are not: a campaign's admins
see the models that generate and their own campaign's, never the models another campaign
imported responses from."""

import json

import pytest
from django.urls import reverse

from annotation.models import Campaign, Membership, User
from annotation.services import membership_add, prompts_import
from generation.models import LanguageModel
from generation.selectors import language_models_for

SECRET = "acme-unreleased-7b"


def _lines(models: list[str], n: int = 2) -> str:
    return "\n".join(
        json.dumps(
            {
                "id": f"p{i}",
                "prompt": f"Question {i}?",
                "responses": [
                    {"text": f"Reply {i} by {k}.", "model": m} for k, m in enumerate(models)
                ],
            }
        )
        for i in range(n)
    )


@pytest.fixture
def two_campaigns(make_campaign, carol):
    """X imported responses of a secret model; Y (erin's) imported its own; one model generates."""
    x = make_campaign()
    assert prompts_import(campaign=x, content=_lines([SECRET, "public-base"])).ok
    erin = User.objects.create_user("erin", password="pw-erin-1234")
    y = make_campaign()
    Membership.objects.filter(campaign=y, user=carol).delete()
    membership_add(campaign=y, user=erin, role=Membership.Role.ADMIN)
    assert prompts_import(campaign=y, content=_lines(["y-own-model", "public-base"])).ok
    smol = LanguageModel.objects.create(name="smol-generator", backend="transformers")
    LanguageModel.objects.create(name="switched-off", backend="transformers", enabled=False)
    return x, y, erin, smol


def _setup_page(client, campaign: Campaign) -> str:
    return client.get(reverse("dashboard:setup_models", args=[campaign.id])).content.decode()


def test_an_admin_never_sees_the_models_another_campaign_imported(client, two_campaigns):
    _x, y, erin, _smol = two_campaigns
    client.force_login(erin)

    page = _setup_page(client, y)

    assert SECRET not in page
    assert "smol-generator" in page  # registered for generation: any campaign may use it
    assert "y-own-model" in page and "public-base" in page  # this campaign's own
    assert "switched-off" not in page


def test_the_campaign_that_imported_a_model_sees_it(client, carol, two_campaigns):
    x, _y, _erin, _smol = two_campaigns
    client.force_login(carol)

    page = _setup_page(client, x)

    assert SECRET in page and "y-own-model" not in page


def test_staff_see_a_campaigns_own_list_on_its_page(client, two_campaigns):
    _x, y, _erin, _smol = two_campaigns
    root = User.objects.create_superuser("root", password="pw-root-1234")
    client.force_login(root)

    page = _setup_page(client, y)

    assert "y-own-model" in page and SECRET not in page


def test_a_model_of_another_campaign_cannot_be_chosen_by_its_id(client, two_campaigns):
    _x, y, erin, smol = two_campaigns
    secret = LanguageModel.objects.get(name=SECRET)
    client.force_login(erin)

    refused = client.post(
        reverse("dashboard:setup_models", args=[y.id]),
        {"responses_per_prompt": "2", "language_models": [str(secret.id), str(smol.id)]},
    )

    assert refused.status_code == 422
    assert SECRET not in refused.content.decode()
    assert list(y.language_models.all()) == []
    chosen = client.post(
        reverse("dashboard:setup_models", args=[y.id]),
        {"responses_per_prompt": "2", "language_models": [str(smol.id)]},
    )
    assert chosen.status_code == 302
    assert list(y.language_models.all()) == [smol]


def test_the_list_is_generating_models_and_the_campaigns_own(two_campaigns):
    _x, y, _erin, _smol = two_campaigns
    y.language_models.add(LanguageModel.objects.create(name="y-attached", backend="external"))

    names = set(language_models_for(campaign=y).values_list("name", flat=True))

    assert names == {"smol-generator", "y-own-model", "public-base", "y-attached"}
