"""cnncourse.report.key_numbers: readable table and machine-readable numbers."""
import pytest
import torch

from cnncourse.report import format_value, key_numbers


def test_key_numbers_prints_and_returns_plain_values(capsys):
    values = key_numbers(test_accuracy=0.97123, parameters=61706, device="cpu")
    assert values == {"test_accuracy": 0.97123, "parameters": 61706, "device": "cpu"}
    out = capsys.readouterr().out
    assert "What we measured" in out and "0.9712" in out and "61,706" in out


def test_key_numbers_rejects_tensors_and_nothing():
    with pytest.raises(TypeError, match=r"use \.item\(\)"):
        key_numbers(loss=torch.tensor(1.0))
    with pytest.raises(ValueError):
        key_numbers()


def test_format_value():
    assert format_value(1234567) == "1,234,567" and format_value(0.000123456) == "0.0001235"
    assert format_value(float("nan")) == "nan" and format_value(True) == "True"
