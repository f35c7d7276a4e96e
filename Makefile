# tfvision — the two commands a new user needs: `make demo` and `make test`.
# Each creates .venv with Python 3.11, installs tfvision into it, and runs.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.tfvision-installed

# Demo settings (the built-in synthetic dataset; no download needed).
DETECTOR_RUN := runs/ssdlite_shapes
DETECTOR_FILES := data/shapes_detection
CLASSIFIER_DATA := data/shapes
CLASSIFIER_RUN := runs/classifier
CLASSIFIER_EPOCHS ?= 5

export TF_CPP_MIN_LOG_LEVEL ?= 2
export MPLBACKEND ?= Agg
export NO_MKDOCS_2_WARNING ?= 1

.PHONY: demo demo-classifier test test-slow test-quality notebooks docs browser bench quality clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,deploy,docs]"
	touch $(STAMP)

# The main job: SSDLite-MobileNetV2 on the built-in shapes — train, mAP, export, plot.
demo: $(STAMP)
	rm -rf $(DETECTOR_RUN) saved_models/ssdlite_shapes
	$(BIN)/tfvision detector train --data shapes --model ssdlite_mobilenet_v2 --image-size 128 \
	    --alpha 0.35 --weights shapes --epochs 3 --fine-tune-epochs 8 --learning-rate 0.01 \
	    --batch-size 32 --no-augment --seed 0 --deterministic --save-dir $(DETECTOR_RUN)
	$(BIN)/tfvision detector evaluate $(DETECTOR_RUN)/best.keras --data shapes --split test
	$(BIN)/tfvision export $(DETECTOR_RUN)/best.keras --name ssdlite_shapes --version 1 --out saved_models
	$(BIN)/tfvision data synthetic-detection $(DETECTOR_FILES) --train 0 --valid 0 --test 8 \
	    --image-size 128 --image-format png --overwrite
	$(BIN)/tfvision detector predict $(DETECTOR_FILES)/test/000000.png $(DETECTOR_RUN)/best.keras \
	    --score-threshold 0.2 --plot $(DETECTOR_RUN)/prediction.png

# The transfer-learning classifier on the built-in shapes, written as an image folder.
demo-classifier: $(STAMP)
	rm -rf $(CLASSIFIER_RUN) saved_models/shapes_classifier
	$(BIN)/tfvision data synthetic $(CLASSIFIER_DATA) --train 1500 --valid 300 --test 300 \
	    --image-size 96 --overwrite
	$(BIN)/tfvision classifier train $(CLASSIFIER_DATA) --save-dir $(CLASSIFIER_RUN) \
	    --arch mobilenet_v2 --alpha 0.35 --weights shapes --image-size 64 --crop-scale 0.35 1.0 \
	    --hidden-units 128 --learning-rate 0.002 --epochs $(CLASSIFIER_EPOCHS) --seed 0 --deterministic
	$(BIN)/tfvision classifier evaluate $(CLASSIFIER_DATA) $(CLASSIFIER_RUN)/best.keras --split test
	$(BIN)/tfvision export $(CLASSIFIER_RUN)/best.keras --name shapes_classifier --version 1 \
	    --out saved_models
	$(BIN)/tfvision classifier predict $(CLASSIFIER_DATA)/test/star/0.jpg \
	    $(CLASSIFIER_RUN)/best.keras --top-k 3 --plot $(CLASSIFIER_RUN)/prediction.png

# Two processes, one test file each at a time: much of the suite is tracing and process start-up.
test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

test-slow: $(STAMP) browser
	$(BIN)/python -m pytest -q -n 2 --dist loadfile -m slow

# Headless Chromium for the docs site's browser test (tests/docs): Debian's packages, where
# this machine can install them; elsewhere that test is skipped and says why.
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	    apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null; } || \
	  echo "Chromium could not be installed: the docs site's browser test will be skipped"

# The documentation site in site/ (MkDocs, strict: a broken link or reference fails it).
docs: $(STAMP)
	$(BIN)/mkdocs build --strict

# The learning tests on the real digits of `make quality` (about 25 minutes; not in .ci/run):
# one test per process, so the four spread over both cores.
test-quality: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist load -m quality

# The four notebooks, each in a fresh kernel, saved with their outputs (about 4 minutes);
# their pictures are copied to docs/images/notebooks/ for the README and the docs' gallery.
notebooks: $(STAMP)
	TFVISION_WRITE_NOTEBOOKS=1 $(BIN)/python -m pytest -q -n 2 --dist loadfile -m notebooks tests/notebooks
	$(BIN)/python docs/hooks.py

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet torch==2.13.0 || echo "torch CPU build not installable; the PyTorch comparison will be skipped"
	$(BIN)/python benchmarks/mobilenet_train.py

# The open real-data quality benchmark: every recipe through the CLI on scikit-learn's digits,
# scored on its exported SavedModel against a simple reference (about 30 minutes on 2 cores).
quality: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	$(BIN)/python benchmarks/quality/run.py --work runs/quality --out runs/quality/results.json

clean:
	rm -rf $(VENV) runs data saved_models
