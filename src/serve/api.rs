//! The JSON API behind the page. Every answer is JSON (or server-sent events of JSON); every
//! error is `{"error": "..."}` with a 4xx (the request) or 5xx (the server) status.
//!
//! | method | path | what |
//! |---|---|---|
//! | GET | `/api/runs` | the runs under the folder ([`RunSummary`]) |
//! | GET | `/api/run?run=NAME` | one run: summary, parameter count, `metrics.csv` |
//! | GET | `/api/eval?run=NAME` | the test NLL (`argen eval --json`'s report), cached per checkpoint |
//! | GET | `/api/metrics/stream?run=NAME` | events `metrics` whenever `metrics.csv` grows |
//! | GET | `/api/sample/stream?run=NAME&n=&seed=&temperature=&class=` | events `start`, `step` (one value of every image of a batch), `done` |
//! | GET | `/api/test-images?run=NAME&n=` | the first test images (levels) and their classes |
//! | POST | `/api/complete` | completions of a drawn or test image, keeping a mask or the top rows |
//! | POST | `/api/receptive-field` | the influence map of one pixel, its blind spot and leaks |
//! | GET | `/api/sequence/sample?run=NAME&n=&seed=&temperature=&length=` | drawn sequences (text, piano rolls, values, sound, digits) |
//! | GET | `/api/forecast?run=NAME&horizon=&paths=&level=&seed=` | a forecast with intervals (AR: exact Gaussian; neural: quantiles of sampled paths) |
//!
//! With a token, every `/api/` call carries it as `Authorization: Bearer TOKEN` or as
//! `?token=TOKEN` (the page's event streams cannot set headers).

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, RawQuery, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use burn::module::Module;
use futures_util::Stream;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::OwnedSemaphorePermit;
use tokio_stream::wrappers::UnboundedReceiverStream;

use super::runs::{self, RunSummary};
use super::{AppState, page};
use crate::classic::ClassicModel;
use crate::generate::StepObserver;
use crate::generate::sequence::{SequenceRequest, sample_sequences};
use crate::run::{
    CompletionRequest, ImageRun, Kept, Run, SampleOptions, SequenceSamples, Split, Weights,
};

/// The largest request body (a drawn image and its mask are a few kilobytes).
pub const MAX_BODY: usize = 256 * 1024;
/// The most images one sampling request draws.
pub const MAX_IMAGES: usize = 64;
/// The most completions per request.
pub const MAX_COMPLETIONS: usize = 16;
/// The most test images one request returns.
pub const MAX_TEST_IMAGES: usize = 64;
/// The most random images a receptive field is averaged over.
pub const MAX_FIELD_IMAGES: usize = 32;
/// The most sequences one request draws.
pub const MAX_SEQUENCES: usize = 16;
/// The longest sequence one request draws.
pub const MAX_LENGTH: usize = 16_384;
/// The longest forecast.
pub const MAX_HORIZON: usize = 1_000;
/// The most sampled paths behind a neural forecast.
pub const MAX_PATHS: usize = 500;

/// The routes: the page, then the API behind the token check.
pub fn router(state: Arc<AppState>) -> Router {
    let api = Router::new()
        .route("/api/runs", get(list_runs))
        .route("/api/run", get(run_details))
        .route("/api/eval", get(evaluate))
        .route("/api/metrics/stream", get(metrics_stream))
        .route("/api/sample/stream", get(sample_stream))
        .route("/api/test-images", get(test_images))
        .route("/api/complete", post(complete))
        .route("/api/receptive-field", post(receptive_field))
        .route("/api/sequence/sample", get(sequence_sample))
        .route("/api/forecast", get(forecast))
        .route("/api/{*rest}", get(not_found).post(not_found))
        .layer(middleware::from_fn_with_state(state.clone(), require_token));
    Router::new()
        .route("/", get(page::index))
        .route("/app.js", get(page::script))
        .route("/style.css", get(page::style))
        .merge(api)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

/// An error answer: a status and a message, sent as `{"error": message}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl std::fmt::Display) -> Self {
        Self {
            status,
            message: message.to_string(),
        }
    }

    /// 400: the request cannot be served as asked.
    fn bad(message: impl std::fmt::Display) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
}

