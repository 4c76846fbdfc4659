//! Checkpoints: bit-identical round trips, resuming where a run stopped, refusing weights of
//! another model, and keeping the last good checkpoint when the loss blows up.

mod common;

use argen::data::{DataSource, load};
use argen::models::ImageModelConfig;
use argen::train::image::train;
use argen::train::{
    self, LrSchedule, Progress, RunFolder, TrainOptions, TrainingConfig, checkpoint,
};
use burn::prelude::*;
use common::tensors;

fn tiny_training(epochs: usize) -> TrainingConfig {
    TrainingConfig::new(
        common::tiny_gated_model(8),
        "digits",
        8,
        8,
        TrainOptions::default()
            .epochs(epochs)
            .batch_size(16)
            .learning_rate(3e-3)
            .clip_norm(Some(10.0))
            .seed(3)
            .train_limit(Some(96))
            // Constant: a cosine schedule depends on the total number of epochs, which
            // differs between the 1-epoch run and its 2-epoch continuation below.
            .lr_schedule(LrSchedule::Constant),
    )
}

/// [`tiny_training`] with dropout on the horizontal stack's residual branch.
fn tiny_training_with_dropout(epochs: usize) -> TrainingConfig {
    let mut config = tiny_training(epochs);
    if let ImageModelConfig::GatedPixelcnn(c) = &mut config.model {
        c.dropout = 0.3;
    }
    config
}

#[test]
fn save_then_load_gives_a_bit_identical_nll() {
    let device = Device::flex();
    let data = load(&DataSource::Digits).unwrap();
    let model = common::tiny_gated_model(8).init_seeded(0, &device);
    let before = train::evaluate(&model, &data.test, 128, &device);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    checkpoint::save_weights(&model, "gated-pixelcnn", &path).unwrap();
    let loaded =
        checkpoint::load_weights(common::tiny_gated_model(8).init_seeded(0, &device), &path)
            .unwrap();
    let after = train::evaluate(&loaded, &data.test, 128, &device);
    assert_eq!(
        before.nats_per_image.to_bits(),
        after.nats_per_image.to_bits()
    );
    // A second save of the loaded model writes the same tensors.
    let again = dir.path().join("again.safetensors");
    checkpoint::save_weights(&loaded, "gated-pixelcnn", &again).unwrap();
    assert!(
        tensors(&path) == tensors(&again),
        "the tensors changed in a save/load/save cycle"
    );
}

#[test]
fn weights_of_another_shape_are_refused_with_a_clear_error() {
    let device = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    checkpoint::save_weights(
        &common::tiny_gated_model(8).init_seeded(0, &device),
        "gated-pixelcnn",
        &path,
    )
    .unwrap();
    let error =
        checkpoint::load_weights(common::tiny_gated_model(12).init(&device), &path).unwrap_err();
    let message = format!("{error:#}");
    assert!(
        message.contains("does not fit this model") && message.contains("shape"),
        "{message}"
    );

    let mut deeper = common::tiny_gated_model(8);
    if let ImageModelConfig::GatedPixelcnn(c) = &mut deeper {
        c.layers = 3;
    }
    let message = format!(
        "{:#}",
        checkpoint::load_weights(deeper.init(&device), &path).unwrap_err()
    );
    assert!(
        message.contains("has no tensor") && message.contains("layers.2."),
        "{message}"
    );

    std::fs::write(&path, b"not a safetensors file").unwrap();
    let message = format!(
        "{:#}",
        checkpoint::load_weights(common::tiny_gated_model(8).init_seeded(0, &device), &path)
            .unwrap_err()
    );
    assert!(
        message.contains("not a valid safetensors file"),
        "{message}"
    );
}

#[test]
fn resume_continues_exactly_where_the_run_stopped() {
    let data = load(&DataSource::Digits).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let straight = RunFolder(dir.path().join("straight"));
    let resumed = RunFolder(dir.path().join("resumed"));

    train(&tiny_training(2), &data, &straight, false, Progress::Silent).unwrap();
    train(&tiny_training(1), &data, &resumed, false, Progress::Silent).unwrap();
    let state = resumed.read_state().unwrap();
    assert_eq!(state.epochs_done, 1);
    assert_eq!(state.steps, 6);
    train(&tiny_training(2), &data, &resumed, true, Progress::Silent).unwrap();
    assert_eq!(resumed.read_state().unwrap().steps, 12);

    // Same weights, bit for bit, as the run that never stopped: the optimiser state and the
    // batch order were restored, not restarted.
    assert_eq!(
        tensors(&straight.last_weights()),
        tensors(&resumed.last_weights())
    );
    let lines = std::fs::read_to_string(resumed.metrics()).unwrap();
    assert_eq!(lines.lines().count(), 3, "{lines}");
}

