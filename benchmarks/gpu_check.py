"""The whole course on one GPU, in one command: install, unit tests, every chapter, throughput, torchrun.

Started by ``benchmarks/gpu_check.sh`` on the lent GPU machine (issue 16), within ``--budget``
seconds (470: the device tool allows 10 minutes a command, the machine's start not counted):

1. ``install``: the packages that machine lacks (mlxtend, ipywidgets, ipykernel, nbformat, nbclient,
   nbval, papermill, nbconvert and their needs), from the wheels in ``--wheels`` (``wheelhouse/``,
   made here with ``pip download``) into ``--site`` with ``pip install --no-index --find-links``;
   skipped when they all import already;
2. ``throughput``: ``benchmarks/gpu_throughput.py`` (images/s per precision mode, MFU, time to 0.99);
3. ``torchrun``: ``torchrun --standalone --nproc_per_node=1 -m cnncourse.capstone --backend nccl`` and
   ``benchmarks/gpu_ddp_probe.py`` under torchrun (the nccl process group, DDP, SyncBatchNorm);
4. ``tests``: the unit tests (pytest, ``-n`` workers; on CUDA the CUDA-only tests run too), in the
   background beside the notebooks (``--no-overlap``: before them), on cores the chapters leave free;
5. ``notebooks``: every chapter (``notebooks/NN_*.ipynb``) executed with papermill in the profile
   (``gpu``), ``--nb-jobs`` at a time, longest first, each with its seconds, key numbers and its
   claims ledger's verdicts (``outputs/claims/<stem>.json``), until the budget runs out.

Each step runs in child processes with its own time limit, so one that fails or hangs is recorded
and the others still run; ``$OUT/gpu.json`` is rewritten after every step. ``--dry-run`` rehearses
all of it on the CPU: smoke profile, tiny sizes, gloo instead of nccl, two chapters and a ``-k``
filter on the tests. Without a CUDA GPU and without ``--dry-run`` (``make benchmarks``) it says so
and stops. The last line is the verdict.
"""
from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import re
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NEEDED_MODULES = ("mlxtend", "ipywidgets", "ipykernel", "nbformat", "nbclient", "nbval", "papermill", "nbconvert")
KEY_NUMBERS_MIME = "application/vnd.cnncourse.key-numbers+json"  # cnncourse.report.KEY_NUMBERS_MIME
STEPS = ("install", "throughput", "torchrun", "tests", "notebooks")
# Seconds each step may take at most (the notebooks get what is left of the budget).
DEFAULT_LIMITS = {"install": 60, "throughput": 150, "torchrun": 70, "tests": 150}
DRY_LIMITS = {"install": 60, "throughput": 90, "torchrun": 90, "tests": 60}


# ---------------------------------------------------------------- small pieces (tested on the CPU)

def missing_modules(modules=NEEDED_MODULES) -> list[str]:
    """The modules of ``modules`` that this Python cannot import."""
    return [m for m in modules if importlib.util.find_spec(m) is None]


def chapter_order(notebooks: list[Path], timings: dict | None) -> list[Path]:
    """Longest first (by the cpu profile's recorded times; unknown ones first), so parallel runs end together."""
    cpu = (timings or {}).get("cpu", {})
    return sorted(notebooks, key=lambda p: (-cpu.get(p.name, float("inf")), p.name))


def key_numbers_of(notebook: dict) -> dict:
    """Every key number a notebook's outputs declared (``cnncourse.report.key_numbers``)."""
    found: dict = {}
    for cell in notebook.get("cells", []):
        for output in cell.get("outputs", []) or []:
            data = output.get("data", {}) if isinstance(output, dict) else {}
            if KEY_NUMBERS_MIME in data:
                found.update(data[KEY_NUMBERS_MIME].get("values", {}))
    return found


def cells_done(notebook: dict) -> tuple[int, int]:
    """(code cells executed, code cells) of an executed notebook."""
    code = [c for c in notebook.get("cells", []) if c.get("cell_type") == "code"]
    return sum(1 for c in code if c.get("execution_count") is not None), len(code)