impl From<anyhow::Error> for ApiError {
    /// The library's errors are about the request (a bad option, a run of the wrong family,
    /// data that no longer fits): 400, with the whole chain of causes.
    fn from(e: anyhow::Error) -> Self {
        Self::bad(format!("{e:#}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response =
            (self.status, axum::Json(json!({ "error": self.message }))).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

type ApiResult<T> = Result<T, ApiError>;

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no such page or API call")
}

/// Refuses an API call without the server's token (when it has one).
async fn require_token(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(token) = &state.token {
        let from_header = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_string);
        let from_query = request.uri().query().and_then(|q| {
            serde_urlencoded::from_str::<Vec<(String, String)>>(q)
                .ok()?
                .into_iter()
                .find(|(k, _)| k == "token")
                .map(|(_, v)| v)
        });
        let given = from_header.or(from_query).unwrap_or_default();
        if !same_bytes(given.as_bytes(), token.as_bytes()) {
            return ApiError::new(
                StatusCode::UNAUTHORIZED,
                "this server needs its token: Authorization: Bearer TOKEN or ?token=TOKEN",
            )
            .into_response();
        }
    }
    next.run(request).await
}

/// Compares two byte strings in time that depends on their lengths only.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Parses a query string as `T` (a 400 naming the problem otherwise).
fn query<T: DeserializeOwned>(raw: Option<String>) -> ApiResult<T> {
    serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
        .map_err(|e| ApiError::bad(format!("bad query: {e}")))
}

/// A request body as read, or the reason it was not (413 past [`MAX_BODY`]).
type RawBody = Result<Bytes, axum::extract::rejection::BytesRejection>;

/// Parses a JSON body as `T` (a 4xx naming the problem otherwise).
fn body<T: DeserializeOwned>(raw: RawBody) -> ApiResult<T> {
    let bytes = raw.map_err(|r| {
        ApiError::new(
            r.status(),
            format!(
                "the request body cannot be read ({}; at most {MAX_BODY} bytes)",
                r.body_text()
            ),
        )
    })?;
    serde_json::from_slice(&bytes).map_err(|e| ApiError::bad(format!("bad JSON body: {e}")))
}

/// The folder of run `name`, or 404.
fn folder_of(state: &AppState, name: &str) -> ApiResult<PathBuf> {
    runs::resolve(&state.root, name).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no run named {name:?} under the served folder"),
        )
    })
}

/// A permit to generate, or 503 when [`super::MAX_GENERATIONS`] are running.
fn permit(state: &AppState) -> ApiResult<OwnedSemaphorePermit> {
    state.generations.clone().try_acquire_owned().map_err(|_| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "{} generations are running; try again in a moment",
                super::MAX_GENERATIONS
            ),
        )
    })
}

/// Runs `work` on a blocking thread (models compute there, never on the server's threads).
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(work).await.map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the work failed: {e}"),
        )
    })?
}

/// Checks `value` is in `1..=max`.
fn bounded(what: &str, value: usize, max: usize) -> ApiResult<usize> {
    if value == 0 || value > max {
        return Err(ApiError::bad(format!(
            "{what} must be in 1..={max}, got {value}"
        )));
    }
    Ok(value)
}

/// The `run` parameter of most calls.
#[derive(Deserialize)]
struct RunQuery {
    run: String,
}

async fn list_runs(State(state): State<Arc<AppState>>) -> ApiResult<axum::Json<Value>> {
    let root = state.root.clone();
    let (list, errors) = blocking(move || {
        let mut list: Vec<RunSummary> = Vec::new();
        let mut errors = Vec::new();
        for (name, folder) in runs::discover(&root) {
            match runs::summarise(&name, &folder) {
                Ok(summary) => list.push(summary),
                Err(e) => errors.push(json!({ "name": name, "error": format!("{e:#}") })),
            }
        }
        Ok((list, errors))
    })
    .await?;
    Ok(axum::Json(json!({ "runs": list, "errors": errors })))
}

