"""Webhook endpoints, and the bookkeeping of delivering events to them.

An event committed with endpoints subscribed to its type gets one delivery per endpoint (`plan_deliveries`,
once per event: it is the outbox's claim). A worker takes a delivery by a lease (`take`), POSTs the event
signed as Stripe signs it, and records the attempt (`finish`): success, or a retry with exponential backoff
until the retry window ends. An endpoint that has failed for long enough is disabled, with an event.
"""
import hashlib
import hmac
import json
import re
import secrets
import string
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

from app.billing import events, validation
from app.billing.errors import invalid
from app.billing.lookup import get
from app.config import WebhookSettings
from app.ids import new_id
from app.models.events import Event
from app.models.webhooks import WebhookDelivery, WebhookEndpoint
from app.stripe_json import event as event_json
from app.webhook_http import AddressRefused, check_url

SECRET_PREFIX = "whsec_"
MAX_URL = 2048
MAX_ENABLED_EVENTS = 200
MAX_EXPIRY_HOURS = 7 * 24
DEFAULT_EXPIRY_HOURS = 24
LEASE_GRACE = timedelta(seconds=30)
_EVENT_TYPE = re.compile(r"[a-z_]+(\.[a-z_]+)*(\.\*)?")
_ALPHANUMERIC = string.ascii_letters + string.digits


def wall_clock() -> datetime:
    """Deliveries run on real time, also for events of test clocks (Stripe signs with the sending time)."""
    return datetime.now(UTC)


def new_secret() -> str:
    return SECRET_PREFIX + "".join(secrets.choice(_ALPHANUMERIC) for _ in range(32))


# ---------------------------------------------------------------- endpoints

async def _valid_url(url, allow_private: bool, param: str = "url") -> str:
    url = validation.string(url, param, max_length=MAX_URL, required=True).strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise invalid("The URL must be an absolute http or https URL.", param, code="url_invalid")
    if parts.username or parts.password:
        raise invalid("The URL cannot carry a user name or password.", param, code="url_invalid")
    if not allow_private:
        try:
            await check_url(url)
        except AddressRefused as refused:
            raise invalid(f"Webhook URLs must resolve to public addresses: {refused}.", param,
                          code="url_invalid") from None
    return url


def _valid_events(enabled_events, param: str = "enabledEvents") -> list[str]:
    if not enabled_events:
        raise invalid("enabledEvents needs at least one event type, or [\"*\"] for all.", param)
    if len(enabled_events) > MAX_ENABLED_EVENTS:
        raise invalid(f"enabledEvents can hold at most {MAX_ENABLED_EVENTS} event types.", param)
    for i, name in enumerate(enabled_events):
        if name != "*" and not (isinstance(name, str) and len(name) <= 100 and _EVENT_TYPE.fullmatch(name)):
            raise invalid(f"Invalid event type: '{str(name)[:100]}'.", f"{param}.{i}")
    return list(dict.fromkeys(enabled_events))


def subscribes_to(endpoint: WebhookEndpoint, event_type: str) -> bool:
    for wanted in endpoint.enabled_events:
        if wanted == "*" or wanted == event_type or (wanted.endswith(".*") and event_type.startswith(wanted[:-1])):
            return True
    return False


async def create_webhook_endpoint(*, url: str, enabled_events: list[str], description: str | None = None,
                                  allow_private: bool = False) -> WebhookEndpoint:
    """The answer carries the signing secret once (`revealed_secret`); reads never show it again."""
    endpoint = await WebhookEndpoint.create(
        id=new_id("we"), url=await _valid_url(url, allow_private), enabled_events=_valid_events(enabled_events),
        description=validation.string(description, "description", max_length=5000), secret=new_secret(),
    )
    await events.record("webhook_endpoint.created", endpoint)
    endpoint.revealed_secret = endpoint.secret
    return endpoint


