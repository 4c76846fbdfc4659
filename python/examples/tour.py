"""A tour of argen from Python, top to bottom: a Gated PixelCNN on the embedded 8x8
digits (bits/dim, samples, completions), then an AR model of the sunspots with its forecast.

    pip install ./python          # from the repository root
    python python/examples/tour.py [--epochs N]

Shows the pictures with matplotlib when it is installed; prints the figures either way.
"""

import argparse

import numpy as np

import argen

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=20, help="epochs on the digits (CLI default)")
args = parser.parse_args()

# 1. Images: the 1,797 digits of 17 grey levels, cut as `argen train` cuts them.
digits = argen.load_images("digits")
train_images, _ = digits["train"]
valid_images, _ = digits["valid"]
test_images, _ = digits["test"]
images = np.concatenate([train_images, valid_images])
print(f"digits: {images.shape[0]} images of {images.shape[1:]} , {digits['levels']} levels")

# The last 10% of `images` (here the validation digits) are held out for validation.
model = argen.train_images(
    images, levels=digits["levels"], epochs=args.epochs, valid_fraction=len(valid_images) / len(images)
)
print(model)
print(f"test NLL: {model.bits_per_dim(test_images):.4f} bits/dim")

samples = model.sample(16, seed=1)
completions = model.complete(test_images[:8], keep_rows=4, seed=2)

# 2. A classical model: AR(9) of the yearly sunspot numbers, with a 20-year forecast.
sunspots = argen.load_series("sunspots")
ar = argen.fit_ar(sunspots, 9)
print(ar)
print("params:", np.round(ar.params, 4))
print(f"sigma2 {ar.sigma2:.3f}, llf {ar.llf:.3f}, aic {ar.aic:.3f}, bic {ar.bic:.3f}")
forecast = ar.forecast(20, alpha=0.05)
print("next 5 years:", np.round(forecast["mean"][:5], 1))

try:
    import matplotlib.pyplot as plt
except ImportError:
    print("(install matplotlib to see the pictures)")
else:
    fig, axes = plt.subplots(3, 8, figsize=(8, 3.5))
    for ax, image in zip(axes.flat, list(samples[:8]) + list(test_images[:8]) + list(completions)):
        ax.imshow(image, cmap="gray", vmin=0, vmax=digits["levels"] - 1)
        ax.axis("off")
    axes[0, 0].set_title("samples", loc="left")
    axes[1, 0].set_title("test digits", loc="left")
    axes[2, 0].set_title("their top half completed", loc="left")
    plt.figure(figsize=(8, 3))
    years = np.arange(len(sunspots))
    ahead = np.arange(len(sunspots), len(sunspots) + 20)
    plt.plot(years, sunspots, label="sunspots")
    plt.plot(ahead, forecast["mean"], label="AR(9) forecast")
    plt.fill_between(ahead, forecast["lower"], forecast["upper"], alpha=0.3, label="95% interval")
    plt.legend()
    plt.show()