async fn run_details(
    State(state): State<Arc<AppState>>,
    RawQuery(raw): RawQuery,
) -> ApiResult<axum::Json<Value>> {
    let q: RunQuery = query(raw)?;
    let folder = folder_of(&state, &q.run)?;
    blocking(move || {
        let summary = runs::summarise(&q.run, &folder)?;
        let (header, rows) = runs::metrics(&folder);
        let cpu = burn::prelude::Device::flex();
        let parameters = match Run::open(&folder)? {
            Run::Image(run) => Some(run.config.model.init(&cpu).num_params()),
            Run::Sequence(run) => Some(run.config.model.init(&cpu).num_params()),
            Run::Classic(_) => None,
        };
        Ok(axum::Json(json!({
            "summary": summary,
            "parameters": parameters,
            "metrics": { "header": header, "rows": rows },
        })))
    })
    .await
}

async fn evaluate(
    State(state): State<Arc<AppState>>,
    RawQuery(raw): RawQuery,
) -> ApiResult<axum::Json<Value>> {
    let q: RunQuery = query(raw)?;
    let folder = folder_of(&state, &q.run)?;
    let checkpoint = crate::train::RunFolder(folder.clone()).checkpoint();
    let key = (q.run.clone(), checkpoint);
    if let Some(report) = state.evaluations.lock().expect("cache").get(&key) {
        return Ok(axum::Json(report.clone()));
    }
    let permit = permit(&state)?;
    let device = state.device.clone();
    let report = blocking(move || {
        let _permit = permit;
        let run = Run::open(&folder)?;
        let report = run.evaluate(Split::Test, Weights::Best, 256, &device)?;
        serde_json::to_value(report).map_err(|e| ApiError::bad(e.to_string()))
    })
    .await?;
    state
        .evaluations
        .lock()
        .expect("cache")
        .insert(key, report.clone());
    Ok(axum::Json(report))
}

/// An event stream fed by a channel: it ends when the sender is dropped.
fn events(
    receiver: tokio::sync::mpsc::UnboundedReceiver<Event>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    use futures_util::StreamExt;
    Sse::new(UnboundedReceiverStream::new(receiver).map(Ok)).keep_alive(KeepAlive::default())
}

/// A JSON event named `name`.
fn event(name: &str, data: &Value) -> Event {
    Event::default().event(name).data(data.to_string())
}

async fn metrics_stream(
    State(state): State<Arc<AppState>>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let q: RunQuery = query(raw)?;
    let folder = folder_of(&state, &q.run)?;
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut last: Option<(usize, Option<u32>)> = None;
        loop {
            let (header, rows) = runs::metrics(&folder);
            let writer = runs::writer(&folder);
            let now = (rows.len(), writer);
            if last != Some(now) {
                last = Some(now);
                let data = json!({ "header": header, "rows": rows, "writer": writer });
                if sender.send(event("metrics", &data)).is_err() {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            if sender.is_closed() {
                break;
            }
        }
    });
    Ok(events(receiver))
}

/// The query of `/api/sample/stream`.
#[derive(Deserialize)]
struct SampleQuery {
    run: String,
    #[serde(default = "default_images")]
    n: usize,
    #[serde(default)]
    seed: u64,
    #[serde(default = "one")]
    temperature: f64,
    class: Option<usize>,
}

fn default_images() -> usize {
    16
}

fn one() -> f64 {
    1.0
}

/// An image run, or a 400 saying what the call needs.
fn image_run(folder: &std::path::Path, what: &str) -> ApiResult<ImageRun> {
    Ok(Run::open(folder)?.into_image(what)?)
}

