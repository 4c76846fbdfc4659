"""Writes the benchmark inputs of bench/classic.sh into a folder (default /tmp/argen-bench):

- ar100k.csv: 100,000 values of x_t = 2 + 0.5 x_{t-1} - 0.3 x_{t-2} + 0.1 x_{t-3} + e_t,
  e_t ~ N(0, 1), from numpy's default_rng(0) (after 1,000 steps of burn-in), column `x`.
- text5mb.txt: 5,000,000 characters of pseudo-English built by a seeded procedure
  (Python's random.Random(0)): 3,000 made-up words of 1-4 syllables drawn from a Zipf law,
  sentences of 4-18 words with capitals, commas, full stops, question marks, numbers and
  quotes, lines wrapped at 72 characters, and a paragraph break every 3-8 sentences.

Nothing is downloaded; the same script gives the same files on every machine.
"""
import os
import random
import sys

import numpy as np

out = sys.argv[1] if len(sys.argv) > 1 else "/tmp/argen-bench"
os.makedirs(out, exist_ok=True)

rng = np.random.default_rng(0)
n, burn = 100_000, 1_000
e = rng.standard_normal(n + burn)
x = np.zeros(n + burn)
for t in range(3, n + burn):
    x[t] = 2 + 0.5 * x[t - 1] - 0.3 * x[t - 2] + 0.1 * x[t - 3] + e[t]
with open(os.path.join(out, "ar100k.csv"), "w") as f:
    f.write("x\n")
    f.write("\n".join(repr(float(v)) for v in x[burn:]))
    f.write("\n")

r = random.Random(0)
onsets = ["", "b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t",
          "v", "w", "y", "z", "br", "ch", "cl", "dr", "fl", "gr", "pl", "pr", "sh", "sl",
          "st", "str", "th", "tr", "wh"]
vowels = ["a", "e", "i", "o", "u", "ai", "ea", "ee", "ie", "oo", "ou", "y"]
codas = ["", "", "", "n", "r", "s", "t", "l", "m", "nd", "ng", "nt", "rd", "st", "ck", "x"]
words = []
while len(words) < 3000:
    w = "".join(r.choice(onsets) + r.choice(vowels) + r.choice(codas)
                for _ in range(r.choice([1, 1, 2, 2, 2, 3, 3, 4])))
    if w not in words:
        words.append(w)
weights = [1.0 / (i + 1) for i in range(len(words))]
target = 5_000_000
parts, size, line = [], 0, 0
while size < target:
    sentences = r.randint(3, 8)
    para = []
    for _ in range(sentences):
        ws = r.choices(words, weights, k=r.randint(4, 18))
        for i in range(len(ws)):
            if r.random() < 0.03:
                ws[i] = str(r.randint(0, 2000))
            elif r.random() < 0.05:
                ws[i] = ws[i].capitalize()
            if i < len(ws) - 1 and r.random() < 0.08:
                ws[i] += ";" if r.random() < 0.2 else ","
        ws[0] = ws[0].capitalize()
        s = " ".join(ws) + r.choice([".", ".", ".", ".", "?", "!", ":"])
        if r.random() < 0.1:
            s = '"' + s + '"'
        para.append(s)
    text = " ".join(para)
    # Wrap at 72 characters.
    lines, cur = [], ""
    for w in text.split(" "):
        if cur and len(cur) + 1 + len(w) > 72:
            lines.append(cur)
            cur = w
        else:
            cur = w if not cur else cur + " " + w
    lines.append(cur)
    block = "\n".join(lines) + "\n\n"
    parts.append(block)
    size += len(block)
with open(os.path.join(out, "text5mb.txt"), "w") as f:
    f.write("".join(parts)[:target])
print(f"wrote {out}/ar100k.csv and {out}/text5mb.txt")
