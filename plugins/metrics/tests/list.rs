//! `GET /api/v1/metrics` on both backends: order, filters, date bounds, pagination and
//! every refused parameter.

mod support;

use dashtray_core::on_each_backend;
use poem::http::StatusCode;
use support::{fixture, json, ms};

fn ids(body: &serde_json::Value) -> Vec<String> {
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect()
}

on_each_backend! {
    async fn points_come_in_timestamp_then_id_order_with_their_fields(db: TestDb) {
        let f = fixture(&db).await;
        let t = ms("2024-01-01T00:00:00Z");
        f.points(&f.project_id, &[("mrr", 2.5, t + 10), ("churn", 1.0, t), ("mrr", 3.0, t)]).await;
        let resp = f.get("/api/v1/metrics").await;
        resp.assert_status_is_ok();
        let body = json(resp).await;
        let p = &f.project_id;
        assert_eq!(ids(&body), [format!("pt_{p}_0001"), format!("pt_{p}_0002"), format!("pt_{p}_0000")]);
        let first = &body["data"][0];
        assert_eq!(first["metricId"], "churn");
        assert_eq!(first["value"], 1.0);
        assert_eq!(first["timestamp"], t);
        assert!(first["integrationId"].is_null());
        assert_eq!(body["pagination"], serde_json::json!({"limit": 100, "offset": 0, "total": 3, "hasMore": false}));
    }

    async fn metric_id_takes_one_id_or_a_comma_list(db: TestDb) {
        let f = fixture(&db).await;
        f.points(&f.project_id, &[("mrr", 1.0, 1), ("churn", 2.0, 2), ("signups", 3.0, 3)]).await;
        let one = json(f.get("/api/v1/metrics?metric_id=churn").await).await;
        assert_eq!(one["pagination"]["total"], 1);
        let two = json(f.get("/api/v1/metrics?metric_id=mrr,signups").await).await;
        let metrics: Vec<&str> = two["data"].as_array().unwrap().iter().map(|p| p["metricId"].as_str().unwrap()).collect();
        assert_eq!(metrics, ["mrr", "signups"]);
    }

    async fn date_bounds_are_inclusive_and_a_date_end_covers_its_day(db: TestDb) {
        let f = fixture(&db).await;
        let day = ms("2024-03-10T00:00:00Z");
        let last_ms = day + 86_400_000 - 1;
        f.points(&f.project_id, &[
            ("m", 0.0, day - 1),      // 0: the millisecond before the day
            ("m", 1.0, day),          // 1: the day's first millisecond
            ("m", 2.0, last_ms),      // 2: its last
            ("m", 3.0, last_ms + 1),  // 3: the next day
        ]).await;
        let p = &f.project_id;
        let f = &f;
        let window = |q: &str| {
            let q = q.to_owned();
            async move { ids(&json(f.get(&format!("/api/v1/metrics?{q}")).await).await) }
        };
        assert_eq!(window("start_date=2024-03-10&end_date=2024-03-10").await, [format!("pt_{p}_0001"), format!("pt_{p}_0002")]);
        assert_eq!(window("start_date=2024-03-10T00:00:00Z").await, [format!("pt_{p}_0001"), format!("pt_{p}_0002"), format!("pt_{p}_0003")]);
        assert_eq!(window("end_date=2024-03-10T00:00:00Z").await, [format!("pt_{p}_0000"), format!("pt_{p}_0001")]);
        assert_eq!(window("start_date=2024-03-10T23:59:59.999Z&end_date=2024-03-11T00:00:00.000Z").await, [format!("pt_{p}_0002"), format!("pt_{p}_0003")]);
        assert_eq!(window("end_date=2024-03-10T01:00:00%2B01:00").await, [format!("pt_{p}_0000"), format!("pt_{p}_0001")]);
    }

    async fn walking_every_page_returns_each_point_once_in_order(db: TestDb) {
        let f = fixture(&db).await;
        let points: Vec<(&str, f64, i64)> = (0..25).map(|i| ("m", i as f64, 1_000 + (i % 7) as i64)).collect();
        f.points(&f.project_id, &points).await;
        let mut seen = Vec::new();
        let mut offset = 0;
        loop {
            let resp = f.get(&format!("/api/v1/metrics?metric_id=m&limit=4&offset={offset}")).await;
            resp.assert_status_is_ok();
            let link = resp.0.headers().get("link").map(|v| v.to_str().unwrap().to_owned());
            let body = json(resp).await;
            let has_more = body["pagination"]["hasMore"].as_bool().unwrap();
            assert_eq!(body["pagination"]["total"], 25);
            assert_eq!(link.as_deref().is_some_and(|l| l.contains("rel=\"next\"")), has_more, "{link:?}");
            if offset > 0 {
                assert!(link.as_deref().unwrap().contains(&format!("metric_id=m&limit=4&offset={}>; rel=\"prev\"", offset - 4)), "{link:?}");
            }
            seen.extend(body["data"].as_array().unwrap().iter().map(|p| (p["timestamp"].as_i64().unwrap(), p["id"].as_str().unwrap().to_owned())));
            if !has_more {
                break;
            }
            offset += 4;
        }
        let mut sorted = seen.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(seen.len(), 25);
        assert_eq!(seen, sorted, "in order, each once");
    }

    async fn walking_by_cursor_returns_each_point_once_in_order(db: TestDb) {
        let f = fixture(&db).await;
        // Equal timestamps across page edges: the cursor must order by id too.
        let points: Vec<(&str, f64, i64)> = (0..23).map(|i| ("m", i as f64, 1_000 + (i / 3) as i64)).collect();
        f.points(&f.project_id, &points).await;
        let first = f.get("/api/v1/metrics?metric_id=m&limit=5").await;
        let body = json(first).await;
        let mut seen: Vec<String> = ids(&body);
        let mut cursor = body["pagination"]["nextCursor"].as_str().map(str::to_owned);
        while let Some(c) = cursor {
            let resp = f.get(&format!("/api/v1/metrics?metric_id=m&limit=5&cursor={c}")).await;
            resp.assert_status_is_ok();
            let link = resp.0.headers().get("link").map(|v| v.to_str().unwrap().to_owned());
            let body = json(resp).await;
            assert_eq!(body["pagination"]["total"], 23);
            cursor = body["pagination"]["nextCursor"].as_str().map(str::to_owned);
            assert_eq!(body["pagination"]["hasMore"], cursor.is_some());
            match &cursor {
                Some(next) => assert!(link.unwrap().contains(&format!("cursor={next}>; rel=\"next\"")), "next link"),
                None => assert!(link.is_none()),
            }
            seen.extend(ids(&body));
        }
        let mut all = ids(&json(f.get("/api/v1/metrics?metric_id=m&limit=100").await).await);
        assert_eq!(seen, all, "the same points in the same order as one big page");
        all.dedup();
        assert_eq!(all.len(), 23);
    }

    async fn a_bad_cursor_or_a_cursor_with_an_offset_is_refused(db: TestDb) {
        let f = fixture(&db).await;
        for query in ["cursor=nothex", "cursor=7631&offset=5"] {
            let resp = f.get(&format!("/api/v1/metrics?{query}")).await;
            resp.assert_status(StatusCode::BAD_REQUEST);
            assert_eq!(json(resp).await["details"][0]["parameter"], "cursor", "{query}");
        }
    }

    async fn a_project_sees_only_its_own_points(db: TestDb) {
        let f = fixture(&db).await;
        f.points(&f.project_id, &[("mrr", 1.0, 1)]).await;
        f.points(&f.other_project_id, &[("mrr", 9.0, 1), ("mrr", 9.0, 2)]).await;
        let mine = json(f.get("/api/v1/metrics").await).await;
        assert_eq!(mine["pagination"]["total"], 1);
        let theirs = json(f.get_as(&f.other_key, "/api/v1/metrics").await).await;
        assert_eq!(theirs["pagination"]["total"], 2);
    }

    async fn every_bad_value_is_a_400_naming_its_parameter(db: TestDb) {
        let f = fixture(&db).await;
        let cases = [
            ("limit=0", "limit", "at least 1"),
            ("limit=1001", "limit", "at most 1000"),
            ("limit=ten", "limit", "whole number"),
            ("offset=-1", "offset", "whole number"),
            ("start_date=2024-13-01", "start_date", "date"),
            ("end_date=2024-02-30", "end_date", "date"),
            ("start_date=2024-02-01&end_date=2024-01-01", "start_date", "after"),
            ("metric_id=bad%20id", "metric_id", "must match"),
            ("metric_id=a,,b", "metric_id", "must match"),
            ("offset=1000000000001", "offset", "at most 1000000000000"),
        ];
        for (query, parameter, says) in cases {
            let resp = f.get(&format!("/api/v1/metrics?{query}")).await;
            resp.assert_status(StatusCode::BAD_REQUEST);
            resp.assert_content_type("application/problem+json");
            let body = json(resp).await;
            assert_eq!(body["error"], "invalid_parameter", "{query}");
            assert_eq!(body["details"][0]["parameter"], parameter, "{query}: {body}");
            let message = body["details"][0]["message"].as_str().unwrap();
            assert!(message.contains(says), "{query}: {message}");
        }
    }
}