async fn sample_stream(
    State(state): State<Arc<AppState>>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let q: SampleQuery = query(raw)?;
    bounded("n", q.n, MAX_IMAGES)?;
    let folder = folder_of(&state, &q.run)?;
    let run = image_run(&folder, "sampling images")?;
    if run.config.model.latent().is_some() {
        return Err(ApiError::bad(
            "an auto-encoder run draws given codes: use argen sample --reconstruct",
        ));
    }
    let options = SampleOptions {
        n: q.n,
        seed: q.seed,
        temperature: q.temperature,
        class: q.class,
        ..SampleOptions::default()
    };
    options.validate()?;
    let (labels, columns) = run.sample_labels(&options)?;
    let permit = permit(&state)?;
    let model = &run.config.model;
    let (colours, height, width) = (model.colours(), run.config.height, run.config.width);
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    let start = json!({
        "images": labels.len(),
        "labels": labels,
        "columns": columns,
        "colours": colours,
        "height": height,
        "width": width,
        "levels": model.levels(),
    });
    let _ = sender.send(event("start", &start));
    let device = state.device.clone();
    let shared = state.clone();
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let started = Instant::now();
        let steps = sender.clone();
        let observer = StepObserver(Arc::new(move |step: crate::generate::Step<'_>| {
            // Written by hand: one event per value, so the cheapest form counts.
            let pixel = step.position / colours;
            let mut data = format!(
                "{{\"first\":{},\"row\":{},\"col\":{},\"colour\":{},\"levels\":[",
                step.first_image,
                pixel / width,
                pixel % width,
                step.position % colours
            );
            for (i, level) in step.levels.iter().enumerate() {
                if i > 0 {
                    data.push(',');
                }
                data.push_str(&level.to_string());
            }
            data.push_str("]}");
            let _ = steps.send(Event::default().event("step").data(data));
        }));
        let sampled = shared
            .image_model(&run)
            .and_then(|model| run.sample_with(&model, &options, Some(observer), &device));
        let answer = match sampled {
            Ok(samples) => event(
                "done",
                &json!({
                    "levels": samples.levels,
                    "seconds": started.elapsed().as_secs_f64(),
                }),
            ),
            Err(e) => event("error", &json!({ "error": format!("{e:#}") })),
        };
        let _ = sender.send(answer);
    });
    Ok(events(receiver))
}

/// The query of `/api/test-images`.
#[derive(Deserialize)]
struct TestImagesQuery {
    run: String,
    #[serde(default = "default_test_images")]
    n: usize,
}

fn default_test_images() -> usize {
    8
}

async fn test_images(
    State(state): State<Arc<AppState>>,
    RawQuery(raw): RawQuery,
) -> ApiResult<axum::Json<Value>> {
    let q: TestImagesQuery = query(raw)?;
    bounded("n", q.n, MAX_TEST_IMAGES)?;
    let folder = folder_of(&state, &q.run)?;
    blocking(move || {
        let run = image_run(&folder, "test images")?;
        let data = run.data()?;
        let n = q.n.min(data.test.len());
        let images: Vec<Vec<u8>> = (0..n).map(|i| data.test.image(i).to_vec()).collect();
        let labels: Vec<u8> = data.test.labels[..n].to_vec();
        Ok(axum::Json(json!({ "images": images, "labels": labels })))
    })
    .await
}

/// The body of `/api/complete`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CompleteBody {
    run: String,
    /// The image to complete (levels [colour][row][column]); or `test_index`.
    image: Option<Vec<u8>>,
    /// The test image to complete.
    test_index: Option<usize>,
    /// One flag per value: kept (true) or drawn (false). Or `rows`.
    kept: Option<Vec<bool>>,
    /// Keep the top rows.
    rows: Option<usize>,
    #[serde(default = "default_completions")]
    samples: usize,
    #[serde(default)]
    seed: u64,
    #[serde(default = "one")]
    temperature: f64,
    class: Option<usize>,
}

fn default_completions() -> usize {
    4
}

