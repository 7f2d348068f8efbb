"""The claims' papermill notebooks: one tagged parameters cell each, figures drawn where ``figdir``
says, and the same bytes every time they are drawn from the same inputs."""

from __future__ import annotations

import ast
import os
import subprocess

import nbformat
import pytest
from conftest import BIN, ROOT

NOTEBOOK_DIR = ROOT / "workflow" / "notebooks"
CLAIMS = sorted(path.stem for path in NOTEBOOK_DIR.glob("*.ipynb"))
# What every <claim>_plot rule passes to papermill.
PARAMETERS = {"measured", "verdict", "figdir"}


def bound_names(source: str) -> set[str]:
    """Names a cell binds at the notebook's top level (assignments, loop and ``with`` targets,
    imports, defs), not those local to a function, class, lambda or comprehension."""
    names: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(child.name)
                continue
            if isinstance(
                child, ast.Lambda | ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp
            ):
                continue
            if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store | ast.Del):
                names.add(child.id)
            elif isinstance(child, ast.alias):
                names.add((child.asname or child.name).split(".")[0])
            visit(child)

    visit(ast.parse(source))
    return names


def parameter_problems(nb) -> list[str]:
    """What keeps papermill's injected parameters from reaching the rest of the notebook."""
    tagged = [i for i, cell in enumerate(nb.cells) if "parameters" in cell.metadata.get("tags", [])]
    if len(tagged) != 1:
        return [f"{len(tagged)} cells tagged 'parameters' (cells {tagged}), want exactly one"]
    cell = nb.cells[tagged[0]]
    if cell.cell_type != "code":
        return [f"the 'parameters' cell {tagged[0]} is a {cell.cell_type} cell"]
    problems = []
    if bound_names(cell.source) != PARAMETERS:
        problems.append(
            f"the parameters cell binds {sorted(bound_names(cell.source))}, want {sorted(PARAMETERS)}"
        )
    for i, other in enumerate(nb.cells):
        if i != tagged[0] and other.cell_type == "code":
            rebound = bound_names(other.source) & PARAMETERS
            if rebound:
                problems.append(
                    f"cell {i} re-assigns {sorted(rebound)}, overwriting papermill's values"
                )
    return problems


@pytest.mark.parametrize("claim", CLAIMS)
def test_notebook_has_one_tagged_parameters_cell(claim):
    nb = nbformat.read(NOTEBOOK_DIR / f"{claim}.ipynb", as_version=4)
    assert parameter_problems(nb) == []


def test_parameter_check_flags_an_untagged_copy():
    """The check catches what the periodic notebook once did: its parameters cell repeated untagged."""
    params = 'measured = "m.nc"\nverdict = "v.json"\nfigdir = "figures/x"'
    tagged = nbformat.v4.new_code_cell(params, metadata={"tags": ["parameters"]})
    nb = nbformat.v4.new_notebook(cells=[tagged, nbformat.v4.new_code_cell(params)])
    assert parameter_problems(nb) == [
        "cell 1 re-assigns ['figdir', 'measured', 'verdict'], overwriting papermill's values"
    ]
    nb.cells[1] = nbformat.v4.new_code_cell("for figdir in ['a']:\n    pass\nimport verdict")
    assert len(parameter_problems(nb)) == 1
    nb.cells[1] = nbformat.v4.new_code_cell(
        "def f(figdir):\n    verdict = 1\n[measured for measured in 'ab']"
    )
    assert parameter_problems(nb) == []
    nb.cells[1].metadata["tags"] = ["parameters"]
    assert parameter_problems(nb) == [
        "2 cells tagged 'parameters' (cells [0, 1]), want exactly one"
    ]


@pytest.mark.parametrize("claim", CLAIMS)
def test_notebook_saves_through_the_plot_helper(claim):
    """Every figure goes through paperclaims.plotting.save_figure (its timestamp-free metadata)."""
    nb = nbformat.read(NOTEBOOK_DIR / f"{claim}.ipynb", as_version=4)
    code = "\n".join(cell.source for cell in nb.cells if cell.cell_type == "code")
    assert "save_figure(" in code
    assert "savefig(" not in code


