"""The whole loop, for real: the API, a django-q2 cluster, a local receiver.

A qcluster runs as a separate process on the test database, the player posts
through the API, and a receiver on 127.0.0.1 records what arrives. Each wait
is a bounded poll of the database.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_q.brokers.redis_broker import Redis as RedisBroker
from django_q.conf import Conf
from standardwebhooks.webhooks import Webhook

from tests.conftest import OLD_TEST_ENCRYPTION_KEY, TEST_ENCRYPTION_KEY
from tests.factories import DeliveryFactory, EventFactory, WorkspaceFactory
from webhooks import tasks
from webhooks.models import AttemptOutcome, Delivery, DeliveryStatus
from webhooks.sweeper import REQUEUE_AFTER, sweep_deliveries

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

# Short timings, so a killed worker's lease lapses within seconds. The lease
# is the task timeout plus five seconds.
CLUSTER_TIMINGS = {
    "WEBHOOK_HTTP_DEADLINE": "2",
    "Q_CLUSTER_TIMEOUT": "4",
    "Q_CLUSTER_RETRY": "6",
    "WEBHOOK_RETRY_SCHEDULE": "0,1,1,1",
}


SECRET_KEY = "end-to-end-tests-only-not-a-secret"
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


class Receiver(ThreadingHTTPServer):
    """A webhook receiver on 127.0.0.1 that records every request.

    ``hold`` makes the next request wait, unanswered, until released; the
    rest are answered 200.
    """

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), ReceiverHandler)
        self.requests = []
        self.hold_next = threading.Event()
        self.holding = threading.Event()
        self.release = threading.Event()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_port}/hook"

    def wait_for_requests(self, count, *, timeout=20):
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.requests


class ReceiverHandler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (the standard library's naming)
        self.record_and_answer()

    do_GET = do_PUT = do_PATCH = do_POST  # noqa: N815

    def record_and_answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        receiver = self.server
        if receiver.hold_next.is_set():
            receiver.hold_next.clear()
            receiver.holding.set()
            receiver.release.wait(timeout=30)
            return
        receiver.requests.append(
            {
                "method": self.command,
                "query": urlsplit(self.path).query,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body,
            }
        )
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format, *args):
        pass


@pytest.fixture
def receiver():
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()


def database_url():
    """Return the test database as a DATABASE_URL for another process."""
    database = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{database['NAME']}"
    return (
        f"postgres://{database['USER']}@{database['HOST'] or '127.0.0.1'}:"
        f"{database['PORT'] or 5432}/{database['NAME']}"
    )


class Cluster:
    """A ``manage.py qcluster`` process on the test database."""

    def __init__(self, *, broker_environment=None):
        environment = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "DATABASE_URL": database_url(),
            "DEBUG": "false",
            # Queued tasks are signed with the secret key: both ends share it.
            "SECRET_KEY": SECRET_KEY,
            "WEBHOOK_ENCRYPTION_KEYS": ",".join(
                [TEST_ENCRYPTION_KEY, OLD_TEST_ENCRYPTION_KEY]
            ),
            "WEBHOOK_ALLOW_PRIVATE_DESTINATIONS": "true",
            "Q_CLUSTER_WORKERS": "2",
            "LOG_LEVEL": "WARNING",
            **CLUSTER_TIMINGS,
            **(broker_environment or {}),
        }
        self.process = subprocess.Popen(  # noqa: S603
            [sys.executable, "manage.py", "qcluster"],
            cwd=settings.BASE_DIR,
            env=environment,
            start_new_session=True,
            # Warnings and errors reach the test's captured output.
            stdout=subprocess.DEVNULL,
        )

    def kill(self):
        """Kill the cluster and its workers at once, as a crash would."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self):
        if self.process.poll() is None:
            self.kill()


@pytest.fixture
def cluster_timings(settings, monkeypatch):
    # django-q2 reads the key once, at import.
    monkeypatch.setattr(Conf, "SECRET_KEY", SECRET_KEY)
    settings.WEBHOOK_HTTP_DEADLINE = 2
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "timeout": 4, "retry": 6}
    settings.WEBHOOK_RETRY_SCHEDULE = CLUSTER_TIMINGS["WEBHOOK_RETRY_SCHEDULE"]


@pytest.fixture
def start_cluster(cluster_timings):
    clusters = []

    def start(**kwargs):
        clusters.append(Cluster(**kwargs))
        return clusters[-1]

    yield start
    for cluster in clusters:
        cluster.stop()


