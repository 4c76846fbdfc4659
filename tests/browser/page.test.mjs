// End-to-end test of the page of `argen serve` in a real browser: headless Chromium
// (Debian's /usr/bin/chromium) driven by Playwright. It trains small runs into a fresh folder
// (or uses ARGEN_RUNS), starts `argen serve` on a free loopback port, and checks that the page
// loads with no console error, that a sample is drawn and is not blank, that a completion
// runs, that a click shows a receptive-field map, that a forecast is drawn, and that a run
// started during the test appears and its curve grows. Screenshots go to SCREENSHOTS
// (default: tests/browser/screenshots).
//
//   node tests/browser/page.test.mjs        (after cargo build --release)

import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../..");
const argen = process.env.ARGEN || path.join(root, "target/release/argen");
const shots = process.env.SCREENSHOTS || path.join(here, "screenshots");
const browserPath = process.env.CHROMIUM || "/usr/bin/chromium";
mkdirSync(shots, { recursive: true });

function check(condition, message) {
  if (!condition) throw new Error("check failed: " + message);
}

function train(args) {
  execFileSync(argen, args, { stdio: ["ignore", "ignore", "inherit"] });
}

// ---------------------------------------------------------------- runs and server
let runs = process.env.ARGEN_RUNS;
if (!runs) {
  runs = mkdtempSync(path.join(tmpdir(), "argen-page-"));
  train(["train", "--out", path.join(runs, "digits"), "--epochs", "3", "--channels", "16", "--layers", "3", "--head", "32"]);
  train(["train", "--model", "pixelcnn", "--first-kernel", "3", "--out", path.join(runs, "pixelcnn"), "--epochs", "1", "--channels", "16", "--head", "32"]);
  train(["fit", "ar", "--data", "sunspots", "--max-order", "12", "--out", path.join(runs, "sunspots-ar")]);
}
check(existsSync(runs), `${runs} exists`);