def verdicts_of(records: list[dict]) -> list[dict]:
    """The claims ledger's records, reduced to what the JSON keeps."""
    return [{k: r.get(k) for k in ("id", "verdict", "expected", "summary", "profile")} for r in records]


def junit_summary(path: Path) -> dict:
    """Counts and the failing tests (id and first line of the message) of a pytest JUnit XML file."""
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    counts = {k: sum(int(s.get(k, 0)) for s in suites) for k in ("tests", "failures", "errors", "skipped")}
    failed = []
    for case in root.iter("testcase"):
        for kind in ("failure", "error"):
            for node in case.findall(kind):
                message = (node.get("message") or node.text or "").strip().splitlines()
                failed.append({"test": f"{case.get('classname')}::{case.get('name')}", "kind": kind,
                               "message": (message[0] if message else "")[:400]})
    counts["passed"] = counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"]
    counts["failed"] = failed
    return counts


def pytest_summary(output: str) -> str:
    """pytest's last line of counts ("3 failed, 120 passed, 2 skipped in 61.2s"), without the ='s."""
    found = re.findall(r"^=*\s*(\d+ (?:passed|failed|error|errors|skipped|deselected)\b.*?)\s*=*$", output, re.MULTILINE)
    return found[-1] if found else (tail(output, 1) or "no output")


def tail(text: str, lines: int = 12, chars: int = 2000) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])[-chars:]


def run_limited(cmd: list[str], limit: float, env: dict, log: Path, cwd: Path = ROOT) -> dict:
    """Run ``cmd`` (its own process group) for at most ``limit`` seconds; output to ``log``."""
    start = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            rc = proc.wait(timeout=max(1.0, limit))
            timed_out = False
        except subprocess.TimeoutExpired:
            _kill(proc)
            rc, timed_out = proc.returncode, True
    text = log.read_text(errors="replace")
    return {"rc": rc, "timed_out": timed_out, "seconds": round(time.perf_counter() - start, 1), "output": text}


def _kill(proc: subprocess.Popen) -> None:
    """Kill ``proc``, its process group (torchrun's and xdist's workers) and every descendant: a
    Jupyter kernel runs in a session of its own, so the group alone would leave it on the GPU."""
    try:
        import psutil

        children = psutil.Process(proc.pid).children(recursive=True)
    except Exception:  # noqa: BLE001 - psutil missing or the process gone: the group kill still runs
        children = []
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    for child in children:
        try:
            child.kill()
        except Exception:  # noqa: BLE001 - already gone
            pass
    proc.wait()


# ---------------------------------------------------------------- the check

