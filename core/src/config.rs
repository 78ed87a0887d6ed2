//! Configuration: SPEC's keys, layered with figment (defaults < file < environment < flags).
//!
//! Every mistake stops start-up with a [`ConfigError`] naming the key and where the bad
//! value came from, so an operator never has to guess which layer won.

use std::{collections::BTreeMap, fmt, net::SocketAddr, path::PathBuf};

use figment::{
    providers::{Env, Format, Serialized, Toml},
    value::{Dict, Map},
    Figment, Metadata, Profile, Provider,
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The file read when `--config` is not given; its absence is not an error.
pub const DEFAULT_CONFIG_FILE: &str = "dashtray.toml";
/// Environment variables `DASHTRAY_<SECTION>__<KEY>` override the file.
pub const ENV_PREFIX: &str = "DASHTRAY_";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub ratelimit: RateLimitConfig,
    pub auth: AuthConfig,
    pub http: HttpConfig,
    pub plugins: PluginsConfig,
    pub log: LogConfig,
    #[serde(default)]
    pub telemetry: TelemetryConfig,
    pub usage: UsageConfig,
    #[serde(default)]
    pub console: ConsoleConfig,
    pub webhooks: crate::webhooks::WebhooksConfig,
    /// Each plugin's own section, `[plugin.<name>]`, handed to it as JSON when mounted.
    #[serde(default)]
    pub plugin: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub bind: SocketAddr,
    /// How long a stopping server waits for in-flight requests before it closes them.
    pub shutdown_timeout_secs: u64,
    /// Where operators' endpoints (metrics, probes) listen; none (the default) serves none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_bind: Option<SocketAddr>,
    /// The URL users reach the server at (console links and cookies); none means
    /// `http://<server.bind>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
}

impl ServerConfig {
    /// `server.public_url`, or `http://<server.bind>`; never ends in `/`.
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.bind),
        }
    }
}

