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

/// Splits one CSV line into fields: commas separate, double quotes enclose a field that may
/// hold commas, and `""` inside quotes is one quote.
fn split_csv_line(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut field)),
            _ => field.push(c),
        }
    }
    fields.push(field);
    fields.into_iter().map(|f| f.trim().to_string()).collect()
}

fn is_date_header(name: &str) -> bool {
    matches!(
        name.to_ascii_lowercase().as_str(),
        "date" | "time" | "year" | "month" | "day" | "timestamp"
    )
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
    let bad = |message: String| SeriesError::Csv {
        origin: origin.to_string(),
        message,
    };
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines
        .next()
        .ok_or_else(|| SeriesError::Empty(origin.to_string()))?;
    let header = split_csv_line(header.trim_start_matches('\u{feff}'));
    let index = header.iter().position(|h| h == column).ok_or_else(|| {
        bad(format!(
            "no column named '{column}'; the header has: {}",
            header.join(", ")
        ))
    })?;
    let date_index = header
        .iter()
        .position(|h| is_date_header(h))
        .filter(|&d| d != index);
    let mut values = Vec::new();
    let mut dates = Vec::new();
    for (row, (line_no, line)) in lines.enumerate() {
        let (row, line_no) = (row + 1, line_no + 1);
        let fields = split_csv_line(line);
        let Some(field) = fields.get(index) else {
            return Err(bad(format!(
                "row {row} (line {line_no}) has {} fields, but column '{column}' is field {}",
                fields.len(),
                index + 1
            )));
        };
        let missing = field.is_empty()
            || ["na", "nan", "null", "none", "n/a"].contains(&field.to_ascii_lowercase().as_str());
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
                return Err(bad(format!(
                    "row {row} (line {line_no}): missing value in column '{column}' \
                     (use --skip-missing to drop such rows)"
                )));
            }
            None => {
                return Err(bad(format!(
                    "row {row} (line {line_no}): '{field}' in column '{column}' is not a \
                     finite number (use --skip-missing to drop such rows)"
                )));
            }
        }
    }
    if values.is_empty() {
        return Err(bad(format!("no values in column '{column}'")));
    }
    Ok((values, date_index.map(|_| dates)))
}

/// The monthly prices and dates of one symbol of the embedded stocks file.
fn stock_prices(symbol: &str) -> Result<(Vec<f64>, Vec<String>), SeriesError> {
    let mut values = Vec::new();
    let mut dates = Vec::new();
    for line in STOCKS_CSV.lines().skip(1) {
        let fields = split_csv_line(line);
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
    /// A CSV problem; the message gives the row and line.
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
    fn csv_lines_with_quotes() {
        assert_eq!(
            split_csv_line(r#""a,b", 2 ,"say ""hi""""#),
            vec!["a,b", "2", r#"say "hi""#]
        );
    }

    #[test]
    fn split_point_holds_out_the_end() {
        assert_eq!(split_point(309, 0.2), 247);
        assert_eq!(split_point(10, 0.0), 10);
    }
}
