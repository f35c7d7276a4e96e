"""Display names of classes, from a category-names JSON file such as `cat_to_name.json`."""

import json
import os


def load_category_names(source):
    """Reads a mapping class (folder) name -> display name.

    Args:
        source: path to a JSON object file (`{"21": "fire lily", ...}`), or a dict.

    Returns:
        dict str -> str.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not valid JSON or not an object of strings.

    Example:
    >>> load_category_names({"1": "pink primrose"})
    {'1': 'pink primrose'}
    """
    if isinstance(source, dict):
        mapping, where = source, "category_names"
    else:
        where = os.fspath(source)
        if not os.path.isfile(where):
            raise FileNotFoundError(f"Category names file not found: {where}")
        try:
            with open(where, encoding="utf-8") as file:
                mapping = json.load(file)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ValueError(f"Category names file {where} is not valid JSON: {error}") from None
    if not isinstance(mapping, dict) or not all(
        isinstance(value, str) for value in mapping.values()
    ):
        raise ValueError(
            f"Category names in {where} must be a JSON object mapping class names "
            f"to display-name strings. Received: {type(mapping).__name__}"
            + ("" if not isinstance(mapping, dict) else " with non-string values")
        )
    return {str(key): value for key, value in mapping.items()}


def display_names_for(class_names, category_names=None):
    """Display names of `class_names`: the mapped name, or the class name when unmapped.

    Args:
        class_names: sequence of str.
        category_names: `None`, a dict, or a path accepted by `load_category_names`.
            Keys that are not class names are ignored.

    Returns:
        list of str, one per class.

    Example:
    >>> display_names_for(["1", "2"], {"1": "pink primrose"})
    ['pink primrose', '2']
    """
    if category_names is None:
        return list(class_names)
    mapping = load_category_names(category_names)
    return [mapping.get(name, name) for name in class_names]
