"""The Python package: the mathematics seen through numpy (exact normalisation, sampling
frequencies, cached equals naive), run folders, Ctrl-C, the released lock, and bad input as
Python exceptions."""

import itertools
import json
import math
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import argen

REPO = Path(__file__).resolve().parents[2]
# The command line of this checkout (CI builds it before these tests).
BINARY = REPO / "target" / "release" / "argen"
needs_cli = pytest.mark.skipif(not BINARY.exists(), reason="target/release/argen is not built")


def bars(n, side=4, levels=2, seed=0):
    """Images of one random horizontal or vertical bar."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, side, side), dtype=np.uint8)
    for i in range(n):
        at = rng.integers(side)
        if rng.random() < 0.5:
            images[i, at, :] = levels - 1
        else:
            images[i, :, at] = levels - 1
    return images


@pytest.fixture(scope="module")
def tiny():
    """A Gated PixelCNN on 2x2 binary images: all 16 images can be enumerated."""
    rng = np.random.default_rng(1)
    images = (rng.random((400, 2, 2)) < [[0.8, 0.3], [0.5, 0.1]]).astype(np.uint8)
    return argen.train_images(
        images, levels=2, channels=8, layers=2, head=16, epochs=3, lr=3e-3, progress=False
    )


def all_images(side=2, levels=2, colours=1):
    values = list(itertools.product(range(levels), repeat=colours * side * side))
    shape = (len(values), side, side) if colours == 1 else (len(values), colours, side, side)
    return np.array(values, dtype=np.uint8).reshape(shape)


def test_probabilities_of_all_images_sum_to_one(tiny):
    log_p = tiny.log_prob(all_images())
    assert log_p.dtype == np.float64 and log_p.shape == (16,)
    assert abs(np.exp(log_p).sum() - 1.0) < 1e-4


def test_pixelcnn_pp_colour_probabilities_sum_to_one():
    images = np.random.default_rng(2).integers(0, 2, size=(60, 3, 2, 2), dtype=np.uint8)
    model = argen.train_images(
        images, levels=2, model="pixelcnn-pp", channels=4, resolutions=1, epochs=1, progress=False
    )
    assert model.shape == (3, 2, 2)
    log_p = model.log_prob(all_images(colours=3))
    assert log_p.shape == (4096,)
    assert abs(np.exp(log_p).sum() - 1.0) < 1e-3


def test_sample_frequencies_match_the_model_and_cached_equals_naive(tiny):
    n = 4000
    samples = tiny.sample(n, seed=3)
    assert samples.shape == (n, 2, 2) and samples.dtype == np.uint8
    codes = (samples.reshape(n, 4) * [8, 4, 2, 1]).sum(axis=1)
    observed = np.bincount(codes, minlength=16)
    expected = n * np.exp(tiny.log_prob(all_images()))
    keep = expected >= 5
    chi2 = float((((observed - expected) ** 2 / expected)[keep]).sum())
    # 15 degrees of freedom at most: the 0.999 quantile is 37.7.
    assert chi2 < 37.7, (observed, expected.round(1))
    # A wrong law (uniform) is rejected by the same test.
    uniform = np.full(16, n / 16)
    assert float(((observed - uniform) ** 2 / uniform).sum()) > 37.7
    np.testing.assert_array_equal(tiny.sample(20, seed=9), tiny.sample(20, seed=9, naive=True))


def test_completion_keeps_the_given_rows(tiny):
    images = all_images()
    done = tiny.complete(images, keep_rows=1, seed=4)
    assert done.shape == images.shape
    np.testing.assert_array_equal(done[:, 0, :], images[:, 0, :])
    assert set(np.unique(done)) <= {0, 1}


@needs_cli
def test_a_run_folder_round_trips_bit_for_bit_and_opens_in_the_cli(tmp_path):
    images = bars(120)
    out = tmp_path / "run"
    model = argen.train_images(
        images, levels=2, channels=8, layers=2, head=16, epochs=2, out=str(out), progress=False
    )
    assert model.path == str(out)
    assert (out / "config.json").exists()
    reopened = argen.open_run(str(out))
    assert isinstance(reopened, argen.ImageModel)
    np.testing.assert_array_equal(model.log_prob(images), reopened.log_prob(images))
    np.testing.assert_array_equal(model.sample(5, seed=1), reopened.sample(5, seed=1))
    assert "ImageModel(" in repr(reopened) and str(out) in repr(reopened)
    assert reopened.config["epochs"] == 2 and reopened.config["data"].startswith("arrays:")
    # The command line reopens the run with its data (saved in the folder as arrays) and
    # gives the same NLL of the validation images (the last 10%).
    cli = json.loads(
        subprocess.run(
            [str(BINARY), "eval", str(out), "--split", "valid", "--json"], check=True, capture_output=True
        ).stdout
    )
    valid = images[-12:]
    assert cli["examples"] == 12
    assert abs(cli["nats_per_example"] + model.log_prob(valid).mean()) < 1e-9 * abs(cli["nats_per_example"])


def test_class_conditional_training_and_sampling():
    images = bars(200, levels=2)
    labels = (images[:, 0, :].sum(axis=1) == 4).astype(np.int64)
    model = argen.train_images(
        images, levels=2, labels=labels, conditional=True, channels=8, layers=2, head=16,
        epochs=1, progress=False,
    )
    assert model.num_classes == 2
    assert model.sample(4, classes=1, seed=0).shape == (4, 4, 4)
    assert model.log_prob(images[:3], labels=labels[:3]).shape == (3,)
    with pytest.raises(ValueError, match="out of range"):
        model.sample(2, classes=5)


def test_progress_callback_sees_every_step_and_epoch():
    events = []
    argen.train_images(
        bars(64), levels=2, channels=4, layers=1, head=8, epochs=2, batch_size=16,
        progress=events.append,
    )
    steps = [e for e in events if e["event"] == "step"]
    epochs = [e for e in events if e["event"] == "epoch"]
    assert [e["epoch"] for e in epochs] == [1, 2]
    # 64 images, the last 10% held out: 58 training images in batches of 16.
    assert len(steps) == 2 * math.ceil(58 / 16)
    assert all(math.isfinite(e["loss"]) for e in steps)
    assert all("bits/dim" in e["summary"] for e in epochs)


def test_ctrl_c_stops_training_and_keeps_the_last_checkpoint(tmp_path):
    out = tmp_path / "run"
    epochs = []

    def interrupt(info):
        if info["event"] == "epoch":
            epochs.append(info["epoch"])
        if info["event"] == "step" and info["epoch"] == 2 and info["step"] == 1:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        argen.train_images(
            bars(64), levels=2, channels=4, layers=1, head=8, epochs=5, batch_size=16,
            out=str(out), progress=interrupt,
        )
    assert epochs == [1]
    committed = (out / "CHECKPOINT").read_text().strip()
    assert committed == "epoch-00001"
    assert json.loads((out / committed / "state.json").read_text())["epochs_done"] == 1
    reopened = argen.open_run(str(out), weights="last")
    assert reopened.log_prob(bars(3)).shape == (3,)
    if BINARY.exists():
        # The command line continues the interrupted run to its end.
        subprocess.run(
            [str(BINARY), "train", "--resume", str(out), "--epochs", "2", "--quiet"],
            check=True, capture_output=True,
        )
        assert (out / "CHECKPOINT").read_text().strip() == "epoch-00002"


def test_training_releases_the_interpreter_lock():
    ticks = []
    stop = threading.Event()

    def tick():
        while not stop.is_set():
            ticks.append(1)
            time.sleep(0.001)

    thread = threading.Thread(target=tick)
    thread.start()
    start = time.time()
    argen.train_images(
        bars(1000, side=8), levels=2, channels=16, layers=3, head=32, epochs=2, progress=False
    )
    seconds = time.time() - start
    stop.set()
    thread.join()
    # The other thread ran throughout (it would be starved if the lock were held): at
    # least a tick every 10 ms, where it manages about one a millisecond.
    assert seconds > 0.3 and len(ticks) > seconds * 100, (len(ticks), seconds)


def test_bad_input_raises_python_exceptions(tiny, tmp_path):
    with pytest.raises(ValueError, match="integer levels"):
        tiny.log_prob(np.zeros((2, 2, 2), dtype=np.float32))
    with pytest.raises(ValueError, match="2x2"):
        tiny.log_prob(np.zeros((2, 3, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="not a level"):
        tiny.log_prob(np.full((1, 2, 2), 2, dtype=np.uint8))
    with pytest.raises(ValueError, match="no images"):
        tiny.log_prob(np.zeros((0, 2, 2), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"\[N, H, W\]"):
        tiny.log_prob(np.zeros((2,), dtype=np.uint8))
    with pytest.raises(ValueError, match="outside 0..255"):
        tiny.log_prob(np.full((1, 2, 2), 300))
    with pytest.raises(ValueError, match="at most"):
        tiny.sample(10**9)
    with pytest.raises(ValueError, match="temperature"):
        tiny.sample(2, temperature=float("nan"))
    with pytest.raises(ValueError, match="finite"):
        argen.train_images(bars(8), levels=2, vectors=np.full((8, 2), np.nan), progress=False)
    with pytest.raises(ValueError, match="unknown image model"):
        argen.train_images(bars(8), levels=2, model="pixelrnn", progress=False)
    with pytest.raises(ValueError, match="levels"):
        argen.train_images(bars(8, levels=4), levels=2, progress=False)
    with pytest.raises(FileNotFoundError):
        argen.open_run(str(tmp_path / "nowhere"))
    with pytest.raises(ValueError, match="not an argen run folder"):
        argen.open_run(str(tmp_path))
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="JSON"):
        argen.open_run(str(damaged))


def ar2(n=600, seed=5):
    rng = np.random.default_rng(seed)
    x = np.zeros(n)
    for t in range(2, n):
        x[t] = 0.5 + 0.6 * x[t - 1] - 0.3 * x[t - 2] + rng.normal()
    return x


def test_ar_fit_is_least_squares_with_the_statsmodels_statistics():
    x = ar2()
    fit = argen.fit_ar(x, 2)
    design = np.column_stack([np.ones(len(x) - 2), x[1:-1], x[:-2]])
    beta, *_ = np.linalg.lstsq(design, x[2:], rcond=None)
    np.testing.assert_allclose(fit.params, beta, rtol=1e-9, atol=1e-12)
    resid = x[2:] - design @ beta
    nobs = len(x) - 2
    sigma2 = resid @ resid / nobs
    assert fit.nobs == nobs
    assert abs(fit.sigma2 - sigma2) < 1e-9 * sigma2
    llf = -0.5 * nobs * (math.log(2 * math.pi * sigma2) + 1)
    assert abs(fit.llf - llf) < 1e-6
    assert abs(fit.aic - (-2 * llf + 2 * 4)) < 1e-6
    assert abs(fit.bic - (-2 * llf + math.log(nobs) * 4)) < 1e-6
    cov = sigma2 * np.linalg.inv(design.T @ design)
    np.testing.assert_allclose(fit.bse, np.sqrt(np.diag(cov)), rtol=1e-7)
    f = fit.forecast(3, alpha=0.05)
    c, a1, a2 = beta
    m1 = c + a1 * x[-1] + a2 * x[-2]
    m2 = c + a1 * m1 + a2 * x[-1]
    np.testing.assert_allclose(f["mean"][:2], [m1, m2], rtol=1e-10)
    np.testing.assert_allclose(f["std"][:2], [math.sqrt(sigma2), math.sqrt(sigma2 * (1 + a1**2))], rtol=1e-9)
    np.testing.assert_allclose(f["upper"] - f["mean"], 1.959963984540054 * f["std"], rtol=1e-6)
    sim = fit.simulate(5000, seed=1, continuation=False)
    assert abs(sim.mean() - c / (1 - a1 - a2)) < 0.15
    assert "AR(2)" in repr(fit)


@pytest.mark.parametrize("series", ["sunspots", "ar2"])
def test_ar_agrees_with_statsmodels(series):
    statsmodels = pytest.importorskip("statsmodels.tsa.ar_model")
    x = argen.load_series("sunspots") if series == "sunspots" else ar2()
    for lags in [1, 4, 9]:
        ours = argen.fit_ar(x, lags)
        theirs = statsmodels.AutoReg(x, lags=lags, trend="c").fit()
        np.testing.assert_allclose(ours.params, theirs.params, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(ours.bse, theirs.bse, rtol=1e-6)
        for name in ["sigma2", "llf", "aic", "bic"]:
            assert abs(getattr(ours, name) - getattr(theirs, name)) <= 1e-6 * abs(getattr(theirs, name)), name
        forecast = theirs.get_prediction(start=len(x), end=len(x) + 4)
        np.testing.assert_allclose(ours.forecast(5)["mean"], forecast.predicted_mean, rtol=1e-6)


def test_ar_bad_input():
    with pytest.raises(ValueError, match="not finite"):
        argen.fit_ar([1.0, 2.0, float("nan"), 3.0, 4.0, 5.0, 6.0], 1)
    with pytest.raises(ValueError, match="too few"):
        argen.fit_ar([1.0, 2.0, 3.0], 4)
    with pytest.raises(ValueError, match="1-D"):
        argen.fit_ar(np.zeros((10, 2)), 1)
    with pytest.raises(ValueError, match="unknown method"):
        argen.fit_ar(ar2(), 1, method="mle")


TEXT = "the cat sat on the mat. the dog sat on the log. " * 20


def test_markov_chain_probabilities_are_its_counts():
    chain = argen.MarkovChain.fit(TEXT, order=1, smoothing=0.0)
    assert chain.alphabet == "".join(sorted(set(TEXT)))
    p = chain.n_step("t", 1)
    assert abs(p.sum() - 1.0) < 1e-12
    follows = [TEXT[i + 1] for i in range(len(TEXT) - 1) if TEXT[i] == "t"]
    for ch in set(follows):
        assert abs(p[chain.alphabet.index(ch)] - follows.count(ch) / len(follows)) < 1e-12
    expected = sum(
        math.log(chain.n_step(TEXT[i], 1)[chain.alphabet.index(TEXT[i + 1])])
        for i in range(len(TEXT) - 1)
    )
    assert abs(chain.log_prob(TEXT) - expected) < 1e-9


def test_markov_stationary_distribution_is_stationary():
    chain = argen.MarkovChain.fit(TEXT, order=1, smoothing=0.1)
    pi = chain.stationary()
    assert abs(pi.sum() - 1.0) < 1e-12
    letters = chain.alphabet
    moved = sum(pi[i] * chain.n_step(c, 1) for i, c in enumerate(letters))
    np.testing.assert_allclose(moved, pi, atol=1e-10)
    # The reverse chain by Bayes: p(a | b) = pi(a) p(b | a) / pi(b).
    b = letters.index("a")
    reverse = chain.reverse_distribution("a")
    bayes = np.array([pi[i] * chain.n_step(c, 1)[b] for i, c in enumerate(letters)]) / pi[b]
    np.testing.assert_allclose(reverse, bayes, atol=1e-10)


def test_markov_sampling_and_integer_symbols():
    chain = argen.MarkovChain.fit(TEXT, order=2)
    text = chain.sample(200, seed=1, start="th")
    assert isinstance(text, str) and len(text) == 200 and set(text) <= set(chain.alphabet)
    best, log_p = chain.most_likely_continuation("th", 2)
    assert best == "e " and log_p < 0
    before = chain.sample_backwards("at", 10, seed=2)
    assert len(before) == 10
    codes = argen.MarkovChain.fit([0, 1, 2, 0, 1, 2, 0, 1, 2, 0], order=1, smoothing=0.0)
    assert codes.alphabet is None and codes.alphabet_size == 3
    assert codes.sample(6, start=[0], temperature=0.0) == [1, 2, 0, 1, 2, 0]
    with pytest.raises(ValueError, match="alphabet"):
        codes.log_prob([0, 5])
    with pytest.raises(ValueError, match="str"):
        chain.log_prob([1, 2])
    with pytest.raises(ValueError, match="character"):
        chain.log_prob("xyz")


def test_the_embedded_data_sets_load_as_the_command_line_cuts_them():
    digits = argen.load_images("digits")
    assert digits["levels"] == 17
    (train, train_labels), (valid, _), (test, _) = digits["train"], digits["valid"], digits["test"]
    assert train.shape == (1000, 8, 8) and valid.shape == (350, 8, 8) and test.shape == (447, 8, 8)
    assert train.dtype == np.uint8 and train.max() == 16 and set(np.unique(train_labels)) == set(range(10))
    colour = argen.load_images("colour:digits")
    assert colour["train"][0].shape == (1000, 3, 8, 8)
    sunspots = argen.load_series("sunspots")
    assert sunspots.ndim == 1 and len(sunspots) > 300 and np.all(np.isfinite(sunspots))
    with pytest.raises(ValueError, match="unknown data source"):
        argen.load_images("mnist")


def test_the_tour_example_runs(tmp_path):
    import sys

    script = REPO / "python" / "examples" / "tour.py"
    env = dict(os.environ, MPLBACKEND="Agg")
    result = subprocess.run(
        [sys.executable, str(script), "--epochs", "1"], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "bits/dim" in result.stdout and "AR(9)" in result.stdout


def test_impossible_training_requests_are_refused_before_training():
    with pytest.raises(ValueError, match="at least 2 images"):
        argen.train_images(bars(1), levels=2, progress=False)
    with pytest.raises(ValueError, match="needs labels"):
        argen.train_images(bars(8), levels=2, conditional=True, progress=False)
    with pytest.raises(ValueError, match="valid_fraction"):
        argen.train_images(bars(8), levels=2, valid_fraction=1.0, progress=False)
    with pytest.raises(ValueError, match="multiples of 4"):
        argen.train_images(bars(8, side=6), levels=2, model="pixelcnn-pp", progress=False)


def sine(n=400):
    t = np.arange(n)
    return np.sin(2 * math.pi * t / 25) + 0.1 * np.random.default_rng(0).normal(size=n)


def test_a_sequence_model_on_a_series_learns_and_samples_in_its_units():
    model = argen.train_sequence(sine(), model="mlp", window=25, epochs=30, lr=3e-3, progress=False)
    assert model.model == "mlp" and "SequenceModel(" in repr(model)
    metrics = model.evaluate("test")
    # A unit Gaussian on the standardised series scores 1.42 nats per step; the sine is
    # predictable from 25 steps to its noise (about -0.6 at this noise level).
    assert math.isfinite(metrics["nats_per_step"]) and metrics["nats_per_step"] < 0.5, metrics
    drawn = model.sample(3, length=60, seed=1)
    assert drawn.shape == (3, 60) and drawn.dtype == np.float64
    assert 0.3 < drawn.std() < 2.0  # in the series' units (amplitude 1), not standardised
    np.testing.assert_array_equal(drawn, model.sample(3, length=60, seed=1, naive=True))


def test_a_character_model_samples_its_own_alphabet_and_matches_the_cli_scores(tmp_path):
    model = argen.train_sequence(text=TEXT, model="lstm", hidden=32, epochs=2, progress=False)
    texts = model.sample(2, length=40, seed=3)
    assert len(texts) == 2 and all(len(t) == 40 and set(t) <= set(TEXT) for t in texts)
    binary = REPO / "target" / "release" / "argen"
    if not binary.exists():
        pytest.skip("the argen binary is not built")
    run = tmp_path / "wavenet"
    subprocess.run(
        [str(binary), "train", "--model", "wavenet", "--data", "sine", "--epochs", "1", "--out", str(run), "--quiet"],
        check=True, capture_output=True,
    )
    opened = argen.open_run(str(run))
    assert isinstance(opened, argen.SequenceModel) and opened.path == str(run)
    cli = json.loads(
        subprocess.run([str(binary), "eval", str(run), "--json"], check=True, capture_output=True).stdout
    )
    ours = opened.evaluate("test")
    assert abs(ours["nats_per_step"] - cli["nats_per_dim"]) < 1e-9, (ours, cli)


def test_sequence_bad_input():
    with pytest.raises(ValueError, match="one of values"):
        argen.train_sequence(progress=False)
    with pytest.raises(ValueError, match="finite"):
        argen.train_sequence(np.array([1.0] * 20 + [np.nan]), progress=False)
    with pytest.raises(ValueError, match="unknown sequence model"):
        argen.train_sequence(sine(), model="transformer", progress=False)
    with pytest.raises(ValueError, match="1-D"):
        argen.train_sequence(np.zeros((20, 2)), progress=False)


@needs_cli
def test_a_cli_run_opens_in_python_with_the_same_nll_and_samples(tmp_path):
    run = tmp_path / "cli"
    subprocess.run(
        [str(BINARY), "train", "--epochs", "1", "--channels", "8", "--layers", "2", "--head", "16",
         "--samples", "0", "--out", str(run), "--quiet"],
        check=True, capture_output=True,
    )
    model = argen.open_run(str(run))
    cli = json.loads(subprocess.run([str(BINARY), "eval", str(run), "--json"], check=True, capture_output=True).stdout)
    test_images = argen.load_images("digits")["test"][0]
    assert abs(model.bits_per_dim(test_images) - cli["bits_per_dim"]) < 1e-9
    png = tmp_path / "s.png"
    subprocess.run([str(BINARY), "sample", str(run), "--n", "4", "--seed", "7", "--out", str(png)], check=True)
    import importlib.util

    spec = importlib.util.spec_from_file_location("png_diff", REPO / "bench" / "png_diff.py")
    png_diff = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(png_diff)
    _, _, channels, rows = png_diff.read_png(str(png))
    ours = model.sample(4, seed=7)
    # The grid: 2 columns, each pixel 8x8 screen pixels, a 1-pixel border.
    for k in range(4):
        for r in range(8):
            for c in range(8):
                y, x = (k // 2) * 65 + 1 + r * 8, (k % 2) * 65 + 1 + c * 8
                assert rows[y][x * channels] == round(int(ours[k, r, c]) * 255 / 16), (k, r, c)
    np.testing.assert_array_equal(model.sample(10, seed=2, batch_size=3), model.sample(10, seed=2))


def test_markov_results_equal_brute_force_enumeration():
    rng = np.random.default_rng(4)
    symbols = rng.integers(0, 2, size=300).tolist()
    chain = argen.MarkovChain.fit(symbols, order=2, smoothing=0.5)
    def p(context, s):
        return chain.n_step(list(context), 1)[s]
    past = [1, 0]
    # n-step law: sum over every path of length n.
    for n in [1, 2, 3, 4]:
        law = np.zeros(2)
        for path in itertools.product(range(2), repeat=n):
            prob, window = 1.0, list(past)
            for s in path:
                prob *= p(window[-2:], s)
                window.append(s)
            law[path[-1]] += prob
        np.testing.assert_allclose(chain.n_step(past, n), law, atol=1e-12)
    # The most likely continuation: the best of all 2^5 paths.
    best, best_lp = None, -math.inf
    for path in itertools.product(range(2), repeat=5):
        lp, window = 0.0, list(past)
        for s in path:
            lp += math.log(p(window[-2:], s))
            window.append(s)
        if lp > best_lp:
            best, best_lp = list(path), lp
    got, lp = chain.most_likely_continuation(past, 5)
    assert got == best and abs(lp - best_lp) < 1e-9
    # log_prob: the sum of the transitions after the first k symbols.
    seq = [0, 1, 1, 0, 1, 0, 0]
    expected = sum(math.log(p(seq[t - 2:t], seq[t])) for t in range(2, len(seq)))
    assert abs(chain.log_prob(seq) - expected) < 1e-12


@needs_cli
@pytest.mark.parametrize("kind", ["series", "text"])
def test_a_sequence_run_from_python_opens_in_the_cli_with_the_same_nll(tmp_path, kind):
    out = tmp_path / kind
    if kind == "series":
        model = argen.train_sequence(sine(), model="tcn", epochs=2, out=str(out), progress=False)
    else:
        model = argen.train_sequence(text=TEXT, model="gru", hidden=16, epochs=1, out=str(out), progress=False)
    cli = json.loads(
        subprocess.run([str(BINARY), "eval", str(out), "--json"], check=True, capture_output=True).stdout
    )
    ours = model.evaluate("test")
    assert abs(ours["nats_per_step"] - cli["nats_per_dim"]) < 1e-9, (ours, cli)
    reopened = argen.open_run(str(out))
    assert reopened.evaluate("test") == ours
    sampled = subprocess.run(
        [str(BINARY), "sample", str(out), "--n", "2", "--length", "20"], check=True, capture_output=True
    )
    assert sampled.returncode == 0


def test_a_model_of_level_sequences_is_normalised_over_every_sequence():
    rng = np.random.default_rng(6)
    sequences = (rng.random((300, 3)) < [0.2, 0.7, 0.5]).astype(np.int64)
    model = argen.train_sequence(sequences=sequences, model="gru", hidden=8, epochs=3, progress=False)
    every = np.array(list(itertools.product(range(2), repeat=3)))
    log_p = model.log_prob(every)
    assert log_p.shape == (8,)
    assert abs(np.exp(log_p).sum() - 1.0) < 1e-5
    # Every prefix length too: the 2 one-step sequences.
    assert abs(np.exp(model.log_prob([[0], [1]])).sum() - 1.0) < 1e-5
    with pytest.raises(ValueError, match="not a level"):
        model.log_prob([[0, 2, 1]])


def test_a_character_model_is_normalised_over_every_string():
    model = argen.train_sequence(text=TEXT, model="lstm", hidden=16, epochs=1, progress=False)
    alphabet = sorted(set(TEXT))
    pairs = ["".join(p) for p in itertools.product(alphabet, repeat=2)]
    assert abs(np.exp(model.log_prob(pairs)).sum() - 1.0) < 1e-5


def test_a_series_model_is_a_density_in_the_series_units():
    x = 3.0 + 5.0 * sine()
    model = argen.train_sequence(x, model="mlp", window=8, epochs=2, progress=False)
    grid = np.linspace(x.mean() - 60, x.mean() + 60, 6001)
    density = np.exp(model.log_prob(grid[:, None]))
    integral = float(np.sum((density[1:] + density[:-1]) / 2 * np.diff(grid)))
    assert abs(integral - 1.0) < 1e-3, integral
