//! The boundary between the server and a dynamic plugin: a versioned handshake, JSON
//! envelopes for the manifest, requests and responses, and buffers whose owner frees them.
//!
//! Rust's own ABI is not stable and every cdylib carries its own copy of the runtime's
//! statics, so nothing but C-compatible functions and bytes cross it. A plugin author
//! implements [`DynamicPlugin`] and calls [`export_plugin!`]; the host loads the library,
//! checks [`ABI_VERSION`], reads the manifest, and calls `handle` per request.
//!
//! Exported symbols (all `extern "C"`, all catching panics):
//! - `dashtray_plugin_abi_version() -> u32`
//! - `dashtray_plugin_manifest() -> Buffer`: [`Manifest`] as JSON
//! - `dashtray_plugin_init(config: *const u8, len: usize) -> Buffer`: the plugin's config
//!   section as JSON in; `{"ok": true}` or `{"error": "..."}` out
//! - `dashtray_plugin_handle(request: *const u8, len: usize) -> Buffer`: [`Request`] as
//!   JSON in, [`Response`] as JSON out
//! - `dashtray_plugin_free(buffer: Buffer)`: frees a buffer the plugin returned.
//!
//! Ownership: whoever allocates frees. The host owns what it passes in (the plugin only
//! reads it during the call); the plugin owns every `Buffer` it returns until the host
//! hands it back to `dashtray_plugin_free`.

use serde::{Deserialize, Serialize};

/// Bumped on any change to the symbols or envelopes; the host refuses other versions.
pub const ABI_VERSION: u32 = 1;

/// Library files the host loads: `<DLL prefix>dashtray_plugin_<name><DLL suffix>`,
/// e.g. `libdashtray_plugin_goals.so`.
pub const FILE_STEM_PREFIX: &str = "dashtray_plugin_";

pub const SYMBOL_ABI_VERSION: &[u8] = b"dashtray_plugin_abi_version\0";
pub const SYMBOL_MANIFEST: &[u8] = b"dashtray_plugin_manifest\0";
pub const SYMBOL_INIT: &[u8] = b"dashtray_plugin_init\0";
pub const SYMBOL_HANDLE: &[u8] = b"dashtray_plugin_handle\0";
pub const SYMBOL_FREE: &[u8] = b"dashtray_plugin_free\0";

/// Bytes owned by the side that allocated them.
#[repr(C)]
#[derive(Debug)]
pub struct Buffer {
    pub ptr: *mut u8,
    pub len: usize,
    pub cap: usize,
}

impl Buffer {
    /// Hands `bytes` over the boundary; the receiver must give it back to `free`.
    pub fn from_vec(mut bytes: Vec<u8>) -> Buffer {
        let buffer = Buffer {
            ptr: bytes.as_mut_ptr(),
            len: bytes.len(),
            cap: bytes.capacity(),
        };
        std::mem::forget(bytes);
        buffer
    }

    /// Takes a buffer back.
    ///
    /// # Safety
    /// It came from `from_vec` in this same library and was not taken back before.
    pub unsafe fn into_vec(self) -> Vec<u8> {
        unsafe { Vec::from_raw_parts(self.ptr, self.len, self.cap) }
    }

    /// Reads the bytes without taking ownership.
    ///
    /// # Safety
    /// The buffer is live: its owner has not freed it.
    pub unsafe fn as_slice(&self) -> &[u8] {
        if self.ptr.is_null() {
            &[]
        } else {
            unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
        }
    }
}

/// What a plugin declares about itself.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    /// Unique among loaded plugins.
    pub name: String,
    pub version: String,
    /// Its OpenAPI document fragment: `paths` relative to `/api/v1`, and `components`.
    pub spec: serde_json::Value,
    /// The scope a key needs for its operations.
    pub scope: Option<String>,
    /// operationIds of its own `spec` served without a key; naming another plugin's
    /// operation stops start-up (or skips the library, with `plugins.skip_invalid`).
    #[serde(default)]
    pub public: Vec<String>,
}

/// The caller, as the host authenticated it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Caller {
    pub project_id: String,
    pub plan: String,
    pub scopes: Vec<String>,
    pub key_id: String,
}

/// One request, as the plugin sees it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Request {
    pub method: String,
    /// Relative to `/api/v1`, e.g. `/goals`.
    pub path: String,
    /// The raw query string, without `?`.
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// `None` on a public operation.
    pub caller: Option<Caller>,
}

/// The plugin's answer. A status of 400 and above should carry a problem body; the host
/// renders it as the API's error envelope.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    /// A JSON answer.
    pub fn json(status: u16, body: &serde_json::Value) -> Response {
        Response {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string(),
        }
    }

    /// An error the host renders as SPEC's problem body (`error` is the stable code).
    pub fn error(status: u16, error: &str, message: &str) -> Response {
        Response::json(
            status,
            &serde_json::json!({ "error": error, "message": message }),
        )
    }
}

