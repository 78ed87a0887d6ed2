//! Dynamic plugins: libraries in `plugins.dir` opened at start-up, handshaken, and
//! wrapped as ordinary [`Plugin`]s, so auth, rate limits, errors and the merged document
//! treat them like built-in ones.
//!
//! Only C functions and JSON bytes cross the boundary (`dashtray-plugin-abi`). Calls run
//! on tokio's blocking pool, never on the async workers, since a plugin may block.
//! Libraries are never unloaded: a handler may still be running when a server stops.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use dashtray_plugin_abi::{self as abi, Buffer, Caller, Manifest};
use poem::{http::StatusCode, Endpoint, EndpointExt, IntoResponse, Request, Response};

use crate::{
    auth::Principal,
    error::{ApiError, ErrorCode},
    plugin::{Mounted, Plugin, PluginContext, PluginError},
};

type AbiVersionFn = unsafe extern "C" fn() -> u32;
type ManifestFn = unsafe extern "C" fn() -> Buffer;
type CallFn = unsafe extern "C" fn(*const u8, usize) -> Buffer;
type FreeFn = unsafe extern "C" fn(Buffer);

/// Why a library could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("dynamic plugin {file}: {reason}")]
pub struct LoadError {
    pub file: String,
    pub reason: String,
}

/// The functions of one loaded library.
struct Library {
    manifest_fn: ManifestFn,
    init: CallFn,
    handle: CallFn,
    free: FreeFn,
}

impl Library {
    /// Calls `f` and copies out the plugin's answer, handing its buffer back to it.
    fn call(&self, f: CallFn, input: &[u8]) -> Vec<u8> {
        // Safety: the symbols were checked at load time and follow the ABI: `input`
        // lives through the call, and the returned buffer is the plugin's to free.
        unsafe {
            let buffer = f(input.as_ptr(), input.len());
            let bytes = buffer.as_slice().to_vec();
            (self.free)(buffer);
            bytes
        }
    }

    fn manifest(&self) -> Vec<u8> {
        // Safety: as in `call`.
        unsafe {
            let buffer = (self.manifest_fn)();
            let bytes = buffer.as_slice().to_vec();
            (self.free)(buffer);
            bytes
        }
    }
}

/// A library in `plugins.dir`, handshaken and described.
pub struct DynamicPlugin {
    file: PathBuf,
    manifest: Manifest,
    library: Arc<Library>,
}

impl DynamicPlugin {
    pub fn file(&self) -> &Path {
        &self.file
    }

    pub fn abi_version(&self) -> u32 {
        abi::ABI_VERSION
    }
}