def draw(workdir, claim, base):
    """Run a claim's notebook with papermill on a finished run's results, as its plot rule does but
    with ``figdir`` set to a folder outside the default figures/<claim>. It runs in ``base/run``,
    which holds only results/<claim>/{measured.nc, verdict.json}, and on another day than the
    rule's drawing as far as a timestamp in a file could tell (``SOURCE_DATE_EPOCH``, which
    matplotlib uses for a PDF's CreationDate). Returns (run folder, figure folder)."""
    run, figdir = base / "run", base / "figures"
    results = run / "results" / claim
    results.mkdir(parents=True)
    for name in ("measured.nc", "verdict.json"):
        (results / name).symlink_to(workdir / "results" / claim / name)
    env = dict(os.environ, SOURCE_DATE_EPOCH="86400", PYTHONPATH=str(workdir / "workflow"))
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    proc = subprocess.run(
        [
            str(BIN / "papermill"),
            str(workdir / "workflow" / "notebooks" / f"{claim}.ipynb"),
            str(base / "executed.ipynb"),
            "-k",
            "python3",
            "--no-progress-bar",
            "-p",
            "measured",
            f"results/{claim}/measured.nc",
            "-p",
            "verdict",
            f"results/{claim}/verdict.json",
            "-p",
            "figdir",
            str(figdir),
        ],
        cwd=run,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, (
        f"papermill {claim} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    )
    return run, figdir


def listing(folder):
    """Names in a folder, sorted; [] if it does not exist."""
    return sorted(path.name for path in folder.iterdir()) if folder.is_dir() else []


@pytest.fixture(scope="module")
def drawings(smoke_run, tmp_path_factory):
    """claim → (folder the notebook ran in, its figure folder); each claim drawn once, when first
    asked for (one papermill run: ≈ 5 s on an idle 2-core machine)."""
    drawn = {}

    def drawing(claim):
        if claim not in drawn:
            drawn[claim] = draw(smoke_run, claim, tmp_path_factory.mktemp(f"draw_{claim}"))
        return drawn[claim]

    return drawing


@pytest.mark.parametrize("claim", CLAIMS)
def test_notebook_draws_into_the_given_figdir(claim, drawings, smoke_run):
    """Papermill's ``figdir`` reaches the notebook: every figure the rule declares lands there, and
    nothing is written to the default figures/<claim> (nor anywhere else in the run's folder)."""
    run, figdir = drawings(claim)
    assert not (run / "figures").exists(), (
        f"figures drawn into the default figures/{claim}: {listing(run / 'figures' / claim)}"
    )
    assert listing(run) == ["results"]
    declared = listing(smoke_run / "figures" / claim)  # what the plot rule drew
    stems = {name.rsplit(".", 1)[0] for name in declared}
    assert declared == sorted(f"{stem}.{ext}" for stem in stems for ext in ("png", "pdf"))
    assert listing(figdir) == declared


@pytest.mark.parametrize("claim", CLAIMS)
def test_notebook_figures_are_byte_stable(claim, drawings, smoke_run):
    """The same notebook drawn twice from the same inputs writes identical PNG and PDF bytes
    (seeded strip-plot jitter, no timestamps in the files): the smoke run's plot rule drew it
    once, in its own process, folder and time; the test draws it again."""
    _, figdir = drawings(claim)
    by_rule = smoke_run / "figures" / claim
    names = listing(figdir)
    assert names == listing(by_rule)
    assert any(name.endswith(".png") for name in names)
    assert any(name.endswith(".pdf") for name in names)
    differ = [
        name for name in names if (figdir / name).read_bytes() != (by_rule / name).read_bytes()
    ]
    assert differ == [], f"{claim}: drawn twice from the same inputs, these files differ: {differ}"
