//! API3: no answer carries a field a client should not see — no key, no hash, no
//! internal id of another table — on any operation.

use dashtray_core::on_each_backend;

use crate::support::{get_with_auth, Server};

const READS: [&str; 9] = [
    "/api/v1/projects",
    "/api/v1/rate_limit",
    "/api/v1/metrics?limit=5",
    "/api/v1/metrics/mrr/timeseries?start_date=2025-01-01&end_date=2025-01-07",
    "/api/v1/integrations",
    "/api/v1/integrations/int_DemoStripe000001",
    "/api/v1/dashboards",
    "/api/v1/dashboards/dsh_DemoRevenue00001",
    "/api/v1/health",
];

on_each_backend! {
    async fn no_answer_carries_keys_hashes_or_internal_fields(db: TestDb) {
        let (server, key) = Server::demo(&db);
        let secret = &key[key.len() - 30..];
        for path in READS {
            let (_, headers, body) = get_with_auth(&server.url(path), Some(&format!("Bearer {key}"))).await;
            let text = body.to_string().to_lowercase();
            for forbidden in ["hash", "key_hash", "keyhash", "pepper", "secret", "password", "project_id\"", "dk_"] {
                assert!(!text.contains(forbidden), "{path} shows `{forbidden}`: {body}");
            }
            assert!(!text.contains(&secret.to_lowercase()), "{path} shows the key");
            for (name, value) in headers.iter() {
                assert!(!value.to_str().unwrap_or_default().contains(secret), "{path}: header {name} shows the key");
            }
        }
    }
}
