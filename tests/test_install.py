"""conf/ sits at the repository root and ships as the package bon.conf (pyproject.toml maps it). Both installs find it
from any folder: a wheel (``pip install .``) and an editable checkout (``pip install -e .``, what ``make install``
does). Each test installs a copy of the checkout into a new venv that borrows this interpreter's dependencies (no
torch or vllm install) and runs ``bon-run`` from a folder outside both.
"""
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("bon", "conf", "pyproject.toml", "requirements.txt", "README.md")  # what a build reads


def copy_checkout(dest: Path) -> Path:
    """The files a build reads, copied: an in-tree build would leave build/ and *.egg-info in the checkout."""
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(ROOT / name, dest / name)
    return dest


def venv_with_our_deps(path: Path) -> tuple[Path, Path]:
    """A new venv whose path ends with this interpreter's site-packages folders. A path line in a .pth file does not
    run that folder's own .pth files, so an editable bon installed there (its import finder) stays out.

    Returns:
        The venv's python and its site-packages folder.
    """
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True, timeout=120)
    python = path / "bin" / "python"
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(subprocess.check_output([str(python), "-c", purelib], text=True).strip())
    deps = [p for p in sys.path if Path(p).name == "site-packages"]
    (site / "deps.pth").write_text("\n".join(deps) + "\n")
    return python, site


def pip_install(python: Path, *args: str) -> None:
    """Offline, no dependencies, with the build backend (setuptools) this interpreter already has."""
    r = subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index",
                        *args], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]


def run_from(folder: Path, *cmd) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # only what the venv itself imports
    return subprocess.run([str(c) for c in cmd], cwd=folder, capture_output=True, text=True, env=env, timeout=300)


def where_bon_is(python: Path, folder: Path) -> tuple[str, str]:
    r = run_from(folder, python, "-c", "import bon, bon.conf; print(bon.__file__); print(bon.conf.__file__)")
    assert r.returncode == 0, r.stderr[-2000:]
    bon, conf = r.stdout.split()
    return bon, conf


def composes_the_demo(bon_run: Path, folder: Path, *extra: str) -> str:
    r = run_from(folder, bon_run, "--cfg", "job", "experiment=demo", *extra)
    assert r.returncode == 0, r.stderr[-2000:]
    assert re.search(r"^m: 8$", r.stdout, re.M) and re.search(r"^  max_new_tokens: 40$", r.stdout, re.M), r.stdout
    assert not (folder / "runs").exists() and not (folder / "outputs").exists()  # --cfg composes, runs nothing
    return r.stdout


def test_pyproject_lists_every_package_and_maps_conf():
    """A package left out of pyproject's explicit list would be missing from the wheel (conf/ is mapped, so
    packages.find cannot be used)."""
    setup = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    ours = {".".join(p.relative_to(ROOT).parts) for p in [ROOT / "bon", *(ROOT / "bon").rglob("*")]
            if p.is_dir() and p.name != "__pycache__" and any(p.glob("*.py"))}
    assert set(setup["packages"]) == ours | {"bon.conf"}, "pyproject.toml [tool.setuptools] packages"
    assert setup["package-dir"] == {"bon.conf": "conf"}
    assert (ROOT / "conf" / "__init__.py").is_file()  # Hydra's pkg:// needs a regular package
    assert not (ROOT / "bon" / "conf").exists()


def test_wheel_install_composes_from_another_folder(tmp_path):
    """``pip install .`` (not editable): the wheel holds every module, config and data file, and bon-run composes
    experiment=demo from a folder outside the checkout."""
    src = copy_checkout(tmp_path / "src")
    python, site = venv_with_our_deps(tmp_path / "venv")
    pip_install(python, str(src))
    shutil.rmtree(src)  # nothing may still be read from the copy it was built from
    away = tmp_path / "elsewhere"
    away.mkdir()

    bon, conf = where_bon_is(python, away)
    assert bon == str(site / "bon" / "__init__.py") and conf == str(site / "bon" / "conf" / "__init__.py")
    installed = {p.relative_to(site).as_posix() for p in (site / "bon").rglob("*") if p.is_file()}
    shipped = [p.relative_to(ROOT).as_posix() for p in (ROOT / "bon").rglob("*")
               if p.suffix in (".py", ".jsonl", ".js", ".css") and "__pycache__" not in p.parts]
    shipped += ["bon/" + p.relative_to(ROOT).as_posix() for p in (ROOT / "conf").rglob("*")
                if p.suffix in (".py", ".yaml") and "__pycache__" not in p.parts]
    missing = sorted(set(shipped) - installed)
    assert not missing, f"not installed: {missing}"

    bon_run = python.parent / "bon-run"
    composes_the_demo(bon_run, away)
    r = run_from(away, bon_run, "--help")
    assert r.returncode == 0 and re.search(r"experiment: .*paper_bon", r.stdout), r.stdout[-2000:] + r.stderr
    r = run_from(away, bon_run, "experiment=paper_bon", "hydra/launcher=slurm", "hydra.launcher.partition=gpu",
                 "--cfg", "hydra", "-p", "hydra.launcher")
    assert r.returncode == 0 and "partition: gpu" in r.stdout and "SlurmLauncher" in r.stdout, r.stderr[-2000:]


def test_editable_install_composes_from_another_folder(tmp_path):
    """``pip install -e .`` (make install): bon and bon.conf are the checkout's own folders, found from elsewhere,
    and an edit of conf/ shows in the next run without reinstalling."""
    src = copy_checkout(tmp_path / "src")
    python, _ = venv_with_our_deps(tmp_path / "venv")
    pip_install(python, "-e", str(src))
    away = tmp_path / "elsewhere"
    away.mkdir()

    assert where_bon_is(python, away) == (str(src / "bon" / "__init__.py"), str(src / "conf" / "__init__.py"))
    bon_run = python.parent / "bon-run"
    composes_the_demo(bon_run, away)
    demo = src / "conf" / "experiment" / "demo.yaml"
    demo.write_text(demo.read_text().replace("max_items: 8", "max_items: 3"))
    assert re.search(r"^  max_items: 3$", composes_the_demo(bon_run, away), re.M)