/// The console under `/console`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ConsoleConfig {
    /// Serve `/console`.
    pub enabled: bool,
    /// How long a console session lasts.
    pub session_hours: PositiveU32,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig {
            enabled: true,
            session_hours: PositiveU32(12),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct UsageConfig {
    /// How often usage counts reach the database (and what a crash can lose).
    pub flush_secs: PositiveU32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    pub url: DatabaseUrl,
    pub max_connections: u32,
    /// How long a request waits for a database connection before it answers 503.
    pub acquire_timeout_ms: u64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RateLimitBackend {
    Memory,
    Database,
    Redis,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StoreFailurePolicy {
    Open,
    Closed,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    pub backend: RateLimitBackend,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis_url: Option<SecretUrl>,
    pub default_per_hour: PositiveU32,
    /// A plan's budget, for its projects without their own (`[ratelimit.per_plan]`).
    #[serde(default)]
    pub per_plan: BTreeMap<crate::auth::Plan, PositiveU32>,
    pub on_store_failure: StoreFailurePolicy,
    /// Longest a request waits on the store before `on_store_failure` applies.
    pub timeout_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    pub cache_ttl_secs: u64,
    /// Failed authentications allowed per client address per minute.
    pub failed_per_minute: PositiveU32,
    /// Keys are stored as HMAC-SHA256(pepper, key) when set; changing it voids every key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pepper: Option<Secret>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    pub cache_max_age_secs: u64,
    /// Longest a request may take before it is answered 503 (a stuck dependency).
    pub request_timeout_secs: u64,
    /// A connection with no traffic for this long is closed (a client holding it open).
    pub idle_timeout_secs: u64,
    /// Origins a browser may call the API from; none (the default) sends no CORS headers.
    #[serde(default)]
    pub cors_allowed_origins: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct PluginsConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
    #[serde(default)]
    pub disabled: Vec<String>,
    #[serde(default)]
    pub skip_invalid: bool,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    pub format: LogFormat,
    pub level: LogLevel,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct TelemetryConfig {
    /// An OTLP/HTTP collector's base URL (`http://collector:4318`): request spans are
    /// exported to its `/v1/traces`. None (the default) exports nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub otlp_endpoint: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            server: ServerConfig {
                bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
                shutdown_timeout_secs: 30,
                admin_bind: None,
                public_url: None,
            },
            database: DatabaseConfig {
                url: DatabaseUrl::parse("sqlite://dashtray.db").expect("default url is valid"),
                max_connections: 10,
                acquire_timeout_ms: 3000,
            },
            ratelimit: RateLimitConfig {
                backend: RateLimitBackend::Memory,
                redis_url: None,
                default_per_hour: PositiveU32(1000),
                per_plan: BTreeMap::new(),
                on_store_failure: StoreFailurePolicy::Open,
                timeout_ms: 250,
            },
            auth: AuthConfig {
                cache_ttl_secs: 10,
                failed_per_minute: PositiveU32(30),
                pepper: None,
            },
            http: HttpConfig {
                cache_max_age_secs: 60,
                request_timeout_secs: 30,
                idle_timeout_secs: 60,
                cors_allowed_origins: Vec::new(),
            },
            plugins: PluginsConfig::default(),
            usage: UsageConfig {
                flush_secs: PositiveU32(10),
            },
            log: LogConfig {
                format: LogFormat::Pretty,
                level: LogLevel("info".into()),
            },
            telemetry: TelemetryConfig::default(),
            console: ConsoleConfig::default(),
            webhooks: crate::webhooks::WebhooksConfig::default(),
            plugin: BTreeMap::new(),
        }
    }
}

/// Where to read configuration from, and the flags that override everything.
#[derive(Debug, Clone, Default)]
pub struct ConfigSources {
    /// `--config FILE`: must exist. Without it, `dashtray.toml` is read if present.
    pub file: Option<PathBuf>,
    /// Command-line overrides as `(key, value, flag)`, e.g. `("server.bind", "…", "--bind")`.
    pub flags: Vec<(String, String, String)>,
}

impl ConfigSources {
    pub fn flag(mut self, key: &str, value: impl ToString, flag: &str) -> Self {
        self.flags
            .push((key.to_owned(), value.to_string(), flag.to_owned()));
        self
    }
}

impl Config {
    /// Reads the layers in SPEC's order and validates the result.
    pub fn load(sources: &ConfigSources) -> Result<Config, ConfigError> {
        let figment = Config::figment(sources)?;
        let config: Config = figment
            .extract()
            .map_err(|err| ConfigError::from_figment(&figment, err))?;
        config.validate(&figment)?;
        Ok(config)
    }

    fn figment(sources: &ConfigSources) -> Result<Figment, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        figment = match &sources.file {
            Some(path) if !path.exists() => {
                return Err(ConfigError {
                    key: "--config".into(),
                    source: "command-line flag --config".into(),
                    message: format!("the file {} does not exist", path.display()),
                })
            }
            Some(path) => figment.merge(Toml::file_exact(path)),
            None if PathBuf::from(DEFAULT_CONFIG_FILE).exists() => {
                figment.merge(Toml::file_exact(DEFAULT_CONFIG_FILE))
            }
            None => figment,
        };
        // Only `DASHTRAY_<SECTION>__<KEY>` names are configuration; other DASHTRAY_*
        // variables (a client's DASHTRAY_API_KEY, the tests' URLs) are not ours to reject.
        figment = figment.merge(
            Env::prefixed(ENV_PREFIX)
                .filter(|key| key.as_str().contains("__"))
                .split("__"),
        );
        for (key, value, flag) in &sources.flags {
            figment = figment.merge(FlagProvider {
                key: key.clone(),
                value: value.clone(),
                flag: flag.clone(),
            });
        }
        Ok(figment)
    }

    /// Rules that span keys, or that serde cannot express.
    fn validate(&self, figment: &Figment) -> Result<(), ConfigError> {
        if self.ratelimit.backend == RateLimitBackend::Redis && self.ratelimit.redis_url.is_none() {
            return Err(ConfigError::at(
                figment,
                "ratelimit.backend",
                "the `redis` backend needs `ratelimit.redis_url`",
            ));
        }
        if let Some(url) = &self.ratelimit.redis_url {
            if !(url.as_str().starts_with("redis://") || url.as_str().starts_with("rediss://")) {
                return Err(ConfigError::at(
                    figment,
                    "ratelimit.redis_url",
                    "expected `redis://HOST:PORT` or `rediss://HOST:PORT`",
                ));
            }
        }
        if let Some(dir) = &self.plugins.dir {
            if !dir.is_dir() {
                return Err(ConfigError::at(
                    figment,
                    "plugins.dir",
                    format!("{} is not a folder", dir.display()),
                ));
            }
        }
        if self.http.request_timeout_secs == 0 || self.http.idle_timeout_secs == 0 {
            let key = match self.http.request_timeout_secs {
                0 => "http.request_timeout_secs",
                _ => "http.idle_timeout_secs",
            };
            return Err(ConfigError::at(figment, key, "must be at least 1"));
        }
        for origin in &self.http.cors_allowed_origins {
            let valid = origin == "*"
                || url::Url::parse(origin).is_ok_and(|u| {
                    matches!(u.scheme(), "http" | "https")
                        && u.path() == "/"
                        && !origin.ends_with('/')
                });
            if !valid {
                return Err(ConfigError::at(
                    figment,
                    "http.cors_allowed_origins",
                    format!(
                        "`{origin}` is not an origin such as `https://app.example.com` (or `*`)"
                    ),
                ));
            }
        }
        if self.database.max_connections == 0 {
            return Err(ConfigError::at(
                figment,
                "database.max_connections",
                "must be at least 1",
            ));
        }
        self.validate_operators(figment)
    }

    /// The admin listener and the trace export: their own address, a collector's URL.
    fn validate_operators(&self, figment: &Figment) -> Result<(), ConfigError> {
        if let Some(admin) = self.server.admin_bind {
            // Port 0 picks a free port for each, so two zeros are two addresses.
            let same_port = admin.port() == self.server.bind.port() && admin.port() != 0;
            let overlapping = admin.ip() == self.server.bind.ip()
                || admin.ip().is_unspecified()
                || self.server.bind.ip().is_unspecified();
            if same_port && overlapping {
                return Err(ConfigError::at(
                    figment,
                    "server.admin_bind",
                    format!(
                        "{admin} is the public address (`server.bind` = {}): metrics and probes \
                         need an address of their own",
                        self.server.bind
                    ),
                ));
            }
        }
        if let Some(public_url) = &self.server.public_url {
            let valid = url::Url::parse(public_url).is_ok_and(|u| {
                matches!(u.scheme(), "http" | "https")
                    && u.host().is_some()
                    && u.query().is_none()
                    && u.fragment().is_none()
            });
            if !valid {
                return Err(ConfigError::at(
                    figment,
                    "server.public_url",
                    format!(
                        "`{public_url}` is not a URL such as `https://api.example.com` \
                         (http or https, no query)"
                    ),
                ));
            }
        }
        if let Some(endpoint) = &self.telemetry.otlp_endpoint {
            let valid = url::Url::parse(endpoint)
                .is_ok_and(|u| u.scheme() == "http" && u.host().is_some() && u.query().is_none());
            if !valid {
                return Err(ConfigError::at(
                    figment,
                    "telemetry.otlp_endpoint",
                    format!(
                        "`{endpoint}` is not a collector's OTLP/HTTP URL such as \
                         `http://collector:4318` (plain HTTP: run the collector beside the server)"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The configuration as `dashtray config` shows it: every secret replaced by `***`.
    pub fn redacted(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self).expect("config serializes");
        value["database"]["url"] = self.database.url.redacted().into();
        if let Some(url) = &self.ratelimit.redis_url {
            value["ratelimit"]["redis_url"] = url.redacted().into();
        }
        if self.auth.pepper.is_some() {
            value["auth"]["pepper"] = "***".into();
        }
        value
    }

    /// The section `[plugin.<name>]`, or an empty object.
    pub fn plugin_section(&self, name: &str) -> serde_json::Value {
        self.plugin
            .get(name)
            .cloned()
            .unwrap_or_else(|| serde_json::json!({}))
    }
}

/// A configuration key whose value is wrong, and where the value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub key: String,
    pub source: String,
    pub message: String,
}

impl ConfigError {
    fn at(figment: &Figment, key: &str, message: impl Into<String>) -> Self {
        ConfigError {
            key: key.to_owned(),
            source: describe_source(figment.find_metadata(key), key),
            message: message.into(),
        }
    }

    fn from_figment(figment: &Figment, err: figment::Error) -> Self {
        // Report the first problem; fixing it reveals the next, which keeps the message short.
        let err = err
            .into_iter()
            .next()
            .expect("an error has at least one cause");
        let mut path = err.path.clone();
        if let figment::error::Kind::UnknownField(field, _) = &err.kind {
            if path.last() != Some(field) {
                path.push(field.clone());
            }
        }
        let key = path.join(".");
        let metadata = figment.find_metadata(&key).or(err.metadata.as_ref());
        ConfigError {
            source: describe_source(metadata, &key),
            key,
            message: describe_kind(&err.kind),
        }
    }
}

/// figment's wording, but plain for the two mistakes people make most.
fn describe_kind(kind: &figment::error::Kind) -> String {
    use figment::error::Kind;
    match kind {
        Kind::UnknownVariant(found, expected) => {
            format!(
                "unknown value `{found}`; expected one of: {}",
                expected.join(", ")
            )
        }
        Kind::UnknownField(found, expected) if !expected.is_empty() => {
            format!(
                "unknown key `{found}`; known keys here: {}",
                expected.join(", ")
            )
        }
        other => other.to_string(),
    }
}

fn describe_source(metadata: Option<&Metadata>, key: &str) -> String {
    let Some(metadata) = metadata else {
        return "unknown source".into();
    };
    let keys: Vec<&str> = key.split('.').collect();
    match &metadata.source {
        Some(figment::Source::File(path)) => format!("file {}", path.display()),
        // The variable's name follows from the key: SPEC's `DASHTRAY_<SECTION>__<KEY>`.
        _ if metadata.name.contains("environment") => format!(
            "environment variable {ENV_PREFIX}{}",
            keys.join("__").to_uppercase()
        ),
        _ => metadata.name.to_string(),
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid configuration `{}` (from {}): {}",
            self.key, self.source, self.message
        )
    }
}

impl std::error::Error for ConfigError {}

/// One command-line flag as a figment layer, so errors can name the flag.
struct FlagProvider {
    key: String,
    value: String,
    flag: String,
}

impl Provider for FlagProvider {
    fn metadata(&self) -> Metadata {
        Metadata::named(format!("command-line flag {}", self.flag))
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let value: figment::value::Value = self.value.parse().expect("infallible");
        Serialized::default(&self.key, value).data()
    }
}

/// `database.url`: `sqlite://PATH` or `postgres://…`, checked when read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

/// The storage engine a [`DatabaseUrl`] names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseKind {
    Sqlite,
    Postgres,
}

impl DatabaseUrl {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let url = DatabaseUrl(raw.to_owned());
        match url.kind() {
            Some(DatabaseKind::Sqlite) => {
                if raw
                    .trim_start_matches("sqlite:")
                    .trim_start_matches("//")
                    .is_empty()
                {
                    return Err("a SQLite URL needs a path, as in `sqlite://dashtray.db`".into());
                }
                Ok(url)
            }
            Some(DatabaseKind::Postgres) => {
                url::Url::parse(raw).map_err(|e| format!("not a valid Postgres URL: {e}"))?;
                Ok(url)
            }
            None => Err("expected `sqlite://PATH` or `postgres://USER@HOST/DATABASE`".into()),
        }
    }

    pub fn kind(&self) -> Option<DatabaseKind> {
        if self.0.starts_with("sqlite:") {
            Some(DatabaseKind::Sqlite)
        } else if self.0.starts_with("postgres://") || self.0.starts_with("postgresql://") {
            Some(DatabaseKind::Postgres)
        } else {
            None
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn redacted(&self) -> String {
        redact_password(&self.0)
    }
}

/// A URL that may carry a password (`ratelimit.redis_url`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretUrl(String);

impl SecretUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn redacted(&self) -> String {
        redact_password(&self.0)
    }
}

fn redact_password(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        _ => raw.to_owned(),
    }
}

/// A secret setting: never printed, not even by `{:?}`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// A log filter such as `info` or `dashtray=debug,tokio_postgres=warn`, checked when read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLevel(String);

impl LogLevel {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A whole number of at least 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct PositiveU32(pub u32);

impl<'de> Deserialize<'de> for PositiveU32 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match u32::deserialize(d)? {
            0 => Err(serde::de::Error::custom("must be at least 1")),
            n => Ok(PositiveU32(n)),
        }
    }
}

