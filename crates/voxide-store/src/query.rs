//! Queries on the index: the matching of PS3.4 C.2.2.2 (single value, wildcard, range, UID list,
//! universal), shared by QIDO-RS and C-FIND.
//!
//! A query names a level, matching keys as `(tag, value)` pairs written as DICOM writes them
//! (`DOE*`, `20200101-20201231`, `1.2.3\1.2.4`), paging, and returns one [`Record`] per matching
//! entity with the attributes the index keeps for that level (and the levels above), including
//! the computed ones (numbers of related series and instances, modalities in study).

use sqlx::sqlite::SqliteArguments;
use sqlx::{Arguments, Row};

use crate::StoreError;

/// The query/retrieve level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Patient,
    Study,
    Series,
    Instance,
}

impl Level {
    fn rank(self) -> u8 {
        match self {
            Level::Patient => 0,
            Level::Study => 1,
            Level::Series => 2,
            Level::Instance => 3,
        }
    }
}

/// A query on the index.
#[derive(Debug, Clone)]
pub struct Query {
    pub level: Level,
    /// Matching keys: tag (`group << 16 | element`) and value as in a C-FIND identifier.
    pub keys: Vec<(u32, String)>,
    pub limit: Option<usize>,
    pub offset: usize,
    /// The studies the asker may see; records outside are not returned.
    pub scope: crate::Scope,
}

/// A value of an attribute the index returns.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Text; several values separated by `\` as in DICOM.
    Text(String),
    Int(i64),
}

/// One attribute of a query result.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    pub tag: u32,
    /// The attribute's value representation (two letters).
    pub vr: &'static str,
    /// `None`: the attribute is known but empty.
    pub value: Option<Value>,
}

/// One matching entity.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Record {
    pub attributes: Vec<Attribute>,
}

impl Record {
    /// The text value of `tag`, if present and not empty.
    pub fn text(&self, tag: u32) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| a.tag == tag)
            .and_then(|a| match &a.value {
                Some(Value::Text(s)) => Some(s.as_str()),
                _ => None,
            })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Uid,
    Text,
    /// Person names: wildcard and single-value matching ignore case, as Orthanc does by
    /// default and as users expect of names typed in a search box.
    Name,
    Date,
    Time,
    Int,
    /// ModalitiesInStudy: matches when any series of the study has one of the listed values.
    Modalities,
    /// Computed, returned but not matchable.
    Count,
}

/// An attribute the index keeps: its tag, VR, level, SQL expression and matching kind.
#[derive(Debug, Clone, Copy)]
struct Column {
    tag: u32,
    vr: &'static str,
    level: Level,
    sql: &'static str,
    kind: Kind,
}

const fn col(tag: u32, vr: &'static str, level: Level, sql: &'static str, kind: Kind) -> Column {
    Column {
        tag,
        vr,
        level,
        sql,
        kind,
    }
}

/// Tags as numbers, named for readability of the table below.
pub mod tag {
    pub const PATIENT_NAME: u32 = 0x0010_0010;
    pub const PATIENT_ID: u32 = 0x0010_0020;
    pub const PATIENT_BIRTH_DATE: u32 = 0x0010_0030;
    pub const PATIENT_SEX: u32 = 0x0010_0040;
    pub const STUDY_INSTANCE_UID: u32 = 0x0020_000D;
    pub const STUDY_DATE: u32 = 0x0008_0020;
    pub const STUDY_TIME: u32 = 0x0008_0030;
    pub const ACCESSION_NUMBER: u32 = 0x0008_0050;
    pub const STUDY_ID: u32 = 0x0020_0010;
    pub const STUDY_DESCRIPTION: u32 = 0x0008_1030;
    pub const REFERRING_PHYSICIAN_NAME: u32 = 0x0008_0090;
    pub const MODALITIES_IN_STUDY: u32 = 0x0008_0061;
    pub const NUMBER_OF_PATIENT_RELATED_STUDIES: u32 = 0x0020_1200;
    pub const NUMBER_OF_STUDY_RELATED_SERIES: u32 = 0x0020_1206;
    pub const NUMBER_OF_STUDY_RELATED_INSTANCES: u32 = 0x0020_1208;
    pub const SERIES_INSTANCE_UID: u32 = 0x0020_000E;
    pub const MODALITY: u32 = 0x0008_0060;
    pub const SERIES_NUMBER: u32 = 0x0020_0011;
    pub const SERIES_DESCRIPTION: u32 = 0x0008_103E;
    pub const BODY_PART_EXAMINED: u32 = 0x0018_0015;
    pub const NUMBER_OF_SERIES_RELATED_INSTANCES: u32 = 0x0020_1209;
    pub const SOP_INSTANCE_UID: u32 = 0x0008_0018;
    pub const SOP_CLASS_UID: u32 = 0x0008_0016;
    pub const INSTANCE_NUMBER: u32 = 0x0020_0013;
    pub const ROWS: u32 = 0x0028_0010;
    pub const COLUMNS: u32 = 0x0028_0011;
    pub const NUMBER_OF_FRAMES: u32 = 0x0028_0008;
    pub const QUERY_RETRIEVE_LEVEL: u32 = 0x0008_0052;
    pub const SPECIFIC_CHARACTER_SET: u32 = 0x0008_0005;
    pub const TRANSFER_SYNTAX_UID: u32 = 0x0002_0010;
}

