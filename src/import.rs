//! Importing metric points from CSV (with a header row) or JSON Lines, streamed in
//! batches, each written in its own transaction.
//!
//! A bad row stops the import with its line number; the rows of its batch are not
//! written, the batches before it are, and the error says how many.

use std::{
    collections::BTreeSet,
    fs::File,
    io::{BufRead, BufReader, Read},
    path::Path,
};

use chrono::DateTime;
use dashtray_core::{
    db::{DbError, Tx},
    events, Db,
};
use dashtray_metrics::{
    points::is_metric_id,
    store::{self, NewPoint},
};

/// Rows written per transaction unless told otherwise: enough that a commit (a flush of
/// the write-ahead log on Postgres) is a small part of a batch's time, few enough that a
/// batch holds SQLite's write lock for a fraction of a second.
pub const BATCH_ROWS: usize = 10_000;

/// How far an import got.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Progress {
    /// Rows written (whole batches only).
    pub rows: u64,
    pub batches: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("line {line}: {message}{}", kept(*written))]
    Row {
        line: u64,
        message: String,
        written: u64,
    },
    #[error("writing the batch ending at line {line} failed: {source}{}", kept(*written))]
    Write {
        line: u64,
        written: u64,
        #[source]
        source: dashtray_core::db::DbError,
    },
}

/// What a stopped import kept, for its error message.
fn kept(written: u64) -> String {
    match written {
        0 => " (nothing was imported)".into(),
        n => format!(" ({n} rows in earlier batches were imported; this batch was not)"),
    }
}

/// A row as read, before checking.
#[derive(Debug, Default)]
struct RawRow {
    metric_id: Option<String>,
    value: Option<String>,
    timestamp: Option<String>,
    integration_id: Option<String>,
}

/// Reads `path` and writes its points to `project_id`, `batch_rows` a transaction;
/// `on_batch` hears each batch written (for a progress bar), with the bytes read so far.
pub async fn import_file(
    db: &Db,
    project_id: &str,
    path: &Path,
    batch_rows: usize,
    mut on_batch: impl FnMut(&Progress, u64),
) -> Result<Progress, ImportError> {
    let open_error = |source| ImportError::Open {
        path: path.display().to_string(),
        source,
    };
    let file = File::open(path).map_err(open_error)?;
    let mut reader = BufReader::new(CountingReader {
        inner: file,
        read: 0,
    });
    let json_lines = looks_like_json_lines(path, reader.fill_buf().map_err(open_error)?);
    let mut progress = Progress::default();
    let batch_rows = batch_rows.max(1);
    let mut batch: Vec<NewPoint> = Vec::with_capacity(batch_rows);
    let mut rows = RowReader::new(reader, json_lines);
    while let Some((line, raw)) = rows
        .next_row()
        .map_err(|(line, message)| ImportError::Row {
            line,
            message,
            written: progress.rows,
        })?
    {
        let point = check(raw, project_id).map_err(|message| ImportError::Row {
            line,
            message,
            written: progress.rows,
        })?;
        batch.push(point);
        if batch.len() == batch_rows {
            write(db, &mut batch, &mut progress, line).await?;
            on_batch(&progress, rows.bytes_read());
        }
    }
    if !batch.is_empty() {
        write(db, &mut batch, &mut progress, rows.last_line).await?;
        on_batch(&progress, rows.bytes_read());
    }
    Ok(progress)
}

async fn write(
    db: &Db,
    batch: &mut Vec<NewPoint>,
    progress: &mut Progress,
    line: u64,
) -> Result<(), ImportError> {
    let failed = |source| ImportError::Write {
        line,
        written: progress.rows,
        source,
    };
    let mut tx = db.begin().await.map_err(failed)?;
    store::append(&mut tx, batch).await.map_err(failed)?;
    announce(&mut tx, batch).await.map_err(failed)?;
    tx.commit().await.map_err(failed)?;
    progress.rows += batch.len() as u64;
    progress.batches += 1;
    batch.clear();
    Ok(())
}

/// Metric ids an event names at most, which keeps it well under the 20 KB events are
/// held to; `metricIdsTruncated` says when a batch held more.
const EVENT_METRIC_IDS: usize = 100;