def wait_for_delivery(pk, *, status, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        delivery = Delivery.objects.get(pk=pk)
        if delivery.status == status:
            return delivery
        time.sleep(0.1)
    raise AssertionError(
        f"delivery {pk} is {Delivery.objects.get(pk=pk).status}, not {status}, "
        f"after {timeout} s"
    )


def post_event(client, workspace, **fields):
    answer = client.post(
        "/api/v1/events",
        data=json.dumps(
            {"type": "cta-clicked", "session_id": "s-1", "data": {"cta_id": "buy"}}
            | fields
        ),
        content_type="application/json",
        headers={"X-Workspace-Key": workspace.ingest_key},
    )
    assert answer.status_code == 202, answer.content
    event_id = answer.json()["accepted"][0]["event_id"]
    return Delivery.objects.get(event_id=event_id)


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "GET"])
def test_a_posted_event_reaches_the_receiver_through_a_real_worker(
    client, receiver, start_cluster, method
):
    workspace = WorkspaceFactory(
        enabled=True,
        webhook__endpoint_url=receiver.url,
        webhook__http_method=method,
    )
    start_cluster()

    delivery = post_event(client, workspace)

    wait_for_delivery(delivery.pk, status=DeliveryStatus.SUCCEEDED)
    (request,) = receiver.wait_for_requests(1)
    assert request["method"] == method
    content = request["query"] if method == "GET" else request["body"]
    Webhook(workspace.webhook.signing_secret).verify(
        content, request["headers"], json_parse=False
    )
    assert request["headers"]["webhook-id"] == str(delivery.event_id)


def test_a_worker_killed_mid_request_loses_nothing(client, receiver, start_cluster):
    workspace = WorkspaceFactory(enabled=True, webhook__endpoint_url=receiver.url)
    first = start_cluster()
    receiver.hold_next.set()

    delivery = post_event(client, workspace)
    assert receiver.holding.wait(timeout=20), "the worker never sent the request"
    first.kill()
    receiver.release.set()
    start_cluster()

    # The claim lapses once the task timeout and its margin have passed.
    in_flight = Delivery.objects.get(pk=delivery.pk)
    assert in_flight.status == DeliveryStatus.IN_FLIGHT
    wait = (in_flight.lease_expires_at - timezone.now()).total_seconds()
    time.sleep(max(wait, 0) + 0.5)
    assert sweep_deliveries()["reclaimed"] == 1
    time.sleep(1.5)
    sweep_deliveries()

    delivery = wait_for_delivery(delivery.pk, status=DeliveryStatus.SUCCEEDED)
    assert [a.outcome for a in delivery.attempts.order_by("number")] == [
        AttemptOutcome.INTERRUPTED,
        AttemptOutcome.SUCCEEDED,
    ]
    (request,) = receiver.wait_for_requests(1)
    assert request["headers"]["webhook-id"] == str(delivery.event_id)


def test_a_lost_queue_message_is_delivered_by_the_scheduled_sweep(
    receiver, start_cluster
):
    workspace = WorkspaceFactory(enabled=True, webhook__endpoint_url=receiver.url)
    # A pending, due delivery whose queue message never existed.
    delivery = DeliveryFactory(
        event=EventFactory(workspace=workspace), next_attempt_at=timezone.now()
    )

    start_cluster()

    # django-q2's scheduler looks for due schedules every 30 seconds.
    wait_for_delivery(delivery.pk, status=DeliveryStatus.SUCCEEDED, timeout=45)
    assert len(receiver.wait_for_requests(1)) == 1


@pytest.fixture
def redis_queue(monkeypatch):
    """Queue through Redis, on a queue name no other test run shares.

    Returns the environment that points a cluster at the same queue.
    """
    name = f"seen-events-test-{uuid.uuid4().hex[:12]}"
    # django-q2 reads its configuration once, at import; the queue name also
    # salts the signature of every queued task.
    monkeypatch.setattr(Conf, "REDIS", REDIS_URL)
    monkeypatch.setattr(Conf, "CLUSTER_NAME", name)
    monkeypatch.setattr(Conf, "PREFIX", name)
    broker = RedisBroker(list_key=name)
    monkeypatch.setattr(tasks, "get_task_broker", lambda: broker)
    yield {"REDIS_URL": REDIS_URL, "Q_CLUSTER_NAME": name, "broker": broker}
    broker.delete_queue()


def test_a_posted_event_is_delivered_through_redis(
    client, receiver, start_cluster, redis_queue
):
    workspace = WorkspaceFactory(enabled=True, webhook__endpoint_url=receiver.url)
    start_cluster(
        broker_environment={
            key: redis_queue[key] for key in ("REDIS_URL", "Q_CLUSTER_NAME")
        }
    )

    delivery = post_event(client, workspace)

    wait_for_delivery(delivery.pk, status=DeliveryStatus.SUCCEEDED)
    assert len(receiver.wait_for_requests(1)) == 1


def test_messages_lost_by_redis_are_queued_again_by_the_sweeper(
    client, receiver, start_cluster, redis_queue
):
    workspace = WorkspaceFactory(enabled=True, webhook__endpoint_url=receiver.url)
    delivery = post_event(client, workspace)
    # Redis restarts without its data: the queued message is gone.
    redis_queue["broker"].delete_queue()
    start_cluster(
        broker_environment={
            key: redis_queue[key] for key in ("REDIS_URL", "Q_CLUSTER_NAME")
        }
    )

    # The sweeper queues it again once its last queueing is long past.
    Delivery.objects.filter(pk=delivery.pk).update(
        queued_at=timezone.now() - REQUEUE_AFTER
    )
    assert sweep_deliveries()["queued"] == 1

    wait_for_delivery(delivery.pk, status=DeliveryStatus.SUCCEEDED)
    assert len(receiver.wait_for_requests(1)) == 1
