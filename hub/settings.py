"""Configuration, one dataclass per concern, read from the environment.

Real environment variables are the only source: the hub has no hidden config file, so what
`env` shows is what the hub runs with.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def _env_int(name: str, default: int) -> int:
    raw = _env(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from exc


def _env_bool(name: str, default: bool) -> bool:
    raw = _env(name).lower()
    if not raw:
        return default
    return raw in {"1", "true", "yes", "on"}


def _env_list(name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    """A comma-separated list; unset keeps the default, set but empty means none."""
    if name not in os.environ:
        return default
    return tuple(item.strip().lower() for item in os.environ[name].split(",") if item.strip())


def _default_web_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "web"


@dataclass(frozen=True)
class ServerSettings:
    host: str = "127.0.0.1"
    """Interface the HTTP server binds to."""
    port: int = 8000
    """TCP port of the HTTP server."""
    public_url: str = ""
    """Base URL the outside world uses to reach the hub (webhook signatures are computed over it)."""
    web_dir: Path = field(default_factory=_default_web_dir)
    """Folder holding the static browser pages."""
    data_dir: Path = Path("var")
    """Folder for the embedded database and other local state."""
    worker_metrics_port: int | None = None
    """TCP port on which `hub worker` serves its own `/metrics` (the send and forwarding counters it
    keeps); None serves none. `hub serve` answers `/metrics` on its own port instead."""
    worker_metrics_host: str = "127.0.0.1"
    """Interface `hub worker`'s metrics port binds to."""


@dataclass(frozen=True)
class MongoSettings:
    uri: str = ""
    """MongoDB URI; empty starts the embedded SecantusDB as a child process."""
    database: str = "hub"
    """Database name used when the URI names none."""
    server_selection_timeout_ms: int = 5000
    """How long a request waits for MongoDB before the hub answers 503 (gateways then retry)."""


@dataclass(frozen=True)
class RedisSettings:
    url: str = ""
    """Redis URL; empty fans out in process and runs jobs in process."""
    channel_prefix: str = "hub"
    """Prefix of the pub/sub channel names, so several hubs can share one Redis."""


@dataclass(frozen=True)
class SecuritySettings:
    secret: str = ""
    """Server secret: signs reply addresses and the expiring media links gateways fetch an outbound
    MMS's files from (hub.domain.media_links); seeds the generic webhook secret when none is given."""
    webhook_secret: str = ""
    """HMAC-SHA256 key of the generic JSON webhook."""
    webhook_max_age_s: int = 300
    """A generic webhook whose timestamp is older than this is refused as stale (replay protection)."""
    session_ttl_s: int = 7 * 24 * 3600
    """Lifetime of an agent login session."""
    cookie_secure: bool = False
    """Mark the session cookie Secure (turn on behind HTTPS)."""
    metrics_token: str = ""
    """When set, `GET /metrics` answers only `Authorization: Bearer <this>`; empty leaves it open."""


@dataclass(frozen=True)
class TwilioSettings:
    account_sid: str = ""
    """Twilio account SID used for sending."""
    auth_token: str = ""
    """Twilio auth token: validates X-Twilio-Signature and authenticates sends."""
    api_base: str = "https://api.twilio.com"
    """Base URL of Twilio's REST API."""


@dataclass(frozen=True)
class KannelSettings:
    sendsms_url: str = ""
    """URL of smsbox's sendsms interface (http://host:sendsms-port/cgi-bin/sendsms); empty leaves the
    `kannel` gateway out, so no number can be given it."""
    username: str = ""
    """Username of the `sendsms-user` group the hub sends as."""
    password: str = ""
    """Password of that `sendsms-user`."""
    secret: str = ""
    """Shared secret smsbox's get-url/post-url and the dlr-url carry as `secret=`; empty refuses them all."""
    dlr_mask: int = 31
    """Delivery reports asked of Kannel: 1 delivered + 2 undelivered + 4 queued on the SMSC
    + 8 accepted by the SMSC + 16 rejected by the SMSC."""

    @property
    def enabled(self) -> bool:
        return bool(self.sendsms_url)


SERWERSMS_TYPES = ("nd", "ndi", "eco", "mms")
"""The kinds of received messages SerwerSMS lists (`messages/recived`'s `type`)."""