/// Every library in `dir` named `<prefix>dashtray_plugin_<name><suffix>`, loaded in name
/// order; with `skip_invalid`, one that fails is reported and left out.
pub fn load_dir(dir: &Path, skip_invalid: bool) -> Result<Vec<Arc<dyn Plugin>>, LoadError> {
    let entries = std::fs::read_dir(dir).map_err(|e| LoadError {
        file: dir.display().to_string(),
        reason: format!("cannot read the folder: {e}"),
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| is_plugin_file(p))
        .collect();
    files.sort();
    let mut plugins: Vec<Arc<dyn Plugin>> = Vec::new();
    for file in files {
        match load(&file) {
            Ok(plugin) => plugins.push(Arc::new(plugin)),
            Err(err) if skip_invalid => {
                tracing::warn!(error = %err, "skipping a dynamic plugin (plugins.skip_invalid)")
            }
            Err(err) => return Err(err),
        }
    }
    Ok(plugins)
}

fn is_plugin_file(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    name.strip_prefix(std::env::consts::DLL_PREFIX)
        .and_then(|rest| rest.strip_suffix(std::env::consts::DLL_SUFFIX))
        .is_some_and(|stem| stem.starts_with(abi::FILE_STEM_PREFIX))
}

fn load(file: &Path) -> Result<DynamicPlugin, LoadError> {
    let fail = |reason: String| LoadError {
        file: file.display().to_string(),
        reason,
    };
    // Safety: loading runs the library's initialisers; plugins.dir is trusted like the
    // binary itself. The library is leaked: it stays loaded for the process's life.
    let library = unsafe { libloading::Library::new(file) }
        .map_err(|e| fail(format!("cannot be opened: {e}")))?;
    let library: &'static libloading::Library = Box::leak(Box::new(library));
    let symbol = |name: &[u8]| {
        let shown = String::from_utf8_lossy(&name[..name.len() - 1]).into_owned();
        move |e: libloading::Error| fail(format!("has no `{shown}` ({e})"))
    };
    // Safety: each symbol's type is the ABI's; a library that exports the name with
    // another signature breaks the ABI contract it declared by its version.
    let version = unsafe {
        let f = library
            .get::<AbiVersionFn>(abi::SYMBOL_ABI_VERSION)
            .map_err(symbol(abi::SYMBOL_ABI_VERSION))?;
        f()
    };
    if version != abi::ABI_VERSION {
        return Err(fail(format!(
            "speaks plugin ABI version {version}; this server speaks {}",
            abi::ABI_VERSION
        )));
    }
    let functions = unsafe {
        Library {
            manifest_fn: *library
                .get::<ManifestFn>(abi::SYMBOL_MANIFEST)
                .map_err(symbol(abi::SYMBOL_MANIFEST))?,
            init: *library
                .get::<CallFn>(abi::SYMBOL_INIT)
                .map_err(symbol(abi::SYMBOL_INIT))?,
            handle: *library
                .get::<CallFn>(abi::SYMBOL_HANDLE)
                .map_err(symbol(abi::SYMBOL_HANDLE))?,
            free: *library
                .get::<FreeFn>(abi::SYMBOL_FREE)
                .map_err(symbol(abi::SYMBOL_FREE))?,
        }
    };
    let manifest: Manifest = serde_json::from_slice(&functions.manifest())
        .map_err(|e| fail(format!("its manifest is not valid: {e}")))?;
    Ok(DynamicPlugin {
        file: file.to_path_buf(),
        manifest,
        library: Arc::new(functions),
    })
}

impl Plugin for DynamicPlugin {
    fn name(&self) -> &str {
        &self.manifest.name
    }

    fn origin(&self) -> Option<(PathBuf, u32)> {
        Some((self.file.clone(), self.abi_version()))
    }

    fn mount(&self, cx: &PluginContext) -> Result<Mounted, PluginError> {
        let config = serde_json::to_vec(cx.config()).expect("JSON serializes");
        let answer: serde_json::Value =
            serde_json::from_slice(&self.library.call(self.library.init, &config))
                .map_err(|e| PluginError::new(format!("its init answer is not JSON: {e}")))?;
        if let Some(error) = answer.get("error").and_then(|e| e.as_str()) {
            return Err(PluginError::new(format!(
                "its configuration was refused: {error}"
            )));
        }
        let endpoint = DynamicEndpoint {
            library: self.library.clone(),
        };
        let public: Vec<&str> = self.manifest.public.iter().map(String::as_str).collect();
        let mut mounted =
            Mounted::new(endpoint.boxed(), self.manifest.spec.clone()).public(&public);
        if let Some(scope) = &self.manifest.scope {
            mounted = mounted.scope(scope);
        }
        Ok(mounted)
    }
}

/// Forwards a routed request across the boundary.
struct DynamicEndpoint {
    library: Arc<Library>,
}

impl Endpoint for DynamicEndpoint {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        let body = req.take_body().into_string().await.unwrap_or_default();
        let request = abi::Request {
            method: req.method().to_string(),
            // The API's routes hold full paths; the plugin's are relative to the prefix.
            path: relative_path(req.uri().path()).to_owned(),
            query: req.uri().query().unwrap_or_default().to_owned(),
            headers: req
                .headers()
                .iter()
                .filter(|(name, _)| *name != poem::http::header::AUTHORIZATION)
                .filter_map(|(n, v)| Some((n.to_string(), v.to_str().ok()?.to_owned())))
                .collect(),
            body,
            caller: req.extensions().get::<Principal>().map(caller),
        };
        let input = serde_json::to_vec(&request).expect("JSON serializes");
        let library = self.library.clone();
        let output = tokio::task::spawn_blocking(move || library.call(library.handle, &input))
            .await
            .map_err(|e| {
                ApiError::internal(anyhow::anyhow!("a dynamic plugin's call failed: {e}"))
            })?;
        let response: abi::Response = serde_json::from_slice(&output).map_err(|e| {
            ApiError::internal(anyhow::anyhow!(
                "a dynamic plugin answered an invalid envelope: {e}"
            ))
        })?;
        into_response(response)
    }
}

/// `/api/v1/goals` → `/goals`, as the plugin's document lists it.
fn relative_path(path: &str) -> &str {
    match path.strip_prefix(crate::spec::API_PREFIX) {
        Some("") => "/",
        Some(rest) => rest,
        None => path,
    }
}

fn caller(principal: &Principal) -> Caller {
    Caller {
        project_id: principal.project_id.clone(),
        plan: principal.plan.to_string(),
        scopes: principal.scopes.iter().cloned().collect(),
        key_id: principal.key_id.clone(),
    }
}

/// Success passes through; an error becomes an `ApiError`, so it is rendered like any
/// other (the plugin's sentence kept, its internals never shown for a 5xx).
fn into_response(response: abi::Response) -> poem::Result<Response> {
    let status = StatusCode::from_u16(response.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status.is_client_error() || status.is_server_error() {
        let body: serde_json::Value = serde_json::from_str(&response.body).unwrap_or_default();
        let message = body["message"]
            .as_str()
            .unwrap_or("The plugin refused the request.");
        let code = match status {
            StatusCode::NOT_FOUND => ErrorCode::NotFound,
            StatusCode::UNAUTHORIZED => ErrorCode::Unauthorized,
            StatusCode::FORBIDDEN => ErrorCode::InsufficientScope,
            StatusCode::SERVICE_UNAVAILABLE => ErrorCode::Unavailable,
            s if s.is_server_error() => {
                return Err(ApiError::internal(anyhow::anyhow!("dynamic plugin: {message}")).into())
            }
            _ => ErrorCode::InvalidParameter,
        };
        return Err(ApiError::new(code, message).into());
    }
    let mut builder = Response::builder().status(status);
    for (name, value) in &response.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    Ok(builder.body(response.body).into_response())
}
