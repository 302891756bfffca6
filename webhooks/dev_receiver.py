"""A receiver for development: see what the product sends, on this server.

Present only with DEBUG on. It accepts any request carrying Standard Webhooks
headers, records it in a file under var/, checks its signature against the
webhooks pointing here, and lists the latest requests on a page. With
``manage.py demo``, the Demo workspace's webhook points at it, so the whole
loop runs on one machine.
"""

import datetime
import hmac
import json
import logging
import threading
from pathlib import Path

from django.conf import settings
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from webhooks.models import WebhookConfig
from webhooks.signing import sign, signing_secrets

logger = logging.getLogger(__name__)

KEPT_REQUESTS = 50
BODY_LIMIT = 20 * 1024
_write_lock = threading.Lock()


def received_requests_file() -> Path:
    return Path(settings.LOCAL_DIR) / "dev-receiver.jsonl"


@csrf_exempt
def receive(request):
    """Record a webhook request, or show the latest ones to a browser."""
    if not settings.DEBUG:
        raise Http404("The development receiver exists only with DEBUG on.")
    if "webhook-id" not in request.headers:
        return render(
            request,
            "webhooks/dev_receiver.html",
            {"received": read_received(), "receiver_url": request.build_absolute_uri()},
        )

    content = (
        request.body
        if request.method != "GET"
        else request.META.get("QUERY_STRING", "").encode()
    )
    record = {
        "received_at": timezone.now().isoformat(),
        "method": request.method,
        "path": request.get_full_path(),
        "headers": dict(request.headers),
        "body": request.body[:BODY_LIMIT].decode("utf-8", errors="replace"),
        "signature": check_signature(request=request, content=content),
    }
    with _write_lock, received_requests_file().open("a") as received:
        received.write(json.dumps(record) + "\n")
    logger.info(
        "development receiver got a request webhook_id=%s signature=%s",
        request.headers["webhook-id"],
        record["signature"],
    )
    return JsonResponse({"received": True})


def check_signature(*, request, content: bytes) -> str:
    """Say whether a webhook pointing here signed this request."""
    url = request.build_absolute_uri(request.path)
    configs = WebhookConfig.objects.filter(endpoint_url__startswith=url)
    try:
        timestamp = int(request.headers.get("webhook-timestamp", ""))
    except ValueError:
        return "invalid timestamp"
    received = set(request.headers.get("webhook-signature", "").split())
    now = timezone.now()
    for config in configs:
        for secret in signing_secrets(config=config, now=now):
            expected = sign(
                msg_id=request.headers["webhook-id"],
                timestamp=timestamp,
                content=content,
                secrets=[secret],
            )
            if any(hmac.compare_digest(expected, value) for value in received):
                return f"valid ({config.workspace.name})"
    return "not verified"


def read_received() -> list[dict]:
    """Return the latest recorded requests, newest first."""
    try:
        lines = received_requests_file().read_text().splitlines()
    except FileNotFoundError:
        return []
    records = []
    for line in reversed(lines[-KEPT_REQUESTS:]):
        record = json.loads(line)
        record["received_at"] = datetime.datetime.fromisoformat(record["received_at"])
        records.append(record)
    return records
