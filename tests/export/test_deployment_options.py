"""`tfvision export` refuses bad deployment options with one line, before loading anything."""

import pytest

from tfvision.cli.main import main


@pytest.mark.parametrize("arguments, message", [
    (["--format", "tflite"], "Unknown export format 'tflite'"),
    (["--format", "litert", "--quantize", "int8"], "--quantize int8 needs --calibration"),
    (["--quantize", "dynamic"], "--quantize applies to --format litert and onnx"),
    (["--format", "onnx", "--quantize", "int4"], "Unknown --quantize 'int4'"),
])
def test_bad_export_options_get_one_line_before_any_work(tmp_path, capsys, arguments, message):
    # The checkpoint is never read: the options are checked first.
    assert main(["export", str(tmp_path / "missing.keras"), "--name", "bad",
                 "--exports-out", str(tmp_path / "exports"), *arguments]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and message in error
    assert not (tmp_path / "exports").exists()
