//! Sequences: real-valued series (CSV columns, the embedded sunspots and stock prices, a
//! synthetic sine) and symbolic sequences (a text file read as characters).
//!
//! A source is named by a string (`--data`), parsed by [`SeriesSource::from_str`]:
//!
//! | form | what |
//! |---|---|
//! | `csv:FILE:COLUMN` | the numeric column named COLUMN of a CSV file with a header row; a column named `date`, `time`, `year`, `month`, `day` or `timestamp` (any case) gives the dates |
//! | `sunspots` | yearly sunspot numbers 1700–2008 (309 values, embedded) |
//! | `stocks:SYMBOL` | monthly closing prices 2000–2010 of MSFT, AMZN, IBM, GOOG or AAPL (embedded) |
//! | `text:FILE` | a UTF-8 text file as a sequence of characters |
//! | `sine` | x_t = sin(0.01 t) + N(0, 0.2²), t = 0..999, seeded |
//!
//! The held-out part used by `argen eval` is the last [`DEFAULT_HOLDOUT`] (20%) of a
//! sequence, in time order: see [`split_point`].
//!
//! A target column with per-step covariates from other columns of the same CSV file (ARX,
//! and the sequence models' local conditioning) is read by [`load_csv_with_covariates`]
//! into a [`CovariateSeries`]; the file's last rows may leave the target empty to give the
//! future covariates. CSV is parsed with the `csv` crate.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use rand::RngExt;

/// The embedded sunspots CSV (`"YEAR","SUNACTIVITY"`).
pub const SUNSPOTS_CSV: &str = include_str!("../../data/sunspots.csv");
/// The embedded stock prices CSV (`symbol,date,price`).
pub const STOCKS_CSV: &str = include_str!("../../data/stocks.csv");
/// The stock symbols of [`STOCKS_CSV`].
pub const STOCK_SYMBOLS: [&str; 5] = ["MSFT", "AMZN", "IBM", "GOOG", "AAPL"];
/// Length of the synthetic `sine` series.
pub const SINE_LENGTH: usize = 1000;
/// Standard deviation of the noise of the synthetic `sine` series.
pub const SINE_NOISE: f64 = 0.2;
/// Fraction of a sequence held out at its end for evaluation.
pub const DEFAULT_HOLDOUT: f64 = 0.2;

/// Where a sequence comes from; parsed from the `--data` option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeriesSource {
    /// A numeric column of a CSV file with a header row (`csv:FILE:COLUMN`).
    Csv {
        /// The CSV file.
        path: PathBuf,
        /// The header name of the column.
        column: String,
    },
    /// The embedded yearly sunspot numbers (`sunspots`).
    Sunspots,
    /// The embedded monthly price of one stock (`stocks:SYMBOL`).
    Stocks(String),
    /// A text file read as a sequence of characters (`text:FILE`).
    Text(PathBuf),
    /// The synthetic series x_t = sin(0.01 t) + N(0, 0.2²), t = 0..999 (`sine`).
    Sine,
}

impl SeriesSource {
    /// Whether the source gives symbols (characters) rather than real values.
    pub fn is_symbolic(&self) -> bool {
        matches!(self, SeriesSource::Text(_))
    }
}

impl FromStr for SeriesSource {
    type Err = SeriesError;

    /// Parses `csv:FILE:COLUMN`, `sunspots`, `stocks:SYMBOL`, `text:FILE` or `sine`.
    fn from_str(s: &str) -> Result<Self, SeriesError> {
        let unknown = || SeriesError::UnknownSource(s.to_string());
        match s {
            "sunspots" => return Ok(SeriesSource::Sunspots),
            "sine" => return Ok(SeriesSource::Sine),
            _ => {}
        }
        if let Some(rest) = s.strip_prefix("csv:") {
            // The column is after the last colon, so that FILE may itself hold colons.
            let (path, column) = rest.rsplit_once(':').ok_or_else(unknown)?;
            if path.is_empty() || column.is_empty() {
                return Err(unknown());
            }
            return Ok(SeriesSource::Csv {
                path: PathBuf::from(path),
                column: column.to_string(),
            });
        }
        if let Some(symbol) = s.strip_prefix("stocks:") {
            let symbol = symbol.to_ascii_uppercase();
            if !STOCK_SYMBOLS.contains(&symbol.as_str()) {
                return Err(SeriesError::UnknownSymbol(symbol));
            }
            return Ok(SeriesSource::Stocks(symbol));
        }
        match s.strip_prefix("text:") {
            Some(path) if !path.is_empty() => Ok(SeriesSource::Text(PathBuf::from(path))),
            _ => Err(unknown()),
        }
    }
}