const server = spawn(argen, ["serve", "--runs", runs, "--listen", "127.0.0.1:0"], { stdio: ["ignore", "pipe", "inherit"] });
const base = await new Promise((resolve, reject) => {
  let text = "";
  server.stdout.on("data", (chunk) => {
    text += chunk;
    const match = text.match(/http:\/\/([0-9.:]+)\//);
    if (match) resolve(`http://${match[1]}/`);
  });
  server.on("exit", (code) => reject(new Error(`argen serve exited with ${code}`)));
  setTimeout(() => reject(new Error("argen serve printed no address")), 30000);
});

let browser, live;
const problems = [];
try {
  browser = await chromium.launch({
    executablePath: browserPath,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync"],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  page.on("console", (message) => { if (message.type() === "error") problems.push("console: " + message.text()); });
  page.on("pageerror", (error) => problems.push("page error: " + error.message));
  page.on("response", (response) => { if (response.status() >= 400) problems.push(`HTTP ${response.status()}: ${response.url()}`); });
  page.setDefaultTimeout(60000);

  // ------------------------------------------------------------ the page and its runs
  await page.goto(base + "?run=digits");
  await page.waitForSelector('.run-item[data-name="digits"].selected');
  await page.waitForFunction(() => Number(document.getElementById("curves").dataset.points) >= 1);
  await page.waitForFunction(() => document.getElementById("run-facts").textContent.includes("bits/dim"));
  const facts = await page.textContent("#run-facts");
  check(/parameters/.test(facts) && /test NLL [0-9.]+ nats\/dim/.test(facts), `run facts: ${facts}`);

  // A canvas is blank when all its pixels are equal.
  const blank = (selector) => page.$$eval(selector, (canvases) => canvases.map((c) => {
    const data = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    for (let i = 4; i < data.length; i += 4) if (data[i] !== data[0] || data[i + 1] !== data[1] || data[i + 2] !== data[2]) return false;
    return true;
  }));

  // ------------------------------------------------------------ sampling
  await page.fill('#sample-form input[name="n"]', "16");
  await page.click("#sample-button");
  await page.waitForSelector('#samples[data-done="true"]');
  const samples = await blank("#samples canvas");
  check(samples.length === 16, `16 sample canvases, got ${samples.length}`);
  check(samples.filter((b) => !b).length >= 15, `samples not blank: ${samples}`);
  const sampleStatus = await page.textContent("#sample-status");
  check(/first value after/.test(sampleStatus), `sample status: ${sampleStatus}`);
  await page.locator("#sample-card").screenshot({ path: path.join(shots, "sampling.png") });

  // ------------------------------------------------------------ completion
  await page.click("#erase-bottom");
  await page.click("#complete-button");
  await page.waitForSelector('#completions[data-count="4"]');
  const completions = await blank("#completions canvas");
  check(completions.length === 4 && completions.every((b) => !b), `completions: ${completions}`);
  await page.locator("#complete-card").screenshot({ path: path.join(shots, "completion.png") });

  // ------------------------------------------------------------ receptive field
  const field = page.locator("#field");
  const box = await field.boundingBox();
  await field.click({ position: { x: box.width * 0.55, y: box.height * 0.7 } });
  await page.waitForSelector('#field[data-measured="true"]');
  const fieldStatus = await page.textContent("#field-status");
  check(/depends on [1-9][0-9]* pixels; blind spot: none; leaks: none/.test(fieldStatus), `field status: ${fieldStatus}`);
  await page.locator("#field-card").screenshot({ path: path.join(shots, "receptive-field.png") });
  await page.screenshot({ path: path.join(shots, "page.png"), fullPage: true });

  // The PixelCNN's blind spot, shown in red: one row up and two columns right is out of reach.
  await page.click('.run-item[data-name="pixelcnn"]');
  await page.waitForFunction(() => document.getElementById("run-title").textContent === "pixelcnn");
  await page.evaluate(() => { document.getElementById("field").dataset.measured = "false"; });
  const pbox = await field.boundingBox();
  await field.click({ position: { x: pbox.width * (2.5 / 8), y: pbox.height * (5.5 / 8) } });
  await page.waitForSelector('#field[data-measured="true"]');
  const blindStatus = await page.textContent("#field-status");
  check(/pixel 5,2 depends on [0-9]+ pixels; blind spot: [1-9][0-9]* pixels; leaks: none/.test(blindStatus), `PixelCNN field status: ${blindStatus}`);
  await page.locator("#field-card").screenshot({ path: path.join(shots, "blind-spot.png") });

  // ------------------------------------------------------------ a forecast
  await page.click('.run-item[data-name="sunspots-ar"]');
  await page.waitForSelector("#forecast-card:not([hidden])");
  await page.click("#forecast-button");
  await page.waitForFunction(() => document.getElementById("forecast-status").textContent.includes("intervals"));
  const forecast = await blank("#forecast");
  check(!forecast[0], "the forecast chart is drawn");
  await page.locator("#forecast-card").screenshot({ path: path.join(shots, "forecast.png") });

  // ------------------------------------------------------------ a run that starts now
  const liveName = "live-" + process.pid;
  // Default-sized model, 20 epochs (about a second each): still training while the page watches.
  live = spawn(argen, ["train", "--out", path.join(runs, liveName), "--epochs", "20"], { stdio: "ignore" });
  const item = `.run-item[data-name="${liveName}"]`;
  await page.waitForSelector(item, { timeout: 60000 });
  await page.click(item);
  await page.waitForFunction((name) => document.getElementById("run-title").textContent === name, liveName);
  await page.waitForFunction(() => Number(document.getElementById("curves").dataset.points) >= 1);
  const first = Number(await page.getAttribute("#curves", "data-points"));
  await page.waitForFunction((n) => Number(document.getElementById("curves").dataset.points) > n, first, { timeout: 120000 });
  const later = Number(await page.getAttribute("#curves", "data-points"));
  check(later > first, `the curve grew: ${first} then ${later}`);
  await page.locator("#curves-card").screenshot({ path: path.join(shots, "training.png") });

  check(problems.length === 0, "no console errors:\n" + problems.join("\n"));
  console.log(`page test passed: samples, completion, receptive field, forecast, live curve (${first} → ${later} epochs); screenshots in ${shots}`);
} finally {
  if (live) live.kill();
  if (browser) await browser.close();
  server.kill();
}