#[test]
fn a_run_with_dropout_resumes_bit_identically() {
    // Dropout draws its masks from the device generator, which the loop reseeds at every
    // epoch: the resumed epoch draws the masks the uninterrupted run drew.
    let data = load(&DataSource::Digits).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let straight = RunFolder(dir.path().join("straight"));
    let resumed = RunFolder(dir.path().join("resumed"));
    let other_seed = RunFolder(dir.path().join("other"));
    train(
        &tiny_training_with_dropout(3),
        &data,
        &straight,
        false,
        Progress::Silent,
    )
    .unwrap();
    train(
        &tiny_training_with_dropout(2),
        &data,
        &resumed,
        false,
        Progress::Silent,
    )
    .unwrap();
    train(
        &tiny_training_with_dropout(3),
        &data,
        &resumed,
        true,
        Progress::Silent,
    )
    .unwrap();
    assert_eq!(
        tensors(&straight.last_weights()),
        tensors(&resumed.last_weights())
    );
    // The masks matter: without dropout the same run ends elsewhere.
    train(
        &tiny_training(3),
        &data,
        &other_seed,
        false,
        Progress::Silent,
    )
    .unwrap();
    assert_ne!(
        tensors(&straight.last_weights()),
        tensors(&other_seed.last_weights())
    );
}

#[test]
fn a_corrupt_label_cannot_make_a_conditional_model_of_empty_classes() {
    // Labels 0, 1 and one corrupt 200: the data has 201 "classes", 198 of them empty.
    let images = |n: usize| vec![0u8; n * 64];
    let labels: Vec<u8> = (0..48)
        .map(|i| if i == 7 { 200 } else { (i % 2) as u8 })
        .collect();
    let train_set =
        argen::data::ImageSet::from_levels(images(48), [48, 1, 8, 8], Some(labels)).unwrap();
    let valid = argen::data::ImageSet::from_levels(images(8), [8, 1, 8, 8], None).unwrap();
    let data =
        argen::data::ImageData::from_sets("corrupt", 17, train_set, valid.clone(), valid).unwrap();
    assert_eq!(data.num_classes, 201);
    let mut config = tiny_training(1);
    if let ImageModelConfig::GatedPixelcnn(c) = &mut config.model {
        c.num_classes = Some(data.num_classes);
    }
    let dir = tempfile::tempdir().unwrap();
    let error = train(
        &config,
        &data,
        &RunFolder(dir.path().join("run")),
        false,
        Progress::Silent,
    )
    .unwrap_err();
    let message = format!("{error:#}");
    assert!(
        message.contains("198 of them have no training image"),
        "{message}"
    );
}

#[test]
fn resume_refuses_other_settings_than_the_run_s_own() {
    let data = load(&DataSource::Digits).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let run = RunFolder(dir.path().join("run"));
    train(&tiny_training(1), &data, &run, false, Progress::Silent).unwrap();
    let mut other = tiny_training(2);
    other.training.learning_rate = 0.5;
    other.training.seed = 9;
    let error = train(&other, &data, &run, true, Progress::Silent).unwrap_err();
    let message = format!("{error:#}");
    assert!(
        message.contains("learning_rate") && message.contains("seed"),
        "{message}"
    );
    // More epochs alone are what a resumed run may change.
    train(&tiny_training(2), &data, &run, true, Progress::Silent).unwrap();
    assert_eq!(run.read_state().unwrap().epochs_done, 2);
}

#[test]
fn resume_refuses_a_run_without_its_optimizer_state() {
    // Resuming with a fresh Adam would silently change the run: it is an error instead.
    let data = load(&DataSource::Digits).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let straight = RunFolder(dir.path().join("straight"));
    let resumed = RunFolder(dir.path().join("resumed"));
    train(&tiny_training(2), &data, &straight, false, Progress::Silent).unwrap();
    train(&tiny_training(1), &data, &resumed, false, Progress::Silent).unwrap();
    std::fs::remove_file(resumed.optimizer()).unwrap();
    let error = train(&tiny_training(2), &data, &resumed, true, Progress::Silent).unwrap_err();
    assert!(format!("{error:#}").contains("optimizer.bpk"), "{error:#}");
}

#[test]
fn a_diverging_loss_stops_training_and_keeps_the_last_good_checkpoint() {
    let data = load(&DataSource::Digits).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let run = RunFolder(dir.path().join("run"));
    train(&tiny_training(1), &data, &run, false, Progress::Silent).unwrap();
    let good = std::fs::read(run.last_weights()).unwrap();

    // The run's own settings edited into an exploding learning rate (a resumed run refuses
    // settings other than its own).
    let mut exploding = tiny_training(3);
    exploding.training.learning_rate = 1e30;
    exploding.training.clip_norm = None;
    std::fs::write(run.config(), serde_json::to_string(&exploding).unwrap()).unwrap();
    let error = train(&exploding, &data, &run, true, Progress::Silent).unwrap_err();
    let message = format!("{error:#}");
    assert!(
        message.contains("training loss became") && message.contains("end of epoch 1"),
        "{message}"
    );
    assert_eq!(
        std::fs::read(run.last_weights()).unwrap(),
        good,
        "the good checkpoint was overwritten"
    );
    assert_eq!(run.read_state().unwrap().epochs_done, 1);
}