use Kind::*;
use Level::{Instance, Patient, Series, Study};

const COLUMNS: &[Column] = &[
    col(tag::PATIENT_NAME, "PN", Patient, "p.patient_name", Name),
    col(tag::PATIENT_ID, "LO", Patient, "p.patient_id", Text),
    col(tag::PATIENT_BIRTH_DATE, "DA", Patient, "p.birth_date", Date),
    col(tag::PATIENT_SEX, "CS", Patient, "p.sex", Text),
    col(
        tag::NUMBER_OF_PATIENT_RELATED_STUDIES,
        "IS",
        Patient,
        "(SELECT COUNT(*) FROM studies s2 WHERE s2.patient_pk = p.pk)",
        Count,
    ),
    col(tag::STUDY_INSTANCE_UID, "UI", Study, "st.study_uid", Uid),
    col(tag::STUDY_DATE, "DA", Study, "st.study_date", Date),
    col(tag::STUDY_TIME, "TM", Study, "st.study_time", Time),
    col(
        tag::ACCESSION_NUMBER,
        "SH",
        Study,
        "st.accession_number",
        Text,
    ),
    col(tag::STUDY_ID, "SH", Study, "st.study_id", Text),
    col(tag::STUDY_DESCRIPTION, "LO", Study, "st.description", Text),
    col(
        tag::REFERRING_PHYSICIAN_NAME,
        "PN",
        Study,
        "st.referring_physician",
        Name,
    ),
    col(
        tag::MODALITIES_IN_STUDY,
        "CS",
        Study,
        "st.modalities",
        Modalities,
    ),
    col(
        tag::NUMBER_OF_STUDY_RELATED_SERIES,
        "IS",
        Study,
        "st.num_series",
        Count,
    ),
    col(
        tag::NUMBER_OF_STUDY_RELATED_INSTANCES,
        "IS",
        Study,
        "st.num_instances",
        Count,
    ),
    col(tag::SERIES_INSTANCE_UID, "UI", Series, "se.series_uid", Uid),
    col(tag::MODALITY, "CS", Series, "se.modality", Text),
    col(tag::SERIES_NUMBER, "IS", Series, "se.series_number", Int),
    col(
        tag::SERIES_DESCRIPTION,
        "LO",
        Series,
        "se.description",
        Text,
    ),
    col(tag::BODY_PART_EXAMINED, "CS", Series, "se.body_part", Text),
    col(
        tag::NUMBER_OF_SERIES_RELATED_INSTANCES,
        "IS",
        Series,
        "se.num_instances",
        Count,
    ),
    col(tag::SOP_INSTANCE_UID, "UI", Instance, "i.sop_uid", Uid),
    col(tag::SOP_CLASS_UID, "UI", Instance, "i.sop_class_uid", Uid),
    col(
        tag::INSTANCE_NUMBER,
        "IS",
        Instance,
        "i.instance_number",
        Int,
    ),
    col(tag::ROWS, "US", Instance, "i.rows_", Int),
    col(tag::COLUMNS, "US", Instance, "i.columns_", Int),
    col(tag::NUMBER_OF_FRAMES, "IS", Instance, "i.frames", Int),
];

