"""Live chat is set up on the models page: answers to the first turn (0 = off), to each later
turn, and turns per conversation; only a rating campaign can have it."""

from django.urls import reverse

from generation.models import LanguageModel
from tests.generation.live_helpers import PRISM_LIVE


def test_an_admin_turns_live_chat_on_for_a_rating_campaign(client, carol, make_campaign):
    campaign = make_campaign(task_kind="rating", settings=PRISM_LIVE)
    model = LanguageModel.objects.create(name="smol", backend="transformers")
    client.force_login(carol)
    url = reverse("dashboard:setup_models", args=[campaign.id])
    assert 'name="live_first_replies"' in client.get(url).content.decode()
    r = client.post(
        url,
        {
            "responses_per_prompt": "2", "language_models": [str(model.id)],
            "live_first_replies": "4", "live_later_replies": "2", "live_max_turns": "5",
        },
    )  # fmt: skip
    assert r.status_code == 302
    campaign.refresh_from_db()
    assert (campaign.live_first_replies, campaign.live_later_replies, campaign.live_max_turns) == (
        4, 2, 5,
    )  # fmt: skip


def test_live_chat_is_refused_for_a_campaign_that_does_not_rate(client, carol, make_campaign):
    campaign = make_campaign()  # pairwise
    client.force_login(carol)
    url = reverse("dashboard:setup_models", args=[campaign.id])
    assert 'name="live_first_replies"' not in client.get(url).content.decode()
    r = client.post(url, {"responses_per_prompt": "2", "live_first_replies": "4"})
    assert r.status_code == 422
    assert "the campaign&#x27;s task must be rating" in r.content.decode()
    campaign.refresh_from_db()
    assert campaign.live_first_replies == 0


def test_out_of_range_live_settings_name_their_field(client, carol, make_campaign):
    campaign = make_campaign(task_kind="rating", settings=PRISM_LIVE)
    client.force_login(carol)
    url = reverse("dashboard:setup_models", args=[campaign.id])
    r = client.post(url, {"responses_per_prompt": "2", "live_first_replies": "40"})
    assert r.status_code == 422
    assert "live_first_replies must be a whole number from 0 to 8." in r.content.decode()
    campaign.refresh_from_db()
    assert campaign.live_first_replies == 0
