"""`tfvision export` finds each model's exporter in one registry."""

import keras
import pytest

from tfvision.export import registry
from tfvision.export.checkpoint import export_checkpoint
from tfvision.export.classifier import export_classifier
from tfvision.export.cotraining import export_cotraining
from tfvision.export.detector import export_detector
from tfvision.export.embedding import export_embedding


def test_every_task_has_its_exporter():
    exporters = {name: registry.exporter_for(type(name, (), {})())
                 for name in ("ImageClassifier", "SSDDetector", "MoCo", "CoTraining")}
    assert exporters == {"ImageClassifier": export_classifier, "SSDDetector": export_detector,
                         "MoCo": export_embedding, "CoTraining": export_cotraining}
    assert set(registry.exportable_classes()) == set(exporters)


def test_a_subclass_exports_with_its_base_class_exporter(monkeypatch):
    class Base:
        pass

    class Derived(Base):
        pass

    monkeypatch.setitem(registry._EXPORTERS, Base, export_classifier)
    assert registry.exporter_for(Derived()) is export_classifier
    assert registry.exporter_for(object()) is None


def test_a_class_registered_twice_with_another_function_is_refused(monkeypatch):
    monkeypatch.setitem(registry._EXPORTERS, "Thing", export_classifier)
    with pytest.raises(ValueError, match="Thing already exports with .*export_classifier"):
        registry.register_exporter("Thing")(export_detector)
    assert registry.register_exporter("Thing")(export_classifier) is export_classifier


@pytest.fixture()
def sequential_checkpoint(tmp_path):
    path = str(tmp_path / "sequential.keras")
    keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]).save(path)
    return path


def test_a_model_without_an_exporter_is_refused_listing_those_with_one(sequential_checkpoint,
                                                                        tmp_path):
    with pytest.raises(ValueError) as error:
        export_checkpoint(sequential_checkpoint, str(tmp_path), "m", 1)
    message = str(error.value)
    assert "holds a Sequential" in message
    for name in ("ImageClassifier", "SSDDetector", "MoCo", "CoTraining"):
        assert name in message


def test_a_registered_exporter_gets_the_options_it_takes(sequential_checkpoint, tmp_path,
                                                         monkeypatch):
    calls = []

    def export_sequential(model, root, name, version, top_k=5):
        calls.append((type(model).__name__, root, name, version, top_k))
        return "written"

    monkeypatch.setitem(registry._EXPORTERS, "Sequential", export_sequential)
    assert export_checkpoint(sequential_checkpoint, "out", "m", 2, top_k=3) == "written"
    assert calls == [("Sequential", "out", "m", 2, 3)]

    def export_named(model, root, name, version, class_names=None):
        calls.append(class_names)

    monkeypatch.setitem(registry._EXPORTERS, "Sequential", export_named)
    export_checkpoint(sequential_checkpoint, "out", "m", 2, top_k=3)
    assert calls[-1] is None  # no top_k for an exporter without one
    with pytest.raises(ValueError, match="no class names for --category-names"):
        export_checkpoint(sequential_checkpoint, "out", "m", 2, category_names={"a": "b"})