async def update_webhook_endpoint(id: str, changes: dict, *, allow_private: bool = False) -> WebhookEndpoint:
    """`changes`: url, enabled_events, description, disabled (the update input's fields that were given)."""
    endpoint = await get(WebhookEndpoint, id, kind="webhook_endpoint", lock=True)
    before = events.snapshot(endpoint)
    if "url" in changes:
        endpoint.url = await _valid_url(changes["url"], allow_private)
    if "enabled_events" in changes:
        endpoint.enabled_events = _valid_events(changes["enabled_events"])
    if "description" in changes:
        endpoint.description = validation.string(changes["description"], "description", max_length=5000)
    if changes.get("disabled") is not None:
        endpoint.status = "disabled" if changes["disabled"] else "enabled"
        if not changes["disabled"]:
            endpoint.failing_since = None
    await endpoint.save()
    await events.record_update("webhook_endpoint.updated", endpoint, before)
    return endpoint


async def delete_webhook_endpoint(id: str) -> WebhookEndpoint:
    """Soft: its deliveries keep their endpoint; pending ones are canceled when next taken."""
    endpoint = await get(WebhookEndpoint, id, kind="webhook_endpoint", lock=True)
    endpoint.deleted = True
    await endpoint.save(update_fields=["deleted"])
    await events.record("webhook_endpoint.deleted", endpoint)
    return endpoint


async def rotate_secret(id: str, expire_current_after_hours: int | None = None) -> WebhookEndpoint:
    """A new secret, shown once; the current one keeps signing for `expire_current_after_hours` (default 24,
    0 ends it now)."""
    hours = DEFAULT_EXPIRY_HOURS if expire_current_after_hours is None else expire_current_after_hours
    if not 0 <= hours <= MAX_EXPIRY_HOURS:
        raise invalid(f"expireCurrentAfterHours must be between 0 and {MAX_EXPIRY_HOURS}.",
                      "expireCurrentAfterHours")
    endpoint = await get(WebhookEndpoint, id, kind="webhook_endpoint", lock=True)
    if hours:
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_expires_at = wall_clock() + timedelta(hours=hours)
    else:
        endpoint.previous_secret = endpoint.previous_secret_expires_at = None
    endpoint.secret = new_secret()
    await endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at"])
    endpoint.revealed_secret = endpoint.secret
    return endpoint


def signing_secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    """The current secret, and the previous one while it has not expired."""
    previous = endpoint.previous_secret
    if previous and endpoint.previous_secret_expires_at and endpoint.previous_secret_expires_at > now:
        return [endpoint.secret, previous]
    return [endpoint.secret]


