"""No code from data: what tfvision's own source may and may not call.

The behaviour is tested where it lives (a Lambda `.keras` file refused in
`test_classifier_reliability.py`, paths escaping their root in the manifest and
annotation tests, DTDs in `test_voc_xml_detection.py`); this test reads every
module of the package and fails on a call that would run code from a file.
"""

import ast
import pathlib

import numpy as np
import pytest

import tfvision

PACKAGE = pathlib.Path(tfvision.__file__).parent
UNSAFE_MODULES = {"pickle", "cPickle", "dill", "shelve", "marshal", "cloudpickle", "joblib"}


def modules():
    return sorted(PACKAGE.rglob("*.py"))


def call_name(node):
    """`a.b.c` of a call's function, or `None`."""
    parts, target = [], node.func
    while isinstance(target, ast.Attribute):
        parts.append(target.attr)
        target = target.value
    if isinstance(target, ast.Name):
        parts.append(target.id)
        return ".".join(reversed(parts))
    return None


def keyword(node, name):
    return next((k.value for k in node.keywords if k.arg == name), None)


def findings(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        where = f"{path.name}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            found += [f"{where} imports {a.name}" for a in node.names
                      if a.name.split(".")[0] in UNSAFE_MODULES]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in UNSAFE_MODULES:
            found.append(f"{where} imports from {node.module}")
        elif isinstance(node, ast.Call):
            name = call_name(node) or ""
            if name in ("eval", "exec", "compile", "__import__"):
                found.append(f"{where} calls {name}")
            if name.endswith("yaml.load") or name.endswith("unsafe_load") or name.endswith(
                "yaml.full_load"
            ):
                found.append(f"{where} calls {name} (use yaml.safe_load)")
            if name.endswith("load_model"):
                safe = keyword(node, "safe_mode")
                if isinstance(safe, ast.Constant) and safe.value is False:
                    found.append(f"{where} loads a model with safe_mode=False")
            if name.split(".")[-1] in ("load", "loads"):
                allow = keyword(node, "allow_pickle")
                if isinstance(allow, ast.Constant) and allow.value is True:
                    found.append(f"{where} loads with allow_pickle=True")
    return found


def test_the_package_never_unpickles_evaluates_or_loads_unsafely():
    assert len(modules()) > 50  # the whole package is read
    problems = [problem for path in modules() for problem in findings(path)]
    assert problems == []


def test_the_checker_finds_what_it_looks_for(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import pickle\nimport yaml\nimport keras\nimport numpy as np\n"
        "eval('1')\nyaml.load(open('c.yaml'))\n"
        "keras.saving.load_model('m.keras', safe_mode=False)\n"
        "np.load('a.npz', allow_pickle=True)\n"
    )
    problems = findings(bad)
    assert len(problems) == 5, problems


def test_numpy_arrays_of_python_objects_are_refused(tmp_path):
    # What tfvision's `.npz` backups rely on: numpy's default refuses pickled arrays.
    path = tmp_path / "objects.npz"
    np.savez(path, value=np.array([{"code": "run me"}], dtype=object))
    with pytest.raises(ValueError, match="allow_pickle"):
        np.load(path)["value"]
