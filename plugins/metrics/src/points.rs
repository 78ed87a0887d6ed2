//! The list of points: filters from the query string, checked and turned into SQL that
//! an index serves, and one page of rows, handed on as they are read, plus the total.

use dashtray_core::{
    dates,
    db::{offset_param, placeholders, query, DbError, Query, Row, Value},
    listing::{total_from_page, Pagination},
    params::TextRule,
    ApiError, Db,
};

/// At most this many ids in one `metric_id` list.
pub const MAX_METRIC_IDS: usize = 100;

/// Which points a request asks for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    pub metric_ids: Vec<String>,
    pub start: Option<i64>,
    pub end: Option<i64>,
}

impl Filter {
    /// Checks the query string's filters; every bad value is named in one 400.
    pub fn parse(
        metric_id: Option<&str>,
        start_date: Option<&str>,
        end_date: Option<&str>,
    ) -> Result<Filter, ApiError> {
        let metric_ids = match metric_id {
            Some(list) => parse_metric_ids(list)
                .map_err(|message| ApiError::invalid_parameter("metric_id", message))?,
            None => Vec::new(),
        };
        let (start, end) = dates::range(start_date, end_date)?;
        Ok(Filter {
            metric_ids,
            start,
            end,
        })
    }

    /// ` AND …` conditions after `project_id = $1`, and the values to bind, in order.
    fn conditions(&self) -> (String, Vec<Value<'_>>) {
        // Written in place (writing to a `String` cannot fail), not through a `format!`
        // per condition.
        use std::fmt::Write;
        let mut sql = String::with_capacity(64);
        let mut binds = Vec::new();
        let mut next = 2;
        if !self.metric_ids.is_empty() {
            let slots = placeholders(next, self.metric_ids.len());
            next += self.metric_ids.len();
            let _ = write!(sql, " AND metric_id IN ({slots})");
            binds.extend(self.metric_ids.iter().map(Value::from));
        }
        if let Some(start) = self.start {
            let _ = write!(sql, " AND ts >= ${next}");
            next += 1;
            binds.push(Value::Int(start));
        }
        if let Some(end) = self.end {
            let _ = write!(sql, " AND ts <= ${next}");
            binds.push(Value::Int(end));
        }
        (sql, binds)
    }
}

/// The `metric_id` path parameter: one metric id.
pub struct MetricIdRule;

impl TextRule for MetricIdRule {
    const PATTERN: &'static str = r"^[A-Za-z0-9_.:-]{1,64}$";

    fn accepts(value: &str) -> bool {
        is_metric_id(value)
    }
}

/// The `metric_id` query parameter: one metric id, or several separated by commas.
pub struct MetricIdListRule;

impl TextRule for MetricIdListRule {
    const PATTERN: &'static str = r"^[A-Za-z0-9_.:-]{1,64}(,[A-Za-z0-9_.:-]{1,64})*$";

    fn accepts(value: &str) -> bool {
        value.split(',').all(is_metric_id)
    }
}

/// A metric id: 1-64 of letters, digits, `_`, `-`, `.`, `:`.
pub fn is_metric_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'))
}

fn parse_metric_ids(list: &str) -> Result<Vec<String>, String> {
    let ids: Vec<&str> = list.split(',').map(str::trim).collect();
    if ids.len() > MAX_METRIC_IDS {
        return Err(format!("at most {MAX_METRIC_IDS} ids, separated by commas"));
    }
    if let Some(bad) = ids.iter().find(|id| !is_metric_id(id)) {
        return Err(format!(
            "`{bad}` is not a metric id (1-64 letters, digits, `_`, `-`, `.`, `:`; several separated by commas)"
        ));
    }
    let mut unique: Vec<String> = ids.into_iter().map(str::to_owned).collect();
    unique.sort();
    unique.dedup();
    Ok(unique)
}

/// `sql` with the project and the filter's values bound, in placeholder order.
fn filtered<'q>(sql: String, project_id: &'q str, binds: &[Value<'q>]) -> Query<'q> {
    query(sql).bind(project_id).bind_all(binds.iter().cloned())
}

/// What reading a page found; its rows went to the caller as they were read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRead {
    /// Points matching the filter, in all.
    pub total: u64,
    /// True when points follow the page.
    pub more: bool,
}

/// One page of the project's points matching `filter`, in (timestamp, id) order, each
/// row handed to `each` as it is read (columns `id, metric_id, integration_id, value,
/// ts`), and how many match in all: counted only when the page does not show it.
pub async fn page(
    db: &Db,
    project_id: &str,
    filter: &Filter,
    limit: u32,
    offset: u64,
    each: impl FnMut(&Row<'_>) -> Result<(), DbError> + Send,
) -> Result<PageRead, DbError> {
    let (conditions, binds) = filter.conditions();
    let n = binds.len() + 2;
    let rows_sql = format!(
        "SELECT id, metric_id, integration_id, value, ts FROM metric_points \
         WHERE project_id = $1{conditions} ORDER BY ts, id LIMIT ${n} OFFSET ${}",
        n + 1
    );
    let rows = filtered(rows_sql, project_id, &binds)
        .bind(limit)
        .bind(offset_param(offset))
        .for_each(db, each)
        .await?;
    let total = match total_from_page(offset, limit, rows) {
        Some(total) => total,
        None => count(db, project_id, &conditions, &binds).await?,
    };
    Ok(PageRead {
        total,
        more: Pagination::new(limit, offset, total).has_more,
    })
}

/// A position in the (timestamp, id) order: the last point of a page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cursor {
    pub timestamp: i64,
    pub id: String,
}