/// Attributes the index can match on and return at `level`, with their VR.
pub fn indexed_attributes(level: Level) -> Vec<(u32, &'static str)> {
    columns_for(level).map(|c| (c.tag, c.vr)).collect()
}

fn columns_for(level: Level) -> impl Iterator<Item = &'static Column> {
    // Attributes of this level and the levels above; computed attributes (counts, modalities
    // in study) of this level only, as QIDO-RS lists them per level.
    COLUMNS.iter().filter(move |c| match c.kind {
        Count | Modalities => c.level == level,
        _ => c.level.rank() <= level.rank(),
    })
}

fn bad(msg: String) -> StoreError {
    StoreError::Query(msg)
}

/// `*` and `?` to SQL LIKE `%` and `_`, escaping LIKE's own characters with `\`.
fn like_pattern(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 4);
    for c in value.chars() {
        match c {
            '*' => out.push('%'),
            '?' => out.push('_'),
            '%' | '_' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

fn check_date(d: &str) -> Result<String, StoreError> {
    let digits: String = d.chars().filter(|c| *c != '.').collect();
    let valid = digits.len() == 8 && digits.bytes().all(|b| b.is_ascii_digit()) && {
        let n = |r: std::ops::Range<usize>| digits[r].parse::<u32>().unwrap_or(0);
        let (y, m, day) = (n(0..4), n(4..6), n(6..8));
        let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        let days = match m {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => 0,
        };
        (1..=days).contains(&day)
    };
    if valid {
        Ok(digits)
    } else {
        Err(bad(format!(
            "'{d}' is not a date: write YYYYMMDD, or a range YYYYMMDD-YYYYMMDD, YYYYMMDD- or -YYYYMMDD"
        )))
    }
}

fn check_time(t: &str) -> Result<String, StoreError> {
    let t = t.replace(':', "");
    let (whole, frac) = t.split_once('.').unwrap_or((&t, ""));
    let ok = !whole.is_empty()
        && whole.len() <= 6
        && whole.len() % 2 == 0
        && whole.bytes().all(|b| b.is_ascii_digit())
        && frac.len() <= 6
        && frac.bytes().all(|b| b.is_ascii_digit());
    if ok {
        Ok(t.clone())
    } else {
        Err(bad(format!(
            "'{t}' is not a time: write HHMMSS (optionally .FFFFFF), or a range like 080000-120000"
        )))
    }
}

/// Adds the SQL condition for one matching key.
fn condition(
    column: &Column,
    value: &str,
    sql: &mut Vec<String>,
    args: &mut SqliteArguments,
) -> Result<(), StoreError> {
    let value = value.trim_end_matches(['\0', ' ']).trim_start();
    if value.is_empty() || value == "*" {
        return Ok(()); // universal matching
    }
    let push = |args: &mut SqliteArguments, v: String| {
        args.add(v)
            .map_err(|e| StoreError::Internal(format!("query argument: {e}")))
    };
    match column.kind {
        Count => {
            return Err(bad(format!(
                "({:04X},{:04X}) is computed: it can be returned but not matched",
                column.tag >> 16,
                column.tag & 0xFFFF
            )))
        }
        Uid => {
            let uids: Vec<&str> = value.split('\\').map(str::trim).collect();
            for uid in &uids {
                crate::check_uid(uid).map_err(|why| bad(format!("invalid UID '{uid}': {why}")))?;
            }
            sql.push(format!(
                "{} IN ({})",
                column.sql,
                vec!["?"; uids.len()].join(",")
            ));
            for uid in uids {
                push(args, uid.to_string())?;
            }
        }
        Text | Name => {
            let nocase = if column.kind == Name {
                " COLLATE NOCASE"
            } else {
                ""
            };
            if value.contains(['*', '?']) {
                // LIKE ignores ASCII case; for other text, GLOB keeps case.
                if column.kind == Name {
                    sql.push(format!("{} LIKE ? ESCAPE '\\'", column.sql));
                    push(args, like_pattern(value))?;
                } else {
                    sql.push(format!("{} GLOB ?", column.sql));
                    push(args, glob_pattern(value))?;
                }
            } else {
                sql.push(format!("{}{nocase} = ?", column.sql));
                push(args, value.to_string())?;
            }
        }
        Int => {
            let n: i64 = value.trim().parse().map_err(|_| {
                bad(format!(
                    "'{value}' is not an integer for ({:04X},{:04X})",
                    column.tag >> 16,
                    column.tag & 0xFFFF
                ))
            })?;
            sql.push(format!("{} = ?", column.sql));
            args.add(n)
                .map_err(|e| StoreError::Internal(format!("query argument: {e}")))?;
        }
        Date | Time => {
            let check = if column.kind == Date {
                check_date
            } else {
                check_time
            };
            match value.split_once('-') {
                None => {
                    sql.push(format!("{} = ?", column.sql));
                    push(args, check(value)?)?;
                }
                Some((from, to)) => {
                    let (from, to) = (from.trim(), to.trim());
                    if from.is_empty() && to.is_empty() {
                        return Err(bad(format!("'{value}' is not a range")));
                    }
                    if !from.is_empty() {
                        sql.push(format!("{} >= ?", column.sql));
                        push(args, check(from)?)?;
                    }
                    if !to.is_empty() {
                        // A time range's upper bound includes the whole second it names.
                        let to = check(to)?;
                        if column.kind == Time {
                            sql.push(format!("{} <= ?", column.sql));
                            push(args, format!("{to}~"))?;
                        } else {
                            sql.push(format!("{} <= ?", column.sql));
                            push(args, to)?;
                        }
                    }
                }
            }
        }
        Modalities => {
            let wanted: Vec<&str> = value.split('\\').map(str::trim).collect();
            sql.push(format!(
                "EXISTS (SELECT 1 FROM series m WHERE m.study_pk = st.pk AND m.modality IN ({}))",
                vec!["?"; wanted.len()].join(",")
            ));
            for m in wanted {
                push(args, m.to_string())?;
            }
        }
    }
    Ok(())
}

/// `*` and `?` stay GLOB's own; GLOB's `[` is escaped as `[[]`.
fn glob_pattern(value: &str) -> String {
    value.replace('[', "[[]")
}

/// Builds the SQL of a query; returns it with its arguments.
fn build(query: &Query) -> Result<(String, SqliteArguments), StoreError> {
    let level = query.level;
    let mut conditions = Vec::new();
    let mut args = SqliteArguments::default();
    let add = |args: &mut SqliteArguments, values: Vec<String>| -> Result<(), StoreError> {
        for a in values {
            args.add(a)
                .map_err(|e| StoreError::Internal(format!("query argument: {e}")))?;
        }
        Ok(())
    };
    // The selected columns come first in the statement, so their arguments are bound first.
    // A patient's study count counts only the studies in the caller's scope: the others must
    // not show, not even as a number.
    let count_scope = query.scope.condition("s2.study_uid");
    let mut select: Vec<String> = Vec::new();
    for c in columns_for(level) {
        match &count_scope {
            Some((scoped, scope_args)) if c.tag == tag::NUMBER_OF_PATIENT_RELATED_STUDIES => {
                select.push(format!(
                    "(SELECT COUNT(*) FROM studies s2 WHERE s2.patient_pk = p.pk AND {scoped})"
                ));
                add(&mut args, scope_args.clone())?;
            }
            _ => select.push(c.sql.to_string()),
        }
    }
    for (tag, value) in &query.keys {
        if matches!(
            *tag,
            tag::QUERY_RETRIEVE_LEVEL | tag::SPECIFIC_CHARACTER_SET
        ) {
            continue;
        }
        let column = COLUMNS
            .iter()
            .find(|c| c.tag == *tag && c.level.rank() <= level.rank())
            .ok_or_else(|| {
                bad(format!(
                    "({:04X},{:04X}) cannot be matched at the {level:?} level; match on an attribute of this level or the levels above",
                    tag >> 16,
                    tag & 0xFFFF
                ))
            })?;
        condition(column, value, &mut conditions, &mut args)?;
    }
    let study_column = if level == Patient {
        "sx.study_uid"
    } else {
        "st.study_uid"
    };
    if let Some((scoped, scope_args)) = query.scope.condition(study_column) {
        conditions.push(if level == Patient {
            format!("EXISTS (SELECT 1 FROM studies sx WHERE sx.patient_pk = p.pk AND {scoped})")
        } else {
            scoped
        });
        add(&mut args, scope_args)?;
    }
    let from = match level {
        Patient => "patients p",
        Study => "studies st JOIN patients p ON p.pk = st.patient_pk",
        Series => {
            "series se JOIN studies st ON st.pk = se.study_pk JOIN patients p ON p.pk = st.patient_pk"
        }
        Instance => {
            "instances i JOIN series se ON se.pk = i.series_pk JOIN studies st ON st.pk = se.study_pk JOIN patients p ON p.pk = st.patient_pk"
        }
    };
    // Patients are found through their studies; a patient-level query must not repeat one.
    let order = match level {
        Patient => "p.pk",
        Study => "st.pk",
        Series => "se.pk",
        Instance => "i.pk",
    };
    let mut sql = format!("SELECT {} FROM {from}", select.join(", "));
    if !conditions.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conditions.join(" AND "));
    }
    sql.push_str(&format!(" ORDER BY {order}"));
    let limit = query.limit.map_or(-1, |l| l.min(i64::MAX as usize) as i64);
    sql.push_str(&format!(
        " LIMIT {limit} OFFSET {}",
        query.offset.min(i64::MAX as usize)
    ));
    Ok((sql, args))
}