async fn complete(
    State(state): State<Arc<AppState>>,
    raw: RawBody,
) -> ApiResult<axum::Json<Value>> {
    let b: CompleteBody = body(raw)?;
    bounded("samples", b.samples, MAX_COMPLETIONS)?;
    let folder = folder_of(&state, &b.run)?;
    let kept = match (b.kept, b.rows) {
        (Some(mask), None) => Kept::Mask(mask),
        (None, Some(rows)) => Kept::Rows(rows),
        (None, None) => return Err(ApiError::bad("give `kept` (one flag per value) or `rows`")),
        (Some(_), Some(_)) => return Err(ApiError::bad("give `kept` or `rows`, not both")),
    };
    let permit = permit(&state)?;
    let device = state.device.clone();
    blocking(move || {
        let _permit = permit;
        let run = image_run(&folder, "completion")?;
        let (images, labels, vectors) = match (b.image, b.test_index) {
            (Some(image), None) => {
                if run.config.model.condition().is_some() && run.config.model.num_classes().is_none() {
                    return Err(ApiError::bad(
                        "a vector-conditioned run completes test images (test_index), which carry their vectors",
                    ));
                }
                (image, vec![b.class.unwrap_or(0)], None)
            }
            (None, Some(i)) => {
                let data = run.data()?;
                if i >= data.test.len() {
                    return Err(ApiError::bad(format!(
                        "test_index {i}: the test split has {} images",
                        data.test.len()
                    )));
                }
                let vectors = data
                    .test
                    .vectors
                    .as_ref()
                    .map(|v| v.values[i * v.dim..(i + 1) * v.dim].to_vec());
                (data.test.image(i).to_vec(), vec![usize::from(data.test.labels[i])], vectors)
            }
            _ => return Err(ApiError::bad("give `image` (levels) or `test_index`, one of them")),
        };
        let size = run.config.model.colours() * run.config.height * run.config.width;
        if images.len() != size {
            return Err(ApiError::bad(format!(
                "the image has {} values; the run's images have {size}",
                images.len()
            )));
        }
        let started = Instant::now();
        let model = state.image_model(&run)?;
        let request = CompletionRequest {
            images: images.clone(),
            labels,
            vectors,
            kept,
            samples: b.samples,
            class: b.class,
            seed: b.seed,
            temperature: b.temperature,
            naive: false,
        };
        let completions = run.complete(&model, &request, &device)?;
        let completions: Vec<&[u8]> = completions.chunks(size).collect();
        Ok(axum::Json(json!({
            "image": images,
            "completions": completions,
            "seconds": started.elapsed().as_secs_f64(),
        })))
    })
    .await
}

/// The body of `/api/receptive-field`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FieldBody {
    run: String,
    row: usize,
    col: usize,
    #[serde(default)]
    colour: usize,
    #[serde(default = "default_field_images")]
    images: usize,
}

fn default_field_images() -> usize {
    8
}

async fn receptive_field(
    State(state): State<Arc<AppState>>,
    raw: RawBody,
) -> ApiResult<axum::Json<Value>> {
    let b: FieldBody = body(raw)?;
    bounded("images", b.images, MAX_FIELD_IMAGES)?;
    let folder = folder_of(&state, &b.run)?;
    let permit = permit(&state)?;
    blocking(move || {
        let _permit = permit;
        let run = image_run(&folder, "the receptive field")?;
        let (height, width) = (run.config.height, run.config.width);
        if b.row >= height || b.col >= width {
            return Err(ApiError::bad(format!(
                "the pixel {},{} is outside the {height}x{width} image",
                b.row, b.col
            )));
        }
        if b.colour >= run.config.model.colours() {
            return Err(ApiError::bad(format!(
                "colour {} of a model with {} colours",
                b.colour,
                run.config.model.colours()
            )));
        }
        let model = state.image_model(&run)?;
        let field = crate::receptive_field::measure(
            &model,
            &run.config.model,
            height,
            width,
            (b.row, b.col, b.colour),
            None,
            b.images,
            0,
        );
        let nominal: Vec<bool> = (0..height * width)
            .map(|i| field.in_nominal_field(i / width, i % width))
            .collect();
        Ok(axum::Json(json!({
            "field": field,
            "nominal": nominal,
            "blind_spot": field.blind_spot(),
            "leaks": field.leaks(),
        })))
    })
    .await
}