impl Cursor {
    /// Moves to another row's position, reusing the id's buffer.
    pub fn move_to(&mut self, timestamp: i64, id: &str) {
        self.timestamp = timestamp;
        self.id.clear();
        self.id.push_str(id);
    }

    /// Opaque to clients: hex of `v1.<timestamp>.<id>`, so it can change shape later.
    pub fn encode(&self) -> String {
        dashtray_core::hex_digits::lower(format!("v1.{}.{}", self.timestamp, self.id))
    }

    pub fn decode(text: &str) -> Result<Cursor, String> {
        let refused = || {
            "is not a cursor this API gave out (take it from `pagination.nextCursor`)".to_owned()
        };
        if text.len() > 400 {
            return Err(refused());
        }
        let bytes = hex::decode(text).map_err(|_| refused())?;
        let decoded = String::from_utf8(bytes).map_err(|_| refused())?;
        let rest = decoded.strip_prefix("v1.").ok_or_else(refused)?;
        let (timestamp, id) = rest.split_once('.').ok_or_else(refused)?;
        Ok(Cursor {
            timestamp: timestamp.parse().map_err(|_| refused())?,
            id: id.to_owned(),
        })
    }
}

/// The page after `cursor`: a range scan of the index however deep, one more row than
/// asked read to know whether more follow. Returns the rows, the total and the next cursor.
pub async fn page_after(
    db: &Db,
    project_id: &str,
    filter: &Filter,
    limit: u32,
    cursor: &Cursor,
    mut each: impl FnMut(&Row<'_>) -> Result<(), DbError> + Send,
) -> Result<PageRead, DbError> {
    let (conditions, binds) = filter.conditions();
    let rows_sql = after_sql(&conditions, binds.len());
    // One row past the page says whether another follows; it is read, not handed on.
    let mut read = 0;
    let rows = filtered(rows_sql, project_id, &binds)
        .bind(cursor.timestamp)
        .bind(cursor.id.as_str())
        .bind(i64::from(limit) + 1)
        .for_each(db, |row| {
            read += 1;
            match read > limit as usize {
                true => Ok(()),
                false => each(row),
            }
        })
        .await?;
    let total = count(db, project_id, &conditions, &binds).await?;
    Ok(PageRead {
        total,
        more: rows > limit as usize,
    })
}

/// Row values compare (timestamp, id) pairs in one step, which both backends serve from
/// the (…, ts, id) indexes.
fn after_sql(conditions: &str, binds: usize) -> String {
    let n = binds + 2;
    format!(
        "SELECT id, metric_id, integration_id, value, ts FROM metric_points \
         WHERE project_id = $1{conditions} AND (ts, id) > (${n}, ${}) ORDER BY ts, id LIMIT ${}",
        n + 1,
        n + 2
    )
}

async fn count(
    db: &Db,
    project_id: &str,
    conditions: &str,
    binds: &[Value<'_>],
) -> Result<u64, DbError> {
    let sql = format!("SELECT COUNT(*) AS n FROM metric_points WHERE project_id = $1{conditions}");
    let total: i64 = filtered(sql, project_id, binds)
        .fetch_one(db, |row| row.get("n"))
        .await?;
    Ok(total.max(0) as u64)
}

/// The SQL of every query a list request makes for `filter` (by offset and by cursor),
/// for the index checks.
pub fn queries_for(filter: &Filter) -> Vec<String> {
    let (conditions, binds) = filter.conditions();
    let n = binds.len() + 2;
    vec![
        format!(
            "SELECT id, metric_id, integration_id, value, ts FROM metric_points \
             WHERE project_id = $1{conditions} ORDER BY ts, id LIMIT ${n} OFFSET ${}",
            n + 1
        ),
        format!("SELECT COUNT(*) AS n FROM metric_points WHERE project_id = $1{conditions}"),
        after_sql(&conditions, binds.len()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_id_lists_are_checked_sorted_and_deduplicated() {
        assert_eq!(
            parse_metric_ids("mrr, churn,mrr").unwrap(),
            ["churn", "mrr"]
        );
        assert!(parse_metric_ids("mrr,,churn").is_err());
        assert!(parse_metric_ids("drop table").is_err());
        assert!(parse_metric_ids(&vec!["a"; 101].join(",")).is_err());
    }

    #[test]
    fn cursors_round_trip_and_refuse_anything_else() {
        let cursor = Cursor {
            timestamp: 1_704_067_200_000,
            id: "pt_a.b".into(),
        };
        assert_eq!(Cursor::decode(&cursor.encode()), Ok(cursor));
        // "v1.5." and then "+f", which a per-pair integer parse took for 0x0f.
        let signed = format!("{}+f", hex::encode("v1.5."));
        for bad in ["", "zz", "abc", "7631", &"00".repeat(300), &signed] {
            assert!(Cursor::decode(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn conditions_number_their_placeholders_after_the_project() {
        let filter = Filter {
            metric_ids: vec!["a".into(), "b".into()],
            start: Some(1),
            end: Some(2),
        };
        let (sql, binds) = filter.conditions();
        assert_eq!(sql, " AND metric_id IN ($2, $3) AND ts >= $4 AND ts <= $5");
        assert_eq!(binds.len(), 4);
    }
}