impl fmt::Display for SeriesSource {
    /// Writes the form that [`SeriesSource::from_str`] accepts.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SeriesSource::Csv { path, column } => write!(f, "csv:{}:{column}", path.display()),
            SeriesSource::Sunspots => write!(f, "sunspots"),
            SeriesSource::Stocks(symbol) => write!(f, "stocks:{symbol}"),
            SeriesSource::Text(path) => write!(f, "text:{}", path.display()),
            SeriesSource::Sine => write!(f, "sine"),
        }
    }
}

/// How to load a sequence.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// Drop CSV rows whose value is missing or not a number instead of failing.
    pub skip_missing: bool,
    /// Seed of the synthetic series (`sine`).
    pub seed: u64,
}

/// A real-valued series, with the date of each value when the source has one.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The source, as written on the command line.
    pub name: String,
    /// The values in time order.
    pub values: Vec<f64>,
    /// One label per value (a year, a date), when the source has a date column.
    pub dates: Option<Vec<String>>,
}

/// A symbolic sequence: each symbol is an index into `alphabet`.
#[derive(Debug, Clone, PartialEq)]
pub struct SymbolSeries {
    /// The source, as written on the command line.
    pub name: String,
    /// The symbols in order, each below `alphabet.len()`.
    pub symbols: Vec<u32>,
    /// The distinct characters of the text, sorted; symbol i stands for `alphabet[i]`.
    pub alphabet: Vec<char>,
}

impl SymbolSeries {
    /// Builds the sorted alphabet of `text` and encodes each character as its index.
    pub fn from_text(name: &str, text: &str) -> SymbolSeries {
        let mut alphabet: Vec<char> = text.chars().collect();
        alphabet.sort_unstable();
        alphabet.dedup();
        let symbols = encode_chars(text, &alphabet).expect("every character is in the alphabet");
        SymbolSeries {
            name: name.to_string(),
            symbols,
            alphabet,
        }
    }
}

/// Encodes `text` with a sorted `alphabet`; `None` if a character is not in it.
pub fn encode_chars(text: &str, alphabet: &[char]) -> Option<Vec<u32>> {
    // A direct table for the characters below 256 (nearly all of a typical text), a binary
    // search in the sorted alphabet for the others.
    let mut table = [u32::MAX; 256];
    for (i, &c) in alphabet.iter().enumerate() {
        if (c as u32) < 256 {
            table[c as usize] = i as u32;
        }
    }
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        let code = if (c as u32) < 256 {
            table[c as usize]
        } else {
            alphabet
                .binary_search(&c)
                .map(|i| i as u32)
                .unwrap_or(u32::MAX)
        };
        if code == u32::MAX {
            return None;
        }
        out.push(code);
    }
    Some(out)
}

/// What a source holds.
#[derive(Debug, Clone, PartialEq)]
pub enum SeriesData {
    /// Real values.
    Real(Series),
    /// Symbols of a finite alphabet.
    Symbols(SymbolSeries),
}

