"""Short runs of every built-in algorithm whose outputs must not change across refactors.

``python tests/regression_runs.py`` records the digests of these runs in
``tests/data/regression_digests.json``; ``tests/test_regression.py`` runs them
again and compares. A digest is taken per column of each output table (the
evaluation log, every archive, the emitter log) and per field of the training
reports, so a later version may add columns without breaking the comparison,
but no recorded value may change by a single bit.

Bits are a CPU's: float arithmetic of NumPy, numba and torch may round
differently on another CPU (learned-space runs use one torch thread). The
digests were recorded on an x86-64 CPU with AVX2 and no AVX-512 (AMD EPYC); on a
CPU with AVX-512 the runs' processes are pinned to the AVX2 kernels
(:func:`kernel_environment`), which give the recorded bits on an AVX-512 AMD
EPYC but not on every CPU (an Intel Xeon with AVX512-FP16 differs in every
learned-space case). So a case whose digests differ here is run again with the
*reference source*, the source of the commit that last wrote the digests file
(:func:`reference_commit`, taken from the clone's history with ``git archive``),
on this machine, with the dependencies installed here: if the reference source
gives this machine's digests too, the difference is the CPU's, not the code's;
if it does not, the code changed a result. Re-record (``python
tests/regression_runs.py``, or ``--missing`` for new cases only) only for a
change that is meant to alter results, in the same commit as that change, and
say so: that commit then becomes the reference.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

DIGESTS = Path(__file__).parent / "data" / "regression_digests.json"

TASKS = ("point", "arm", "curling")
ALGORITHMS = (
    "ns",
    "serene",
    "taxons",
    "taxons-p",
    "taxo-n",
    "taxo-s",
    "taxons-nt",
    "stax",
    "stax-p",
    "random",
)
LEARNED = {"taxons", "taxons-p", "taxo-n", "taxo-s", "taxons-nt", "stax", "stax-p"}
BUDGET = 1500
# Seeds under which SERENE and STAX find a reward within the budget, so emitters run.
SEEDS = {("point", False): 1, ("point", True): 1, ("arm", False): 0, ("arm", True): 0}
SEEDS |= {("curling", False): 2, ("curling", True): 0}
# Extra cases, named "<task>/<algorithm>+<variant>": other emitter and scheduler kinds,
# and another learned space (the other cases pin the paper's, whatever the default).
VARIANTS = {
    "cma": {"exploitation": {"emitter": "cma-es", "scheduler": "ucb"}},
    "weighted": {"learned_space": {"encoder": "weighted"}},
}
EXTRA_CASES = ("point/serene+cma", "arm/stax+cma", "arm/stax+weighted", "curling/stax+weighted")
# The comparison set (issue 18), on the two fastest tasks.
BASELINES = ("nslc", "nsga-ii", "map-elites", "cma-me", "cma-es", "dns")
BASELINE_TASKS = ("point", "arm")


def cases() -> list[str]:
    """Every case name: ``<task>/<algorithm>[+<variant>]``."""
    return (
        [f"{t}/{a}" for t in TASKS for a in ALGORITHMS]
        + list(EXTRA_CASES)
        + [f"{t}/{a}" for t in BASELINE_TASKS for a in BASELINES]
    )


def case_config(case: str, out: Path) -> dict:
    """A small config that still trains (exploration chunks 1 and 3) and runs emitters."""
    task, _, rest = case.partition("/")
    algorithm, _, variant = rest.partition("+")
    config = {
        "task": task,
        "algorithm": algorithm,
        "budget": BUDGET,
        "seed": SEEDS[task, algorithm in LEARNED],
        "out": str(out),
        "metrics_every": 100,
        "checkpoint_every": 0,
        "novelty_search": {"population_size": 10, "offspring_per_parent": 2, "k": 5},
        "random_search": {"batch_size": 50},
        "map_elites": {"grid": 10, "batch_size": 50},
        "cma_me": {"grid": 10, "emitters": 3, "initial_batch": 30},
        "cma_es": {"patience": 20},
        "dns": {"population_size": 60, "batch_size": 30},
        "exploitation": {
            "chunk_size": 200,
            "emitter_population": 4,
            "trial_generations": 2,
            **VARIANTS.get(variant, {}).get("exploitation", {}),
        },
        "learned_space": {
            "latent_size": 4,
            "max_epochs": 2,
            "patience": 1,
            "max_training_frames": 120,
            "batch_size": 32,
            "threads": 1,
            "encoder": "paper",
            **VARIANTS.get(variant, {}).get("learned_space", {}),
        },
    }
    if algorithm in LEARNED:
        config["frames"] = 1
    return config


# On an AVX-512 CPU, NumPy's SIMD loops, OpenBLAS and torch (ATen and oneDNN) take
# AVX-512 kernels whose float results differ in the last bits from the AVX2 ones
# the digests were recorded with. These variables make each library take its AVX2
# kernels; with them an AVX-512 AMD EPYC gives every recorded digest. They are set
# for the regression runs' own processes only: under ATEN_CPU_CAPABILITY below the
# CPU's, torch.compile's code computes garbage (latents off by 1e31, measured), and
# no regression case compiles.
AVX2_KERNELS = {
    "ATEN_CPU_CAPABILITY": "avx2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "OPENBLAS_CORETYPE": "Haswell",
    "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",
}


def kernel_environment() -> dict[str, str]:
    """The variables that pin this CPU to the recording CPU's kernels: none without AVX-512."""
    import torch

    return dict(AVX2_KERNELS) if torch.backends.cpu.get_cpu_capability() == "AVX512" else {}


