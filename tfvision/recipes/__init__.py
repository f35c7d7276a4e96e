"""End-to-end training recipes, one per task: data -> model -> `model.fit` -> outputs.

A recipe is what a `tfvision` command runs: it reads a data spec, builds the
task's model, trains it with the run options (seed, precision, strategy,
resume), and writes checkpoints, history and plots. Models themselves live in
`tfvision.models` and never import a recipe.
"""
