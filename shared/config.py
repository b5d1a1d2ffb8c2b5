"""The one typed settings object, read from the environment (12-factor).

Every default is the embedded one: a SQLite file and a local object directory under the data
directory, a local MLflow store, in-process events, no Redis. Real backends are switched on by URL.
No other module reads the environment.
"""

from __future__ import annotations

from ipaddress import ip_address
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_S3_KEY = "minioadmin"  # MinIO's out-of-the-box access and secret key


class Settings(BaseSettings):
    # hide_input_in_errors: a validation error must never echo a secret it was given.
    # env_ignore_empty: `REDIS_URL=` means unset (the embedded default), not a URL "".
    model_config = SettingsConfigDict(
        env_file=None, extra="ignore", case_sensitive=False, hide_input_in_errors=True, env_ignore_empty=True
    )

    # --- local state -------------------------------------------------------------------------
    data_dir: Path = Field(default=Path("var"), validation_alias="T2B_DATA_DIR")

    # --- store -------------------------------------------------------------------------------
    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    database_echo: bool = Field(default=False, validation_alias="DATABASE_ECHO")

    # --- HTTP functions ------------------------------------------------------------------------
    max_request_body_bytes: int = Field(
        default=256 * 1024,
        gt=0,
        validation_alias="MAX_REQUEST_BODY_BYTES",
        description="larger request bodies are refused with 413 before they are read",
    )

    # --- object storage ----------------------------------------------------------------------
    s3_endpoint: str | None = Field(
        default=None,
        validation_alias="S3_ENDPOINT",
        description="host:port or http(s)://host:port of an S3-compatible server; unset = local dir",
    )
    s3_access_key: str = Field(default=DEFAULT_S3_KEY, validation_alias="S3_ACCESS_KEY")
    s3_secret_key: SecretStr = Field(default=SecretStr(DEFAULT_S3_KEY), validation_alias="S3_SECRET_KEY")
    s3_bucket: str = Field(default="time2bet", validation_alias="S3_BUCKET")
    s3_region: str | None = Field(default=None, validation_alias="S3_REGION")
    objects_dir: Path | None = Field(default=None, validation_alias="T2B_OBJECTS_DIR")

    # --- MLflow ------------------------------------------------------------------------------
    mlflow_tracking_uri: str | None = Field(default=None, validation_alias="MLFLOW_TRACKING_URI")
    model_name: str = Field(default="time2bet-outcome", validation_alias="T2B_MODEL_NAME")
    # MLflow's own credential variables: serving resolves aliases over REST without the mlflow package.
    mlflow_tracking_token: SecretStr | None = Field(default=None, validation_alias="MLFLOW_TRACKING_TOKEN")
    mlflow_tracking_username: str | None = Field(default=None, validation_alias="MLFLOW_TRACKING_USERNAME")
    mlflow_tracking_password: SecretStr | None = Field(default=None, validation_alias="MLFLOW_TRACKING_PASSWORD")
    mlflow_tracking_insecure_tls: bool = Field(default=False, validation_alias="MLFLOW_TRACKING_INSECURE_TLS")
    mlflow_tracking_server_cert_path: str | None = Field(
        default=None, validation_alias="MLFLOW_TRACKING_SERVER_CERT_PATH"
    )
    mlflow_enable_workspaces: bool = Field(default=False, validation_alias="MLFLOW_ENABLE_WORKSPACES")
    mlflow_workspace: str | None = Field(default=None, validation_alias="MLFLOW_WORKSPACE")

    # --- ML ----------------------------------------------------------------------------------
    mlflow_experiment: str = Field(default="time2bet", validation_alias="T2B_MLFLOW_EXPERIMENT")

    # --- Redis / RabbitMQ --------------------------------------------------------------------
    redis_url: str | None = Field(default=None, validation_alias="REDIS_URL")
    redis_key_prefix: str = Field(default="t2b:", validation_alias="REDIS_KEY_PREFIX")
    amqp_url: str | None = Field(default=None, validation_alias="AMQP_URL")

    # --- events ------------------------------------------------------------------------------
    events_routing_dir: Path | None = Field(
        default=None,
        validation_alias="EVENTS_ROUTING_DIR",
        description="folder with the Broker/Trigger/PingSource manifests; unset = knative/base/eventing",
    )
    events_backoff_scale: float = Field(
        default=1.0,
        ge=0,
        validation_alias="EVENTS_BACKOFF_SCALE",
        description="multiplies every Trigger backoff delay locally; tests shrink it, 1 = as the manifests say",
    )
    events_dedupe_ttl_seconds: int = Field(default=86_400, gt=0, validation_alias="EVENTS_DEDUPE_TTL_SECONDS")
    events_dedupe_local_size: int = Field(default=10_000, gt=0, validation_alias="EVENTS_DEDUPE_LOCAL_SIZE")
    events_delivery_timeout_seconds: float = Field(
        default=30.0, gt=0, validation_alias="EVENTS_DELIVERY_TIMEOUT_SECONDS"
    )

    # --- event sender identity (Knative's authentication-oidc; shared/events/auth.py) ----------
    events_oidc_verify: bool = Field(
        default=False,
        validation_alias="EVENTS_OIDC_VERIFY",
        description="event functions refuse deliveries without a valid token of an allowed sender (401/403)",
    )
    events_oidc_audience: str | None = Field(
        default=None, validation_alias="EVENTS_OIDC_AUDIENCE", description="the `aud` a token must carry"
    )
    events_oidc_allowed_senders: str = Field(
        default="",
        validation_alias="EVENTS_OIDC_ALLOWED_SENDERS",
        description="token subjects that may deliver, comma-separated (system:serviceaccount:<ns>:<name>)",
    )
    events_oidc_issuer: str = Field(
        default="https://kubernetes.default.svc.cluster.local", validation_alias="EVENTS_OIDC_ISSUER"
    )
    events_oidc_jwks_url: str = Field(
        default="https://kubernetes.default.svc/openid/v1/jwks", validation_alias="EVENTS_OIDC_JWKS_URL"
    )
    events_oidc_service_account_dir: Path | None = Field(
        default=None,
        validation_alias="EVENTS_OIDC_SERVICE_ACCOUNT_DIR",
        description="the JWKS request carries <dir>/token as bearer and trusts <dir>/ca.crt (a projected "
        "service-account token and the cluster CA); unset = no token, the system's CAs",
    )

    # --- Argo Workflows (`t2b workflows lint|submit`) ----------------------------------------
    argo_server: str | None = Field(
        default=None, validation_alias="ARGO_SERVER", description="https://host:port of the Argo Server"
    )
    argo_token: SecretStr | None = Field(
        default=None, validation_alias="ARGO_TOKEN", description="bearer token (`argo auth token`); Bearer optional"
    )
    argo_namespace: str = Field(default="time2bet", validation_alias="ARGO_NAMESPACE")
    argo_insecure_skip_verify: bool = Field(default=False, validation_alias="ARGO_INSECURE_SKIP_VERIFY")

    # --- jobs --------------------------------------------------------------------------------
    async_job_ttl_seconds: int = Field(
        default=3600,
        gt=0,
        validation_alias="ASYNC_JOB_TTL",
        description="seconds an async prediction job is kept: waiting in the queue, and its result or failure after",
    )

    # --- serving -----------------------------------------------------------------------------
    redis_socket_timeout_seconds: float = Field(
        default=0.05,
        gt=0,
        validation_alias="REDIS_SOCKET_TIMEOUT",
        description="Redis is a cache: a slow answer counts as a miss",
    )
    redis_retry_after_seconds: float = Field(
        default=5.0,
        ge=0,
        validation_alias="REDIS_RETRY_AFTER",
        description="after a Redis failure, skip it for this long",
    )
    prediction_cache_ttl_seconds: int = Field(default=3600, gt=0, validation_alias="PREDICTION_CACHE_TTL")
    prediction_memory_cache_size: int = Field(
        default=10_000,
        gt=0,
        validation_alias="PREDICTION_MEMORY_CACHE",
        description="predictions each process keeps in memory in front of Redis",
    )
    team_state_cache_ttl_seconds: int = Field(default=300, gt=0, validation_alias="TEAM_STATE_CACHE_TTL")
    model_refresh_interval_seconds: float = Field(
        default=30.0,
        ge=0,
        validation_alias="MODEL_REFRESH_INTERVAL",
        description="how often a process checks whether the alias moved",
    )
    model_version: str | None = Field(
        default=None,
        pattern=r"^[1-9][0-9]*$",
        validation_alias="MODEL_VERSION",
        description="serve exactly this registry version (no alias re-check, no hot swap); unset = follow champion",
    )
    prediction_log_batch: int = Field(default=200, gt=0, validation_alias="PREDICTION_LOG_BATCH")
    prediction_log_flush_seconds: float = Field(default=1.0, gt=0, validation_alias="PREDICTION_LOG_FLUSH")
    prediction_log_retention_days: int = Field(
        default=7,
        ge=0,
        validation_alias="PREDICTION_LOG_RETENTION_DAYS",
        description="days of prediction log `t2b predictions compact` keeps in the store (older ones: parquet only)",
    )
    serve_host: str = Field(default="127.0.0.1", validation_alias="T2B_HOST")
    serve_port: int = Field(default=8080, validation_alias="T2B_PORT")

    # --- scraping ----------------------------------------------------------------------------
    selenoid_url: str | None = Field(default=None, validation_alias="SELENOID_URL")
    whoscored_base_url: str = Field(default="https://www.whoscored.com", validation_alias="WHOSCORED_BASE_URL")
    scrape_headless: bool = Field(default=True, validation_alias="SCRAPE_HEADLESS")
    scrape_user_agent: str | None = Field(
        default=None, validation_alias="SCRAPE_USER_AGENT", description="unset = the browser's own"
    )
    scrape_window_size: str = Field(default="1920,1080", pattern=r"^\d+,\d+$", validation_alias="SCRAPE_WINDOW_SIZE")
    scrape_page_load_timeout_seconds: float = Field(default=60.0, gt=0, validation_alias="SCRAPE_PAGE_LOAD_TIMEOUT")
    scrape_rate_limit_seconds: float = Field(
        default=5.0, ge=0, validation_alias="SCRAPE_RATE_LIMIT", description="pause between page loads, seconds"
    )
    scrape_rate_jitter_seconds: float = Field(
        default=5.0, ge=0, validation_alias="SCRAPE_RATE_JITTER", description="random extra pause, 0..this many seconds"
    )
    scrape_max_retries: int = Field(default=4, ge=0, validation_alias="SCRAPE_MAX_RETRIES")
    scrape_backoff_base_seconds: float = Field(
        default=10.0, ge=0, validation_alias="SCRAPE_BACKOFF_BASE", description="retry n waits base * 2**(n-1) seconds"
    )

    # --- match day (shared/matchday: the tick a PingSource sends every minute) -----------------------
    matchday_leagues: str = Field(
        default="",
        pattern=r"^([A-Z0-9]+(,[A-Z0-9]+)*)?$",
        validation_alias="MATCHDAY_LEAGUES",
        description="competition codes the tick covers, comma-separated; empty = every league mapped to WhoScored",
    )
    matchday_live_window_minutes: int = Field(
        default=150, gt=0, validation_alias="MATCHDAY_LIVE_WINDOW", description="minutes after kick-off a match is read"
    )
    matchday_live_overrun_minutes: int = Field(
        default=360,
        gt=0,
        validation_alias="MATCHDAY_LIVE_OVERRUN",
        description="a match last seen live is read on until it is final or this long after kick-off",
    )
    matchday_live_interval_seconds: float = Field(
        default=50.0, ge=0, validation_alias="MATCHDAY_LIVE_INTERVAL", description="re-read a live match after this"
    )
    matchday_preview_hours: int = Field(
        default=24, gt=0, validation_alias="MATCHDAY_PREVIEW_HOURS", description="previews of kick-offs this close"
    )
    matchday_preview_interval_minutes: float = Field(
        default=60.0, ge=0, validation_alias="MATCHDAY_PREVIEW_INTERVAL", description="re-read a preview after this"
    )
    matchday_max_pages: int = Field(
        default=12,
        gt=0,
        validation_alias="MATCHDAY_MAX_PAGES",
        description="page loads one tick may make (live matches first): keeps a tick within its minute or two",
    )

    @model_validator(mode="after")
    def _no_default_s3_keys_off_this_machine(self) -> Settings:
        # MinIO's well-known default keys are fine for a server on loopback, never for a shared one.
        default_keys = self.s3_access_key == DEFAULT_S3_KEY or self.s3_secret_key.get_secret_value() == DEFAULT_S3_KEY
        if self.s3_endpoint and default_keys and not _is_loopback(self.s3_endpoint):
            raise ValueError(
                f"S3_ACCESS_KEY/S3_SECRET_KEY are MinIO's defaults but S3_ENDPOINT {self.s3_endpoint} is not on "
                "this machine: set the server's real keys"
            )
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return normalise_database_url(self.database_url)
        return f"sqlite:///{(self.data_dir / 'time2bet.db').resolve()}"

    @property
    def resolved_objects_dir(self) -> Path:
        return (self.objects_dir or self.data_dir / "objects").resolve()

    @property
    def resolved_mlflow_tracking_uri(self) -> str:
        if self.mlflow_tracking_uri:
            return self.mlflow_tracking_uri
        return f"sqlite:///{(self.data_dir / 'mlflow.db').resolve()}"

    @property
    def mlflow_artifacts_dir(self) -> Path:
        return (self.data_dir / "mlartifacts").resolve()


def _is_loopback(endpoint: str) -> bool:
    host = urlsplit(endpoint if "//" in endpoint else f"//{endpoint}").hostname or ""
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:  # a DNS name other than localhost
        return False


def normalise_database_url(url: str) -> str:
    """Point bare PostgreSQL URLs at psycopg 3, the only PostgreSQL driver installed."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def get_settings() -> Settings:
    """The settings as the environment says now. A long-lived process reads them once, into its
    `shared.services.Services`; commands read them when they start."""
    return Settings()