def _column_digest(values: np.ndarray) -> str:
    if values.dtype == object:
        text = "\x1f".join("<null>" if v is None else repr(v) for v in values.tolist())
        return hashlib.sha256(text.encode()).hexdigest()[:16]
    array = np.ascontiguousarray(values)
    header = f"{array.dtype.str}{array.shape}".encode()
    return hashlib.sha256(header + array.tobytes()).hexdigest()[:16]


def _table_digests(frame: pd.DataFrame) -> dict[str, str]:
    out = {}
    for name in frame.columns:
        column = frame[name]
        if column.dtype == object and len(column) and isinstance(column.iloc[0], np.ndarray):
            column = column.map(lambda v: np.asarray(v).tolist())
        out[str(name)] = _column_digest(column.to_numpy())
    return out


def run_digests(run_dir: Path) -> dict[str, dict[str, str]]:
    """Per-table, per-column digests of a finished run directory."""
    from serendip.experiment.evaluation_log import read_evaluations

    digests: dict[str, dict[str, str]] = {"evaluations": _table_digests(read_evaluations(run_dir))}
    for path in sorted((run_dir / "archives").glob("*.parquet")):
        digests[f"archives/{path.stem}"] = _table_digests(pq.read_table(path).to_pandas())
    if (run_dir / "emitters.parquet").exists():
        digests["emitters"] = _table_digests(
            pq.read_table(run_dir / "emitters.parquet").to_pandas()
        )
    trainings = run_dir / "autoencoder" / "trainings.jsonl"
    if trainings.exists():
        reports = [json.loads(line) for line in trainings.read_text().splitlines()]
        keys = [k for k in reports[0] if k != "seconds"] if reports else []
        digests["trainings"] = {
            k: hashlib.sha256(json.dumps([r.get(k) for r in reports]).encode()).hexdigest()[:16]
            for k in keys
        }
    return digests


def _prefer_source(source: str) -> None:
    """A pool worker's initializer: import ``serendip`` from ``source`` (a ``src`` folder)."""
    sys.path.insert(0, source)


def run_case(case: str, root: str) -> tuple[dict[str, dict[str, str]], str]:
    """Run one case under ``root``: its digests, and the folder serendip was imported from."""
    import serendip

    out = Path(root) / case.replace("/", "-")
    serendip.run(serendip.RunConfig.from_dict(case_config(case, out)), progress=False)
    return run_digests(out), str(Path(serendip.__file__).resolve().parent)


