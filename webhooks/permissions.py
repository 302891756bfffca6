"""Who may configure a workspace's External Events.

One rule for the settings page and the configuration API: the workspace's
admins and superusers. Anyone else signed in learns nothing about a workspace
they do not belong to (404); a member is told they lack the right (403).
"""

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.translation import gettext_lazy as _

from webhooks.models import Membership, Role, Workspace

NOT_AN_ADMIN = _("Only the workspace's admins can configure its External Events.")


def get_configurable_workspace(*, user, slug: str) -> Workspace:
    """Return the workspace ``slug`` if ``user`` may configure it.

    Raises Http404 when the workspace does not exist or ``user`` is not a
    member (nor a superuser), and PermissionDenied when ``user`` is only a
    member.
    """
    if user is None or not user.is_authenticated:
        raise PermissionDenied(NOT_AN_ADMIN)
    workspace = Workspace.objects.filter(slug=slug).first()
    if workspace is None:
        raise Http404(_("No such workspace."))
    if user.is_superuser:
        return workspace
    role = (
        Membership.objects.filter(user=user, workspace=workspace)
        .values_list("role", flat=True)
        .first()
    )
    if role is None:
        raise Http404(_("No such workspace."))
    if role != Role.ADMIN:
        raise PermissionDenied(NOT_AN_ADMIN)
    return workspace