impl crate::Store {
    /// Runs a query on the index (QIDO-RS and C-FIND).
    pub async fn query(&self, query: &Query) -> Result<Vec<Record>, StoreError> {
        let (sql, args) = build(query)?;
        let columns: Vec<&Column> = columns_for(query.level).collect();
        // Audited: the SQL is assembled from the fixed column table and fixed operators; every
        // value from the request is a bound argument.
        let rows = sqlx::query_with(sqlx::AssertSqlSafe(sql), args)
            .fetch_all(&self.pool)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let mut attributes = Vec::with_capacity(columns.len());
            for (i, c) in columns.iter().enumerate() {
                let value = match c.kind {
                    Int | Count => row.try_get::<Option<i64>, _>(i)?.map(Value::Int),
                    _ => row
                        .try_get::<Option<String>, _>(i)?
                        .filter(|s| !s.is_empty())
                        .map(Value::Text),
                };
                attributes.push(Attribute {
                    tag: c.tag,
                    vr: c.vr,
                    value,
                });
            }
            out.push(Record { attributes });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_become_escaped_like_patterns() {
        assert_eq!(like_pattern("DO*_E?%"), "DO%\\_E_\\%");
        assert_eq!(glob_pattern("A[1]*"), "A[[]1]*");
    }

    #[test]
    fn ranges_and_bad_values() {
        let q = |tag, v: &str| Query {
            level: Study,
            keys: vec![(tag, v.to_string())],
            limit: None,
            offset: 0,
            scope: Default::default(),
        };
        let (sql, _) = build(&q(tag::STUDY_DATE, "20200101-20201231")).unwrap();
        assert!(
            sql.contains("st.study_date >= ? AND st.study_date <= ?"),
            "{sql}"
        );
        let (sql, _) = build(&q(tag::STUDY_DATE, "-20201231")).unwrap();
        assert!(
            sql.contains("st.study_date <= ?") && !sql.contains(">="),
            "{sql}"
        );
        assert!(build(&q(tag::STUDY_DATE, "2020")).is_err());
        assert!(build(&q(tag::STUDY_DATE, "-")).is_err());
        assert!(build(&q(tag::STUDY_INSTANCE_UID, "1.2.x")).is_err());
        assert!(
            build(&q(tag::SOP_INSTANCE_UID, "1.2")).is_err(),
            "instance key at study level"
        );
        assert!(build(&q(tag::NUMBER_OF_STUDY_RELATED_SERIES, "3")).is_err());
        let (sql, _) = build(&q(tag::PATIENT_NAME, "*")).unwrap();
        assert!(
            !sql.contains("WHERE"),
            "universal matching adds no condition: {sql}"
        );
    }
}
