//! The receptive-field analysis finds the PixelCNN's blind spot and none in the Gated
//! PixelCNN, and no model depends on a pixel at or after its target.

use argen::models::{GatedPixelCnnConfig, ImageModelConfig, PixelCnnConfig};
use argen::receptive_field::measure;
use burn::prelude::*;

fn pixelcnn(blocks: usize) -> ImageModelConfig {
    ImageModelConfig::Pixelcnn(PixelCnnConfig {
        levels: 4,
        colours: 1,
        channels: 16,
        blocks,
        first_kernel: 3,
        kernel: 3,
        head: 16,
        num_classes: None,
        vector_dim: None,
    })
}

fn gated(layers: usize) -> ImageModelConfig {
    ImageModelConfig::GatedPixelcnn(GatedPixelCnnConfig {
        levels: 4,
        channels: 16,
        layers,
        first_kernel: 3,
        kernel: 3,
        head: 16,
        num_classes: None,
        vector_dim: None,
        spatial: None,
        dropout: 0.0,
        colours: 1,
    })
}

#[test]
fn the_pixelcnn_has_a_blind_spot_above_right_and_the_gated_pixelcnn_has_none() {
    let device = Device::flex();
    let (size, target) = (15, (9, 7, 0));
    for depth in [3, 4] {
        let config = pixelcnn(depth);
        let model = config.init_seeded(depth as u64, &device);
        let field = measure(&model, &config, size, size, target, None, 8, 1);
        let blind = field.blind_spot();
        assert!(
            !blind.is_empty(),
            "PixelCNN with {depth} mask-B layers: no blind spot found"
        );
        for &(r, c) in &blind {
            assert!(
                r < target.0 && c > target.1,
                "blind pixel {r},{c} is not above and to the right"
            );
        }
        // A path of masked convolutions moves right only while it moves up, so the pixel one
        // row up and two columns right is out of reach: the wedge of the paper's figure.
        assert!(blind.contains(&(target.0 - 1, target.1 + 2)), "{blind:?}");
        assert!(
            field.leaks().is_empty(),
            "PixelCNN depends on the future: {:?}",
            field.leaks()
        );

        let config = gated(depth + 1); // the same number of spatial layers after the first
        let model = config.init_seeded(depth as u64, &device);
        let field = measure(&model, &config, size, size, target, None, 8, 1);
        assert!(
            field.blind_spot().is_empty(),
            "Gated PixelCNN blind spot: {:?}",
            field.blind_spot()
        );
        assert!(
            field.leaks().is_empty(),
            "Gated PixelCNN depends on the future: {:?}",
            field.leaks()
        );
        // It sees above-right pixels the PixelCNN misses.
        assert!(field.influence[(target.0 - 1) * size + target.1 + 2] > 0.0);
    }
}

#[test]
fn a_colour_target_depends_on_the_earlier_colours_of_its_own_pixel_only() {
    let device = Device::flex();
    let config = ImageModelConfig::Pixelcnn(PixelCnnConfig {
        levels: 4,
        colours: 3,
        channels: 12,
        blocks: 2,
        first_kernel: 3,
        kernel: 3,
        head: 12,
        num_classes: None,
        vector_dim: None,
    });
    let model = config.init_seeded(0, &device);
    let (r, c) = (4, 4);
    // R at the target pixel sees no part of its own pixel; B does (through R and G).
    let red = measure(&model, &config, 8, 8, (r, c, 0), None, 8, 2);
    assert_eq!(red.influence[r * 8 + c], 0.0, "R depends on its own pixel");
    let blue = measure(&model, &config, 8, 8, (r, c, 2), None, 8, 2);
    assert!(
        blue.influence[r * 8 + c] > 0.0,
        "B does not see R and G of its pixel"
    );
    assert!(blue.leaks().is_empty() && red.leaks().is_empty());
}