/// Loads the sequence named by `source`.
pub fn load_series(source: &SeriesSource, options: LoadOptions) -> Result<SeriesData, SeriesError> {
    let name = source.to_string();
    match source {
        SeriesSource::Csv { path, column } => {
            let text = read_text(path)?;
            parse_csv_column(&text, column, &path.display().to_string(), options).map(|(v, d)| {
                SeriesData::Real(Series {
                    name,
                    values: v,
                    dates: d,
                })
            })
        }
        SeriesSource::Sunspots => {
            let (values, dates) =
                parse_csv_column(SUNSPOTS_CSV, "SUNACTIVITY", "embedded sunspots", options)?;
            Ok(SeriesData::Real(Series {
                name,
                values,
                dates,
            }))
        }
        SeriesSource::Stocks(symbol) => {
            let (values, dates) = stock_prices(symbol)?;
            Ok(SeriesData::Real(Series {
                name,
                values,
                dates: Some(dates),
            }))
        }
        SeriesSource::Text(path) => {
            let text = read_text(path)?;
            if text.is_empty() {
                return Err(SeriesError::Empty(path.display().to_string()));
            }
            Ok(SeriesData::Symbols(SymbolSeries::from_text(&name, &text)))
        }
        SeriesSource::Sine => Ok(SeriesData::Real(Series {
            name,
            values: sine(SINE_LENGTH, options.seed),
            dates: None,
        })),
    }
}

/// Loads a real-valued series; a text source is an error.
pub fn load_real(source: &SeriesSource, options: LoadOptions) -> Result<Series, SeriesError> {
    match load_series(source, options)? {
        SeriesData::Real(series) => Ok(series),
        SeriesData::Symbols(_) => Err(SeriesError::NotReal(source.to_string())),
    }
}

/// x_t = sin(0.01 t) + ε_t, ε_t ~ N(0, 0.2²) drawn with [`crate::rng::seeded`]`(seed)`, t = 0..n-1.
pub fn sine(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = crate::rng::seeded(seed);
    (0..n)
        .map(|t| (0.01 * t as f64).sin() + SINE_NOISE * standard_normal(&mut rng))
        .collect()
}

/// One draw from N(0, 1) by the Box–Muller transform: sqrt(-2 ln u) cos(2π v), u in (0, 1].
pub fn standard_normal(rng: &mut crate::rng::SeededRng) -> f64 {
    let u = 1.0 - rng.random::<f64>();
    let v = rng.random::<f64>();
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// Index where the held-out part begins: the last round(n · holdout) values are held out.
/// `holdout` must lie in [0, 1).
pub fn split_point(n: usize, holdout: f64) -> usize {
    n - ((n as f64) * holdout).round() as usize
}

fn read_text(path: &Path) -> Result<String, SeriesError> {
    let bytes = std::fs::read(path).map_err(|reason| SeriesError::Io {
        path: path.to_path_buf(),
        reason,
    })?;
    String::from_utf8(bytes).map_err(|e| SeriesError::NotUtf8 {
        path: path.to_path_buf(),
        offset: e.utf8_error().valid_up_to(),
    })
}

/// The records of a CSV text, read with the `csv` crate: commas separate fields, double
/// quotes enclose a field that may hold commas (or line breaks), `""` inside quotes is one
/// quote, and every field is trimmed. Records whose fields are all empty (blank lines) are
/// left out; a leading byte-order mark is dropped. Each record comes with the 1-based line
/// number where it starts. `origin` names the file in errors.
fn csv_records(text: &str, origin: &str) -> Result<Vec<(usize, Vec<String>)>, SeriesError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let mut records = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| SeriesError::Csv {
            origin: origin.to_string(),
            message: match e.position() {
                Some(pos) => format!("line {}: {e}", pos.line()),
                None => e.to_string(),
            },
        })?;
        if record.iter().all(str::is_empty) {
            continue;
        }
        let line = record.position().map_or(0, |p| p.line() as usize);
        records.push((line, record.iter().map(str::to_string).collect()));
    }
    Ok(records)
}

fn is_date_header(name: &str) -> bool {
    matches!(
        name.to_ascii_lowercase().as_str(),
        "date" | "time" | "year" | "month" | "day" | "timestamp"
    )
}