/// The query of `/api/sequence/sample`.
#[derive(Deserialize)]
struct SequenceQuery {
    run: String,
    #[serde(default = "default_sequences")]
    n: usize,
    #[serde(default)]
    seed: u64,
    #[serde(default = "one")]
    temperature: f64,
    length: Option<usize>,
    class: Option<usize>,
}

fn default_sequences() -> usize {
    4
}

async fn sequence_sample(
    State(state): State<Arc<AppState>>,
    RawQuery(raw): RawQuery,
) -> ApiResult<axum::Json<Value>> {
    let q: SequenceQuery = query(raw)?;
    bounded("n", q.n, MAX_SEQUENCES)?;
    if let Some(length) = q.length {
        bounded("length", length, MAX_LENGTH)?;
    }
    let folder = folder_of(&state, &q.run)?;
    let permit = permit(&state)?;
    let device = state.device.clone();
    blocking(move || {
        let _permit = permit;
        let run = Run::open(&folder)?.into_sequence("sampling sequences")?;
        let data = run.data()?;
        // Sound: a quarter of a second unless asked (the page draws waveforms).
        let length = q.length.or_else(|| data.audio.as_ref().map(|a| a.sample_rate as usize / 4));
        let options = SampleOptions {
            n: q.n,
            seed: q.seed,
            temperature: q.temperature,
            class: q.class,
            length,
            ..SampleOptions::default()
        };
        let started = Instant::now();
        let samples = run.sample_on(&data, &options, &device)?;
        let seconds = started.elapsed().as_secs_f64();
        let mut answer = match samples {
            SequenceSamples::Text(texts) => json!({ "form": "text", "texts": texts }),
            SequenceSamples::Values(rows) => json!({ "form": "values", "rows": rows }),
            SequenceSamples::PianoRolls { values, length, keys } => {
                let rolls: Vec<Vec<Vec<usize>>> = values
                    .chunks(length * keys)
                    .map(|roll| {
                        roll.chunks(keys)
                            .map(|step| (0..keys).filter(|&k| step[k] > 0.5).collect())
                            .collect()
                    })
                    .collect();
                json!({ "form": "piano-rolls", "rolls": rolls, "keys": keys, "length": length })
            }
            SequenceSamples::Digits(images) => json!({
                "form": "images",
                "images": images.levels.chunks(images.shape.size()).collect::<Vec<_>>(),
                "shape": { "colours": 1, "height": images.shape.height, "width": images.shape.width, "levels": images.shape.levels },
            }),
            SequenceSamples::Audio { clips, sample_rate, labels } => json!({
                "form": "audio",
                "clips": clips,
                "sample_rate": sample_rate,
                "labels": labels,
            }),
        };
        answer["seconds"] = json!(seconds);
        Ok(axum::Json(answer))
    })
    .await
}

/// The query of `/api/forecast`.
#[derive(Deserialize)]
struct ForecastQuery {
    run: String,
    #[serde(default = "default_horizon")]
    horizon: usize,
    #[serde(default = "default_paths")]
    paths: usize,
    #[serde(default = "default_level")]
    level: f64,
    #[serde(default)]
    seed: u64,
}

fn default_horizon() -> usize {
    50
}

fn default_paths() -> usize {
    100
}

fn default_level() -> f64 {
    0.95
}

