//! The auth step: turns the request's credentials into a `Principal`, with a short-TTL
//! cache in front of the database.
//!
//! Every way a key can be wrong ends in the same `Unauthenticated` outcome, and every key
//! that reaches the lookup pays for one hash and one constant-time comparison, found or
//! not, so a guesser learns nothing from the answer or its timing.
//!
//! The cache is keyed by a [`Tag`] of the key, never by the key: SipHash-2-4's 128 bits
//! under a key drawn at start-up. It is a keyed pseudorandom function, so without this
//! process's random key nobody can make two API keys share an entry; and it costs a
//! twentieth of the SHA-256 the store compares (which a cached key no longer pays: it
//! was 7,000 instructions of every keyed request).

use std::{
    collections::HashMap,
    hash::{BuildHasherDefault, Hasher},
    sync::Mutex,
};

use rand::RngCore;
use siphasher::sip128::{Hasher128, SipHasher24};

use poem::http::{header::AUTHORIZATION, HeaderMap};

use super::{
    key::{self, KeyHasher},
    model::Principal,
    store,
};
use crate::{clock::SharedClock, db::Db, error::ApiError};

/// `last_used_at` is written at most this often per key.
const TOUCH_EVERY_MS: i64 = 60_000;

/// What the request's credentials amount to.
#[derive(Debug, Clone)]
pub enum AuthOutcome {
    Authenticated(Principal),
    /// No key, or a key that is malformed, unknown, revoked or expired: all the same.
    Unauthenticated,
    /// The key could not be checked (the database is unreachable).
    Unavailable(std::sync::Arc<ApiError>),
}

/// The outcome of [`Authenticator::check`].
pub enum Checked {
    Done(AuthOutcome),
    LookUp(KeyLookup),
}

/// A well-formed key the cache did not hold, hashed, to be found in the database.
pub struct KeyLookup {
    public_id: String,
    hash: String,
    tag: Tag,
    now: i64,
}

/// What the cache knows a key by: a keyed 128-bit pseudorandom function of it.
type Tag = u128;

/// Tags are already uniformly random: the cache's table uses their low bits as they are.
#[derive(Default)]
struct TagHasher(u64);

