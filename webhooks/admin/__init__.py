"""The admin: workspaces and their webhook, and the read-only delivery audit.

One module per page family: ``workspaces`` (workspaces, members, recovery),
``configuration`` (a workspace's webhook), ``audit`` (what the audit pages
share, events and attempts) and ``deliveries`` (deliveries, with resend and
export). Importing them registers their admins.
"""

from webhooks.admin import audit, configuration, deliveries, workspaces  # noqa: F401