async fn forecast(
    State(state): State<Arc<AppState>>,
    RawQuery(raw): RawQuery,
) -> ApiResult<axum::Json<Value>> {
    let q: ForecastQuery = query(raw)?;
    bounded("horizon", q.horizon, MAX_HORIZON)?;
    bounded("paths", q.paths, MAX_PATHS)?;
    if !(q.level > 0.0 && q.level < 1.0) {
        return Err(ApiError::bad(format!(
            "level must be in (0, 1), got {}",
            q.level
        )));
    }
    let folder = folder_of(&state, &q.run)?;
    let permit = permit(&state)?;
    let device = state.device.clone();
    blocking(move || {
        let _permit = permit;
        match Run::open(&folder)? {
            Run::Classic(fit) => {
                let ClassicModel::Ar { model, .. } = &fit.fit.model else {
                    return Err(ApiError::bad("forecasts are drawn for AR fits and real-valued sequence runs"));
                };
                let x = fit.fit.values()?.values;
                let origin = fit.fit.train_length.min(x.len());
                let forecasts = model.forecast_dynamic(&x[..origin], q.horizon);
                let (lo, hi): (Vec<f64>, Vec<f64>) =
                    forecasts.iter().map(|f| f.interval(q.level)).unzip();
                Ok(axum::Json(json!({
                    "method": "exact Gaussian predictive intervals of the AR model (dynamic forecast)",
                    "observed": x,
                    "origin": origin,
                    "mean": forecasts.iter().map(|f| f.mean).collect::<Vec<_>>(),
                    "lo": lo,
                    "hi": hi,
                    "level": q.level,
                })))
            }
            Run::Sequence(run) => {
                if run.config.model.num_classes.is_some()
                    || run.config.model.vector_dim.is_some()
                    || run.config.model.covariates.is_some()
                {
                    return Err(ApiError::bad(
                        "the page forecasts sequence runs without classes, vectors or covariates",
                    ));
                }
                let data = run.data()?;
                let (Some((mean, std)), Some(test)) = (data.scale, data.test.first()) else {
                    return Err(ApiError::bad(format!(
                        "forecasting needs a run on a real-valued series; {} is not one",
                        data.name
                    )));
                };
                if run.config.model.output.dims() != 1 {
                    return Err(ApiError::bad("forecasts are drawn for series of one value per step"));
                }
                let values = &test.targets;
                let origin = crate::data::sequences::series_split(&data.name, values.len());
                if origin == 0 {
                    return Err(ApiError::bad("the series has no observed part to forecast from"));
                }
                let model = run.model(Weights::Best, &device)?;
                let request = SequenceRequest {
                    labels: vec![None; q.paths],
                    vectors: None,
                    length: origin + q.horizon,
                    covariates: None,
                    prefix: values[..origin].to_vec(),
                    temperature: 1.0,
                    seed: q.seed,
                    batch: q.paths,
                };
                let drawn = sample_sequences(&model, run.config.model.output, &request, &device);
                let length = origin + q.horizon;
                let tail = (1.0 - q.level) / 2.0;
                let (mut means, mut lo, mut hi) = (Vec::new(), Vec::new(), Vec::new());
                for t in origin..length {
                    let mut at: Vec<f64> = (0..q.paths)
                        .map(|p| f64::from(drawn[p * length + t]) * std + mean)
                        .collect();
                    at.sort_by(f64::total_cmp);
                    means.push(at.iter().sum::<f64>() / at.len() as f64);
                    lo.push(quantile(&at, tail));
                    hi.push(quantile(&at, 1.0 - tail));
                }
                let observed: Vec<f64> = values.iter().map(|&v| f64::from(v) * std + mean).collect();
                Ok(axum::Json(json!({
                    "method": format!("mean and quantiles of {} paths drawn from the model after the observed part", q.paths),
                    "observed": observed,
                    "origin": origin,
                    "mean": means,
                    "lo": lo,
                    "hi": hi,
                    "level": q.level,
                })))
            }
            Run::Image(_) => Err(ApiError::bad("forecasts are drawn for AR fits and real-valued sequence runs")),
        }
    })
    .await
}

/// The `q` quantile of sorted values (linear interpolation between order statistics).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let at = q * (sorted.len() - 1) as f64;
    let (i, frac) = (at.floor() as usize, at.fract());
    match sorted.get(i + 1) {
        Some(next) => sorted[i] * (1.0 - frac) + next * frac,
        None => sorted[i],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_between_order_statistics() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(quantile(&v, 0.0), 1.0);
        assert_eq!(quantile(&v, 0.5), 3.0);
        assert_eq!(quantile(&v, 1.0), 5.0);
        assert!((quantile(&v, 0.125) - 1.5).abs() < 1e-12);
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same_bytes(b"secret", b"secret"));
        assert!(!same_bytes(b"secret", b"secreT"));
        assert!(!same_bytes(b"secret", b"secre"));
        assert!(!same_bytes(b"", b"x"));
    }
}