class Check:
    def __init__(self, args):
        self.args = args
        self.out = Path(args.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.work = Path(args.work)
        self.work.mkdir(parents=True, exist_ok=True)
        self.began = time.perf_counter()
        self._tests = None
        self.log_file = open(self.out / "gpu_check.log", "a")
        self.env = dict(os.environ)
        path = [str(ROOT)] + ([p for p in self.env.get("PYTHONPATH", "").split(os.pathsep) if p])
        self.env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(path))  # the course itself, not installed there
        self.env.setdefault("PYTHONUNBUFFERED", "1")
        self.env.setdefault("CNNCOURSE_DOWNLOAD_TIMEOUT", "5")  # no network there: give up on CIFAR-10 fast
        if args.home:
            self.env["CNNCOURSE_HOME"] = str(Path(args.home).resolve())
        if args.dry_run:
            self.env["CNNCOURSE_DEVICE"] = "cpu"
            self.env["OMP_NUM_THREADS"] = "1"
        import torch

        cuda = torch.cuda.is_available() and not args.dry_run
        self.result = {
            "schema": 1, "dry_run": args.dry_run,
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "device": torch.cuda.get_device_name(0) if cuda else f"cpu ({platform.machine()}, {os.cpu_count()} cores)",
            "torch": torch.__version__, "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version() if cuda else None,
            "python": platform.python_version(), "cpu_cores": os.cpu_count(), "profile": args.profile,
            "budget_s": args.budget, "steps": {}, "chapters": {}, "failures": [],
        }
        if cuda:
            free, total = torch.cuda.mem_get_info(0)
            self.result["gpu_memory_gib"] = round(total / 2**30, 1)
        self.save()

    # -- bookkeeping
    def left(self) -> float:
        return self.args.budget - (time.perf_counter() - self.began)

    def say(self, text: str) -> None:
        print(text, flush=True)
        self.log_file.write(text + "\n")
        self.log_file.flush()

    def save(self) -> None:
        self.result["total_s"] = round(time.perf_counter() - self.began, 1)
        tmp = self.out / "gpu.json.tmp"
        tmp.write_text(json.dumps(self.result, indent=1, ensure_ascii=False, default=str) + "\n")
        os.replace(tmp, self.out / "gpu.json")

    def fail(self, step: str, message: str) -> None:
        self.result["failures"].append(f"{step}: {message}"[:1000])

    def limit(self, step: str) -> float:
        limits = DRY_LIMITS if self.args.dry_run else DEFAULT_LIMITS
        return max(5.0, min(limits.get(step, 60), self.left() - self.args.reserve))

    def step(self, name: str, fn) -> None:
        if name not in self.args.steps:
            return
        if self.left() - self.args.reserve < 10 and not (name == "tests" and self._tests is not None):
            self.result["steps"][name] = {"status": "skipped", "why": "no time left in the budget"}
            self.fail(name, "skipped: no time left in the budget")
            self.save()
            return
        self.say(f"== {name} ({self.left():.0f} s of the budget left)")
        start = time.perf_counter()
        record = {"status": "failed"}
        try:
            record = fn() or {}
        except Exception as err:  # noqa: BLE001 - one failing step must not stop the others
            import traceback

            record = {"status": "failed", "error": f"{type(err).__name__}: {err}",
                      "traceback_tail": traceback.format_exc().strip().splitlines()[-6:]}
        record["seconds"] = round(time.perf_counter() - start, 1)
        record.setdefault("status", "ok")
        if record["status"] not in ("ok", "skipped") and not any(f.startswith(name + ":") for f in self.result["failures"]):
            self.fail(name, record.get("error") or record["status"])
        self.result["steps"][name] = record
        self.say(f"   {name}: {record['status']} in {record['seconds']} s")
        self.save()

    # -- 1. install
    def install(self) -> dict:
        missing = missing_modules()
        if not missing:
            return {"status": "skipped", "why": "every needed module imports already", "modules": list(NEEDED_MODULES)}
        wheels = sorted(Path(self.args.wheels).glob("*.whl"))
        if not wheels:
            return {"status": "failed", "error": f"missing {missing} and no wheels in {self.args.wheels}"}
        site = Path(self.args.site)
        cmd = [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-index",
               "--find-links", str(self.args.wheels), "--no-deps", "--no-compile", "--no-cache-dir", "--upgrade",
               "--target", str(site), *map(str, wheels)]
        run = run_limited(cmd, self.limit("install"), self.env, self.out / "install.log")
        if run["rc"] == 0:
            # The children (pytest, papermill, kernels, torchrun) find them through PYTHONPATH; this
            # process too, for the import check below. The course's own folder stays first.
            parts = [str(ROOT), str(site)] + [p for p in self.env["PYTHONPATH"].split(os.pathsep) if p]
            self.env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(parts))
            sys.path.insert(1, str(site))
            importlib.invalidate_caches()
        check = subprocess.run([sys.executable, "-c", "import " + ", ".join(NEEDED_MODULES)], env=self.env,
                               capture_output=True, text=True, timeout=120)
        status = "ok" if run["rc"] == 0 and check.returncode == 0 else "failed"
        return {"status": status, "missing_before": missing, "wheels": len(wheels), "site": str(site),
                "pip_rc": run["rc"], "timed_out": run["timed_out"], "import_check": tail(check.stderr) or "ok",
                **({"error": tail(run["output"] + check.stderr, 6)} if status != "ok" else {})}

    # -- 2. throughput
    def throughput(self) -> dict:
        path = self.work / "throughput.json"
        path.unlink(missing_ok=True)
        limit = self.limit("throughput")
        cmd = [sys.executable, str(ROOT / "benchmarks" / "gpu_throughput.py"), "--json", str(path),
               "--deadline", str(max(5, limit - 45))]  # leave the last (compile) section time to finish
        if self.args.dry_run:
            cmd.append("--dry-run")
        run = run_limited(cmd, limit, self.env, self.work / "throughput.log")
        self.say(tail(run["output"], 20))
        got = json.loads(path.read_text()) if path.exists() else {}
        for f in got.get("failures", []):
            self.fail("throughput", f"{f.get('section')}: {f.get('error')}")
        self.result["images_per_second"] = {
            name: {mode: round(v["images_per_second"], 1) for mode, v in modes.items()}
            for name, modes in got.get("train_step", {}).items()}
        self.result["mfu"] = {name: {mode: v.get("mfu") for mode, v in modes.items()}
                              for name, modes in got.get("train_step", {}).items()}
        self.result["fit_images_per_second"] = {k: v.get("images_per_second") for k, v in got.get("fit", {}).items()}
        digits = got.get("fit", {}).get("digits", {})
        self.result["time_to_val_acc_0.99_s"] = digits.get("time_to_target_s")
        self.result["throughput"] = got
        status = "ok" if run["rc"] == 0 and not got.get("failures") else ("timeout" if run["timed_out"] else "failed")
        return {"status": status, "rc": run["rc"], "timed_out": run["timed_out"],
                **({"error": tail(run["output"], 6)} if status != "ok" and not got.get("failures") else {})}

    # -- 3. torchrun
    def torchrun(self) -> dict:
        backend = "gloo" if self.args.dry_run else "nccl"
        epochs = "1" if self.args.dry_run else "3"
        size = ["--train-size", "300", "--test-size", "200", "--batch-size", "32"] if self.args.dry_run else []
        launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=1"]
        ckpt = self.work / "torchrun.pt"
        ckpt.unlink(missing_ok=True)
        capstone = launcher + ["-m", "cnncourse.capstone", "--backend", backend, "--dataset", "mnist-offline",
                               "--epochs", epochs, "--patience", "0", *size, "--checkpoint", str(ckpt)]
        record = {}
        limit = self.limit("torchrun")
        run = run_limited(capstone, limit * 0.5, self.env, self.work / "torchrun.log")
        acc = re.search(r"capstone: test accuracy ([\d.]+)", run["output"])
        procs = re.search(r"capstone: (\d+) process\(es\) on (.*?), precision (.*?), global batch", run["output"])
        record["capstone"] = {"command": " ".join(capstone[1:]), "rc": run["rc"], "timed_out": run["timed_out"],
                              "seconds": run["seconds"], "test_acc": float(acc.group(1)) if acc else None,
                              "processes": int(procs.group(1)) if procs else None,
                              "device": procs.group(2) if procs else None, "precision": procs.group(3) if procs else None,
                              "checkpoint_written": ckpt.exists(),
                              "note": "capstone.main starts a process group only when WORLD_SIZE > 1: with one "
                                      "process it runs without one (the probe below exercises the backend)"}
        ok_capstone = run["rc"] == 0 and acc is not None and ckpt.exists()
        if not ok_capstone:
            self.fail("torchrun", "capstone under torchrun: " + tail(run["output"], 4))
        steps = "4" if self.args.dry_run else "30"
        probe = launcher + [str(ROOT / "benchmarks" / "gpu_ddp_probe.py"), "--backend", backend, "--steps", steps]
        run = run_limited(probe, max(5.0, min(limit * 0.5, self.left() - self.args.reserve)), self.env,
                          self.work / "ddp_probe.log")
        got = re.search(r"^ddp_probe_json: (.*)$", run["output"], re.MULTILINE)
        record["ddp_probe"] = {"rc": run["rc"], "timed_out": run["timed_out"], "seconds": run["seconds"],
                               **(json.loads(got.group(1)) if got else {"error": tail(run["output"], 6)})}
        ok_probe = run["rc"] == 0 and record["ddp_probe"].get("ok") is True
        if not ok_probe:
            self.fail("torchrun", "ddp probe: " + tail(run["output"], 4))
        record["backend"] = backend
        record["status"] = "ok" if ok_capstone and ok_probe else "failed"
        return record

    # -- 4. unit tests
    def start_tests(self) -> dict:
        """Start pytest in the background (its own process group); :meth:`finish_tests` collects it."""
        xml = self.out / "pytest.xml"
        xml.unlink(missing_ok=True)
        env = dict(self.env, CNNCOURSE_PROFILE="smoke")
        env["OMP_NUM_THREADS"] = "1" if self.args.dry_run or self.args.overlap else env.get("OMP_NUM_THREADS", "2")
        cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rfE", "--junitxml", str(xml)]
        if self.args.pytest_jobs > 0:
            cmd += ["-n", str(self.args.pytest_jobs), "--dist", "loadfile"]
        if self.args.pytest_k:
            cmd += ["-k", self.args.pytest_k]
        cmd += self.args.pytest_paths or ["tests"]
        log = open(self.out / "pytest.log", "w")
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        return {"proc": proc, "cmd": cmd, "log": log, "xml": xml, "start": time.perf_counter()}

    def finish_tests(self, handle: dict, limit: float) -> dict:
        proc = handle["proc"]
        try:
            proc.wait(timeout=max(1.0, limit))
            timed_out = False
        except subprocess.TimeoutExpired:
            _kill(proc)
            timed_out = True
        handle["log"].close()
        output = (self.out / "pytest.log").read_text(errors="replace")
        record = {"command": " ".join(handle["cmd"][1:]), "rc": proc.returncode, "timed_out": timed_out,
                  "overlapped_with_notebooks": self.args.overlap,
                  "pytest_seconds": round(time.perf_counter() - handle["start"], 1)}
        if handle["xml"].exists():
            record.update(junit_summary(handle["xml"]))
        record["summary"] = pytest_summary(output) if not timed_out else "timeout: " + pytest_summary(output)
        for f in record.get("failed", []):
            self.fail("tests", f"{f['test']}: {f['message']}")
        record["status"] = "ok" if proc.returncode == 0 else ("timeout" if timed_out else "failed")
        return record

    def tests(self) -> dict:
        handle = self._tests if self._tests is not None else self.start_tests()
        self._tests = None
        limit = self.limit("tests") if not self.args.overlap else max(5.0, self.left() - self.args.reserve)
        return self.finish_tests(handle, limit)

    # -- 5. notebooks
    def notebooks(self) -> dict:
        sys.path.insert(0, str(ROOT))
        os.environ.update({k: v for k, v in self.env.items() if k.startswith("CNNCOURSE_")})
        from cnncourse import claims

        folder = ROOT / "notebooks"
        chosen = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
        if self.args.notebooks:
            wanted = [s.strip() for s in self.args.notebooks.split(",") if s.strip()]
            chosen = [p for p in chosen if p.stem in wanted or p.name in wanted or p.stem[:2] in wanted]
        timings_file = folder / "timings.json"
        order = chapter_order(chosen, json.loads(timings_file.read_text()) if timings_file.exists() else None)
        executed = self.work / "executed"
        executed.mkdir(exist_ok=True)
        jobs = max(1, self.args.nb_jobs)
        env = dict(self.env, CNNCOURSE_PROFILE=self.args.profile)
        if not self.args.dry_run:
            spare = (os.cpu_count() or 2) - (self.args.pytest_jobs if self.args.overlap else 0)
            env["OMP_NUM_THREADS"] = str(max(1, spare // jobs))
        deadline = time.perf_counter() + max(5.0, self.left() - self.args.reserve)
        pending, running, start_all = list(order), {}, time.perf_counter()
        while pending or running:
            while pending and len(running) < jobs and time.perf_counter() < deadline - 5:
                nb = pending.pop(0)
                ledger = claims.ledger_path(nb.stem)
                ledger.unlink(missing_ok=True)  # a chapter that fails early must not report older verdicts
                cmd = [sys.executable, "-m", "papermill", str(nb), str(executed / nb.name), "-p", "PROFILE",
                       self.args.profile, "--cwd", str(folder), "--no-progress-bar", "--execution-timeout",
                       str(int(self.args.cell_timeout))]
                log = open(self.work / f"{nb.stem}.log", "w")
                proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
                running[nb] = (proc, time.perf_counter(), log)
                self.say(f"   start {nb.name}")
            for nb, (proc, began, log) in list(running.items()):
                late = time.perf_counter() > deadline
                if proc.poll() is None and not late:
                    continue
                if late and proc.poll() is None:
                    _kill(proc)
                log.close()
                del running[nb]
                self._chapter_done(nb, proc.returncode, time.perf_counter() - began, late, executed / nb.name, claims)
            time.sleep(0.2)
        for nb in pending:
            self.result["chapters"][nb.stem] = {"status": "not started", "seconds": None}
            self.fail("notebooks", f"{nb.name}: not started (no time left)")
        chapters = self.result["chapters"]
        finished = [c for c in chapters.values() if c.get("status") == "ok"]
        record = {"profile": self.args.profile, "jobs": jobs, "wall_seconds": round(time.perf_counter() - start_all, 1),
                  "chapters": len(order), "ok": len(finished),
                  "chapter_seconds_sum": round(sum(c["seconds"] or 0 for c in chapters.values()), 1)}
        self.result["course_wall_s"] = record["wall_seconds"]
        record["status"] = "ok" if len(finished) == len(order) else "failed"
        return record

    def _chapter_done(self, nb: Path, rc: int, seconds: float, killed: bool, executed: Path, claims) -> None:
        entry = {"seconds": round(seconds, 1), "rc": rc,
                 "status": "timeout" if killed else ("ok" if rc == 0 else "failed")}
        if executed.exists():
            try:
                doc = json.loads(executed.read_text())
                entry["key_numbers"] = key_numbers_of(doc)
                entry["cells_done"], entry["cells"] = cells_done(doc)
            except (OSError, json.JSONDecodeError) as err:
                entry["executed_unreadable"] = str(err)
        ledger = claims.ledger_path(nb.stem)
        if ledger.exists():
            try:
                entry["claims"] = verdicts_of(json.loads(ledger.read_text()))
            except (OSError, json.JSONDecodeError) as err:
                entry["claims_unreadable"] = str(err)
        if entry["status"] != "ok":
            text = (self.work / f"{nb.stem}.log").read_text(errors="replace")
            errors = [line for line in text.splitlines() if re.search(r"Error|Exception|Traceback", line)]
            entry["error"] = tail("\n".join(errors[-4:]) or text, 6, 1200)
            self.fail("notebooks", f"{nb.name}: {entry['status']}: {entry['error'].splitlines()[-1] if entry['error'] else ''}")
        self.result["chapters"][nb.stem] = entry
        self.say(f"   {nb.name}: {entry['status']} in {entry['seconds']} s"
                 + (f", {len(entry.get('claims', []))} claim(s)" if entry.get("claims") else ""))
        self.save()

    def run(self) -> dict:
        self._tests = None
        for name, fn in (("install", self.install), ("throughput", self.throughput), ("torchrun", self.torchrun)):
            self.step(name, fn)
        if self.args.overlap and "tests" in self.args.steps and "notebooks" in self.args.steps:
            # the unit tests on spare cores while the chapters run: both fit the budget this way
            self.say("== tests (started in the background, beside the notebooks)")
            self._tests = self.start_tests()
            self.step("notebooks", self.notebooks)
            self.step("tests", self.tests)
        else:
            self.args.overlap = False
            self.step("tests", self.tests)
            self.step("notebooks", self.notebooks)
        self.save()
        self.log_file.close()
        return self.result


def verdict(result: dict) -> str:
    speeds = result.get("images_per_second", {})
    parts = []
    for name, modes in speeds.items():
        if modes:
            mode = max(modes, key=modes.get)
            share = (result.get("mfu", {}).get(name, {}).get(mode) or 0) * 100
            parts.append(f"{name} {modes[mode]:.0f} images/s ({mode}, MFU {share:.2f} %)")
    speed = ", ".join(parts) or "no throughput"
    chapters = result.get("chapters", {})
    ok = sum(1 for c in chapters.values() if c.get("status") == "ok")
    course = result.get("course_wall_s")
    tests = result.get("steps", {}).get("tests", {})
    ttt = result.get("time_to_val_acc_0.99_s")
    return (f"gpu_check: {result['device']}{' (dry run)' if result['dry_run'] else ''}: {ok}/{len(chapters)} chapters "
            f"ok in {course if course is not None else '-'} s ({result['profile']}); tests {tests.get('summary', '-')}; "
            f"{speed}; {'%.1f s' % ttt if ttt is not None else 'never'} to val_acc 0.99; "
            f"{len(result['failures'])} failure(s); {result['total_s']} s")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dry-run", action="store_true", help="rehearse on the CPU: smoke profile, tiny sizes, gloo")
    p.add_argument("--out", default=os.environ.get("OUT") or "/tmp/gpu_check/out", help="where gpu.json goes ($OUT)")
    p.add_argument("--work", default=None, help="scratch folder (executed notebooks, logs); default /tmp/gpu_check/work")
    p.add_argument("--budget", type=float, default=None, help="seconds for everything (470; dry run 240)")
    p.add_argument("--reserve", type=float, default=8, help="seconds kept back for writing the results")
    p.add_argument("--steps", default=",".join(STEPS), help=f"comma list of {', '.join(STEPS)}")
    p.add_argument("--wheels", default=str(ROOT / "wheelhouse"))
    p.add_argument("--site", default="/tmp/gpu_check/site", help="where the carried wheels are installed")
    p.add_argument("--home", default=None, help="$CNNCOURSE_HOME for the run (default: the checkout)")
    p.add_argument("--profile", default=None, help="the chapters' profile (gpu; dry run smoke)")
    p.add_argument("--notebooks", default=None, help="comma list of chapter stems or numbers (default: all; dry run 01,04)")
    p.add_argument("--nb-jobs", type=int, default=None, help="chapters at a time (6 on the GPU machine; dry run 1)")
    p.add_argument("--cell-timeout", type=float, default=300, help="papermill's seconds per cell")
    p.add_argument("--pytest-jobs", type=int, default=None, help="pytest -n (4; dry run 0: no xdist)")
    p.add_argument("--no-overlap", dest="overlap", action="store_false",
                   help="run the unit tests before the notebooks instead of beside them")
    p.add_argument("--pytest-k", default=None, help="pytest -k filter (dry run: a few device tests)")
    p.add_argument("--pytest-paths", nargs="*", default=None, help="test files (default tests/)")
    return p


def main(argv: list[str] | None = None) -> dict | None:
    args = build_parser().parse_args(argv)
    import torch

    if not args.dry_run and not torch.cuda.is_available():
        print("gpu_check: skipped: torch sees no CUDA GPU here (run `bash benchmarks/gpu_check.sh --dry-run` "
              "to rehearse it on the CPU)")
        return None
    dry = args.dry_run
    args.steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    unknown = set(args.steps) - set(STEPS)
    if unknown:
        raise SystemExit(f"gpu_check: unknown step(s) {sorted(unknown)}; use {', '.join(STEPS)}")
    args.budget = args.budget if args.budget is not None else (240 if dry else 470)
    args.profile = args.profile or ("smoke" if dry else "gpu")
    args.work = args.work or str(Path(args.out).parent / "gpu_check_work" if dry else "/tmp/gpu_check/work")
    if dry and args.notebooks is None:
        args.notebooks = "01,04"
    if dry and args.home is None:  # leave the checkout's outputs/claims alone
        args.home = str(Path(args.out).parent / "gpu_check_home")
    args.nb_jobs = args.nb_jobs if args.nb_jobs is not None else (1 if dry else 6)
    args.pytest_jobs = args.pytest_jobs if args.pytest_jobs is not None else (0 if dry else 4)
    if dry and args.pytest_k is None and args.pytest_paths is None:
        args.pytest_paths = ["tests/test_runtime.py", "tests/test_interpret.py", "tests/test_train.py"]
        args.pytest_k = "cuda or device or precision"
    result = Check(args).run()
    print(verdict(result))
    return result


if __name__ == "__main__":
    main()