@dataclass(frozen=True)
class SerwerSmsSettings:
    api_url: str = "https://api2.serwersms.pl/"
    """Base URL of SerwerSMS's HTTPS API v2; each call is `<api_url><action>.json`."""
    token: str = ""
    """API token (customer panel → HTTPS API → API tokens), sent as `Authorization: Bearer`; it
    wins over `username` and `password`."""
    username: str = ""
    """API user's login, when no token is given."""
    password: str = ""
    """API user's password."""
    types: tuple[str, ...] = ("nd", "ndi", "mms")
    """Received messages to poll, any of nd, ndi, eco, mms: the services the account has."""
    poll_s: float = 15.0
    """Seconds between two polls of received messages and of delivery reports."""
    sender: str = ""
    """Sender name (authorised at SerwerSMS) of FULL SMS; empty sends from the hub's number itself."""
    eco: bool = False
    """Send SMS ECO (from SerwerSMS's pool, no sender) instead of FULL."""
    timeout_s: float = 30.0
    """How long one API call may take (the libraries' own timeout)."""

    @property
    def enabled(self) -> bool:
        """Only with credentials: without them the `serwersms` gateway is left out."""
        return bool(self.token or (self.username and self.password))

    def __post_init__(self) -> None:
        unknown = [t for t in self.types if t not in SERWERSMS_TYPES]
        if unknown:
            raise ValueError(
                f"HUB_SERWERSMS_TYPES: unknown {', '.join(unknown)} (use {', '.join(SERWERSMS_TYPES)})"
            )


@dataclass(frozen=True)
class SmppSettings:
    host: str = ""
    """The SMSC's host; empty leaves the `smpp` gateway out (no bind, no number can be given it)."""
    port: int = 2775
    """The SMSC's SMPP port."""
    system_id: str = ""
    """The ESME account the SMSC gave the hub (at most 15 characters)."""
    password: str = ""
    """Its password (at most 8 characters, as SMPP 3.4 allows)."""
    system_type: str = ""
    """The system_type some SMSCs ask for in the bind; usually empty."""
    bind_mode: str = "transceiver"
    """`transceiver` (one bind sends and receives) or `split` (a receiver and a transmitter)."""
    binds: int = 1
    """Sessions each process keeps with the SMSC (each bind mode counts once)."""
    enquire_link_s: float = 30.0
    """Idle seconds before an enquire_link checks that the SMSC is still there."""
    response_timeout_s: float = 30.0
    """Seconds to wait for an answer of the SMSC before a request, or the session, is given up."""
    throughput: float = 10.0
    """submit_sm per second and bind, at most, as the SMSC's contract allows (0: no limit)."""
    window: int = 10
    """Requests on one bind the SMSC has not answered yet, at most."""
    reconnect_min_s: float = 1.0
    """First wait before binding again after a lost or refused bind; doubled up to the next."""
    reconnect_max_s: float = 60.0
    """Longest wait between two bind attempts."""
    registered_delivery: bool = True
    """Ask the SMSC for a delivery receipt of every reply."""
    message_payload: bool = False
    """Send a long text whole in the message_payload TLV instead of parts with a UDH (for SMSCs
    that ask for it)."""
    part_hold_s: float = 5.0
    """How long the answer to a part of a long text waits for the whole text to be stored; past
    it the part is acknowledged and held in memory, so an SMSC that sends one part at a time
    goes on (kept under its response timer)."""
    reassembly_timeout_s: float = 60.0
    """Seconds after a long text's first part after which the parts that came are stored as they are."""

    @property
    def enabled(self) -> bool:
        return bool(self.host)


@dataclass(frozen=True)
class MediaSettings:
    max_bytes: int = 5 * 1024 * 1024
    """Largest accepted MMS attachment."""
    max_parts: int = 10
    """Most attachments kept from one message."""
    fetch_timeout_s: float = 20.0
    """Timeout for fetching an attachment from a gateway URL."""
    credential_hosts: tuple[str, ...] = ("api.twilio.com", "*.twiliocdn.com")
    """Hosts that get the gateway's credentials when an attachment is fetched from them (Twilio's
    media hosts); `*.example.com` matches every subdomain. Any other host is fetched without them."""
    allow_private: bool = False
    """Fetch attachments from private, loopback and link-local addresses (after DNS resolution).
    Off, such a URL is kept as a refused attachment: a signed webhook must not make the hub reach
    into its own network."""
    link_ttl_s: int = 3600
    """How long a signed link to an outbound MMS's file (the `MediaUrl` Twilio fetches, the
    simulated phone's picture) stays valid."""


@dataclass(frozen=True)
class RealtimeSettings:
    subscriber_queue: int = 1000
    """Events buffered per WebSocket; a client this far behind is disconnected."""
    resume_limit: int = 5000
    """Most events replayed to a reconnecting client; beyond that it must reload."""
    ws_deflate: str = "shared"
    """permessage-deflate on /ws: "shared" (no context takeover, each event compressed once for
    every socket), "per-socket" (context takeover: smaller frames, one compression per socket),
    or "off"."""

    def __post_init__(self) -> None:
        if self.ws_deflate not in ("shared", "per-socket", "off"):
            raise ValueError(f"HUB_WS_DEFLATE must be shared, per-socket or off, got {self.ws_deflate!r}")