def run_all(
    root: str, names: list[str], source: Path | None = None
) -> dict[str, dict[str, dict[str, str]]]:
    """Digests of ``names``, two runs at a time in spawned processes (one per core here).

    The processes start with :func:`kernel_environment`'s variables, read by each
    library when it loads, and import serendip from ``source`` (a ``src`` folder)
    when it is given, else from the installed package.

    Raises:
        RuntimeError: a run given ``source`` imported serendip from elsewhere.
    """
    import multiprocessing
    from functools import partial

    from serendip.evaluation.processes import child_environment

    pool_options = {}
    if source is not None:
        pool_options = {"initializer": _prefer_source, "initargs": (str(source),)}
    with (
        child_environment(kernel_environment()),
        multiprocessing.get_context("spawn").Pool(2, **pool_options) as pool,
    ):
        results = pool.map(partial(run_case, root=root), names, chunksize=1)
    if source is not None:
        wanted = Path(source).resolve() / "serendip"
        strays = {folder for _, folder in results if Path(folder) != wanted}
        if strays:
            raise RuntimeError(f"runs meant to use {wanted} imported serendip from {strays}")
    return {name: digests for name, (digests, _) in zip(names, results, strict=True)}


def changed_columns(
    recorded: dict[str, dict[str, dict[str, str]]], now: dict[str, dict[str, dict[str, str]]]
) -> dict[str, list[str]]:
    """Per case, the recorded ``table.column`` entries whose digest ``now`` does not give."""
    changed: dict[str, list[str]] = {}
    for case, tables in recorded.items():
        for table, columns in tables.items():
            for column, digest in columns.items():
                if now.get(case, {}).get(table, {}).get(column) != digest:
                    changed.setdefault(case, []).append(f"{table}.{column}")
    return changed


def reference_commit(repo: Path) -> tuple[str | None, str]:
    """The commit that last wrote the digests file, or None and why it cannot be known.

    A commit that changes results re-records the digests in the same commit, so
    this commit's source gives every recorded digest on the CPU it was recorded on
    and, on any other CPU, whatever that CPU makes of the same code. Unknown in a
    shallow clone (its oldest commit would pass for the one that wrote the file),
    outside a git clone, and while the digests file has uncommitted changes.
    """

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        if git("rev-parse", "--is-shallow-repository") == "true":
            return None, "this is a shallow clone (git fetch --unshallow gives the history)"
        if git("status", "--porcelain", "--", str(DIGESTS)):
            return None, f"{DIGESTS.name} has uncommitted changes"
        found = git("log", "-1", "--format=%H", "--", str(DIGESTS))
    except (OSError, subprocess.CalledProcessError) as error:
        return None, f"no git history to read ({error})"
    return (found, "") if found else (None, f"no commit holds {DIGESTS.name}")


def extract_source(repo: Path, commit: str, dest: Path) -> Path:
    """Write ``commit``'s ``src`` folder under ``dest`` (``git archive``) and return it."""
    dest.mkdir(parents=True, exist_ok=True)
    archive = dest / "source.tar"
    with archive.open("wb") as out:
        subprocess.run(
            ["git", "-C", str(repo), "archive", "--format=tar", commit, "src"],
            stdout=out,
            check=True,
        )
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")
    archive.unlink()
    return dest / "src"


def main() -> None:
    """Record every case, or (``--missing``) only the cases without a recorded digest yet."""
    import tempfile

    recorded = {}
    names = cases()
    if "--missing" in sys.argv[1:]:
        recorded = json.loads(DIGESTS.read_text())
        names = [case for case in names if case not in recorded]
    with tempfile.TemporaryDirectory() as tmp:
        results = recorded | run_all(tmp, names)
    print(f"{len(names)} cases recorded, {len(results)} in all", file=sys.stderr)
    DIGESTS.parent.mkdir(exist_ok=True)
    DIGESTS.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