/// `metrics.imported` for the batch, in its transaction: subscribers hear of points only
/// once they are committed, and of every point committed.
async fn announce(tx: &mut Tx, batch: &[NewPoint]) -> Result<(), DbError> {
    let Some(first) = batch.first() else {
        return Ok(());
    };
    let metric_ids: BTreeSet<&str> = batch.iter().map(|p| p.metric_id.as_str()).collect();
    let timestamps = batch.iter().map(|p| p.timestamp);
    let data = serde_json::json!({
        "metricIds": metric_ids.iter().take(EVENT_METRIC_IDS).collect::<Vec<_>>(),
        "metricIdsTruncated": metric_ids.len() > EVENT_METRIC_IDS,
        "points": batch.len(),
        "firstTimestamp": timestamps.clone().min(),
        "lastTimestamp": timestamps.max(),
    });
    let now = chrono::Utc::now().timestamp_millis();
    let audience = events::Audience::Subscribers;
    events::publish(
        tx,
        &first.project_id,
        "metrics.imported",
        data,
        now,
        audience,
    )
    .await?;
    Ok(())
}

/// `.jsonl` / `.ndjson`, or a first character of `{`, means JSON Lines; else CSV.
fn looks_like_json_lines(path: &Path, start: &[u8]) -> bool {
    let by_name = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("jsonl") || e.eq_ignore_ascii_case("ndjson"));
    by_name || start.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

/// Checks one row into a point.
fn check(raw: RawRow, project_id: &str) -> Result<NewPoint, String> {
    let metric_id = raw
        .metric_id
        .filter(|m| !m.is_empty())
        .ok_or("`metricId` is missing")?;
    if !is_metric_id(&metric_id) {
        return Err(format!(
            "`metricId` `{metric_id}` is not a metric id (1-64 letters, digits, `_`, `-`, `.`, `:`)"
        ));
    }
    let value_text = raw
        .value
        .filter(|v| !v.is_empty())
        .ok_or("`value` is missing")?;
    let value: f64 = value_text
        .trim()
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite())
        .ok_or_else(|| format!("`value` `{value_text}` is not a finite number"))?;
    let ts_text = raw
        .timestamp
        .filter(|t| !t.is_empty())
        .ok_or("`timestamp` is missing")?;
    let timestamp = parse_timestamp(ts_text.trim()).ok_or_else(|| {
        format!(
            "`timestamp` `{ts_text}` is neither milliseconds since 1970 nor a date-time with an offset"
        )
    })?;
    let integration_id = raw.integration_id.filter(|i| !i.is_empty());
    Ok(NewPoint {
        id: store::new_id(),
        project_id: project_id.to_owned(),
        metric_id,
        integration_id,
        value,
        timestamp,
    })
}

/// Milliseconds since the epoch (not before it), or an RFC 3339 date-time.
fn parse_timestamp(text: &str) -> Option<i64> {
    match text.parse::<i64>() {
        Ok(ms) => (ms >= 0).then_some(ms),
        Err(_) => DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| t.timestamp_millis())
            .filter(|ms| *ms >= 0),
    }
}

const COLUMNS: [&str; 4] = ["metricId", "value", "timestamp", "integrationId"];

/// Rows of either format, with their line numbers (the header is line 1 of a CSV).
struct RowReader<R: BufRead> {
    format: Format<R>,
    last_line: u64,
}

enum Format<R: BufRead> {
    Csv {
        records: csv::Reader<R>,
        columns: Option<Vec<usize>>,
    },
    JsonLines {
        lines: std::io::Lines<R>,
    },
}

impl<R: BufRead> RowReader<R> {
    fn new(reader: R, json_lines: bool) -> Self {
        let format = match json_lines {
            true => Format::JsonLines {
                lines: reader.lines(),
            },
            false => Format::Csv {
                records: csv::ReaderBuilder::new()
                    .has_headers(false)
                    .flexible(true)
                    .trim(csv::Trim::All)
                    .from_reader(reader),
                columns: None,
            },
        };
        RowReader {
            format,
            last_line: 0,
        }
    }

    fn bytes_read(&self) -> u64 {
        match &self.format {
            Format::Csv { records, .. } => records.position().byte(),
            Format::JsonLines { .. } => 0,
        }
    }

