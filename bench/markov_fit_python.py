"""Plain-Python side of the Markov benchmark (bench/classic.sh): counts the order-5
transitions (context of 5 characters -> next character) of a text with dicts, the way one
would write it without libraries. Prints one JSON line: seconds (counting only, after
reading the file), contexts and distinct transitions."""
import json
import sys
import time

k = 5
with open(sys.argv[1], encoding="utf-8") as f:
    text = f.read()
start = time.perf_counter()
counts = {}
for i in range(k, len(text)):
    ctx = text[i - k:i]
    nxt = text[i]
    d = counts.get(ctx)
    if d is None:
        counts[ctx] = {nxt: 1}
    else:
        d[nxt] = d.get(nxt, 0) + 1
seconds = time.perf_counter() - start
print(json.dumps({
    "seconds": seconds,
    "contexts": len(counts),
    "transitions": sum(len(d) for d in counts.values()),
}))