/// Whether a CSV field stands for a missing value: empty, `NA`, `NaN`, `null`, `none` or
/// `n/a` (any case).
fn is_missing(field: &str) -> bool {
    field.is_empty()
        || ["na", "nan", "null", "none", "n/a"].contains(&field.to_ascii_lowercase().as_str())
}

/// The position of `column` in `header`, or the error that lists the columns there are.
fn column_index(header: &[String], column: &str, origin: &str) -> Result<usize, SeriesError> {
    header
        .iter()
        .position(|h| h == column)
        .ok_or_else(|| SeriesError::NoColumn {
            origin: origin.to_string(),
            column: column.to_string(),
            header: header.to_vec(),
        })
}

/// Reads the column `column` of a CSV text with a header row as numbers, and the date
/// column when there is one. Blank lines are ignored. A missing value (empty, `NA`, `NaN`,
/// `null`) or a non-number is an error naming the row and line, unless
/// `options.skip_missing` drops such rows. `origin` names the file in errors.
pub fn parse_csv_column(
    text: &str,
    column: &str,
    origin: &str,
    options: LoadOptions,
) -> Result<(Vec<f64>, Option<Vec<String>>), SeriesError> {
    let mut records = csv_records(text, origin)?.into_iter();
    let (_, header) = records
        .next()
        .ok_or_else(|| SeriesError::Empty(origin.to_string()))?;
    let index = column_index(&header, column, origin)?;
    let date_index = header
        .iter()
        .position(|h| is_date_header(h))
        .filter(|&d| d != index);
    let mut values = Vec::new();
    let mut dates = Vec::new();
    for (row, (line, fields)) in records.enumerate() {
        let cell = |problem: String| SeriesError::Cell {
            origin: origin.to_string(),
            row: row + 1,
            line,
            column: column.to_string(),
            problem,
        };
        let Some(field) = fields.get(index) else {
            return Err(cell(format!(
                "the row has {} fields, but this column is field {}",
                fields.len(),
                index + 1
            )));
        };
        let missing = is_missing(field);
        let value = if missing {
            None
        } else {
            field.parse::<f64>().ok().filter(|v| v.is_finite())
        };
        match value {
            Some(v) => {
                values.push(v);
                if let Some(d) = date_index {
                    dates.push(fields.get(d).cloned().unwrap_or_default());
                }
            }
            None if options.skip_missing => {}
            None if missing => {
                return Err(cell(
                    "missing value (use --skip-missing to drop such rows)".into(),
                ));
            }
            None => {
                return Err(cell(format!(
                    "'{field}' is not a finite number (use --skip-missing to drop such rows)"
                )));
            }
        }
    }
    if values.is_empty() {
        return Err(SeriesError::Csv {
            origin: origin.to_string(),
            message: format!("no values in column '{column}'"),
        });
    }
    Ok((values, date_index.map(|_| dates)))
}

/// A real-valued target series with per-step covariates read from one CSV file.
///
/// Row t of the file gives the target x_t and the covariates z_t = (z_{1,t}, ..., z_{k,t}).
/// The last rows may leave the target empty: they hold the *future* covariates, the z_t of
/// the steps after the target ends, which forecasts need. So `covariates.len() >=
/// target.len()`, and `covariates[t]` for `t >= target.len()` belongs to a step not yet
/// observed.
#[derive(Debug, Clone, PartialEq)]
pub struct CovariateSeries {
    /// The source, `csv:FILE:TARGET`.
    pub name: String,
    /// The target values x_0..x_{n-1}, in time order.
    pub target: Vec<f64>,
    /// One row per step, `[step][column]`: z_t for every row of the file, the rows past the
    /// target's end included.
    pub covariates: Vec<Vec<f64>>,
    /// The names of the covariate columns, in the order of each row of `covariates`.
    pub columns: Vec<String>,
    /// One label per row of `covariates` (a year, a date), when the file has a date column.
    pub dates: Option<Vec<String>>,
}