    /// The next row, `None` at the end, or the line and what is wrong with it.
    fn next_row(&mut self) -> Result<Option<(u64, RawRow)>, (u64, String)> {
        match &mut self.format {
            Format::JsonLines { lines } => loop {
                let Some(line) = lines.next() else {
                    return Ok(None);
                };
                self.last_line += 1;
                let n = self.last_line;
                let line = line.map_err(|e| (n, format!("cannot be read: {e}")))?;
                if line.trim().is_empty() {
                    continue;
                }
                return json_row(&line)
                    .map(|row| Some((n, row)))
                    .map_err(|m| (n, m));
            },
            Format::Csv { records, columns } => loop {
                let mut record = csv::StringRecord::new();
                let more = records
                    .read_record(&mut record)
                    .map_err(|e| (self.last_line + 1, format!("is not valid CSV: {e}")))?;
                if !more {
                    return Ok(None);
                }
                let n = record
                    .position()
                    .map(|p| p.line())
                    .unwrap_or(self.last_line + 1);
                self.last_line = n;
                if record.iter().all(str::is_empty) {
                    continue;
                }
                match columns {
                    None => *columns = Some(header(&record).map_err(|m| (n, m))?),
                    Some(columns) => return Ok(Some((n, csv_row(&record, columns)))),
                }
            },
        }
    }
}

/// The header's column for each of `COLUMNS` (`usize::MAX` when absent).
fn header(record: &csv::StringRecord) -> Result<Vec<usize>, String> {
    if let Some(unknown) = record.iter().find(|c| !COLUMNS.contains(c)) {
        return Err(format!(
            "the header has `{unknown}`; the columns are metricId, value, timestamp and optionally integrationId"
        ));
    }
    let position = |name: &str| record.iter().position(|c| c == name);
    for required in &COLUMNS[..3] {
        if position(required).is_none() {
            return Err(format!(
                "the header lacks `{required}` (metricId,value,timestamp[,integrationId])"
            ));
        }
    }
    Ok(COLUMNS
        .iter()
        .map(|c| position(c).unwrap_or(usize::MAX))
        .collect())
}

fn csv_row(record: &csv::StringRecord, columns: &[usize]) -> RawRow {
    let field = |i: usize| record.get(columns[i]).map(str::to_owned);
    RawRow {
        metric_id: field(0),
        value: field(1),
        timestamp: field(2),
        integration_id: field(3),
    }
}

fn json_row(line: &str) -> Result<RawRow, String> {
    let value: serde_json::Value =
        serde_json::from_str(line).map_err(|e| format!("is not a JSON object: {e}"))?;
    let object = value.as_object().ok_or("is not a JSON object")?;
    if let Some(unknown) = object.keys().find(|k| !COLUMNS.contains(&k.as_str())) {
        return Err(format!(
            "has `{unknown}`; the fields are metricId, value, timestamp and optionally integrationId"
        ));
    }
    let text = |name: &str| {
        object.get(name).and_then(|v| match v {
            serde_json::Value::Null => None,
            serde_json::Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        })
    };
    Ok(RawRow {
        metric_id: text("metricId"),
        value: text("value"),
        timestamp: text("timestamp"),
        integration_id: text("integrationId"),
    })
}

/// Counts bytes for the progress bar.
struct CountingReader<R> {
    inner: R,
    read: u64,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_milliseconds_or_date_times() {
        assert_eq!(parse_timestamp("1704067200000"), Some(1_704_067_200_000));
        assert_eq!(
            parse_timestamp("2024-01-01T00:00:00Z"),
            Some(1_704_067_200_000)
        );
        assert_eq!(parse_timestamp("-5"), None);
        assert_eq!(parse_timestamp("2024-01-01"), None);
    }

    #[test]
    fn rows_are_checked_field_by_field() {
        let row = |m: &str, v: &str, t: &str| RawRow {
            metric_id: Some(m.into()),
            value: Some(v.into()),
            timestamp: Some(t.into()),
            integration_id: None,
        };
        assert!(check(row("mrr", "1.5", "1"), "p").is_ok());
        assert!(check(row("mrr", "abc", "1"), "p")
            .unwrap_err()
            .contains("`value`"));
        assert!(check(row("mrr", "NaN", "1"), "p")
            .unwrap_err()
            .contains("finite"));
        assert!(check(row("bad id", "1", "1"), "p")
            .unwrap_err()
            .contains("`metricId`"));
        assert!(check(row("mrr", "1", "yesterday"), "p")
            .unwrap_err()
            .contains("`timestamp`"));
    }
}