def _env_float(name: str, default: float) -> float:
    raw = _env(name)
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a number, got {raw!r}") from exc


@dataclass(frozen=True)
class ForwardingSettings:
    timeout_s: float = 10.0
    """How long one forwarding attempt (an HTTP request, an SMTP session, a send) may take."""
    horizon_s: float = 24 * 3600.0
    """How long a delivery is retried before it is dead-lettered."""
    first_retry_s: float = 10.0
    """Delay before the first retry; doubled each time, with jitter, up to `max_retry_s`."""
    max_retry_s: float = 3600.0
    """Longest delay between two attempts."""

    @property
    def lease_s(self) -> float:
        """How long an attempt holds its delivery; a claim older than this belongs to a dead worker."""
        return self.timeout_s * 2 + 5


@dataclass(frozen=True)
class IngestSettings:
    """The accept log and the pipeline behind it (docs/architecture.md#ingest)."""

    answer_wait_s: float = 0.0
    """How long a webhook waits for its text to be routed and stored, to answer 200 with the
    message's id and sequence number; after that (or at once while the pipeline has a backlog) it
    answers 202 with the accept-log entry alone. The text is durable either way. 0: the append to
    the log is all a webhook waits for."""
    batch: int = 256
    """Texts routed and stored together at most."""
    lease_s: float = 30.0
    """How long a process holds the entries it accepted; an entry whose process died is taken over
    by another once its lease has run out."""
    max_lag: int = 20_000
    """Entries waiting in this process beyond which webhooks are refused with 503 and Retry-After."""
    max_lag_s: float = 60.0
    """Age of the oldest waiting entry beyond which webhooks are refused with 503 and Retry-After."""
    keep_s: float = 86_400.0
    """How long a routed entry stays in the log, answering a gateway's late retry as a repeat."""
    process: bool = True
    """Route and store accepted texts in this process. Off, the process only accepts: another
    process (with it on) takes the entries over when their lease runs out."""


@dataclass(frozen=True)
class UsageSettings:
    mms_units: int = 1
    """Units one MMS costs (an SMS segment, sent or forwarded, costs one): docs/operations.md."""


