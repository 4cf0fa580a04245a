"""A stand-in for harness/paired_worker.py without TensorFlow (tests/harness/test_paired_runner.py): the
same protocol; a block of N calls 'takes' N ms, times (1 + SHARE) on a side given --inject-slowdown.
FAKE_CRASH_AFTER=n: after n blocks it writes to stderr and exits 3. FAKE_HANG=1: it never answers blocks."""
import json
import os
import sys
import time

args = sys.argv[1:]
share = 0.0
for i, a in enumerate(args):
    if a == "--inject-slowdown":
        share = float(args[i + 1].split("=")[1])
cases = [args[i + 1] for i, a in enumerate(args) if a == "--case"]
if "--save-models" in args:  # the models are built once per side; the stand-in has none to build
    os.makedirs(args[args.index("--save-models") + 1], exist_ok=True)
    if os.environ.get("FAKE_START_LOG"):
        with open(os.environ["FAKE_START_LOG"], "a") as f:
            f.write(json.dumps({"build": True, "argv": sys.argv, "cwd": os.getcwd()}) + "\n")
    sys.exit(0)
if os.environ.get("FAKE_START_LOG"):  # how each serving worker was started
    with open(os.environ["FAKE_START_LOG"], "a") as f:
        f.write(json.dumps({"argv": [sys.executable, *sys.argv], "cwd": os.getcwd(), "path": __file__,
                            "env": dict(os.environ)}) + "\n")
if os.environ.get("FAKE_PID_DIR"):
    with open(os.path.join(os.environ["FAKE_PID_DIR"], str(os.getpid())), "w") as f:
        f.write("running")
print(json.dumps({"ready": True, "info": {"pid": os.getpid(), "cases": cases,
                                          "ops": ["probe", "block", "renew", "quit"]}}), flush=True)
crash_after = int(os.environ.get("FAKE_CRASH_AFTER", "0"))
blocks = 0
for line in sys.stdin:
    request = json.loads(line)
    if request["op"] == "quit":
        sys.exit(0)
    if request["op"] in ("probe", "renew"):
        if request["op"] == "renew" and os.environ.get("FAKE_RENEW_LOG"):
            with open(os.environ["FAKE_RENEW_LOG"], "a") as f:
                f.write(request["case"] + "\n")
        print(json.dumps({"seconds": 0.001}), flush=True)
        continue
    blocks += 1
    if crash_after and blocks > crash_after:
        print("fake worker: simulated crash in block", blocks, file=sys.stderr, flush=True)
        sys.exit(3)
    if os.environ.get("FAKE_HANG"):
        time.sleep(3600)
    seconds = request["calls"] * 1e-3 * (1 + share)
    print(json.dumps({"seconds": seconds, "cpu_seconds": 0.9 * seconds}), flush=True)
