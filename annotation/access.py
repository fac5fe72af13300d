"""The access helpers every page and API view fetches through: 404 for what a person may
not know exists, 403 for what they can see but may not do."""

from django.http import Http404

from annotation import selectors
from annotation.errors import Forbidden
from annotation.models import Campaign, User


def campaign_for_annotator(*, user: User, campaign_id: int) -> Campaign:
    """A campaign this person may annotate in; drafts stay hidden until they open."""
    campaign = (
        selectors.campaigns_visible_to(user=user)
        # The study, if any, in the same statement: the task page shows its links.
        .select_related("study")
        .exclude(state=Campaign.State.DRAFT)
        .filter(pk=campaign_id)
        .first()
    )
    if campaign is None:
        raise Http404("No such campaign.")
    return campaign


def campaign_for_reviewer(*, user: User, campaign_id: int) -> Campaign:
    """A campaign whose review pages this person may open: one they may annotate in, or any
    campaign for staff, who review everywhere (services.review decides who reviews)."""
    if user.is_staff:
        campaign = Campaign.objects.exclude(state=Campaign.State.DRAFT).filter(pk=campaign_id)
        if (found := campaign.first()) is None:
            raise Http404("No such campaign.")
        return found
    return campaign_for_annotator(user=user, campaign_id=campaign_id)


def campaign_for_admin(*, user: User, campaign_id: int) -> Campaign:
    campaign = selectors.campaigns_administered_by(user=user).filter(pk=campaign_id).first()
    if campaign is not None:
        return campaign
    if selectors.campaigns_visible_to(user=user).filter(pk=campaign_id).exists():
        raise Forbidden("Only the campaign's admins may do this.")
    raise Http404("No such campaign.")


def campaign_creator_check(*, user: User) -> None:
    """Who may make campaigns (the dashboard, the API): whoever may see the dashboard, staff
    and the admins of a campaign."""
    if not selectors.dashboard_visible_to(user=user):
        raise Forbidden("Making campaigns is for staff and campaign admins.")