@dataclass(frozen=True)
class CampaignSettings:
    batch_budget_s: float = 20.0
    """How long one `campaign_batch` job sends before it hands the rest of its batch to the next
    job: well under the job's 60 s timeout, so a slow batch is never cut off and run again."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str = ""
    """SMTP server for e-mail forwarding; empty turns e-mail forwarding off (deliveries wait, then die)."""
    port: int = 587
    """SMTP port."""
    username: str = ""
    """SMTP login; empty sends without authenticating."""
    password: str = ""
    """SMTP password."""
    tls: str = "starttls"
    """"starttls", "tls" (implicit, port 465) or "none"."""
    sender: str = ""
    """From address of forwarded mails."""
    reply_domain: str = ""
    """Domain of the per-conversation Reply-To addresses (reply+<token>@domain), read by the IMAP poller."""


@dataclass(frozen=True)
class ImapSettings:
    host: str = ""
    """IMAP server of the mailbox that receives e-mail replies and MMS by mail; empty turns the poller off."""
    port: int = 993
    """IMAP port."""
    tls: bool = True
    """Connect with TLS (IMAPS)."""
    username: str = ""
    """IMAP login."""
    password: str = ""
    """IMAP password."""
    mailbox: str = "INBOX"
    """Folder to read."""
    poll_s: float = 60.0
    """Seconds between polls when the server has no IDLE (and the longest IDLE before re-checking)."""
    idle: bool = True
    """Use IDLE when the server offers it."""

    @property
    def enabled(self) -> bool:
        return bool(self.host)


@dataclass(frozen=True)
class Settings:
    server: ServerSettings = field(default_factory=ServerSettings)
    mongo: MongoSettings = field(default_factory=MongoSettings)
    redis: RedisSettings = field(default_factory=RedisSettings)
    security: SecuritySettings = field(default_factory=SecuritySettings)
    twilio: TwilioSettings = field(default_factory=TwilioSettings)
    kannel: KannelSettings = field(default_factory=KannelSettings)
    serwersms: SerwerSmsSettings = field(default_factory=SerwerSmsSettings)
    smpp: SmppSettings = field(default_factory=SmppSettings)
    media: MediaSettings = field(default_factory=MediaSettings)
    realtime: RealtimeSettings = field(default_factory=RealtimeSettings)
    forwarding: ForwardingSettings = field(default_factory=ForwardingSettings)
    usage: UsageSettings = field(default_factory=UsageSettings)
    campaign: CampaignSettings = field(default_factory=CampaignSettings)
    ingest: IngestSettings = field(default_factory=IngestSettings)
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    imap: ImapSettings = field(default_factory=ImapSettings)
    run_worker: bool = True
    """Run the job worker inside the server process."""
    simulator: bool = False
    """Expose the phone simulator page and its endpoints (unauthenticated: for demos and tests)."""

    @property
    def embedded_mongo(self) -> bool:
        return not self.mongo.uri

    @property
    def webhook_secret(self) -> str:
        return self.security.webhook_secret or self.security.secret


def load_settings() -> Settings:
    """Read the settings from the environment.

    Returns:
        The settings; a missing HUB_SECRET gets a random one for this run only.
    """
    secret = _env("HUB_SECRET") or secrets.token_urlsafe(32)
    host = _env("HUB_HOST", "127.0.0.1")
    port = _env_int("HUB_PORT", 8000)
    return Settings(
        server=ServerSettings(
            host=host,
            port=port,
            public_url=_env("HUB_PUBLIC_URL").rstrip("/"),
            web_dir=Path(_env("HUB_WEB_DIR")) if _env("HUB_WEB_DIR") else _default_web_dir(),
            data_dir=Path(_env("HUB_DATA_DIR", "var")),
            worker_metrics_port=_env_int("HUB_WORKER_METRICS_PORT", 0) or None,
            worker_metrics_host=_env("HUB_WORKER_METRICS_HOST", "127.0.0.1"),
        ),
        mongo=MongoSettings(
            uri=_env("MONGODB_URI"),
            database=_env("MONGODB_DATABASE", "hub"),
            server_selection_timeout_ms=_env_int("MONGODB_TIMEOUT_MS", 5000),
        ),
        redis=RedisSettings(url=_env("REDIS_URL"), channel_prefix=_env("HUB_CHANNEL_PREFIX", "hub")),
        security=SecuritySettings(
            secret=secret,
            webhook_secret=_env("HUB_WEBHOOK_SECRET"),
            webhook_max_age_s=_env_int("HUB_WEBHOOK_MAX_AGE", 300),
            session_ttl_s=_env_int("HUB_SESSION_TTL", 7 * 24 * 3600),
            cookie_secure=_env_bool("HUB_COOKIE_SECURE", False),
            metrics_token=_env("HUB_METRICS_TOKEN"),
        ),
        twilio=TwilioSettings(
            account_sid=_env("TWILIO_ACCOUNT_SID"),
            auth_token=_env("TWILIO_AUTH_TOKEN"),
            api_base=_env("TWILIO_API_BASE", "https://api.twilio.com").rstrip("/"),
        ),
        kannel=KannelSettings(
            sendsms_url=_env("HUB_KANNEL_SENDSMS_URL"),
            username=_env("HUB_KANNEL_USERNAME"),
            password=_env("HUB_KANNEL_PASSWORD"),
            secret=_env("HUB_KANNEL_SECRET"),
            dlr_mask=_env_int("HUB_KANNEL_DLR_MASK", 31),
        ),
        serwersms=SerwerSmsSettings(
            api_url=_env("HUB_SERWERSMS_API_URL", "https://api2.serwersms.pl/").rstrip("/") + "/",
            token=_env("HUB_SERWERSMS_TOKEN"),
            username=_env("HUB_SERWERSMS_USERNAME"),
            password=_env("HUB_SERWERSMS_PASSWORD"),
            types=_env_list("HUB_SERWERSMS_TYPES", SerwerSmsSettings.types),
            poll_s=_env_float("HUB_SERWERSMS_POLL", 15.0),
            sender=_env("HUB_SERWERSMS_SENDER"),
            eco=_env_bool("HUB_SERWERSMS_ECO", False),
            timeout_s=_env_float("HUB_SERWERSMS_TIMEOUT", 30.0),
        ),
        smpp=SmppSettings(
            host=_env("HUB_SMPP_HOST"),
            port=_env_int("HUB_SMPP_PORT", 2775),
            system_id=_env("HUB_SMPP_SYSTEM_ID"),
            password=_env("HUB_SMPP_PASSWORD"),
            system_type=_env("HUB_SMPP_SYSTEM_TYPE"),
            bind_mode=_env("HUB_SMPP_BIND_MODE", "transceiver"),
            binds=max(_env_int("HUB_SMPP_BINDS", 1), 1),
            enquire_link_s=_env_float("HUB_SMPP_ENQUIRE_LINK", 30.0),
            response_timeout_s=_env_float("HUB_SMPP_RESPONSE_TIMEOUT", 30.0),
            throughput=_env_float("HUB_SMPP_THROUGHPUT", 10.0),
            window=max(_env_int("HUB_SMPP_WINDOW", 10), 1),
            reconnect_min_s=_env_float("HUB_SMPP_RECONNECT_MIN", 1.0),
            reconnect_max_s=_env_float("HUB_SMPP_RECONNECT_MAX", 60.0),
            registered_delivery=_env_bool("HUB_SMPP_REGISTERED_DELIVERY", True),
            message_payload=_env_bool("HUB_SMPP_MESSAGE_PAYLOAD", False),
            part_hold_s=_env_float("HUB_SMPP_PART_HOLD", 5.0),
            reassembly_timeout_s=_env_float("HUB_SMPP_REASSEMBLY_TIMEOUT", 60.0),
        ),
        media=MediaSettings(
            max_bytes=_env_int("HUB_MEDIA_MAX_BYTES", 5 * 1024 * 1024),
            max_parts=_env_int("HUB_MEDIA_MAX_PARTS", 10),
            credential_hosts=_env_list("HUB_MEDIA_CREDENTIAL_HOSTS", MediaSettings.credential_hosts),
            allow_private=_env_bool("HUB_MEDIA_ALLOW_PRIVATE", False),
            link_ttl_s=max(_env_int("HUB_MEDIA_LINK_TTL", 3600), 60),
        ),
        realtime=RealtimeSettings(
            subscriber_queue=_env_int("HUB_WS_QUEUE", 1000),
            resume_limit=_env_int("HUB_WS_RESUME_LIMIT", 5000),
            ws_deflate=_env("HUB_WS_DEFLATE", "shared"),
        ),
        forwarding=ForwardingSettings(
            timeout_s=_env_float("HUB_FORWARD_TIMEOUT", 10.0),
            horizon_s=_env_float("HUB_FORWARD_HORIZON", 24 * 3600.0),
            first_retry_s=_env_float("HUB_FORWARD_FIRST_RETRY", 10.0),
            max_retry_s=_env_float("HUB_FORWARD_MAX_RETRY", 3600.0),
        ),
        usage=UsageSettings(mms_units=max(_env_int("HUB_USAGE_MMS_UNITS", 1), 0)),
        campaign=CampaignSettings(batch_budget_s=max(_env_float("HUB_CAMPAIGN_BATCH_BUDGET", 20.0), 0.0)),
        ingest=IngestSettings(
            answer_wait_s=max(_env_float("HUB_INGEST_ANSWER_WAIT", 0.0), 0.0),
            batch=max(_env_int("HUB_INGEST_BATCH", 256), 1),
            lease_s=max(_env_float("HUB_INGEST_LEASE", 30.0), 1.0),
            max_lag=max(_env_int("HUB_INGEST_MAX_LAG", 20_000), 1),
            max_lag_s=max(_env_float("HUB_INGEST_MAX_LAG_S", 60.0), 1.0),
            keep_s=max(_env_float("HUB_INGEST_KEEP", 86_400.0), 60.0),
            process=_env_bool("HUB_INGEST_PROCESS", True),
        ),
        smtp=SmtpSettings(
            host=_env("HUB_SMTP_HOST"),
            port=_env_int("HUB_SMTP_PORT", 587),
            username=_env("HUB_SMTP_USERNAME"),
            password=_env("HUB_SMTP_PASSWORD"),
            tls=_env("HUB_SMTP_TLS", "starttls").lower(),
            sender=_env("HUB_MAIL_FROM"),
            reply_domain=_env("HUB_MAIL_REPLY_DOMAIN"),
        ),
        imap=ImapSettings(
            host=_env("HUB_IMAP_HOST"),
            port=_env_int("HUB_IMAP_PORT", 993),
            tls=_env_bool("HUB_IMAP_TLS", True),
            username=_env("HUB_IMAP_USERNAME"),
            password=_env("HUB_IMAP_PASSWORD"),
            mailbox=_env("HUB_IMAP_MAILBOX", "INBOX"),
            poll_s=_env_float("HUB_IMAP_POLL", 60.0),
            idle=_env_bool("HUB_IMAP_IDLE", True),
        ),
        run_worker=_env_bool("HUB_RUN_WORKER", True),
        simulator=_env_bool("HUB_SIMULATOR", False),
    )
