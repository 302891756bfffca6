"""Routing an audit search to an exact, indexed lookup.

Django's admin search looks for the term inside every searched column
(LIKE '%term%'), which reads every row of tables that grow with each event.
Staff search for identifiers, so the term's shape says which index answers:

- a whole number is a delivery id;
- a UUID is an event id or a client event id (or a session or video id
  that happens to be a UUID);
- a host name is an endpoint host, when some attempt went there;
- anything else is a session id or a video id, matched whole.

Conditions on events are always gathered on the event table, where each has
an index, and reach deliveries and attempts through their event id.
"""

import enum
import ipaddress
import re
import uuid

from django.db.models import Q

from webhooks.models import Delivery, DeliveryAttempt, Event

# Largest value of a BigAutoField: a longer number typed into a search box
# would overflow the query instead of finding nothing.
MAX_ID = 2**63 - 1

HOST_NAME = re.compile(r"^(?=.{1,253}$)[a-z0-9-]+(\.[a-z0-9-]+)+$")


class TermKind(enum.Enum):
    ID = "id"
    UUID = "uuid"
    HOST = "host"
    TEXT = "text"


def classify_term(term: str) -> tuple[TermKind, object]:
    """Return what ``term`` looks like, and its value as that kind."""
    if term.isascii() and term.isdigit():
        if int(term) <= MAX_ID:
            return TermKind.ID, int(term)
        return TermKind.TEXT, term
    try:
        return TermKind.UUID, uuid.UUID(term)
    except ValueError:
        pass
    host = term.lower().removeprefix("[").removesuffix("]")
    if HOST_NAME.match(host) or _is_ipv6(host):
        return TermKind.HOST, host
    return TermKind.TEXT, term


def search_events(queryset, term: str):
    """Filter events by event id, client event id, delivery id, session or video."""
    kind, value = classify_term(term)
    matches = _event_matches(kind, value, term)
    if kind is TermKind.ID:
        event_ids = Delivery.objects.filter(pk=value).values_list("event_id", flat=True)
        matches |= Q(pk__in=list(event_ids))
    return queryset.filter(matches)


def search_deliveries(queryset, term: str):
    """Filter deliveries by id, event, client event, host, session or video."""
    kind, value = classify_term(term)
    if kind is TermKind.ID:
        return queryset.filter(pk=value)
    if kind is TermKind.HOST and _has_attempts_to(value):
        return queryset.filter(
            pk__in=DeliveryAttempt.objects.filter(endpoint_host=value).values(
                "delivery_id"
            )
        )
    return queryset.filter(event_id__in=_matching_events(kind, value, term))


def search_attempts(queryset, term: str):
    """Filter attempts by delivery, event, client event, host, session or video."""
    kind, value = classify_term(term)
    if kind is TermKind.ID:
        return queryset.filter(delivery_id=value)
    if kind is TermKind.HOST and _has_attempts_to(value):
        return queryset.filter(endpoint_host=value)
    return queryset.filter(delivery__event_id__in=_matching_events(kind, value, term))


def _event_matches(kind: TermKind, value, term: str) -> Q:
    # Every condition is on the event table, each answered by its own index.
    matches = Q(session_id=term) | Q(video_id=term)
    if kind is TermKind.UUID:
        matches |= Q(pk=value) | Q(client_event_id=value)
    return matches


def _matching_events(kind: TermKind, value, term: str):
    return Event.objects.filter(_event_matches(kind, value, term)).values("pk")


def _has_attempts_to(host: str) -> bool:
    # A session or video id may look like a host name too: it is one only
    # if some attempt went there.
    return DeliveryAttempt.objects.filter(endpoint_host=host).exists()


def _is_ipv6(text: str) -> bool:
    if ":" not in text:
        return False
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True
