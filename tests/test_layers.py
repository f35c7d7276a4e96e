"""The package's layers: a module imports only from its own layer or the ones below it.

Every module under `tfvision/` is parsed with `ast`; every import counts, at
any depth (inside a function too: a lazy import still runs back up when it
runs), and so does `importlib.import_module("tfvision....")`. CONTRIBUTING.md
describes the layers.
"""

import ast
import os
import subprocess
import sys

import tfvision

# Bottom to top. Same layer imports itself freely.
LAYERS = (
    ("ops",),
    ("losses", "metrics"),
    ("layers",),
    ("visualization",),  # matplotlib only
    ("data",),
    ("models",),
    ("training",),
    ("recipes",),
    ("export",),
    ("serving",),
    ("cli",),
)
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}
PACKAGE = os.path.dirname(tfvision.__file__)


def _modules():
    """`(dotted name, path)` of every module under `tfvision/`."""
    for folder, _, files in os.walk(PACKAGE):
        for file in sorted(files):
            if file.endswith(".py"):
                path = os.path.join(folder, file)
                parts = os.path.relpath(path, os.path.dirname(PACKAGE))[:-3].split(os.sep)
                if parts[-1] == "__init__":
                    parts = parts[:-1]
                yield ".".join(parts), path


def _imported(name, path):
    """Every `tfvision` module `name` imports, with the line, relative imports resolved."""
    tree = ast.parse(open(path, encoding="utf-8").read(), path)
    package = name if path.endswith("__init__.py") else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # `from tfvision import data` imports the subpackage `tfvision.data`.
            targets = [base] if base != "tfvision" else [f"tfvision.{a.name}" for a in node.names]
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant)):
            targets = [node.args[0].value]  # importlib.import_module("tfvision.…")
        else:
            continue
        for target in targets:
            if target == "tfvision" or target.startswith("tfvision."):
                yield target, node.lineno


def _layer(module):
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def test_every_subpackage_has_a_layer():
    subpackages = {entry for entry in os.listdir(PACKAGE)
                   if os.path.isfile(os.path.join(PACKAGE, entry, "__init__.py"))}
    assert subpackages == set(RANK)


def test_no_module_imports_a_higher_layer():
    violations = []
    for name, path in _modules():
        layer = _layer(name)
        if layer is None:  # `tfvision/__init__.py`: the version only
            continue
        for target, line in _imported(name, path):
            target_layer = _layer(target)
            if target_layer is not None and RANK[target_layer] > RANK[layer]:
                violations.append(f"{os.path.relpath(path, os.path.dirname(PACKAGE))}:{line} "
                                  f"({layer}) imports {target} ({target_layer})")
    assert not violations, "Imports that run up the layers:\n" + "\n".join(violations)


def test_importing_the_models_brings_no_data_plotting_or_recipe_code():
    # Keras itself imports matplotlib: count what `tfvision.models` adds to it.
    script = (
        "import sys, keras, tensorflow\n"
        "before = set(sys.modules)\n"
        "import tfvision.models\n"
        "added = [m for m in set(sys.modules) - before if m.split('.')[0] == 'matplotlib']\n"
        "above = [m for m in sys.modules if m.startswith(('tfvision.data', 'tfvision.training', "
        "'tfvision.recipes', 'tfvision.visualization', 'tfvision.export'))]\n"
        "print(' '.join(sorted(added + above)))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True, timeout=300,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.stdout.split() == []


def test_the_command_line_parser_needs_neither_tensorflow_nor_keras():
    script = (
        "import sys\n"
        "from tfvision.cli.main import build_parser\n"
        "build_parser()\n"
        "print(' '.join(m for m in ('tensorflow', 'keras') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True, timeout=120)
    assert result.stdout.split() == []