def signature_header(body: bytes, secrets_: list[str], timestamp: int) -> str:
    """Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.body"> for each secret."""
    signed = f"{timestamp}.".encode() + body
    return ",".join([f"t={timestamp}"] + [
        "v1=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest() for secret in secrets_])


def payload(event: Event) -> bytes:
    return json.dumps(event_json(event), separators=(",", ":")).encode()


# ---------------------------------------------------------------- deliveries

async def plan_deliveries(recorded: list[Event]) -> list[str]:
    """Mark these events dispatched and create their deliveries, once per event whoever calls (the API after
    its commit, or the outbox sweep): an event with deliveries is claimed by the update that flips its
    `dispatched`; those without any are marked together. Returns the new deliveries' ids."""
    now = wall_clock()
    deliveries: list[WebhookDelivery] = []
    async with in_transaction():
        endpoints = await WebhookEndpoint.filter(status="enabled", deleted=False)
        unwanted = []
        for event in recorded:
            wanted = [e for e in endpoints if subscribes_to(e, event.type)]
            if not wanted:
                unwanted.append(event.id)
            elif await Event.filter(id=event.id, dispatched=False).update(dispatched=True,
                                                                          pending_webhooks=len(wanted)):
                deliveries += [WebhookDelivery(id=new_id("whdel"), event_id=event.id, endpoint_id=e.id,
                                               next_attempt_at=now) for e in wanted]
        if unwanted:
            await Event.filter(id__in=unwanted, dispatched=False).update(dispatched=True)
        if deliveries:
            await WebhookDelivery.bulk_create(deliveries)
    return [d.id for d in deliveries]


@dataclass
class Taken:
    delivery: WebhookDelivery
    endpoint: WebhookEndpoint
    event: Event
    token: str


async def take(delivery_id: str, lease: timedelta) -> Taken | None:
    """Lease a pending delivery that is due, or None (done, not due, or another worker holds it). A delivery
    whose endpoint was disabled or deleted meanwhile is canceled."""
    now, token = wall_clock(), secrets.token_hex(16)
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    taken = await WebhookDelivery.filter(free, id=delivery_id, status="pending",
                                         next_attempt_at__lte=now + timedelta(seconds=1)) \
        .update(lease_token=token, lease_until=now + lease)
    if not taken:
        return None
    delivery = await WebhookDelivery.filter(id=delivery_id).select_related("endpoint", "event").first()
    if delivery.endpoint.deleted or delivery.endpoint.status != "enabled":
        async with in_transaction():
            await _leave_pending(delivery, token, status="canceled")
        return None
    return Taken(delivery, delivery.endpoint, delivery.event, token)


async def _leave_pending(delivery: WebhookDelivery, token: str, *, status: str, **changes) -> bool:
    moved = await WebhookDelivery.filter(id=delivery.id, lease_token=token).update(
        status=status, next_attempt_at=None, lease_token=None, lease_until=None, **changes)
    if moved:
        await Event.filter(id=delivery.event_id).update(pending_webhooks=F("pending_webhooks") - 1)
    return bool(moved)


@dataclass(frozen=True)
class Attempt:
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    def as_log(self) -> dict:
        return {"at": self.at.isoformat(), "status_code": self.status_code, "error": self.error,
                "duration_ms": self.duration_ms}


def retry_delay(attempts: int, policy: WebhookSettings) -> timedelta:
    """After the n-th failed attempt: first_retry_seconds, doubling, at most max_retry_seconds."""
    return timedelta(seconds=min(policy.first_retry_seconds * 2 ** min(attempts - 1, 40), policy.max_retry_seconds))


async def finish(taken: Taken, attempt: Attempt, policy: WebhookSettings) -> datetime | None:
    """Record the attempt (in the caller's transaction); returns when to try again, or None when done."""
    delivery = taken.delivery
    attempts = delivery.attempts + 1
    log = [*delivery.attempt_log, attempt.as_log()]
    fields = {"attempts": attempts, "attempt_log": log, "last_status_code": attempt.status_code,
              "last_error": attempt.error}
    if attempt.succeeded:
        await _leave_pending(delivery, taken.token, status="succeeded", **fields)
        if taken.endpoint.failing_since is not None:
            await WebhookEndpoint.filter(id=taken.endpoint.id).update(failing_since=None)
        return None
    await _endpoint_failed(taken.endpoint.id, attempt.at, policy)
    retry_at = attempt.at + retry_delay(attempts, policy)
    if retry_at > delivery.created + timedelta(hours=policy.retry_hours):
        await _leave_pending(delivery, taken.token, status="failed", **fields)
        return None
    await WebhookDelivery.filter(id=delivery.id, lease_token=taken.token).update(
        next_attempt_at=retry_at, lease_token=None, lease_until=None, **fields)
    return retry_at


async def _endpoint_failed(endpoint_id: str, at: datetime, policy: WebhookSettings) -> None:
    """Note since when the endpoint fails; disable it (with an event) once that is long enough."""
    await WebhookEndpoint.filter(id=endpoint_id, failing_since__isnull=True).update(failing_since=at)
    # FOR NO KEY UPDATE: deliveries inserted for this endpoint meanwhile (FOR KEY SHARE) need not wait
    endpoint = await WebhookEndpoint.filter(id=endpoint_id).select_for_update(no_key=True).first()
    if endpoint is None or endpoint.status != "enabled" or endpoint.failing_since is None:
        return
    if endpoint.failing_since <= at - timedelta(hours=policy.disable_after_hours):
        before = events.snapshot(endpoint)
        endpoint.status = "disabled"
        await endpoint.save(update_fields=["status"])
        await events.record_update("webhook_endpoint.disabled", endpoint, before)


async def due_deliveries(grace: timedelta, limit: int = 500) -> list[tuple[str, int]]:
    """(id, attempts) of pending deliveries overdue by `grace` and not leased: their job was lost."""
    now = wall_clock()
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    return await WebhookDelivery.filter(free, status="pending", next_attempt_at__lte=now - grace) \
        .order_by("next_attempt_at").limit(limit).values_list("id", "attempts")