/// What a plugin author implements.
pub trait DynamicPlugin: Send + Sync + Sized + 'static {
    fn manifest() -> Manifest;
    /// Called once at start-up with the plugin's configuration section.
    fn init(config: serde_json::Value) -> Result<Self, String>;
    /// Called per request, on a thread the host may block; must not spawn async tasks.
    fn handle(&self, request: Request) -> Response;
}

/// The glue `export_plugin!` expands to; public only for the macro.
#[doc(hidden)]
pub mod glue {
    use std::{panic::AssertUnwindSafe, sync::OnceLock};

    use super::*;

    fn guarded(f: impl FnOnce() -> Vec<u8>) -> Buffer {
        let bytes = std::panic::catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
            serde_json::to_vec(&Response::error(500, "internal", "the plugin panicked"))
                .unwrap_or_default()
        });
        Buffer::from_vec(bytes)
    }

    /// Safety: `ptr` points at `len` readable bytes for the duration of the call.
    unsafe fn input<'a>(ptr: *const u8, len: usize) -> &'a [u8] {
        if ptr.is_null() {
            &[]
        } else {
            unsafe { std::slice::from_raw_parts(ptr, len) }
        }
    }

    pub fn manifest<P: DynamicPlugin>() -> Buffer {
        guarded(|| serde_json::to_vec(&P::manifest()).unwrap_or_default())
    }

    /// # Safety
    /// `ptr` points at `len` readable bytes for the duration of the call.
    pub unsafe fn init<P: DynamicPlugin>(
        state: &'static OnceLock<P>,
        ptr: *const u8,
        len: usize,
    ) -> Buffer {
        let bytes = unsafe { input(ptr, len) }.to_vec();
        guarded(move || {
            let outcome = serde_json::from_slice(&bytes)
                .map_err(|e| format!("the configuration is not JSON: {e}"))
                .and_then(P::init)
                .and_then(|plugin| {
                    state
                        .set(plugin)
                        .map_err(|_| "initialised twice".to_owned())
                });
            let answer = match outcome {
                Ok(()) => serde_json::json!({ "ok": true }),
                Err(error) => serde_json::json!({ "error": error }),
            };
            answer.to_string().into_bytes()
        })
    }

    /// # Safety
    /// `ptr` points at `len` readable bytes for the duration of the call.
    pub unsafe fn handle<P: DynamicPlugin>(
        state: &'static OnceLock<P>,
        ptr: *const u8,
        len: usize,
    ) -> Buffer {
        let bytes = unsafe { input(ptr, len) }.to_vec();
        guarded(move || {
            let response = match (state.get(), serde_json::from_slice::<Request>(&bytes)) {
                (Some(plugin), Ok(request)) => plugin.handle(request),
                (None, _) => Response::error(500, "internal", "the plugin was not initialised"),
                (_, Err(_)) => {
                    Response::error(500, "internal", "the request envelope was not understood")
                }
            };
            serde_json::to_vec(&response).unwrap_or_default()
        })
    }

    /// # Safety
    /// `buffer` came from this library's `Buffer::from_vec` and is not used afterwards.
    pub unsafe fn free(buffer: Buffer) {
        drop(unsafe { buffer.into_vec() });
    }
}

/// Exports `$plugin` (a [`DynamicPlugin`]) with the symbols the host looks for.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        static DASHTRAY_PLUGIN_STATE: ::std::sync::OnceLock<$plugin> = ::std::sync::OnceLock::new();

        #[unsafe(no_mangle)]
        pub extern "C" fn dashtray_plugin_abi_version() -> u32 {
            $crate::ABI_VERSION
        }

        #[unsafe(no_mangle)]
        pub extern "C" fn dashtray_plugin_manifest() -> $crate::Buffer {
            $crate::glue::manifest::<$plugin>()
        }

        /// # Safety
        /// `config` points at `len` readable bytes for the duration of the call.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn dashtray_plugin_init(
            config: *const u8,
            len: usize,
        ) -> $crate::Buffer {
            unsafe { $crate::glue::init::<$plugin>(&DASHTRAY_PLUGIN_STATE, config, len) }
        }

        /// # Safety
        /// `request` points at `len` readable bytes for the duration of the call.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn dashtray_plugin_handle(
            request: *const u8,
            len: usize,
        ) -> $crate::Buffer {
            unsafe { $crate::glue::handle::<$plugin>(&DASHTRAY_PLUGIN_STATE, request, len) }
        }

        /// # Safety
        /// `buffer` was returned by this library and is not used afterwards.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn dashtray_plugin_free(buffer: $crate::Buffer) {
            unsafe { $crate::glue::free(buffer) }
        }
    };
}