macro_rules! string_newtype_serde {
    ($ty:ident, $check:expr) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(d)?;
                let check: fn(&str) -> Result<$ty, String> = $check;
                check(&raw).map_err(serde::de::Error::custom)
            }
        }
    };
}

string_newtype_serde!(DatabaseUrl, DatabaseUrl::parse);
string_newtype_serde!(SecretUrl, |raw| {
    url::Url::parse(raw)
        .map(|_| SecretUrl(raw.to_owned()))
        .map_err(|e| format!("not a valid URL: {e}"))
});
string_newtype_serde!(Secret, |raw| {
    if raw.len() < 16 {
        Err("a pepper is at least 16 characters".to_owned())
    } else {
        Ok(Secret(raw.to_owned()))
    }
});
string_newtype_serde!(LogLevel, |raw| {
    tracing_subscriber::EnvFilter::builder()
        .parse(raw)
        .map(|_| LogLevel(raw.to_owned()))
        .map_err(|e| format!("not a valid log filter: {e}"))
});

#[cfg(test)]
// figment's Jail fixes the closures' error type; its size is not ours to choose.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;
    use figment::Jail;

    fn load_in_jail(sources: ConfigSources) -> Result<Config, ConfigError> {
        Config::load(&sources)
    }

    #[test]
    fn defaults_need_no_file() {
        Jail::expect_with(|_| {
            let config = load_in_jail(ConfigSources::default()).unwrap();
            assert_eq!(config, Config::default());
            assert_eq!(config.server.bind.to_string(), "127.0.0.1:8080");
            assert_eq!(config.database.url.as_str(), "sqlite://dashtray.db");
            Ok(())
        });
    }

    #[test]
    fn layers_apply_in_order_file_env_flag() {
        Jail::expect_with(|jail| {
            jail.create_file(
                DEFAULT_CONFIG_FILE,
                "[server]\nbind = \"127.0.0.1:1000\"\n[ratelimit]\ndefault_per_hour = 50\n",
            )?;
            jail.set_env("DASHTRAY_RATELIMIT__DEFAULT_PER_HOUR", "70");
            jail.set_env("DASHTRAY_SERVER__BIND", "127.0.0.1:2000");
            let flags = ConfigSources::default().flag("server.bind", "127.0.0.1:3000", "--bind");
            let config = load_in_jail(flags).unwrap();
            assert_eq!(config.server.bind.to_string(), "127.0.0.1:3000");
            assert_eq!(config.ratelimit.default_per_hour.0, 70);
            Ok(())
        });
    }

    #[test]
    fn unknown_backend_from_env_names_key_and_variable() {
        Jail::expect_with(|jail| {
            jail.set_env("DASHTRAY_RATELIMIT__BACKEND", "bogus");
            let err = load_in_jail(ConfigSources::default()).unwrap_err();
            assert_eq!(err.key, "ratelimit.backend");
            assert_eq!(
                err.source,
                "environment variable DASHTRAY_RATELIMIT__BACKEND"
            );
            assert!(err.message.contains("bogus"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn unknown_key_in_file_names_key_and_file() {
        Jail::expect_with(|jail| {
            jail.create_file(DEFAULT_CONFIG_FILE, "[server]\nbindd = \"x\"\n")?;
            let err = load_in_jail(ConfigSources::default()).unwrap_err();
            assert_eq!(err.key, "server.bindd");
            assert!(err.source.starts_with("file "), "{err}");
            assert!(err.source.ends_with(DEFAULT_CONFIG_FILE), "{err}");
            Ok(())
        });
    }

    #[test]
    fn the_public_url_defaults_to_the_bind_address_and_a_bad_one_is_named() {
        Jail::expect_with(|jail| {
            let config = load_in_jail(ConfigSources::default()).unwrap();
            assert_eq!(config.server.public_url(), "http://127.0.0.1:8080");
            assert!(config.console.enabled);
            assert_eq!(config.console.session_hours.0, 12);
            jail.set_env("DASHTRAY_SERVER__PUBLIC_URL", "https://api.example.com/");
            let config = load_in_jail(ConfigSources::default()).unwrap();
            assert_eq!(config.server.public_url(), "https://api.example.com");
            jail.set_env("DASHTRAY_SERVER__PUBLIC_URL", "ftp://api.example.com");
            let err = load_in_jail(ConfigSources::default()).unwrap_err();
            assert_eq!(err.key, "server.public_url");
            assert!(err.source.contains("DASHTRAY_SERVER__PUBLIC_URL"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn unknown_section_from_env_is_rejected() {
        Jail::expect_with(|jail| {
            jail.set_env("DASHTRAY_DATABSE__URL", "sqlite://x.db");
            let err = load_in_jail(ConfigSources::default()).unwrap_err();
            assert_eq!(err.key, "databse");
            Ok(())
        });
    }

    #[test]
    fn non_config_dashtray_variables_are_ignored() {
        Jail::expect_with(|jail| {
            jail.set_env("DASHTRAY_API_KEY", "dk_x_y");
            jail.set_env("DASHTRAY_TEST_POSTGRES_URL", "postgres://x");
            assert!(load_in_jail(ConfigSources::default()).is_ok());
            Ok(())
        });
    }

    #[test]
    fn bad_database_url_names_the_key() {
        Jail::expect_with(|jail| {
            jail.set_env("DASHTRAY_DATABASE__URL", "mysql://localhost/x");
            let err = load_in_jail(ConfigSources::default()).unwrap_err();
            assert_eq!(err.key, "database.url");
            assert!(err.message.contains("sqlite://"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn bad_bind_flag_names_the_flag() {
        Jail::expect_with(|_| {
            let flags = ConfigSources::default().flag("server.bind", "nowhere", "--bind");
            let err = load_in_jail(flags).unwrap_err();
            assert_eq!(err.key, "server.bind");
            assert_eq!(err.source, "command-line flag --bind");
            Ok(())
        });
    }

    #[test]
    fn a_plugins_dir_must_be_a_folder() {
        Jail::expect_with(|jail| {
            jail.set_env("DASHTRAY_PLUGINS__DIR", "/nonexistent/dashtray/plugins");
            let err = load_in_jail(ConfigSources::default()).unwrap_err();
            assert_eq!(err.key, "plugins.dir");
            Ok(())
        });
    }

    #[test]
    fn redis_backend_requires_a_url() {
        Jail::expect_with(|jail| {
            jail.set_env("DASHTRAY_RATELIMIT__BACKEND", "redis");
            let err = load_in_jail(ConfigSources::default()).unwrap_err();
            assert_eq!(err.key, "ratelimit.backend");
            assert!(err.message.contains("redis_url"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn zero_budget_and_bad_log_level_are_rejected() {
        Jail::expect_with(|jail| {
            jail.set_env("DASHTRAY_RATELIMIT__DEFAULT_PER_HOUR", "0");
            let err = load_in_jail(ConfigSources::default()).unwrap_err();
            assert_eq!(err.key, "ratelimit.default_per_hour");
            Ok(())
        });
        Jail::expect_with(|jail| {
            jail.set_env("DASHTRAY_LOG__LEVEL", "loud=[");
            let err = load_in_jail(ConfigSources::default()).unwrap_err();
            assert_eq!(err.key, "log.level");
            Ok(())
        });
    }

    #[test]
    fn the_admin_listener_cannot_share_the_public_address() {
        Jail::expect_with(|jail| {
            jail.set_env("DASHTRAY_SERVER__BIND", "127.0.0.1:8080");
            jail.set_env("DASHTRAY_SERVER__ADMIN_BIND", "0.0.0.0:8080");
            let err = load_in_jail(ConfigSources::default()).unwrap_err();
            assert_eq!(err.key, "server.admin_bind");
            assert_eq!(
                err.source,
                "environment variable DASHTRAY_SERVER__ADMIN_BIND"
            );
            Ok(())
        });
        Jail::expect_with(|jail| {
            jail.set_env("DASHTRAY_SERVER__ADMIN_BIND", "127.0.0.1:9090");
            let config = load_in_jail(ConfigSources::default()).unwrap();
            assert_eq!(
                config.server.admin_bind,
                Some(SocketAddr::from(([127, 0, 0, 1], 9090)))
            );
            Ok(())
        });
    }

    #[test]
    fn a_bad_admin_bind_flag_names_the_key_and_flag() {
        Jail::expect_with(|_| {
            let flags =
                ConfigSources::default().flag("server.admin_bind", "localhost", "--admin-bind");
            let err = load_in_jail(flags).unwrap_err();
            assert_eq!(err.key, "server.admin_bind");
            assert_eq!(err.source, "command-line flag --admin-bind");
            Ok(())
        });
    }

    #[test]
    fn the_otlp_endpoint_must_be_a_collectors_http_url() {
        for bad in ["collector:4318", "https://collector:4318", "http://"] {
            Jail::expect_with(|jail| {
                jail.set_env("DASHTRAY_TELEMETRY__OTLP_ENDPOINT", bad);
                let err = load_in_jail(ConfigSources::default()).unwrap_err();
                assert_eq!(err.key, "telemetry.otlp_endpoint", "{bad}");
                Ok(())
            });
        }
        Jail::expect_with(|jail| {
            jail.set_env("DASHTRAY_TELEMETRY__OTLP_ENDPOINT", "http://127.0.0.1:4318");
            let config = load_in_jail(ConfigSources::default()).unwrap();
            assert_eq!(
                config.telemetry.otlp_endpoint.as_deref(),
                Some("http://127.0.0.1:4318")
            );
            Ok(())
        });
    }

    #[test]
    fn missing_explicit_config_file_is_an_error() {
        Jail::expect_with(|_| {
            let sources = ConfigSources {
                file: Some("nope.toml".into()),
                ..Default::default()
            };
            let err = load_in_jail(sources).unwrap_err();
            assert!(err.message.contains("nope.toml"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn redacted_hides_passwords() {
        let mut config = Config::default();
        config.database.url = DatabaseUrl::parse("postgres://app:s3cret@db/x").unwrap();
        config.auth.pepper = Some(Secret("pepper-pepper-pepper".into()));
        let shown = config.redacted().to_string();
        assert!(!shown.contains("pepper-pepper"), "{shown}");
        assert!(!format!("{config:?}").contains("pepper-pepper"));
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("***"), "{shown}");
    }
}
