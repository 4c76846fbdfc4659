"""Times one sampling request through `argen serve`: the seconds to the first drawn value and
to the last, and the generation seconds the server reports. Standard library only.

    python3 bench/serve_client.py http://127.0.0.1:PORT RUN N SEED
prints one JSON line: {"first_value_s": ..., "total_s": ..., "generation_s": ..., "images": N}
"""
import json
import sys
import time
import urllib.parse
import urllib.request

base, run, n, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
query = urllib.parse.urlencode({"run": run, "n": n, "seed": seed})
started = time.perf_counter()
first = None
name = None
with urllib.request.urlopen(f"{base}/api/sample/stream?{query}") as response:
    for raw in response:
        line = raw.decode().rstrip("\n")
        if line.startswith("event: "):
            name = line[len("event: "):]
        elif line.startswith("data: "):
            if name == "step" and first is None:
                first = time.perf_counter() - started
            if name == "error":
                sys.exit("error: " + line)
            if name == "done":
                done = json.loads(line[len("data: "):])
                total = time.perf_counter() - started
                break
print(json.dumps({"first_value_s": first, "total_s": total,
                  "generation_s": done["seconds"], "images": len(done["levels"]) // 64}))
