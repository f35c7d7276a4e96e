# tfvision — the two commands a new user needs: `make demo` and `make test`.
# Each creates .venv with Python 3.11, installs tfvision into it, and runs.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.tfvision-installed

# Demo settings (the built-in synthetic dataset; no download needed).
DEMO_DATA := data/shapes
DEMO_RUN := runs/classifier
DEMO_EPOCHS ?= 5

export TF_CPP_MIN_LOG_LEVEL ?= 2
export MPLBACKEND ?= Agg

.PHONY: demo test test-slow bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	rm -rf $(DEMO_RUN) saved_models/shapes_classifier
	$(BIN)/tfvision data synthetic $(DEMO_DATA) --train 1500 --valid 300 --test 300 \
	    --image-size 96 --overwrite
	$(BIN)/tfvision classifier train $(DEMO_DATA) --save-dir $(DEMO_RUN) --arch mobilenet_v2 \
	    --alpha 0.35 --weights shapes --image-size 64 --crop-scale 0.35 1.0 --hidden-units 128 \
	    --learning-rate 0.002 --epochs $(DEMO_EPOCHS) --seed 0
	$(BIN)/tfvision classifier evaluate $(DEMO_DATA) $(DEMO_RUN)/best.keras --split test
	$(BIN)/tfvision export $(DEMO_RUN)/best.keras --name shapes_classifier --version 1 --out saved_models
	$(BIN)/tfvision classifier predict $(DEMO_DATA)/test/star/0.jpg $(DEMO_RUN)/best.keras \
	    --top-k 3 --plot $(DEMO_RUN)/prediction.png

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet torch==2.13.0 || echo "torch CPU build not installable; the PyTorch comparison will be skipped"
	$(BIN)/python benchmarks/mobilenet_train.py

clean:
	rm -rf $(VENV) runs data saved_models