impl CovariateSeries {
    /// The number of rows past the target's end: the steps whose covariates are known but
    /// whose target is not.
    pub fn future_rows(&self) -> usize {
        self.covariates.len() - self.target.len()
    }
}

/// Loads the column `target` of the CSV file `path` as a series and the columns
/// `covariates` as its per-step covariates (see [`CovariateSeries`]).
///
/// The header row names the columns; blank lines are ignored. Every covariate cell must be
/// a finite number. The target's cells must be numbers, except that the trailing rows may
/// leave it empty (or `NA`, `NaN`, `null`): those rows hold the future covariates. Errors
/// name the file, the row (and its 1-based line number) and the column: a missing column
/// (the message lists the columns there are), a missing value, NaN or text in a covariate,
/// text in the target, an empty target followed by target values, a file without rows or
/// without any target value, a covariate listed twice or also named as the target.
pub fn load_csv_with_covariates(
    path: &Path,
    target: &str,
    covariates: &[String],
) -> Result<CovariateSeries, SeriesError> {
    let text = read_text(path)?;
    let mut series =
        parse_csv_with_covariates(&text, target, covariates, &path.display().to_string())?;
    series.name = SeriesSource::Csv {
        path: path.to_path_buf(),
        column: target.to_string(),
    }
    .to_string();
    Ok(series)
}

/// [`load_csv_with_covariates`] on a CSV text; `origin` names the file in errors and is
/// the series' name.
pub fn parse_csv_with_covariates(
    text: &str,
    target: &str,
    covariates: &[String],
    origin: &str,
) -> Result<CovariateSeries, SeriesError> {
    let bad = |message: String| SeriesError::Csv {
        origin: origin.to_string(),
        message,
    };
    for (i, c) in covariates.iter().enumerate() {
        if c == target {
            return Err(bad(format!(
                "'{c}' is the target column; it cannot also be a covariate"
            )));
        }
        if covariates[..i].contains(c) {
            return Err(bad(format!("the covariate column '{c}' is listed twice")));
        }
    }
    let mut records = csv_records(text, origin)?.into_iter();
    let (_, header) = records
        .next()
        .ok_or_else(|| SeriesError::Empty(origin.to_string()))?;
    let target_index = column_index(&header, target, origin)?;
    let indices = covariates
        .iter()
        .map(|c| column_index(&header, c, origin))
        .collect::<Result<Vec<_>, _>>()?;
    let date_index = header
        .iter()
        .enumerate()
        .position(|(i, h)| is_date_header(h) && i != target_index && !indices.contains(&i));
    let mut values = Vec::new();
    let mut rows = Vec::new();
    let mut dates = Vec::new();
    // The first row without a target value, while no later row has had one.
    let mut first_empty: Option<(usize, usize)> = None;
    for (row, (line, fields)) in records.enumerate() {
        let row = row + 1;
        let cell = |column: &str, problem: String| SeriesError::Cell {
            origin: origin.to_string(),
            row,
            line,
            column: column.to_string(),
            problem,
        };
        let field = |index: usize, column: &str| {
            fields.get(index).map(String::as_str).ok_or_else(|| {
                cell(
                    column,
                    format!(
                        "the row has {} fields, but this column is field {}",
                        fields.len(),
                        index + 1
                    ),
                )
            })
        };
        let mut z = Vec::with_capacity(indices.len());
        for (&index, column) in indices.iter().zip(covariates) {
            let text = field(index, column)?;
            if text.is_empty() {
                return Err(cell(
                    column,
                    "missing value (every covariate cell must be a finite number)".into(),
                ));
            }
            match text.parse::<f64>() {
                Ok(v) if v.is_finite() => z.push(v),
                _ => {
                    return Err(cell(
                        column,
                        format!(
                            "'{text}' is not a finite number (every covariate cell must be one)"
                        ),
                    ));
                }
            }
        }
        let text = field(target_index, target)?;
        if is_missing(text) {
            first_empty.get_or_insert((row, line));
        } else {
            let Some(v) = text.parse::<f64>().ok().filter(|v| v.is_finite()) else {
                return Err(cell(target, format!("'{text}' is not a finite number")));
            };
            if let Some((row, line)) = first_empty {
                return Err(SeriesError::Cell {
                    origin: origin.to_string(),
                    row,
                    line,
                    column: target.to_string(),
                    problem: "the target is empty, but later rows have target values (only \
                              the last rows may leave the target empty: they hold the future \
                              covariates)"
                        .into(),
                });
            }
            values.push(v);
        }
        rows.push(z);
        if let Some(d) = date_index {
            dates.push(fields.get(d).cloned().unwrap_or_default());
        }
    }
    if rows.is_empty() {
        return Err(bad("no rows below the header".into()));
    }
    if values.is_empty() {
        return Err(bad(format!(
            "no values in the target column '{target}' (every row leaves it empty)"
        )));
    }
    Ok(CovariateSeries {
        name: origin.to_string(),
        target: values,
        covariates: rows,
        columns: covariates.to_vec(),
        dates: date_index.map(|_| dates),
    })
}

