//! Checkpoints: model weights as safetensors, written atomically.
//!
//! Each float parameter is stored under its module path (`layers.0.vertical.conv.weight`)
//! as f32. The file's metadata keeps each parameter's id, so that optimiser state (keyed by
//! parameter id in burn) still matches the weights after `--resume`, and a free-form
//! `model` entry that names the architecture. Loading checks every name and shape and refuses
//! a file written for another model with an error that says which tensor differs.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::prelude::*;
use burn::tensor::DType;
use safetensors::tensor::{Dtype, TensorView};

pub use crate::files::write_atomically;

/// Collects (path, id, data) of every float parameter.
#[derive(Default)]
struct Collector {
    path: Vec<String>,
    tensors: Vec<(String, ParamId, Vec<usize>, Vec<u8>)>,
}

impl ModuleVisitor for Collector {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let data = param.val().into_data().convert::<f32>();
        let shape = data.shape().to_vec();
        self.tensors.push((
            self.path.join("."),
            param.id,
            shape,
            data.as_bytes().to_vec(),
        ));
    }
}

/// Serialises the float parameters of `model` to safetensors bytes, with `model` (a free
/// text naming the architecture) in the metadata.
pub fn weights_to_bytes<M: Module>(model: &M, model_name: &str) -> Result<Vec<u8>> {
    let mut collector = Collector::default();
    model.visit(&mut collector);
    let mut ids = BTreeMap::new();
    let mut views = Vec::new();
    for (path, id, shape, bytes) in &collector.tensors {
        ids.insert(path.clone(), id.val().to_string());
        views.push((
            path.clone(),
            TensorView::new(Dtype::F32, shape.clone(), bytes)?,
        ));
    }
    let metadata = HashMap::from([
        ("model".to_string(), model_name.to_string()),
        ("param_ids".to_string(), serde_json::to_string(&ids)?),
    ]);
    Ok(safetensors::serialize(views, Some(metadata))?)
}

/// Saves the weights of `model` to `path` atomically.
pub fn save_weights<M: Module>(model: &M, model_name: &str, path: &Path) -> Result<()> {
    write_atomically(path, &weights_to_bytes(model, model_name)?)
}

/// Replaces every float parameter of a module with the stored one of the same path.
struct Loader<'a> {
    path: Vec<String>,
    file: &'a safetensors::SafeTensors<'a>,
    ids: BTreeMap<String, String>,
    error: Option<String>,
    loaded: usize,
}

impl ModuleMapper for Loader<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        if self.error.is_some() {
            return param;
        }
        let mut name = self.path.join(".");
        let view = match self.file.tensor(&name) {
            Ok(view) => view,
            Err(_) => match self.file.tensor(&legacy_name(&name)) {
                Ok(view) => {
                    name = legacy_name(&name);
                    view
                }
                Err(_) => {
                    self.error = Some(format!("it has no tensor `{name}`"));
                    return param;
                }
            },
        };
        let expected = param.lazy_shape().to_vec();
        if view.shape() != expected.as_slice() || view.dtype() != Dtype::F32 {
            self.error = Some(format!(
                "tensor `{name}` has shape {:?} ({:?}) but this model needs {:?} (F32)",
                view.shape(),
                view.dtype(),
                expected
            ));
            return param;
        }
        let id = self
            .ids
            .get(&name)
            .and_then(|s| s.parse::<u64>().ok())
            .map(ParamId::from)
            .unwrap_or(param.id);
        let data = TensorData::from_bytes_vec(view.data().to_vec(), expected, DType::F32);
        let device = param.lazy_device();
        self.loaded += 1;
        param.transform_for_load(Tensor::from_data(data, &device), id)
    }
}

/// The name a parameter had in files written before conditioning on vectors existed: the
/// conditioning maps were class embeddings (`condition_vertical` was `class_vertical`,
/// `input_condition` was `input_class`, ...), with the same shapes.
fn legacy_name(name: &str) -> String {
    name.split('.')
        .map(|part| part.replace("condition", "class"))
        .collect::<Vec<_>>()
        .join(".")
}

/// Loads weights saved by [`save_weights`] into `model` (which fixes the architecture).
/// Refuses a file whose tensor names or shapes differ from the model's, naming the first one.
pub fn load_weights<M: Module>(model: M, path: &Path) -> Result<M> {
    let bytes = fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    load_weights_from_bytes(model, &bytes)
        .with_context(|| format!("cannot load the weights in {}", path.display()))
}

/// Loads weights from safetensors bytes; see [`load_weights`].
pub fn load_weights_from_bytes<M: Module>(model: M, bytes: &[u8]) -> Result<M> {
    let (_, metadata) = safetensors::SafeTensors::read_metadata(bytes)
        .map_err(|e| anyhow!("not a valid safetensors file ({e})"))?;
    let file = safetensors::SafeTensors::deserialize(bytes)
        .map_err(|e| anyhow!("not a valid safetensors file ({e})"))?;
    let ids = metadata
        .metadata()
        .as_ref()
        .and_then(|m| m.get("param_ids"))
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_default();
    let mut loader = Loader {
        path: Vec::new(),
        file: &file,
        ids,
        error: None,
        loaded: 0,
    };
    let model = model.map(&mut loader);
    if let Some(error) = loader.error {
        bail!("the file does not fit this model: {error}");
    }
    if loader.loaded != file.len() {
        bail!(
            "the file does not fit this model: it holds {} tensors, the model has {}",
            file.len(),
            loader.loaded
        );
    }
    Ok(model)
}
