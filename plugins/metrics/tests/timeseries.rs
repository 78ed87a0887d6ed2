//! `GET /api/v1/metrics/{metric_id}/timeseries` on both backends: buckets agree with the
//! raw points, week and month edges, empty buckets, every aggregate, and refusals.

mod support;

use dashtray_core::on_each_backend;
use poem::http::StatusCode;
use support::{fixture, json, ms};

fn buckets(body: &serde_json::Value) -> Vec<(i64, Option<f64>)> {
    body["data"]["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["timestamp"].as_i64().unwrap(), b["value"].as_f64()))
        .collect()
}

on_each_backend! {
    async fn daily_sums_equal_the_sums_of_the_raw_points(db: TestDb) {
        let f = fixture(&db).await;
        let day = ms("2024-05-01T00:00:00Z");
        let points: Vec<(&str, f64, i64)> = (0..30)
            .map(|i| ("signups", (i * 7 % 11) as f64, day + i * 4 * 3_600_000 + 17))
            .collect();
        f.points(&f.project_id, &points).await;
        let resp = f.get("/api/v1/metrics/signups/timeseries?start_date=2024-05-01&end_date=2024-05-06").await;
        resp.assert_status_is_ok();
        let body = json(resp).await;
        assert_eq!(body["data"]["interval"], "day", "the default interval");
        assert_eq!(body["data"]["agg"], "sum", "the default aggregate");
        assert_eq!(body["data"]["startDate"], day);
        assert_eq!(body["data"]["endDate"], ms("2024-05-06T23:59:59.999Z"));
        let got = buckets(&body);
        assert_eq!(got.len(), 6);
        for (bucket, value) in got {
            let expected: f64 = points.iter().filter(|p| p.2 >= bucket && p.2 < bucket + 86_400_000).map(|p| p.1).sum();
            let count = points.iter().filter(|p| p.2 >= bucket && p.2 < bucket + 86_400_000).count();
            match count {
                0 => assert_eq!(value, None),
                _ => assert_eq!(value, Some(expected), "bucket {bucket}"),
            }
        }
    }

    async fn weeks_start_on_monday_and_months_at_the_first(db: TestDb) {
        let f = fixture(&db).await;
        f.points(&f.project_id, &[
            ("m", 1.0, ms("2024-01-07T23:59:59.999Z")), // Sunday: week of Mon 1 January
            ("m", 2.0, ms("2024-01-08T00:00:00Z")),     // Monday: a new week
            ("m", 4.0, ms("2024-01-31T23:59:59.999Z")), // last millisecond of January
            ("m", 8.0, ms("2024-02-01T00:00:00Z")),     // first of February (a leap year)
            ("m", 16.0, ms("2024-02-29T12:00:00Z")),
        ]).await;
        let weeks = json(f.get("/api/v1/metrics/m/timeseries?interval=week&start_date=2024-01-01&end_date=2024-01-14").await).await;
        assert_eq!(buckets(&weeks), [(ms("2024-01-01T00:00:00Z"), Some(1.0)), (ms("2024-01-08T00:00:00Z"), Some(2.0))]);
        let months = json(f.get("/api/v1/metrics/m/timeseries?interval=month&start_date=2024-01-01&end_date=2024-03-31").await).await;
        assert_eq!(buckets(&months), [
            (ms("2024-01-01T00:00:00Z"), Some(7.0)),
            (ms("2024-02-01T00:00:00Z"), Some(24.0)),
            (ms("2024-03-01T00:00:00Z"), None),
        ]);
    }

    async fn each_aggregate_and_hourly_buckets(db: TestDb) {
        let f = fixture(&db).await;
        let h = ms("2024-06-01T10:00:00Z");
        f.points(&f.project_id, &[("t", 5.0, h + 1000), ("t", 1.0, h + 3000), ("t", 3.0, h + 2000), ("t", 7.0, h + 3_600_000)]).await;
        let expect = [("sum", 9.0), ("avg", 3.0), ("min", 1.0), ("max", 5.0), ("last", 1.0)];
        for (agg, first_hour) in expect {
            let q = format!("/api/v1/metrics/t/timeseries?interval=hour&agg={agg}&start_date=2024-06-01T10:00:00Z&end_date=2024-06-01T12:59:59Z");
            let body = json(f.get(&q).await).await;
            assert_eq!(body["data"]["agg"], agg);
            assert_eq!(buckets(&body), [(h, Some(first_hour)), (h + 3_600_000, Some(7.0)), (h + 7_200_000, None)], "{agg}");
        }
    }

    async fn refusals_name_their_parameter(db: TestDb) {
        let f = fixture(&db).await;
        f.points(&f.project_id, &[("m", 1.0, 1)]).await;
        let base = "/api/v1/metrics/m/timeseries";
        let cases = [
            (format!("{base}?end_date=2024-01-02"), "start_date", "required"),
            (format!("{base}?start_date=2024-01-01"), "end_date", "required"),
            (format!("{base}?start_date=2024-01-01&end_date=2024-01-02&interval=fortnight"), "interval", "hour, day, week, month"),
            (format!("{base}?start_date=2024-01-01&end_date=2024-01-02&agg=median"), "agg", "sum, avg, min, max, last"),
            (format!("{base}?start_date=2020-01-01&end_date=2024-01-02&interval=hour"), "interval", "buckets"),
            (format!("{base}?start_date=2024-01-03&end_date=2024-01-02"), "start_date", "after"),
        ];
        for (query, parameter, says) in cases {
            let resp = f.get(&query).await;
            resp.assert_status(StatusCode::BAD_REQUEST);
            let body = json(resp).await;
            assert_eq!(body["details"][0]["parameter"], parameter, "{query}: {body}");
            assert!(body["details"][0]["message"].as_str().unwrap().contains(says), "{query}: {body}");
        }
    }

    async fn a_metric_without_points_in_the_project_is_404(db: TestDb) {
        let f = fixture(&db).await;
        f.points(&f.other_project_id, &[("secret", 1.0, 1)]).await;
        for metric in ["secret", "nothing"] {
            let resp = f.get(&format!("/api/v1/metrics/{metric}/timeseries?start_date=1970-01-01&end_date=1970-01-02")).await;
            resp.assert_status(StatusCode::NOT_FOUND);
            assert_eq!(json(resp).await["error"], "not_found");
        }
    }
}