impl Hasher for TagHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u128` is reached (the table's keys are tags); this keeps any other
        // use correct, if slower.
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = self.0.rotate_left(5) ^ u64::from_le_bytes(word);
        }
    }

    fn write_u128(&mut self, tag: u128) {
        self.0 = tag as u64;
    }
}

type TagMap<V> = HashMap<Tag, V, BuildHasherDefault<TagHasher>>;

/// The process's tagging function: SipHash-2-4-128 under a random key.
struct Tagger(SipHasher24);

impl Tagger {
    fn random() -> Tagger {
        let mut key = [0u8; 16];
        rand::rng().fill_bytes(&mut key);
        Tagger(SipHasher24::new_with_key(&key))
    }

    fn tag(&self, key: &str) -> Tag {
        let mut hasher = self.0;
        hasher.write(key.as_bytes());
        hasher.finish128().as_u128()
    }
}

struct CacheEntry {
    principal: Principal,
    fetched_at: i64,
}

pub struct Authenticator {
    db: Db,
    hasher: KeyHasher,
    clock: SharedClock,
    ttl_ms: i64,
    /// keyed by the key's tag, never by the key
    cache: Mutex<TagMap<CacheEntry>>,
    tagger: Tagger,
    /// key id → when this node last wrote its `last_used_at`
    touched: Mutex<HashMap<String, i64>>,
    dummy_hash: String,
}

impl Authenticator {
    pub fn new(db: Db, hasher: KeyHasher, clock: SharedClock, ttl_secs: u64) -> Self {
        let dummy_hash = hasher.hash("dk_not-a-key");
        Authenticator {
            db,
            hasher,
            clock,
            ttl_ms: (ttl_secs as i64).saturating_mul(1000),
            cache: Mutex::new(TagMap::default()),
            tagger: Tagger::random(),
            touched: Mutex::new(HashMap::new()),
            dummy_hash,
        }
    }

    pub fn hasher(&self) -> &KeyHasher {
        &self.hasher
    }

    /// Resolves the request's credentials as far as it can without reading the database;
    /// never rejects by itself. No key, a malformed one, or one in the cache decide it
    /// here; any other key needs [`Self::look_up`].
    pub fn check(&self, headers: &HeaderMap, query: Option<&str>) -> Checked {
        // A key in the URL ends up in logs and browser history: it is refused outright,
        // even beside a valid header, so the habit is caught at once.
        if query.is_some_and(query_carries_key) {
            return Checked::Done(AuthOutcome::Unauthenticated);
        }
        let Some(key) = bearer_token(headers) else {
            return Checked::Done(AuthOutcome::Unauthenticated);
        };
        let Some(public_id) = key::parse(key) else {
            return Checked::Done(AuthOutcome::Unauthenticated);
        };
        let tag = self.tagger.tag(key);
        let now = self.clock.now_millis();
        match self.cached(tag, now) {
            Some(principal) => Checked::Done(self.accept(principal, now)),
            None => Checked::LookUp(KeyLookup {
                public_id: public_id.to_owned(),
                hash: self.hasher.hash(key),
                tag,
                now,
            }),
        }
    }

    /// Finds a key the cache did not hold.
    pub async fn look_up(&self, lookup: KeyLookup) -> AuthOutcome {
        let KeyLookup {
            public_id,
            hash,
            tag,
            now,
        } = lookup;
        match store::find_key(&self.db, &public_id).await {
            Ok(Some(stored)) if key::hashes_match(&stored.hash, &hash) && !stored.revoked => {
                self.remember(tag, stored.principal.clone(), now);
                self.accept(stored.principal, now)
            }
            Ok(_) => {
                // Same work as a match: one constant-time comparison.
                let _ = key::hashes_match(&self.dummy_hash, &hash);
                AuthOutcome::Unauthenticated
            }
            Err(err) => AuthOutcome::Unavailable(std::sync::Arc::new(err.into())),
        }
    }

    /// A key that matched: valid unless expired, and its use recorded.
    fn accept(&self, principal: Principal, now: i64) -> AuthOutcome {
        if principal.expires_at.is_some_and(|at| at <= now) {
            return AuthOutcome::Unauthenticated;
        }
        self.touch_if_due(&principal.key_id, now);
        AuthOutcome::Authenticated(principal)
    }

    fn cached(&self, tag: Tag, now: i64) -> Option<Principal> {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let entry = cache.get(&tag)?;
        if now - entry.fetched_at >= self.ttl_ms {
            cache.remove(&tag);
            return None;
        }
        Some(entry.principal.clone())
    }

    fn remember(&self, tag: Tag, principal: Principal, now: i64) {
        if self.ttl_ms <= 0 {
            return;
        }
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() > 100_000 {
            cache.retain(|_, e| now - e.fetched_at < self.ttl_ms);
        }
        cache.insert(
            tag,
            CacheEntry {
                principal,
                fetched_at: now,
            },
        );
    }

    /// Forgets a key at once on this node (after revoking it here).
    pub fn forget_key(&self, key_id: &str) {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.retain(|_, e| e.principal.key_id != key_id);
    }

    /// Forgets every key (after notices may have been missed).
    pub fn forget_all(&self) {
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// Forgets every key of a project (after its plan changed here).
    pub fn forget_project(&self, project_id: &str) {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.retain(|_, e| e.principal.project_id != project_id);
    }

    /// Records use at most once a minute per key, off the request's path: the answer
    /// never waits for this write.
    fn touch_if_due(&self, key_id: &str, now: i64) {
        {
            let mut touched = self.touched.lock().unwrap_or_else(|e| e.into_inner());
            match touched.get(key_id) {
                Some(at) if now - at < TOUCH_EVERY_MS => return,
                _ => {
                    if touched.len() > 100_000 {
                        touched.retain(|_, at| now - *at < TOUCH_EVERY_MS);
                    }
                    touched.insert(key_id.to_owned(), now);
                }
            }
        }
        let db = self.db.clone();
        let key_id = key_id.to_owned();
        tokio::spawn(async move {
            if let Err(err) = store::touch_key(&db, &key_id, now).await {
                tracing::warn!(error = %err, "could not record a key's last use");
            }
        });
    }
}

/// The key of `Authorization: Bearer <key>` (scheme case-insensitive, one space or more).
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    (!token.is_empty()).then_some(token)
}

/// True when any query value (or name) looks like a Dashtray key.
fn query_carries_key(query: &str) -> bool {
    query.split('&').any(|pair| {
        pair.split('=').any(|part| {
            part.starts_with(key::PREFIX) || part.starts_with("dk%5F") || part.starts_with("dk%5f")
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use poem::http::HeaderValue;

    fn headers(auth: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_str(auth).unwrap());
        h
    }

    #[test]
    fn only_a_bearer_token_is_taken() {
        assert_eq!(bearer_token(&headers("Bearer abc")), Some("abc"));
        assert_eq!(bearer_token(&headers("bearer   abc ")), Some("abc"));
        assert_eq!(bearer_token(&headers("Basic abc")), None);
        assert_eq!(bearer_token(&headers("Bearer ")), None);
        assert_eq!(bearer_token(&headers("Bearer")), None);
        assert_eq!(bearer_token(&HeaderMap::new()), None);
    }

    #[test]
    fn keys_in_the_query_string_are_spotted() {
        assert!(query_carries_key("api_key=dk_abc"));
        assert!(query_carries_key("limit=5&token=dk%5Fabc"));
        assert!(!query_carries_key("limit=5&metric_id=mrr"));
    }

    /// The cache's tags tell keys apart, are the same for the same key in one process,
    /// and depend on the process's random key, so they cannot be worked out from outside.
    #[test]
    fn cache_tags_are_keyed_per_process() {
        let (one, other) = (Tagger::random(), Tagger::random());
        let key = "dk_0123456789ab_secretsecretsecretsecretsecretsecretsecret1234";
        assert_eq!(one.tag(key), one.tag(key));
        assert_ne!(one.tag(key), one.tag(&key.replace('1', "2")));
        assert_ne!(one.tag(key), other.tag(key));
    }
}
