"""A griffe extension for the API reference: docstring examples as code blocks.

tfvision's docstrings follow Keras: an `Example:` line, then doctest lines at the same
indentation (`>>> code`, `... more`, the output below). Markdown would read them as prose
(a list printed as output even becomes a reference link), so this extension fences every
doctest run, from its first `>>>` line to the blank line or the end of the docstring that
closes it, as a `pycon` block. The text itself is unchanged; `make test` runs it.
"""

import griffe


def fence_doctests(text):
    """`text` with every doctest run wrapped in a fenced `pycon` block."""
    lines, out, index = text.splitlines(), [], 0
    while index < len(lines):
        line = lines[index]
        if not line.lstrip().startswith(">>>"):
            out.append(line)
            index += 1
            continue
        indent = line[:len(line) - len(line.lstrip())]
        block = []
        while index < len(lines) and lines[index].strip():
            block.append(lines[index])
            index += 1
        out += [f"{indent}```pycon", *block, f"{indent}```"]
    return "\n".join(out)


class DoctestFences(griffe.Extension):
    """Fences the doctest examples of every docstring griffe loads."""

    def on_instance(self, *, obj, **kwargs):
        if obj.docstring is not None and ">>>" in obj.docstring.value:
            obj.docstring.value = fence_doctests(obj.docstring.value)
