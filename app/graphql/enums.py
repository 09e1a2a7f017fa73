"""The contract's enums. Values are Stripe's lowercase strings, as stored in the models."""
from enum import Enum

import strawberry


@strawberry.enum
class PriceType(Enum):
    ONE_TIME = "one_time"
    RECURRING = "recurring"


@strawberry.enum
class RecurringInterval(Enum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    YEAR = "year"


@strawberry.enum
class UsageType(Enum):
    LICENSED = "licensed"
    METERED = "metered"


@strawberry.enum
class AggregateUsage(Enum):
    SUM = "sum"
    LAST_DURING_PERIOD = "last_during_period"
    LAST_EVER = "last_ever"
    MAX = "max"


@strawberry.enum
class BillingScheme(Enum):
    PER_UNIT = "per_unit"
    TIERED = "tiered"


@strawberry.enum
class TiersMode(Enum):
    GRADUATED = "graduated"
    VOLUME = "volume"


@strawberry.enum
class RoundingMode(Enum):
    UP = "up"
    DOWN = "down"


@strawberry.enum
class CouponDuration(Enum):
    ONCE = "once"
    REPEATING = "repeating"
    FOREVER = "forever"


@strawberry.enum
class TestClockStatus(Enum):
    READY = "ready"
    ADVANCING = "advancing"
    INTERNAL_FAILURE = "internal_failure"


@strawberry.enum
class SubscriptionStatus(Enum):
    INCOMPLETE = "incomplete"
    INCOMPLETE_EXPIRED = "incomplete_expired"
    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    UNPAID = "unpaid"
    CANCELED = "canceled"
    PAUSED = "paused"


@strawberry.enum
class InvoiceStatus(Enum):
    DRAFT = "draft"
    OPEN = "open"
    PAID = "paid"
    VOID = "void"
    UNCOLLECTIBLE = "uncollectible"


@strawberry.enum
class CollectionMethod(Enum):
    CHARGE_AUTOMATICALLY = "charge_automatically"
    SEND_INVOICE = "send_invoice"


@strawberry.enum
class ProrationBehavior(Enum):
    CREATE_PRORATIONS = "create_prorations"
    NONE = "none"
    ALWAYS_INVOICE = "always_invoice"


@strawberry.enum
class PaymentBehavior(Enum):
    ALLOW_INCOMPLETE = "allow_incomplete"
    DEFAULT_INCOMPLETE = "default_incomplete"
    ERROR_IF_INCOMPLETE = "error_if_incomplete"


@strawberry.enum
class BillingCycleAnchorChoice(Enum):
    NOW = "now"
    UNCHANGED = "unchanged"


@strawberry.enum
class PauseCollectionBehavior(Enum):
    KEEP_AS_DRAFT = "keep_as_draft"
    MARK_UNCOLLECTIBLE = "mark_uncollectible"
    VOID = "void"


@strawberry.enum
class BillingReason(Enum):
    SUBSCRIPTION_CREATE = "subscription_create"
    SUBSCRIPTION_CYCLE = "subscription_cycle"
    SUBSCRIPTION_UPDATE = "subscription_update"
    SUBSCRIPTION_THRESHOLD = "subscription_threshold"
    MANUAL = "manual"
    UPCOMING = "upcoming"


@strawberry.enum
class InvoiceLineType(Enum):
    SUBSCRIPTION = "subscription"
    INVOICEITEM = "invoiceitem"


@strawberry.enum
class LineRemovalBehavior(Enum):
    DELETE = "delete"
    UNASSIGN = "unassign"


@strawberry.enum
class PendingInvoiceItemsBehavior(Enum):
    INCLUDE = "include"
    EXCLUDE = "exclude"


@strawberry.enum
class PaymentIntentStatus(Enum):
    REQUIRES_PAYMENT_METHOD = "requires_payment_method"
    REQUIRES_CONFIRMATION = "requires_confirmation"
    REQUIRES_ACTION = "requires_action"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    CANCELED = "canceled"


@strawberry.enum
class UsageRecordAction(Enum):
    INCREMENT = "increment"
    SET = "set"


@strawberry.enum
class CreditGrantCategory(Enum):
    PAID = "paid"
    PROMOTIONAL = "promotional"


@strawberry.enum
class CreditGrantPriceType(Enum):
    METERED = "metered"


@strawberry.enum
class MeterAggregationFormula(Enum):
    SUM = "sum"
    COUNT = "count"
    LAST = "last"


@strawberry.enum
class MeterStatus(Enum):
    ACTIVE = "active"
    INACTIVE = "inactive"


@strawberry.enum
class MeterValueGroupingWindow(Enum):
    HOUR = "hour"
    DAY = "day"


@strawberry.enum
class MeterEventAdjustmentStatus(Enum):
    PENDING = "pending"
    COMPLETE = "complete"


@strawberry.enum
class BillingAlertStatus(Enum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    ARCHIVED = "archived"


@strawberry.enum
class WebhookEndpointStatus(Enum):
    ENABLED = "enabled"
    DISABLED = "disabled"