/// The monthly prices and dates of one symbol of the embedded stocks file.
fn stock_prices(symbol: &str) -> Result<(Vec<f64>, Vec<String>), SeriesError> {
    let mut values = Vec::new();
    let mut dates = Vec::new();
    for (_, fields) in csv_records(STOCKS_CSV, "embedded stocks")?
        .into_iter()
        .skip(1)
    {
        if fields.len() == 3 && fields[0] == symbol {
            let price = fields[2].parse::<f64>().map_err(|_| SeriesError::Csv {
                origin: "embedded stocks".into(),
                message: format!("bad price '{}'", fields[2]),
            })?;
            values.push(price);
            dates.push(fields[1].clone());
        }
    }
    if values.is_empty() {
        return Err(SeriesError::UnknownSymbol(symbol.to_string()));
    }
    Ok((values, dates))
}

/// Everything that can go wrong while loading a sequence; each message names its origin.
#[derive(Debug, thiserror::Error)]
pub enum SeriesError {
    /// The `--data` value is none of the accepted forms.
    #[error(
        "unknown series source '{0}': expected `csv:FILE:COLUMN`, `sunspots`, \
         `stocks:SYMBOL`, `text:FILE` or `sine`"
    )]
    UnknownSource(String),
    /// `stocks:SYMBOL` with a symbol that the embedded file does not hold.
    #[error("unknown stock symbol '{0}': expected one of MSFT, AMZN, IBM, GOOG, AAPL")]
    UnknownSymbol(String),
    /// A file could not be read.
    #[error("cannot read {}: {reason}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: std::io::Error,
    },
    /// A text file is not valid UTF-8.
    #[error("{} is not UTF-8 text (invalid byte at offset {offset})", path.display())]
    NotUtf8 {
        /// The file.
        path: PathBuf,
        /// Offset of the first invalid byte.
        offset: usize,
    },
    /// The source holds nothing.
    #[error("{0} is empty")]
    Empty(String),
    /// A real-valued series was needed but the source holds text.
    #[error("{0} is a text, not a real-valued series")]
    NotReal(String),
    /// A column named on the command line is not in the header.
    #[error(
        "bad CSV in {origin}: no column named '{column}'; the header has: {}",
        header.join(", ")
    )]
    NoColumn {
        /// The file.
        origin: String,
        /// The column asked for.
        column: String,
        /// The columns of the header.
        header: Vec<String>,
    },
    /// One cell of a CSV file is not what its column needs.
    #[error("bad CSV in {origin}: row {row} (line {line}), column '{column}': {problem}")]
    Cell {
        /// The file.
        origin: String,
        /// The 1-based data row (blank lines and the header not counted).
        row: usize,
        /// The 1-based line of the file where the row starts.
        line: usize,
        /// The column's header name.
        column: String,
        /// What is wrong.
        problem: String,
    },
    /// Another CSV problem; the message says where.
    #[error("bad CSV in {origin}: {message}")]
    Csv {
        /// The file.
        origin: String,
        /// What is wrong, and where.
        message: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_with_quotes_are_trimmed_and_unquoted() {
        let records =
            csv_records("\u{feff}a,b\n\n  \n\"a,b\", 2 ,\"say \"\"hi\"\"\"\n", "f").unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0], (1, vec!["a".to_string(), "b".to_string()]));
        assert_eq!(records[1].0, 4);
        assert_eq!(records[1].1, vec!["a,b", "2", r#"say "hi""#]);
    }

    fn covariates(text: &str, target: &str, columns: &[&str]) -> Result<CovariateSeries, String> {
        let columns: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
        parse_csv_with_covariates(text, target, &columns, "f.csv").map_err(|e| e.to_string())
    }

    #[test]
    fn covariates_with_future_rows() {
        let text = "year,y,\"a\",b\n2000,1.5,1,10\n\n2001,2.5,2,11\n2002,,3,12\n2003,NA,4,13\n";
        let s = covariates(text, "y", &["b", "a"]).unwrap();
        assert_eq!(s.target, vec![1.5, 2.5]);
        assert_eq!(
            s.covariates,
            vec![
                vec![10.0, 1.0],
                vec![11.0, 2.0],
                vec![12.0, 3.0],
                vec![13.0, 4.0]
            ]
        );
        assert_eq!(s.columns, vec!["b", "a"]);
        assert_eq!(s.future_rows(), 2);
        assert_eq!(s.dates.unwrap(), vec!["2000", "2001", "2002", "2003"]);
        // Without covariates: the target alone, with its future rows.
        assert_eq!(covariates(text, "y", &[]).unwrap().covariates.len(), 4);
    }

    #[test]
    fn covariate_errors_name_the_file_row_and_column() {
        let cases = [
            (
                "y,a\n1,2\n",
                "y",
                vec!["z"],
                vec!["f.csv", "no column named 'z'", "y, a"],
            ),
            (
                "y,a\n1,2\n2,NaN\n",
                "y",
                vec!["a"],
                vec!["row 2 (line 3), column 'a'", "'NaN'"],
            ),
            (
                "y,a\n1,2\n2,\n",
                "y",
                vec!["a"],
                vec!["row 2 (line 3), column 'a'", "missing"],
            ),
            (
                "y,a\n1,x\n",
                "y",
                vec!["a"],
                vec!["row 1 (line 2), column 'a'", "'x'"],
            ),
            (
                "y,a\n1,2\n3\n",
                "y",
                vec!["a"],
                vec!["row 2 (line 3), column 'a'", "1 fields"],
            ),
            (
                "y,a\nq,2\n",
                "y",
                vec!["a"],
                vec!["column 'y'", "'q' is not a finite number"],
            ),
            (
                "y,a\n1,2\n,3\n4,5\n",
                "y",
                vec!["a"],
                vec!["row 2 (line 3), column 'y'", "empty"],
            ),
            ("y,a\n", "y", vec!["a"], vec!["f.csv", "no rows"]),
            ("", "y", vec!["a"], vec!["f.csv is empty"]),
            (
                "y,a\n,2\n",
                "y",
                vec!["a"],
                vec!["no values in the target column 'y'"],
            ),
            (
                "y,a\n1,2\n",
                "y",
                vec!["a", "y"],
                vec!["'y' is the target column"],
            ),
            (
                "y,a\n1,2\n",
                "y",
                vec!["a", "a"],
                vec!["'a' is listed twice"],
            ),
        ];
        for (text, target, columns, phrases) in cases {
            let err = covariates(text, target, &columns).unwrap_err();
            for phrase in phrases {
                assert!(err.contains(phrase), "{text:?}: `{phrase}` not in: {err}");
            }
        }
    }

    #[test]
    fn split_point_holds_out_the_end() {
        assert_eq!(split_point(309, 0.2), 247);
        assert_eq!(split_point(10, 0.0), 10);
    }
}
